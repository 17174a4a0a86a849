"""SQL dialect translation in one place (sqlglot), plus the read-only guard.

Users write Athena (Trino) SQL as the AWS documentation does; engines speak their own dialect.
Where sqlglot's translation differs in meaning from Trino, it is fixed here and only here.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError

from ..errors import QueryError, QueryRefused

READ_DIALECTS = {
    "athena": "athena",
    "trino": "trino",
    "presto": "presto",
    "duckdb": "duckdb",
    "spark": "spark",
}

_ALLOWED_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values, exp.Describe)


def _fix_trino_semantics(node: exp.Expression) -> exp.Expression:
    # Trino's day_of_week/dow is ISO (Monday=1 .. Sunday=7); DuckDB's dayofweek is Sunday=0.
    if isinstance(node, exp.DayOfWeek):
        return exp.DayOfWeekIso(this=node.this)
    return node


def to_engine_sql(
    query: str,
    dialect: str,
    engine_dialect: str = "duckdb",
    macros: dict[str, tuple[list[str], str]] | None = None,
) -> str:
    """Parse ``query`` in ``dialect``, refuse anything but a read, return it in ``engine_dialect``.

    ``macros`` (name -> (parameters, DuckDB SQL body)) are expanded inline for an engine that
    has no SQL macros (Spark)."""
    read = READ_DIALECTS.get(dialect.lower())
    if read is None:
        raise QueryError(f"unknown SQL dialect {dialect!r}; use one of: {', '.join(READ_DIALECTS)}")
    text = query.strip().rstrip(";").strip()
    if not text:
        raise QueryError("empty query")
    try:
        statements = [s for s in sqlglot.parse(text, read=read) if s is not None]
    except SqlglotParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        where = f" at line {err.get('line')}, column {err.get('col')}" if err.get("line") else ""
        raise QueryError(f"SQL syntax error{where}: {err.get('description') or exc}") from exc
    if len(statements) != 1:
        raise QueryRefused("run one statement at a time")
    tree = statements[0]
    if not isinstance(tree, _ALLOWED_ROOTS):
        kind = tree.key.upper()
        raise QueryRefused(
            f"only read queries (SELECT ...) run on the store; {kind} statements are refused"
        )
    if engine_dialect == "spark":
        return _to_spark(tree, read, macros or {})
    if read == engine_dialect:
        return text
    if read in ("athena", "trino", "presto"):
        tree = tree.transform(_fix_trino_semantics)
    return tree.sql(dialect=engine_dialect)


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
    bodies = {
        name: (params, sqlglot.parse_one(body, read="duckdb"))
        for name, (params, body) in macros.items()
    }

    def expand(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() in bodies:
            params, body = bodies[node.name.lower()]
            args = node.expressions
            if len(args) != len(params):
                raise QueryError(f"{node.name}() takes {len(params)} argument(s), got {len(args)}")
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


def _duckdb_to_spark(node: exp.Expression) -> exp.Expression:
    # epoch_ms() is two functions in DuckDB: epoch_ms(BIGINT) -> TIMESTAMP and
    # epoch_ms(TIMESTAMP) -> BIGINT milliseconds; sqlglot reads both as the first.
    if isinstance(node, exp.UnixToTime) and not _is_number(node.this):
        scale = node.args.get("scale")
        if scale is not None and scale.name == "3":
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
    # row_number(), rank(), ... are BIGINT in Trino and DuckDB, INT in Spark.
    if (
        isinstance(node, exp.Window)
        and isinstance(node.this, _RANKING)
        and not isinstance(node.parent, exp.Cast)
    ):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("bigint"))
    return node


def _to_spark(tree: exp.Expression, read: str, macros: dict) -> str:
    if read in ("athena", "trino", "presto"):
        tree = tree.transform(_fix_trino_semantics)
    tree = _expand_macros(tree, macros)
    # The macros are DuckDB SQL, so DuckDB's readings apply to every query after expansion.
    tree = tree.transform(_duckdb_to_spark)
    tree = tree.transform(_spark_semantics)
    tree = tree.transform(_spark_types)
    return tree.sql(dialect="spark")
