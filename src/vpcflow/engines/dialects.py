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
    return node


_SPARK_FILE_FORMATS = {"parquet", "csv", "json", "orc", "text", "avro", "binaryfile", "delta"}
_TABLE = "vpc_flow_logs"


def _to_spark(tree: exp.Expression, read: str, macros: dict) -> str:
    if read in ("athena", "trino", "presto"):
        tree = tree.transform(_fix_trino_semantics)
    tree = _expand_macros(tree, macros)
    tree = tree.transform(_spark_semantics)
    return tree.sql(dialect="spark")
