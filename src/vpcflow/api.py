"""The public ``Store``: the storage layer with the query engine and the analyses on top.

``vpcflow.store.Store`` knows files, the manifest, ingest and compaction only. This class adds
what a user asks of a store — SQL through the engine, Logs Insights, named queries, detection,
troubleshooting — as thin methods over those packages, which take the store and read it through
the engine. Nothing below this module imports it.
"""

from __future__ import annotations

import os

import pyarrow as pa

from . import settings
from . import store as storage

__all__ = ["Store", "open_store"]


class Store(storage.Store):
    """A vpcflow store: ingest into it, query it, analyse it. Use ``open_store(path)``."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._engine = None

    # -- the engine -------------------------------------------------------------------------

    @property
    def engine(self):
        if self._engine is None:
            from .engines import default_engine

            self._engine = default_engine(self)
        return self._engine

    def _invalidate(self) -> None:
        if self._engine is not None:
            self._engine.refresh()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def sql(
        self,
        query: str,
        dialect: str = "athena",
        *,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Run a read-only SQL query over ``vpc_flow_logs``; Athena (Trino) dialect by default."""
        return self.query(query, dialect, limit=limit, timeout=timeout).table

    def query(
        self,
        query: str,
        dialect: str = "athena",
        *,
        limit: int | None = None,
        timeout: float | None = None,
    ):
        """Like ``sql`` but returns a ``QueryResult`` (table, truncated, sql)."""
        return self.engine.query(query, dialect=dialect, limit=limit, timeout=timeout)

    # -- the analyses -----------------------------------------------------------------------

    def insights(self, query: str, *, since=None, until=None) -> pa.Table:
        """Run a CloudWatch Logs Insights query (see ``vpcflow.insights``)."""
        from . import insights

        return insights.run(self, query, since=since, until=until)

    def named_query(self, name: str, params: dict[str, str] | None = None) -> pa.Table:
        """Run a query of the named-query library (``vpcflow queries`` lists them)."""
        from . import queries

        return queries.run(self, name, params)

    def detect(self, **options) -> list:
        """Findings of the detectors (see ``vpcflow.detect.detect`` for the options)."""
        from .detect import detect

        return detect(self, **options)

    def troubleshoot(self, **options) -> list:
        """Security-group / network-ACL verdicts for blocked conversations (see
        ``vpcflow.troubleshoot.troubleshoot`` for the options)."""
        from .troubleshoot import troubleshoot

        return troubleshoot(self, **options)


def open_store(path: str | os.PathLike | None = None, create: bool = True) -> Store:
    """Open the store at ``path`` (default: ``$VPCFLOW_STORE`` or the per-user data dir).

    ``create=True`` makes a new store in a missing or empty directory; a non-empty directory
    that is not a store is refused.
    """
    return Store.create_or_open(path or settings.get("store"), create=create)
