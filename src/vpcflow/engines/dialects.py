"""SQL dialect translation in one place (sqlglot), plus the read-only guard.

Users write Athena (Trino) SQL as the AWS documentation and the Athena console do; engines speak
their own dialect. Where sqlglot's translation differs in meaning from Trino, or a Trino
construct has no direct equivalent, it is fixed here and only here:

* ``"default"."vpc_flow_logs"`` / ``awsdatacatalog.db.vpc_flow_logs``: the table, whatever the
  catalog and database the query names;
* ``day_of_week``/``dow`` is ISO (Monday = 1); ``to_iso8601(ts)`` is ``2019-12-13T23:40:12.000Z``;
* ``contains('10.0.0.0/16', CAST(srcaddr AS IPADDRESS))`` tests CIDR membership (IPv4 and IPv6);
* ``7 / 2`` is 3 (integer division of integers), ``cardinality(map)``, ``format_datetime(ts,
  'yyyy-MM-dd')`` (Joda letters): :mod:`.trino_semantics`;
* result columns without a name are ``_col0``, ``_col1``, … by position, as Athena names them;
* ``SHOW TABLES``, ``SHOW DATABASES``, ``SHOW PARTITIONS t`` and ``SHOW COLUMNS IN t`` answer
  as Athena does (one column each: ``tab_name``, ``database_name``, ``partition``, ``field``).
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import SqlglotError

from ..errors import QueryError, QueryRefused
from . import trino_semantics

# sqlglot logs a warning for syntax it falls back on ('SHOW ...' as a Command); vpcflow says
# what it does with such statements itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

TABLE = "vpc_flow_logs"

READ_DIALECTS = {
    "athena": "athena",
    "trino": "trino",
    "presto": "presto",
    "duckdb": "duckdb",
    "spark": "spark",
}
_TRINO = ("athena", "trino", "presto")

_ALLOWED_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values, exp.Describe)

_NAME = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w]*)'
_QUALIFIED = rf"(?:{_NAME}\s*\.\s*){{0,2}}({_NAME})"
_SHOW = [
    (
        re.compile(r"SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+\S+)?(?:\s+(?:LIKE\s+)?'[^']*')?", re.I),
        "tables",
    ),
    (re.compile(r"SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+(?:LIKE\s+)?'[^']*')?", re.I), "databases"),
    (re.compile(rf"SHOW\s+PARTITIONS\s+{_QUALIFIED}", re.I), "partitions"),
    (
        re.compile(
            rf"SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_QUALIFIED}(?:\s+(?:IN|FROM)\s+{_NAME})?", re.I
        ),
        "columns",
    ),
]
_SHOW_SQL = {
    "tables": f"SELECT '{TABLE}' AS tab_name",
    "databases": "SELECT 'default' AS database_name",
    "partitions": f"SELECT DISTINCT 'date=' || strftime(\"date\", '%Y-%m-%d') AS \"partition\" "
    f"FROM {TABLE} ORDER BY 1",
}


def _show_columns() -> str:
    """SHOW COLUMNS from the catalogue (the view's columns in its order), the same on every
    engine (Spark has no DESCRIBE in a subquery)."""
    from .. import schema

    names = schema.VPC.arrow_schema(with_partition=True).names
    rows = ", ".join(f"({i}, '{n}')" for i, n in enumerate(names))
    return f"SELECT field FROM (VALUES {rows}) AS t(n, field) ORDER BY n"


def _show(text: str) -> str | None:
    """The DuckDB SQL answering an Athena ``SHOW`` statement, None if ``text`` is not one."""
    if not re.match(r"SHOW\b", text, re.I):
        return None
    for pattern, kind in _SHOW:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        if kind in ("partitions", "columns"):
            _check_table(m.group(1).strip('"`'))
        return _show_columns() if kind == "columns" else _SHOW_SQL[kind]
    if re.match(r"SHOW\s+CREATE\s+TABLE", text, re.I):
        raise QueryRefused(
            "SHOW CREATE TABLE: 'vpcflow athena-ddl' prints the CREATE EXTERNAL TABLE for Athena"
        )
    raise QueryError(
        "SQL error: this SHOW statement is not supported; use SHOW TABLES, SHOW DATABASES, "
        f"SHOW PARTITIONS {TABLE} or SHOW COLUMNS IN {TABLE}"
    )


def _check_table(name: str) -> None:
    if name.lower() != TABLE:
        raise QueryError(f"SQL error: table {name!r} does not exist; the table is {TABLE}")


def _fix_trino_semantics(node: exp.Expression) -> exp.Expression:
    # Trino's day_of_week/dow is ISO (Monday=1 .. Sunday=7); DuckDB's dayofweek is Sunday=0.
    if isinstance(node, exp.DayOfWeek):
        return exp.DayOfWeekIso(this=node.this)
    # to_iso8601(timestamp): Trino prints milliseconds and Z for UTC.
    if (
        isinstance(node, exp.Anonymous)
        and str(node.this).lower() == "to_iso8601"
        and len(node.expressions) == 1
    ):
        ts = exp.cast(node.expressions[0], exp.DataType.build("TIMESTAMPTZ"))
        return exp.func("strftime", ts, exp.Literal.string("%Y-%m-%dT%H:%M:%S.%gZ"))
    # contains(cidr, CAST(addr AS IPADDRESS)): CIDR membership, not array membership.
    if isinstance(node, exp.ArrayContains) and _is_cidr_test(node):
        cidr = _strip_ip_cast(node.this)
        addr = _strip_ip_cast(node.expression)
        return exp.Paren(
            this=exp.Case(
                ifs=[
                    exp.If(
                        this=exp.GT(
                            this=exp.func("strpos", addr.copy(), exp.Literal.string(":")),
                            expression=exp.Literal.number(0),
                        ),
                        true=exp.func("vpcflow_ipv6_in_subnet", addr.copy(), cidr.copy()),
                    )
                ],
                default=exp.func("vpcflow_ipv4_in_subnet", addr, cidr),
            )
        )
    if isinstance(node, exp.Cast) and _is_ip_type(node.to):
        return exp.cast(node.this, exp.DataType.build("VARCHAR"))
    # integer division, cardinality(map), format_datetime: see trino_semantics
    return trino_semantics.fix(node)


def _unqualify(node: exp.Expression) -> exp.Expression:
    # "default"."vpc_flow_logs", awsdatacatalog.default.vpc_flow_logs: the one table.
    if isinstance(node, exp.Table) and node.name.lower() == TABLE and (node.db or node.catalog):
        node = node.copy()
        node.set("db", None)
        node.set("catalog", None)
    return node


def _is_ip_type(t: exp.DataType | None) -> bool:
    return isinstance(t, exp.DataType) and t.this in (
        exp.DataType.Type.IPADDRESS,
        exp.DataType.Type.IPPREFIX,
    )


def _strip_ip_cast(e: exp.Expression) -> exp.Expression:
    if isinstance(e, exp.Cast) and _is_ip_type(e.to):
        return exp.cast(e.this, exp.DataType.build("VARCHAR"))
    return e


def _is_cidr_test(node: exp.ArrayContains) -> bool:
    first, second = node.this, node.expression
    if isinstance(second, exp.Cast) and _is_ip_type(second.to):
        return True
    if isinstance(first, exp.Cast) and _is_ip_type(first.to):
        return True
    return isinstance(first, exp.Literal) and first.is_string and "/" in first.this


def _name_columns(tree: exp.Expression) -> exp.Expression:
    """Name unnamed result columns ``_colN`` (N: position in the select list), as Athena does."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if isinstance(select, exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return tree
    items = select.expressions
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in items):
        return tree  # positions after a * are not known before it is expanded
    for i, e in enumerate(items):
        if isinstance(e, exp.Alias | exp.Column | exp.Dot):
            continue
        items[i] = exp.alias_(e, f"_col{i}", quoted=True)
    select.set("expressions", items)
    return tree


