"""SQL dialect translation in one place (sqlglot), plus the read-only guard.

Users write Athena (Trino) SQL as the AWS documentation does; engines speak their own dialect.
Where sqlglot's translation differs in meaning from Trino, it is fixed here and only here.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError as SqlglotTokenError

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


def to_engine_sql(query: str, dialect: str, engine_dialect: str = "duckdb") -> str:
    """Parse ``query`` in ``dialect``, refuse anything but a read, return it in ``engine_dialect``."""
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
    except SqlglotTokenError as exc:  # an unterminated string or quote, a stray character
        raise QueryError(f"SQL syntax error: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise QueryRefused("run one statement at a time")
    tree = statements[0]
    if not isinstance(tree, _ALLOWED_ROOTS):
        kind = tree.key.upper()
        raise QueryRefused(
            f"only read queries (SELECT ...) run on the store; {kind} statements are refused"
        )
    if read == engine_dialect:
        return text
    if read in ("athena", "trino", "presto"):
        tree = tree.transform(_fix_trino_semantics)
    return tree.sql(dialect=engine_dialect)
