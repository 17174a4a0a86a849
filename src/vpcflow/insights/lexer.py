"""Tokenizer for the CloudWatch Logs Insights query language.

Tokens carry their offset so that errors point at a line and column. A ``/`` starts a regular
expression where a value is expected (after an operator, ``like``, ``(``, ``,`` or ``parse``
and its field) and is division otherwise, which is how Logs Insights reads ``a / 2`` next to
``like /re/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import QueryError

KEYWORDS = {"and", "or", "not", "in", "like", "as", "by", "asc", "desc"}

# Logs Insights time units, longest first so that "ms" and "mo" win over "m".
DURATION_UNITS = ("ms", "mo", "s", "m", "h", "d", "w", "q", "y")
_DURATION = re.compile(r"(\d+)(ms|mo|sec|min|hr|s|m|h|d|w|q|y)(?![A-Za-z0-9_])")
_NUMBER = re.compile(r"\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?")
_IDENT = re.compile(r"@?[A-Za-z_][A-Za-z0-9_.]*(?<!\.)|@[A-Za-z0-9_]+")
_OPERATORS = (
    "=~",
    "!=",
    "<=",
    ">=",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "|",
    ",",
    "(",
    ")",
    "[",
    "]",
)
_UNIT_ALIASES = {"sec": "s", "min": "m", "hr": "h"}


@dataclass(frozen=True)
class Token:
    kind: str  # ident, keyword, number, duration, string, regex, op, eof
    value: str | float | tuple
    pos: int
    end: int
    text: str

    def describe(self) -> str:
        if self.kind == "eof":
            return "the end of the query"
        return repr(self.text)


class InsightsSyntaxError(QueryError):
    """A Logs Insights query that does not parse; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, query: str, pos: int):
        self.query = query
        self.pos = pos
        self.line = query.count("\n", 0, pos) + 1
        line_start = query.rfind("\n", 0, pos) + 1
        self.column = pos - line_start + 1
        line_end = query.find("\n", pos)
        src_line = query[line_start : line_end if line_end >= 0 else len(query)]
        self.reason = message
        super().__init__(
            f"line {self.line}, column {self.column}: {message}\n  {src_line}\n  "
            + " " * (self.column - 1)
            + "^"
        )


def _value_ends(tok: Token | None) -> bool:
    """True when ``tok`` ends a value, so that a following ``/`` is division."""
    if tok is None:
        return False
    if tok.kind in ("number", "duration", "string", "regex"):
        return True
    if tok.kind == "ident":
        return True
    return tok.kind == "op" and tok.value in (")", "]")


def tokenize(query: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == "#":  # comment to the end of the line
            j = query.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        start = i
        if c in "\"'":
            j = i + 1
            buf = []
            while j < n and query[j] != c:
                if query[j] == "\\" and j + 1 < n:
                    nxt = query[j + 1]
                    buf.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                    j += 2
                    continue
                buf.append(query[j])
                j += 1
            if j >= n:
                raise InsightsSyntaxError(
                    f"unterminated string: expected a closing {c}", query, start
                )
            toks.append(Token("string", "".join(buf), start, j + 1, query[start : j + 1]))
            i = j + 1
            continue
        if c == "`":
            j = query.find("`", i + 1)
            if j < 0:
                raise InsightsSyntaxError("unterminated `quoted` field name", query, start)
            toks.append(Token("ident", query[i + 1 : j], start, j + 1, query[start : j + 1]))
            i = j + 1
            continue
        prev = toks[-1] if toks else None
        parse_field = (
            len(toks) >= 2 and toks[-2].kind == "keyword_cmd" and toks[-2].value == "parse"
        )
        if c == "/" and (not _value_ends(prev) or parse_field):
            j = i + 1
            while j < n and query[j] != "/":
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise InsightsSyntaxError(
                    "unterminated regular expression: expected a closing /", query, start
                )
            pattern = query[i + 1 : j]
            j += 1
            flags = ""
            while j < n and query[j] in "imsx":  # trailing flags, e.g. /error/i
                flags += query[j]
                j += 1
            toks.append(Token("regex", (pattern, flags), start, j, query[start:j]))
            i = j
            continue
        m = _DURATION.match(query, i)
        if m:
            unit = _UNIT_ALIASES.get(m.group(2), m.group(2))
            toks.append(Token("duration", (int(m.group(1)), unit), start, m.end(), m.group(0)))
            i = m.end()
            continue
        m = _NUMBER.match(query, i)
        if m and (c.isdigit() or c == "."):
            text = m.group(0)
            val = float(text) if any(ch in text for ch in ".eE") else int(text)
            toks.append(Token("number", val, start, m.end(), text))
            i = m.end()
            continue
        m = _IDENT.match(query, i)
        if m:
            text = m.group(0)
            low = text.lower()
            if low in KEYWORDS:
                toks.append(Token("keyword", low, start, m.end(), text))
            elif (
                prev is None or (prev.kind == "op" and prev.value == "|")
            ) and not text.startswith("@"):
                # the first word of a command
                toks.append(Token("keyword_cmd", low, start, m.end(), text))
            else:
                toks.append(Token("ident", text, start, m.end(), text))
            i = m.end()
            continue
        for op in _OPERATORS:
            if query.startswith(op, i):
                toks.append(Token("op", op, start, i + len(op), op))
                i += len(op)
                break
        else:
            raise InsightsSyntaxError(f"unexpected character {c!r}", query, start)
    toks.append(Token("eof", "", n, n, ""))
    return toks