def _parse(text: str, read: str) -> list[exp.Expression]:
    try:
        return [s for s in sqlglot.parse(text, read=read) if s is not None]
    except SqlglotParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        where = f" at line {err.get('line')}, column {err.get('col')}" if err.get("line") else ""
        desc = (err.get("description") or str(exc)).splitlines()[0]
        raise QueryError(f"SQL syntax error{where}: {desc}") from None
    except SqlglotError as exc:  # the tokenizer: an unterminated string, name or comment
        raise QueryError(
            "SQL syntax error: the query cannot be read (an unterminated string, quoted name "
            f"or comment?): {str(exc).splitlines()[0][:120]}"
        ) from None


def _windowed(tree: exp.Expression, window: tuple[int | None, int | None]) -> exp.Expression:
    """Every reference to the table reads only flows starting in ``[since, until)``."""
    since, until = window
    conds = []
    # `date` is the partition column: bounding it too lets the engine skip whole partitions.
    if since is not None:
        conds.append(f'"date" >= CAST(to_timestamp({int(since)}) AS DATE)')
        conds.append(f'"start" >= {int(since)}')
    if until is not None:
        conds.append(f'"date" <= CAST(to_timestamp({int(until)}) AS DATE)')
        conds.append(f'"start" < {int(until)}')
    if not conds:
        return tree
    inner = sqlglot.parse_one(f"SELECT * FROM {TABLE} WHERE {' AND '.join(conds)}", read="duckdb")

    def sub(node):
        if isinstance(node, exp.Table) and node.name.lower() == TABLE and not node.db:
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(TABLE))
            return exp.Subquery(this=inner.copy(), alias=alias.copy())
        return node

    return tree.transform(sub)


