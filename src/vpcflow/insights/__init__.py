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
import re
from dataclasses import dataclass, field

from ..errors import QueryError
from . import functions
from .lexer import InsightsSyntaxError
from .parser import parse
from .sql import Translator

__all__ = [
    "Translation",
    "InsightsSyntaxError",
    "translate",
    "run",
    "parse_time",
    "register_functions",
]

register_functions = functions.register


@dataclass
class Translation:
    """A translated query: the DuckDB SQL, the result columns in order, and warnings."""

    query: str
    sql: str
    columns: list[str]
    warnings: list[str] = field(default_factory=list)


_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_RELATIVE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(
    value: str | dt.datetime | dt.date | None, *, now: dt.datetime | None = None
) -> dt.datetime | None:
    """``2024-05-01``, ``2024-05-01T12:00:00Z`` or a relative ``15m``/``24h``/``7d`` (before
    now) -> an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text = value.strip()
    m = _RELATIVE.match(text)
    if m:
        now = now or dt.datetime.now(dt.UTC)
        return now - dt.timedelta(seconds=int(m.group(1)) * _RELATIVE_SECONDS[m.group(2)])
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"cannot read the time {value!r}: give an ISO date/time like 2024-05-01 or "
            "2024-05-01T12:00:00Z, or a duration before now like 15m, 24h, 7d"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


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
    commands = parse(query)
    t = Translator(query, commands)
    sql, columns = t.run(_time_where(parse_time(since), parse_time(until)))
    return Translation(query, sql, columns, t.warnings)


def run(store, query: str, *, since=None, until=None):
    """Run a Logs Insights query on a store; returns a ``pyarrow.Table``."""
    t = translate(query, since=since, until=until)
    return store.sql(t.sql, dialect="duckdb")
