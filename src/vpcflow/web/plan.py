"""Which relation answers a panel's query: one of the store's rollups when it can, else the records.

The store keeps rollups beside its data files (``vpcflow.store.rollups``: keys plus additive
aggregates per file, written by ingest in the same transaction). The engine shows each as a view
``rollup_<name>``. A rollup answers a panel exactly -- the same numbers as the records -- when

* the view's time range lies on the rollup's grain (and a time chart's bucket on its time unit),
* every column the panel groups by or counts distinct values of is one of the rollup's keys,
* every filter chip names a key column (or a value derived from one: an address's country), and
* every data file of the range has the current rollup (``Store.rollup_status``).

Otherwise the panel reads ``vpc_flow_logs``. A panel's SQL is written once over a ``Source``: its
relation, what one row counts for (``$one``: ``1`` for a record, ``"records"`` for a rollup row),
the record's start time (``$start``) and the WHERE condition of the view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .view import View

log = logging.getLogger("vpcflow.web")

__all__ = ["Source", "RAW", "Planner", "DASHBOARD_ROLLUPS"]

# The rollups the dashboard reads, smallest first (the first that answers a query is used).
DASHBOARD_ROLLUPS = ("traffic", "destinations", "sources")
# The aggregates a dashboard rollup must have (a record count and the two volumes).
_AGGREGATES = {"records", "bytes", "packets"}
# The columns a filter reads: a derived field reads the column it is derived from.
_FILTER_COLUMNS = {
    "addr": {"srcaddr", "dstaddr"},
    "src_country": {"srcaddr"},
    "src_network": {"srcaddr"},
    "dst_country": {"dstaddr"},
}


@dataclass(frozen=True)
class Source:
    """A relation a panel's query reads: the records, or a rollup's rows."""

    relation: str
    rollup: str | None = None
    bucket: tuple[str, int] | None = None  # the rollup's (time column, seconds per unit)

    @property
    def one(self) -> str:
        return "1" if self.rollup is None else '"records"'

    @property
    def start(self) -> str:
        """The SQL of a row's start time in seconds."""
        if self.bucket is None:
            return '"start"'
        col, unit = self.bucket
        return f'("{col}" * {unit})'

    def measure(self, unit: str) -> str:
        """The SQL aggregate of the unit (records, bytes or packets)."""
        if self.rollup is None:
            return "count(*)" if unit == "records" else f"coalesce(sum({unit}), 0)"
        return f'coalesce(sum("{unit}"), 0)'

    def where(self, view: View, **options) -> str:
        return view.where(bucket=self.bucket, **options)

    def values(self, view: View, **options) -> dict:
        """The template values of a panel query over this source."""
        return {
            "rel": self.relation,
            "one": self.one,
            "start": self.start,
            "measure": self.measure(view.unit),
            "where": self.where(view, **options),
        }


RAW = Source("vpc_flow_logs")


def filter_columns(view: View) -> set[str]:
    cols: set[str] = set()
    for f in view.filters:
        cols |= _FILTER_COLUMNS.get(f.field, {f.field})
    return cols


class Planner:
    """Chooses each query's source for one store; ``enabled=False`` always reads the records."""

    def __init__(self, store, enabled: bool = True):
        self.store = store
        self.enabled = enabled

    def _registry(self) -> dict:
        if not self.enabled or not hasattr(self.store, "rollup_status"):
            return {}
        if not getattr(getattr(self.store, "engine", None), "reads_rollups", False):
            return {}  # an engine without the views rollup_<name>
        try:
            from ..store import rollups
        except ImportError:  # a storage layer without rollups
            return {}
        return rollups.ROLLUPS

    def source(self, view: View, columns: set[str], *, shift: int = 0, step: int = 0) -> Source:
        """The source of a query that groups by or counts ``columns`` over ``view`` (its range
        moved back by ``shift``; ``step``: a time chart's bucket in seconds)."""
        registry = self._registry()
        wanted = set(columns) | filter_columns(view)
        lo, hi = view.start - shift, view.end - shift
        for name in DASHBOARD_ROLLUPS:
            r = registry.get(name)
            if r is None:
                continue
            keys = {k for k, _ in r.keys}
            if not wanted <= keys or not {a.name for a in r.aggregates} >= _AGGREGATES:
                continue
            if not r.answers(lo, hi) or (step and step % r.time_unit):
                continue
            status = self.store.rollup_status(name, lo, hi)
            if not status["complete"]:
                log.debug(
                    "rollup %s lacks %d files: reading the records", name, len(status["missing"])
                )
                continue
            return Source(f"rollup_{name}", name, (r.time_column, r.time_unit))
        return RAW