def to_engine_sql(
    query: str,
    dialect: str,
    engine_dialect: str = "duckdb",
    window: tuple[int | None, int | None] | None = None,
    macros: dict[str, tuple[list[str], str]] | None = None,
) -> str:
    """Parse ``query`` in ``dialect``, refuse anything but a read, return it in ``engine_dialect``.

    The SQL handed to the engine is always generated from the parsed tree, never the text as
    given: what runs is exactly what was checked. ``window`` (Unix seconds ``since, until``,
    either None) limits the table to the flows that start in it. ``macros`` (name -> (parameters,
    DuckDB SQL body)) are expanded inline for an engine without SQL macros (Spark).
    """
    read = READ_DIALECTS.get(dialect.lower())
    if read is None:
        raise QueryError(f"unknown SQL dialect {dialect!r}; use one of: {', '.join(READ_DIALECTS)}")
    text = query.strip().rstrip(";").strip()
    if not text:
        raise QueryError("empty query")
    try:
        show = _show(text) if read in _TRINO else None
        if show is not None:
            text, read = show, "duckdb"
        statements = _parse(text, read)
        if len(statements) != 1:
            raise QueryRefused("run one statement at a time")
        tree = statements[0]
        if not isinstance(tree, _ALLOWED_ROOTS):
            kind = tree.key.upper()
            if isinstance(tree, exp.Command):
                kind = str(tree.this).upper()
            raise QueryRefused(
                f"only read queries (SELECT ...) run on the store; {kind} statements are refused"
            )
        tree = tree.transform(_unqualify)
        if read in _TRINO:
            tree = _name_columns(tree.transform(_fix_trino_semantics))
        if window is not None:
            tree = _windowed(tree, window)
        if engine_dialect == "spark":
            if read in _TRINO:
                tree = tree.transform(trino_semantics.for_spark)
            return _to_spark(tree, macros or {})
        if read in _TRINO:
            tree = tree.transform(trino_semantics.for_duckdb)
        return tree.sql(dialect=engine_dialect)
    except RecursionError:
        raise QueryError(
            "SQL error: the query is nested too deeply (hundreds of levels of parentheses or "
            "subqueries); simplify it"
        ) from None


# -- Spark ----------------------------------------------------------------------------------
# Spark SQL differs from Trino and DuckDB in ways sqlglot's generator does not cover; every such
# difference is handled below, and only here.

# Spark functions that reach outside the store: Java reflection, files, the session.
_SPARK_REFUSED_FUNCTIONS = {"reflect", "java_method", "try_reflect", "input_file_name"}


def parse_macro(sql: str) -> tuple[str, list[str], str]:
    """``CREATE [OR REPLACE] [TEMP] MACRO name(a, b) AS body`` -> (name, [a, b], body)."""
    m = _MACRO.match(sql)
    if m is None:
        raise QueryError(f"not a macro definition: {sql[:60]!r}")
    params = [p.strip() for p in m["params"].split(",") if p.strip()]
    return m["name"].lower(), params, m["body"].strip()


_MACRO = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?MACRO\s+(?P<name>\w+)\s*"
    r"\((?P<params>[^)]*)\)\s+AS\s+(?P<body>.*)\Z",
    re.IGNORECASE | re.DOTALL,
)


