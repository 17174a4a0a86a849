"""Recursive-descent parser: Logs Insights query text -> a list of command nodes.

Grammar (``|`` separates commands; keywords are case-insensitive)::

    query    := command ("|" command)*
    command  := "fields" item ("," item)*        item := expr ["as" name]
              | "display" item ("," item)*
              | "filter" expr
              | "stats" item ("," item)* ["by" item ("," item)*]
              | "sort" expr ["asc"|"desc"] ("," expr ["asc"|"desc"])*
              | "limit" number
              | "parse" [field] (string | regex) ["as" name ("," name)*]
              | "dedup" field ("," field)*
    expr     := or ;  or := and ("or" and)* ;  and := not ("and" not)*
    not      := "not" not | cmp
    cmp      := add [("="|"!="|"<"|"<="|">"|">="|"=~") add
                    | ["not"] "like" (string|regex) | ["not"] "in" "[" expr,* "]"]
    add      := mul (("+"|"-") mul)* ;  mul := pow (("*"|"/"|"%") pow)*
    pow      := unary ["^" pow] ;  unary := "-" unary | primary
    primary  := number | string | regex | duration | field | name "(" args ")" | "(" expr ")"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lexer import InsightsSyntaxError, Token, tokenize

SUPPORTED_COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup")
# Valid Logs Insights commands that vpcflow does not implement: named in the error.
UNSUPPORTED_COMMANDS = (
    "unmask",
    "unnest",
    "pattern",
    "diff",
    "anomaly",
    "lookup",
    "source",
    "filterindex",
    "fieldsindex",
    "head",
    "tail",
    "top",
    "describe",
)


@dataclass
class Node:
    pos: int
    text: str


@dataclass
class Field(Node):
    name: str


@dataclass
class Literal(Node):
    value: object  # int | float | str


@dataclass
class Duration(Node):
    amount: int
    unit: str


@dataclass
class Regex(Node):
    pattern: str
    flags: str = ""


@dataclass
class Unary(Node):
    op: str
    operand: Node


@dataclass
class Binary(Node):
    op: str  # + - * / % ^ = != < <= > >= =~ and or
    left: Node
    right: Node


@dataclass
class Like(Node):
    operand: Node
    pattern: Node  # Literal(str) or Regex
    negated: bool = False


@dataclass
class In(Node):
    operand: Node
    items: list[Node]
    negated: bool = False


@dataclass
class Call(Node):
    name: str
    args: list[Node]
    star: bool = False  # count(*)


@dataclass
class Item:
    expr: Node
    alias: str | None = None

    @property
    def name(self) -> str:
        """The result column name, as Logs Insights shows it."""
        if self.alias:
            return self.alias
        if isinstance(self.expr, Field):
            return self.expr.name
        return " ".join(self.expr.text.split())


@dataclass
class Command:
    name: str
    pos: int
    items: list[Item] = field(default_factory=list)  # fields, display, stats aggregates
    by: list[Item] = field(default_factory=list)  # stats groups
    expr: Node | None = None  # filter
    keys: list[tuple[Node, bool]] = field(default_factory=list)  # sort: (expr, descending)
    count: int = 0  # limit
    source: Node | None = None  # parse: the field parsed
    pattern: Node | None = None  # parse: glob (Literal) or Regex
    names: list[str] = field(default_factory=list)  # parse "as" names, dedup fields


class Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = tokenize(query)
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def error(self, expected: str, tok: Token | None = None) -> InsightsSyntaxError:
        tok = tok or self.tok
        return InsightsSyntaxError(
            f"expected {expected}, found {tok.describe()}", self.query, tok.pos
        )

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def at_kw(self, *kws: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in kws

    def expect_op(self, op: str, expected: str | None = None) -> Token:
        if not self.at_op(op):
            raise self.error(expected or repr(op))
        return self.advance()

    def span(self, start: int) -> str:
        return self.query[start : self.toks[self.i - 1].end]

    # -- query and commands --------------------------------------------------------------------
    def parse(self) -> list[Command]:
        commands = []
        if self.tok.kind == "eof":
            raise self.error(
                "a command (fields, filter, stats, sort, limit, parse, display, dedup)"
            )
        while True:
            commands.append(self.command())
            if self.tok.kind == "eof":
                return commands
            if not self.at_op("|"):
                raise self.error("'|' before the next command, or the end of the query")
            self.advance()

    def command(self) -> Command:
        tok = self.tok
        if tok.kind != "keyword_cmd":
            raise self.error(
                "a command (fields, filter, stats, sort, limit, parse, display, dedup)"
            )
        name = str(tok.value)
        if name in UNSUPPORTED_COMMANDS:
            raise InsightsSyntaxError(
                f"the Logs Insights command '{name}' is not supported by vpcflow "
                f"(supported: {', '.join(SUPPORTED_COMMANDS)})",
                self.query,
                tok.pos,
            )
        if name not in SUPPORTED_COMMANDS:
            raise self.error(
                "a command (fields, filter, stats, sort, limit, parse, display, dedup)"
            )
        self.advance()
        cmd = Command(name, tok.pos)
        if name in ("fields", "display"):
            cmd.items = self.items()
        elif name == "filter":
            cmd.expr = self.expr()
        elif name == "stats":
            cmd.items = self.items()
            if self.at_kw("by"):
                self.advance()
                cmd.by = self.items()
        elif name == "sort":
            cmd.keys = self.sort_keys()
        elif name == "limit":
            if self.tok.kind != "number" or not isinstance(self.tok.value, int):
                raise self.error("a whole number of rows after 'limit'")
            cmd.count = int(self.advance().value)
        elif name == "parse":
            self.parse_cmd(cmd)
        elif name == "dedup":
            cmd.names = [self.field_name("a field name")]
            while self.at_op(","):
                self.advance()
                cmd.names.append(self.field_name("a field name after ','"))
        return cmd

    def items(self) -> list[Item]:
        out = [self.item()]
        while self.at_op(","):
            self.advance()
            out.append(self.item())
        return out

    def item(self) -> Item:
        e = self.expr()
        alias = None
        if self.at_kw("as"):
            self.advance()
            alias = self.field_name("a name after 'as'")
        return Item(e, alias)

    def field_name(self, expected: str) -> str:
        if self.tok.kind != "ident":
            raise self.error(expected)
        return str(self.advance().value)

    def sort_keys(self) -> list[tuple[Node, bool]]:
        keys = []
        while True:
            e = self.expr()
            desc = False
            if self.at_kw("asc", "desc"):
                desc = self.advance().value == "desc"
            keys.append((e, desc))
            if not self.at_op(","):
                return keys
            self.advance()

    def parse_cmd(self, cmd: Command) -> None:
        if self.tok.kind == "ident":
            t = self.advance()
            cmd.source = Field(t.pos, t.text, str(t.value))
        else:
            cmd.source = Field(cmd.pos, "@message", "@message")
        t = self.tok
        if t.kind == "string":
            self.advance()
            cmd.pattern = Literal(t.pos, t.text, t.value)
            if not self.at_kw("as"):
                raise self.error("'as' and the names of the fields the '*' in the pattern extract")
            self.advance()
            cmd.names = [self.field_name("a field name after 'as'")]
            while self.at_op(","):
                self.advance()
                cmd.names.append(self.field_name("a field name after ','"))
        elif t.kind == "regex":
            self.advance()
            pattern, flags = t.value
            cmd.pattern = Regex(t.pos, t.text, pattern, flags)
        else:
            raise self.error("a glob pattern in quotes or a /regular expression/ with named groups")

    # -- expressions ---------------------------------------------------------------------------
    def expr(self) -> Node:
        if self.tok.kind in ("eof",) or self.at_op("|", ",", ")"):
            raise self.error("an expression")
        return self.or_()

    def or_(self) -> Node:
        start = self.tok.pos
        left = self.and_()
        while self.at_kw("or"):
            self.advance()
            right = self.and_()
            left = Binary(start, self.span(start), "or", left, right)
        return left

    def and_(self) -> Node:
        start = self.tok.pos
        left = self.not_()
        while self.at_kw("and"):
            self.advance()
            right = self.not_()
            left = Binary(start, self.span(start), "and", left, right)
        return left

    def not_(self) -> Node:
        if self.at_kw("not"):
            start = self.advance().pos
            operand = self.not_()
            return Unary(start, self.span(start), "not", operand)
        return self.cmp()

    def cmp(self) -> Node:
        start = self.tok.pos
        left = self.add()
        if self.at_op("=", "!=", "<", "<=", ">", ">=", "=~"):
            op = str(self.advance().value)
            if op == "=~":
                right = self.like_pattern()
                return Like(start, self.span(start), left, right)
            right = self.add()
            return Binary(start, self.span(start), op, left, right)
        negated = False
        if (
            self.at_kw("not")
            and self.toks[self.i + 1].kind == "keyword"
            and self.toks[self.i + 1].value in ("like", "in")
        ):
            self.advance()
            negated = True
        if self.at_kw("like"):
            self.advance()
            pattern = self.like_pattern()
            return Like(start, self.span(start), left, pattern, negated)
        if self.at_kw("in"):
            self.advance()
            self.expect_op("[", "'[' to start the list after 'in'")
            items = []
            if not self.at_op("]"):
                items.append(self.expr())
                while self.at_op(","):
                    self.advance()
                    items.append(self.expr())
            self.expect_op("]", "',' or ']' to close the list")
            return In(start, self.span(start), left, items, negated)
        return left

    def like_pattern(self) -> Node:
        t = self.tok
        if t.kind == "string":
            self.advance()
            return Literal(t.pos, t.text, t.value)
        if t.kind == "regex":
            self.advance()
            pattern, flags = t.value
            return Regex(t.pos, t.text, pattern, flags)
        raise self.error('a "string" or a /regular expression/')

    def add(self) -> Node:
        start = self.tok.pos
        left = self.mul()
        while self.at_op("+", "-"):
            op = str(self.advance().value)
            right = self.mul()
            left = Binary(start, self.span(start), op, left, right)
        return left

    def mul(self) -> Node:
        start = self.tok.pos
        left = self.pow_()
        while self.at_op("*", "/", "%"):
            op = str(self.advance().value)
            right = self.pow_()
            left = Binary(start, self.span(start), op, left, right)
        return left

    def pow_(self) -> Node:
        start = self.tok.pos
        base = self.unary()
        if self.at_op("^"):
            self.advance()
            exp = self.pow_()
            return Binary(start, self.span(start), "^", base, exp)
        return base

    def unary(self) -> Node:
        if self.at_op("-"):
            start = self.advance().pos
            operand = self.unary()
            return Unary(start, self.span(start), "-", operand)
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.advance()
            return Literal(t.pos, t.text, t.value)
        if t.kind == "string":
            self.advance()
            return Literal(t.pos, t.text, t.value)
        if t.kind == "duration":
            self.advance()
            amount, unit = t.value
            return Duration(t.pos, t.text, amount, unit)
        if t.kind == "regex":
            self.advance()
            pattern, flags = t.value
            return Regex(t.pos, t.text, pattern, flags)
        if t.kind == "op" and t.value == "(":
            self.advance()
            e = self.expr()
            self.expect_op(")", "')' to close '('")
            return e
        if t.kind in ("ident", "keyword_cmd"):
            self.advance()
            if self.at_op("("):
                return self.call(t)
            return Field(t.pos, t.text, str(t.value))
        raise self.error('a field, a number, a "string" or a function call')

    def call(self, name_tok: Token) -> Node:
        self.advance()  # "("
        args: list[Node] = []
        star = False
        if (
            self.at_op("*")
            and self.toks[self.i + 1].kind == "op"
            and self.toks[self.i + 1].value == ")"
        ):
            self.advance()
            star = True
        elif not self.at_op(")"):
            args.append(self.expr())
            while self.at_op(","):
                self.advance()
                args.append(self.expr())
        self.expect_op(")", "',' or ')' to close the arguments of " + repr(str(name_tok.value)))
        return Call(name_tok.pos, self.span(name_tok.pos), str(name_tok.value), args, star)


def parse(query: str) -> list[Command]:
    """Parse a Logs Insights query into commands; raises ``InsightsSyntaxError``."""
    return Parser(query).parse()
