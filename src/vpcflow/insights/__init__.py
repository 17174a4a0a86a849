"""CloudWatch Logs Insights queries over the vpcflow store.

    >>> from vpcflow import insights
    >>> t = insights.translate('filter action = "REJECT" | stats count(*) as n by srcAddr')
    >>> print(t.sql)            # DuckDB SQL over vpc_flow_logs
    >>> insights.run(store, 'stats sum(bytes) by dstPort | sort `sum(bytes)` desc')

The translator is a tokenizer (:mod:`.lexer`), a recursive-descent parser producing an AST
(:mod:`.parser`) and SQL generation (:mod:`.sql`). Syntax errors are
:class:`InsightsSyntaxError` (a ``QueryError``) with ``line``, ``column`` and what was expected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..errors import QueryError
from ..timeparse import to_datetime
from .lexer import InsightsSyntaxError
from .parser import parse
from .sql import Translator

__all__ = [
    "Translation",
    "InsightsSyntaxError",
    "translate",
    "run",
]


@dataclass
class Translation:
    """A translated query: the DuckDB SQL, the result columns in order, and warnings."""

    query: str
    sql: str
    columns: list[str]
    warnings: list[str] = field(default_factory=list)


def _time_where(since: dt.datetime | None, until: dt.datetime | None) -> list[str]:
    where = []
    # `date` is the partition column: bounding it lets DuckDB skip whole partitions.
    if since is not None:
        where.append(f"\"date\" >= DATE '{since.astimezone(dt.UTC).date().isoformat()}'")
        where.append(f'"start" >= {int(since.timestamp())}')
    if until is not None:
        where.append(f"\"date\" <= DATE '{until.astimezone(dt.UTC).date().isoformat()}'")
        where.append(f'"start" < {int(until.timestamp())}')
    return where


def translate(query: str, *, since=None, until=None) -> Translation:
    """Translate a Logs Insights query into DuckDB SQL over ``vpc_flow_logs``."""
    where = _time_where(to_datetime(since, name="since"), to_datetime(until, name="until"))
    try:
        commands = parse(query)
        t = Translator(query, commands)
        sql, columns = t.run(where)
    except RecursionError:
        raise QueryError(
            "Logs Insights query nested too deeply (hundreds of levels of parentheses); simplify it"
        ) from None
    return Translation(query, sql, columns, t.warnings)


def run(store, query: str, *, since=None, until=None):
    """Run a Logs Insights query on a store; returns a ``pyarrow.Table``."""
    t = translate(query, since=since, until=until)
    return store.sql(t.sql, dialect="duckdb")