def _expand_macros(tree: exp.Expression, macros: dict) -> exp.Expression:
    if not macros:
        return tree
    # A macro is (params, body), or a list of them: one per number of arguments (DuckDB's
    # overloads, ``CREATE MACRO f(a) AS …, (a, b) AS …``).
    bodies = {
        name: {
            len(params): (params, sqlglot.parse_one(body, read="duckdb"))
            for params, body in (defs if isinstance(defs, list) else [defs])
        }
        for name, defs in macros.items()
    }

    def expand(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() in bodies:
            overloads = bodies[node.name.lower()]
            args = node.expressions
            if len(args) not in overloads:
                takes = " or ".join(str(n) for n in sorted(overloads))
                raise QueryError(f"{node.name}() takes {takes} argument(s), got {len(args)}")
            params, body = overloads[len(args)]
            mapping = dict(zip(params, args, strict=True))

            def substitute(n: exp.Expression) -> exp.Expression:
                if isinstance(n, exp.Column) and not n.table and n.name in mapping:
                    return exp.Paren(this=mapping[n.name].copy())
                return n

            # Macros may call macros (is_ipv4 -> ipv4_int): expand the result again.
            return _expand_macros(body.copy().transform(substitute), macros)
        return node

    return tree.transform(expand)


def _spark_semantics(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous | exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if name in _SPARK_REFUSED_FUNCTIONS:
            raise QueryRefused(
                f"query refused: {name}() reaches outside the store's table {_TABLE}"
            )
    if (
        isinstance(node, exp.Table)
        and node.db
        and node.db.lower() in _SPARK_FILE_FORMATS  # parquet.`/path`: also off in the conf
    ):
        raise QueryRefused(f"query refused: it may only read the store's table {_TABLE}")
    if isinstance(node, exp.DayOfWeekIso):
        # ISO day of week (Trino's day_of_week, DuckDB's isodow): Monday=1 .. Sunday=7, BIGINT.
        # Spark's weekday() is Monday=0 and INT.
        day = exp.Anonymous(this="weekday", expressions=[node.this.copy()])
        return exp.Cast(
            this=exp.Paren(this=exp.Add(this=day, expression=exp.Literal.number(1))),
            to=exp.DataType.build("bigint"),
        )
    return node


_SPARK_FILE_FORMATS = {"parquet", "csv", "json", "orc", "text", "avro", "binaryfile", "delta"}
_TABLE = "vpc_flow_logs"


_INTEGER_TYPES = (
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.TINYINT,
)
# Functions whose result is an array: DuckDB's len() of one is Spark's size(), not length().
_ARRAY_RESULTS = {
    "Array",
    "ArrayAgg",
    "ArrayConcat",
    "ArrayDistinct",
    "ArrayFilter",
    "ArraySort",
    "ArrayUniqueAgg",
    "ArrayCompact",
    "Flatten",
    "Split",
    "RegexpSplit",
}
_RANKING = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile, exp.CumeDist, exp.PercentRank)


def _is_number(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_number(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in _INTEGER_TYPES
    if isinstance(node, exp.Literal):
        return not node.is_string
    if isinstance(node, exp.Binary):
        return _is_number(node.this) or _is_number(node.expression)
    return isinstance(node, exp.Floor | exp.Ceil | exp.Round)


# strftime directives (sqlglot's reading of DuckDB's strftime and Trino's date_format, plus
# DuckDB's %g milliseconds) as Java DateTimeFormatter letters, for Spark's date_format.
_STRFTIME_TO_JAVA = {
    "Y": "yyyy", "y": "yy", "m": "MM", "-m": "M", "d": "dd", "-d": "d", "e": "d",
    "H": "HH", "-H": "H", "I": "hh", "-I": "h", "M": "mm", "-M": "m", "S": "ss", "-S": "s",
    "f": "SSSSSS", "g": "SSS", "p": "a", "j": "DDD", "a": "EEE", "A": "EEEE", "b": "MMM",
    "B": "MMMM", "z": "xx", "Z": "z",
}  # fmt: skip


def strftime_to_java(fmt: str) -> str | None:
    """A strftime format as a Java pattern (letters of the text quoted), None if a directive
    has no Java equivalent."""
    out: list[str] = []
    text: list[str] = []

    def flush():
        if text:
            out.append("'" + "".join(text).replace("'", "''") + "'")
            text.clear()

    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            code = fmt[i + 1 : i + 3] if fmt[i + 1] == "-" else fmt[i + 1]
            if code == "%":
                text.append("%")
            elif code in _STRFTIME_TO_JAVA:
                flush()
                out.append(_STRFTIME_TO_JAVA[code])
            else:
                return None
            i += 1 + len(code)
            continue
        if ch.isalpha() or ch == "'":
            text.append(ch)
        else:
            flush()
            out.append(ch)
        i += 1
    flush()
    return "".join(out)


def _date_format(node: exp.Expression) -> exp.Expression | None:
    """DuckDB's strftime (parsed, or built by the Trino fixes) as Spark's date_format."""
    if isinstance(node, exp.TimeToStr):
        value, fmt = node.this, node.args.get("format")
    elif isinstance(node, exp.Anonymous) and node.name.lower() == "strftime":
        if len(node.expressions) != 2:
            return None
        value, fmt = node.expressions
    else:
        return None
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return None
    java = strftime_to_java(fmt.this)
    if java is None:
        return None
    return exp.Anonymous(this="date_format", expressions=[value.copy(), exp.Literal.string(java)])


# percentile_approx's largest accuracy: a rank error below one row, so the exact value.
_EXACT = exp.Literal.number(2147483647)


def _duckdb_to_spark(node: exp.Expression) -> exp.Expression:
    formatted = _date_format(node)
    if formatted is not None:
        return formatted
    if isinstance(node, exp.PercentileDisc) and node.expression is not None:
        # DuckDB's quantile_disc(x, q) (Insights' pct, Athena's approx_percentile): Spark's
        # percentile_disc is only WITHIN GROUP and answers DOUBLE; this keeps x's type
        return exp.Anonymous(
            this="percentile_approx",
            expressions=[node.this.copy(), node.expression.copy(), _EXACT.copy()],
        )
    # epoch_ms() is two functions in DuckDB: epoch_ms(BIGINT) -> TIMESTAMP and
    # epoch_ms(TIMESTAMP) -> BIGINT milliseconds; sqlglot reads both as the first.
    if isinstance(node, exp.UnixToTime):
        scale = node.args.get("scale")
        if scale is not None and scale.name == "3" and not _is_number(node.this):
            return exp.Anonymous(this="unix_millis", expressions=[node.this.copy()])

    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        # quantile_cont(x, q): Spark's percentile(x, q) interpolates the same way
        return exp.Anonymous(
            this="percentile", expressions=[node.this.copy(), node.expression.copy()]
        )
    if isinstance(node, exp.Length) and type(node.this).__name__ in _ARRAY_RESULTS:
        return exp.ArraySize(this=node.this.copy())
    if isinstance(node, exp.RegexpFullMatch):
        value, pattern = node.this, node.expression
        anchored = (
            exp.Literal.string(f"^(?:{pattern.name})$")
            if isinstance(pattern, exp.Literal)
            else exp.func("concat", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$"))
        )
        return exp.RegexpLike(this=value.copy(), expression=anchored)
    return node


def _spark_types(node: exp.Expression) -> exp.Expression:
    # DuckDB's epoch_ms(BIGINT) is a TIMESTAMP without time zone (after the pass above, every
    # epoch_ms left is that one).
    if isinstance(node, exp.UnixToTime) and not isinstance(node.parent, exp.Cast):
        scale = node.args.get("scale")
        if scale is not None and scale.name == "3":
            return exp.Cast(this=node.copy(), to=exp.DataType.build("timestamp_ntz"))
    # row_number(), rank(), ... are BIGINT in Trino and DuckDB, INT in Spark.
    if (
        isinstance(node, exp.Window)
        and isinstance(node.this, _RANKING)
        and not isinstance(node.parent, exp.Cast)
    ):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("bigint"))
    return node


def _to_spark(tree: exp.Expression, macros: dict) -> str:
    tree = _expand_macros(tree, macros)
    # The macros are DuckDB SQL, so DuckDB's readings apply to every query after expansion.
    tree = tree.transform(_duckdb_to_spark)
    tree = tree.transform(_spark_semantics)
    tree = tree.transform(_spark_types)
    return tree.sql(dialect="spark")
