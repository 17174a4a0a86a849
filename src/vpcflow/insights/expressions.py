"""Expressions of Logs Insights queries -> SQL: fields, operators, functions, aggregates.

``Expressions`` holds the state of one translation (common table expressions, fresh names,
warnings) and turns expression nodes into (SQL, kind) pairs; ``sql.Translator`` adds commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import schema
from .lexer import InsightsSyntaxError
from .parser import Binary, Call, Command, Duration, Field, In, Like, Literal, Node, Regex, Unary

# Names Logs Insights discovers in default-format flow logs -> columns of vpc_flow_logs.
DISCOVERED = {
    "version": "version",
    "accountId": "account_id",
    "interfaceId": "interface_id",
    "srcAddr": "srcaddr",
    "dstAddr": "dstaddr",
    "srcPort": "srcport",
    "dstPort": "dstport",
    "protocol": "protocol",
    "packets": "packets",
    "bytes": "bytes",
    "startTime": "start",
    "endTime": "end",
    "action": "action",
    "logStatus": "log_status",
    "@logStream": "interface_id",
}
SYNTHETIC = ("@timestamp", "@message", "@ingestionTime")


def _camel(aws_name: str) -> str:
    head, *rest = aws_name.split("-")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


# The camelCase spelling of every other field (vpcId, tcpFlags, pktSrcAddr, flowDirection, ...),
# as the discovered fields are spelled; the column names work too.
for _f in schema.FIELDS:
    for _name in {_camel(_f.name), _camel(_f.name).replace("addr", "Addr")}:
        DISCOVERED.setdefault(_name, _f.column)

# Values of the enumerated fields: written unquoted, they are read as field names.
_BARE_VALUES = {"ACCEPT", "REJECT", "OK", "NODATA", "SKIPDATA", "ingress", "egress"}

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_UNIT_TRUNC = {"mo": "month", "q": "quarter", "y": "year"}

AGGREGATES = {
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "pct",
    "earliest",
    "latest",
    "sortsfirst",
    "sortslast",
}


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _kind_of_column(col: str) -> str:
    f = schema.FIELD_BY_COLUMN.get(col)
    if f is None:
        return "date" if col == schema.PARTITION_COLUMN else "str"
    return "num" if f.athena_type in ("int", "bigint") else "str"


@dataclass
class Rel:
    """The relation after some commands: CTE name, name -> (sql, kind), visible names, order."""

    name: str
    cols: dict[str, tuple[str, str]]
    visible: list[str] | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)
    after_stats: bool = False


class Expressions:
    def __init__(self, query: str, commands: list[Command]):
        self.query = query
        self.commands = commands
        self.ctes: list[tuple[str, str]] = []
        self.counter = 0
        self.warnings: list[str] = []

    # -- helpers -------------------------------------------------------------------------------
    def err(self, message: str, node: Node | Command) -> InsightsSyntaxError:
        return InsightsSyntaxError(message, self.query, node.pos)

    def fresh(self, prefix: str = "c") -> str:
        self.counter += 1
        return f"_{prefix}{self.counter}"

    def add_cte(self, body: str) -> str:
        name = f"s{len(self.ctes)}"
        self.ctes.append((name, body))
        return name

    # -- expressions ---------------------------------------------------------------------------
    def expr(self, node: Node, rel: Rel, agg: bool = False) -> tuple[str, str]:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return lit(node.value), "strlit"
            return repr(node.value), "num"
        if isinstance(node, Field):
            return self.field(node, rel)
        if isinstance(node, Duration):
            raise self.err(
                f"a time period like {node.text} is only allowed in bin(), datefloor() or dateceil()",
                node,
            )
        if isinstance(node, Regex):
            raise self.err(
                "a /regular expression/ is only allowed after 'like', '=~' or in 'parse'", node
            )
        if isinstance(node, Unary):
            s, k = self.expr(node.operand, rel, agg)
            if node.op == "not":
                return f"(NOT {self.as_bool(s, k)})", "bool"
            return f"(- {self.as_num(s, k)})", "num"
        if isinstance(node, Binary):
            return self.binary(node, rel, agg)
        if isinstance(node, Like):
            s, k = self.expr(node.operand, rel, agg)
            s = f"CAST({s} AS VARCHAR)" if k not in ("str", "strlit", "dyn") else s
            if isinstance(node.pattern, Regex):
                sql = f"regexp_matches({s}, {lit(self.regex(node.pattern))})"
            else:
                sql = f"contains({s}, {lit(str(node.pattern.value))})"
            return (
                f"(NOT coalesce({sql}, false))" if node.negated else f"coalesce({sql}, false)"
            ), "bool"
        if isinstance(node, In):
            s, k = self.expr(node.operand, rel, agg)
            items = []
            for it in node.items:
                si, ki = self.expr(it, rel, agg)
                items.append(si)
                if k == "dyn" and ki == "num":
                    s = f"TRY_CAST({s} AS DOUBLE)"
                    k = "num"
            op = "NOT IN" if node.negated else "IN"
            return f"({s} {op} ({', '.join(items)}))", "bool"
        if isinstance(node, Call):
            return self.call(node, rel, agg)
        raise self.err("unsupported expression", node)  # pragma: no cover

    def field(self, node: Field, rel: Rel) -> tuple[str, str]:
        hit = rel.cols.get(node.name)
        if hit is not None:
            return hit
        hint = ""
        if node.name in _BARE_VALUES or node.name.upper() in _BARE_VALUES:
            hint = f'; to compare with the text {node.name}, quote it: "{node.name}"'
        msg = f"field {node.name!r} is not a flow-log field here; like Logs Insights, it is empty{hint}"
        if msg not in self.warnings:
            self.warnings.append(msg)
        return "NULL", "null"

    @staticmethod
    def as_num(s: str, k: str) -> str:
        return f"TRY_CAST({s} AS DOUBLE)" if k in ("dyn", "str") else s

    @staticmethod
    def as_bool(s: str, k: str) -> str:
        if k == "bool":
            return s
        if k == "num":
            return f"coalesce(({s}) <> 0, false)"
        return f"coalesce(CAST({s} AS BOOLEAN), false)"

    def binary(self, node: Binary, rel: Rel, agg: bool) -> tuple[str, str]:
        ls, lk = self.expr(node.left, rel, agg)
        rs, rk = self.expr(node.right, rel, agg)
        if node.op in ("and", "or"):
            return f"({self.as_bool(ls, lk)} {node.op.upper()} {self.as_bool(rs, rk)})", "bool"
        if node.op in ("=", "!=", "<", "<=", ">", ">="):
            # Parsed fields are text; compared with a number they compare as numbers.
            if lk == "dyn" and rk == "num":
                ls = f"TRY_CAST({ls} AS DOUBLE)"
            if rk == "dyn" and lk == "num":
                rs = f"TRY_CAST({rs} AS DOUBLE)"
            if lk == "ts" and rk == "num":
                rs = f"epoch_ms(CAST({rs} AS BIGINT))"
            if rk == "ts" and lk == "num":
                ls = f"epoch_ms(CAST({ls} AS BIGINT))"
            op = "<>" if node.op == "!=" else node.op
            return f"coalesce({ls} {op} {rs}, false)", "bool"
        ls, rs = self.as_num(ls, lk), self.as_num(rs, rk)
        if node.op == "^":
            return f"pow({ls}, {rs})", "num"
        if node.op == "/":
            return f"(CAST({ls} AS DOUBLE) / {rs})", "num"
        return f"({ls} {node.op} {rs})", "num"

    def regex(self, node: Regex) -> str:
        pattern = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", node.pattern)
        pattern = pattern.replace("\\/", "/")
        if "i" in node.flags:
            pattern = "(?i)" + pattern
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.err(f"invalid regular expression: {exc}", node) from None
        return pattern

    def duration_arg(self, node: Call, index: int) -> Duration:
        if len(node.args) <= index or not isinstance(node.args[index], Duration):
            raise self.err(
                f"expected a time period such as 5m, 1h or 1d as argument {index + 1} of {node.name}()",
                node.args[index] if len(node.args) > index else node,
            )
        return node.args[index]  # type: ignore[return-value]

    def floor_time(self, ts: str, d: Duration, ceil: bool = False) -> str:
        if d.unit in _UNIT_TRUNC:
            if d.amount != 1:
                raise self.err(f"only 1{d.unit} is supported for months, quarters and years", d)
            part = _UNIT_TRUNC[d.unit]
            if ceil:
                return f"(CASE WHEN date_trunc('{part}', {ts}) = {ts} THEN {ts} ELSE date_trunc('{part}', {ts}) + INTERVAL 1 {part} END)"
            return f"date_trunc('{part}', {ts})"
        ms = d.amount * _UNIT_MS[d.unit]
        if ms <= 0:
            raise self.err("a time period must be positive", d)
        fn = "ceil" if ceil else "floor"
        return f"epoch_ms(CAST({fn}(epoch_ms({ts}) / {ms}) AS BIGINT) * {ms})"

    def call(self, node: Call, rel: Rel, agg: bool) -> tuple[str, str]:
        name = node.name.lower()
        nargs = len(node.args)

        def arity(lo: int, hi: int | None = None) -> None:
            hi = lo if hi is None else hi
            if not lo <= nargs <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                raise self.err(f"{node.name}() takes {want} argument(s), found {nargs}", node)

        def arg(i: int) -> tuple[str, str]:
            return self.expr(node.args[i], rel, False)

        def text(i: int) -> str:
            s, k = arg(i)
            return s if k in ("str", "strlit", "dyn") else f"CAST({s} AS VARCHAR)"

        if name in AGGREGATES:
            if not agg:
                raise self.err(f"{node.name}() is an aggregate function: use it in 'stats'", node)
            return self.aggregate(node, name, rel)
        if name == "bin":
            arity(1)
            if "@timestamp" not in rel.cols:
                raise self.err("bin() groups by @timestamp, which a previous 'stats' removed", node)
            return self.floor_time(rel.cols["@timestamp"][0], self.duration_arg(node, 0)), "ts"
        if name in ("datefloor", "dateceil"):
            arity(2)
            ts, _ = arg(0)
            return self.floor_time(ts, self.duration_arg(node, 1), ceil=name == "dateceil"), "ts"
        if name == "frommillis":
            arity(1)
            return f"epoch_ms(CAST({arg(0)[0]} AS BIGINT))", "ts"
        if name == "tomillis":
            arity(1)
            return f"epoch_ms({arg(0)[0]})", "num"
        if name == "ispresent":
            arity(1)
            return f"({arg(0)[0]} IS NOT NULL)", "bool"
        if name == "isempty":
            arity(1)
            s = text(0)
            return f"({s} IS NULL OR {s} = '')", "bool"
        if name == "isblank":
            arity(1)
            s = text(0)
            return f"({s} IS NULL OR trim({s}) = '')", "bool"
        if name == "coalesce":
            arity(1, 99)
            parts = [arg(i) for i in range(nargs)]
            kinds = {k for _, k in parts}
            if len(kinds - {"null"}) > 1 and not kinds <= {"num", "null"}:
                return f"coalesce({', '.join(f'CAST({s} AS VARCHAR)' for s, _ in parts)})", "str"
            return f"coalesce({', '.join(s for s, _ in parts)})", parts[0][1]
        if name == "concat":
            arity(1, 99)
            return f"concat({', '.join(text(i) for i in range(nargs))})", "str"
        if name == "strlen":
            arity(1)
            return f"length({text(0)})", "num"
        if name in ("toupper", "tolower"):
            arity(1)
            return f"{'upper' if name == 'toupper' else 'lower'}({text(0)})", "str"
        if name == "substr":
            arity(2, 3)
            # Logs Insights counts from 0; SQL from 1.
            start = f"CAST({arg(1)[0]} AS BIGINT) + 1"
            if nargs == 3:
                return f"substr({text(0)}, {start}, CAST({arg(2)[0]} AS BIGINT))", "str"
            return f"substr({text(0)}, {start})", "str"
        if name == "replace":
            arity(3)
            return f"replace({text(0)}, {text(1)}, {text(2)})", "str"
        if name == "strcontains":
            arity(2)
            return f"CAST(contains({text(0)}, {text(1)}) AS INTEGER)", "num"
        if name in ("trim", "ltrim", "rtrim"):
            arity(1, 2)
            if nargs == 2:
                return f"{name}({text(0)}, {text(1)})", "str"
            return f"{name}({text(0)})", "str"
        if name in ("abs", "ceil", "floor", "sqrt", "ln", "log"):
            arity(1)
            fn = "ln" if name == "log" else name
            return f"{fn}({self.as_num(*arg(0))})", "num"
        if name in ("greatest", "least"):
            arity(1, 99)
            return f"{name}({', '.join(self.as_num(*arg(i)) for i in range(nargs))})", "num"
        if name in ("isvalidip", "isvalidipv4", "isvalidipv6"):
            arity(1)
            s = text(0)
            v4, v6 = f"vpcflow_is_ipv4({s})", f"vpcflow_is_ipv6({s})"
            sql = {"isvalidip": f"({v4} OR {v6})", "isvalidipv4": v4, "isvalidipv6": v6}[name]
            return sql, "bool"
        if name in ("isipinsubnet", "isipv4insubnet", "isipv6insubnet"):
            arity(2)
            ip, cidr = text(0), text(1)
            lit_cidr = node.args[1].value if isinstance(node.args[1], Literal) else None
            if isinstance(lit_cidr, str):
                self.check_cidr(lit_cidr, node.args[1], name)
            v4 = f"vpcflow_ipv4_in_subnet({ip}, {cidr})"
            v6 = f"vpcflow_ipv6_in_subnet({ip}, {cidr})"
            if name == "isipv4insubnet":
                return v4, "bool"
            if name == "isipv6insubnet":
                return v6, "bool"
            if isinstance(lit_cidr, str):
                return (v6 if ":" in lit_cidr else v4), "bool"
            return f"(CASE WHEN contains({cidr}, ':') THEN {v6} ELSE {v4} END)", "bool"
        # vpcflow's own: names from the store's interface inventory (vpcflow interfaces sync).
        if name in ("interface_name", "interfacename"):
            arity(1)
            return f"interface_name({text(0)})", "str"
        if name in ("address_owner", "addressowner", "address_interface", "addressinterface"):
            arity(1, 2)
            fn = "address_owner" if "owner" in name else "address_interface"
            if nargs == 1:
                return f"{fn}({text(0)})", "str"
            t, k = arg(1)
            at = f"epoch({t})" if k == "ts" else f"CAST({t} AS DOUBLE)"
            return f"{fn}({text(0)}, {at})", "str"
        known = sorted(
            AGGREGATES
            | {
                "bin",
                "datefloor",
                "dateceil",
                "fromMillis",
                "toMillis",
                "ispresent",
                "isempty",
                "isblank",
                "coalesce",
                "concat",
                "strlen",
                "toupper",
                "tolower",
                "substr",
                "replace",
                "strcontains",
                "trim",
                "ltrim",
                "rtrim",
                "abs",
                "ceil",
                "floor",
                "sqrt",
                "log",
                "greatest",
                "least",
                "isValidIp",
                "isValidIpV4",
                "isValidIpV6",
                "isIpInSubnet",
                "isIpv4InSubnet",
                "isIpv6InSubnet",
                "interface_name",
                "address_owner",
                "address_interface",
            }
        )
        raise self.err(
            f"unknown or unsupported function {node.name}(); vpcflow supports: {', '.join(known)}",
            node,
        )

    def check_cidr(self, cidr: str, node: Node, name: str) -> None:
        import ipaddress

        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise self.err(
                f'expected a CIDR block like "10.0.0.0/16" in {name}(), found {cidr!r}', node
            ) from None
        if "/" not in cidr:
            raise self.err(f'expected a CIDR block with a prefix length, like "{cidr}/32"', node)
        if name == "isipv4insubnet" and net.version != 4:
            raise self.err(f"isIpv4InSubnet() needs an IPv4 CIDR block, found {cidr!r}", node)
        if name == "isipv6insubnet" and net.version != 6:
            raise self.err(f"isIpv6InSubnet() needs an IPv6 CIDR block, found {cidr!r}", node)

    def aggregate(self, node: Call, name: str, rel: Rel) -> tuple[str, str]:
        args = node.args
        if name == "count":
            if node.star or not args:
                return "count(*)", "num"
            if len(args) != 1:
                raise self.err("count() takes one field, or *", node)
            return f"count({self.expr(args[0], rel)[0]})", "num"
        if node.star:
            raise self.err(f"expected a field in {node.name}(), found '*'", node)
        if name == "pct":
            if len(args) != 2 or not isinstance(args[1], Literal) or isinstance(args[1].value, str):
                raise self.err(
                    "pct() takes a field and a percentile number, e.g. pct(bytes, 95)", node
                )
            p = float(args[1].value)  # type: ignore[arg-type]
            if not 0 <= p <= 100:
                raise self.err("the percentile of pct() must be between 0 and 100", args[1])
            s, k = self.expr(args[0], rel)
            return f"quantile_disc({self.as_num(s, k)}, {p / 100!r})", "num"
        if len(args) != 1:
            raise self.err(f"{node.name}() takes one argument, found {len(args)}", node)
        s, k = self.expr(args[0], rel)
        if name == "count_distinct":
            return f"count(DISTINCT {s})", "num"
        if name in ("sum", "avg", "stddev"):
            fn = {"sum": "sum", "avg": "avg", "stddev": "stddev_samp"}[name]
            return f"{fn}({self.as_num(s, k)})", "num"
        if name in ("min", "max", "sortsfirst", "sortslast"):
            fn = "min" if name in ("min", "sortsfirst") else "max"
            if k == "dyn" and name in ("min", "max"):
                s, k = self.as_num(s, k), "num"
            return f"{fn}({s})", k
        if "@timestamp" not in rel.cols:
            raise self.err(
                f"{node.name}() needs @timestamp, which a previous 'stats' removed", node
            )
        ts = rel.cols["@timestamp"][0]
        fn = "arg_min" if name == "earliest" else "arg_max"
        return f"{fn}({s}, {ts})", k

    @staticmethod
    def has_aggregate(node: Node) -> bool:
        if isinstance(node, Call) and node.name.lower() in AGGREGATES:
            return True
        return any(
            Expressions.has_aggregate(child)
            for child in vars(node).values()
            if isinstance(child, Node)
        ) or any(
            Expressions.has_aggregate(c)
            for v in vars(node).values()
            if isinstance(v, list)
            for c in v
            if isinstance(c, Node)
        )
