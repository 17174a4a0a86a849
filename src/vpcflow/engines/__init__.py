"""Engines: open a store, run SQL, return Arrow.

The ``Engine`` interface is small on purpose: DuckDB (embedded, the default) implements it here,
and a cluster engine can implement it without the rest of vpcflow knowing. Queries are written
once (Athena/Trino SQL by default) and transpiled by ``dialects`` for the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import pyarrow as pa

__all__ = ["Engine", "QueryResult", "default_engine", "TABLE"]

TABLE = "vpc_flow_logs"


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool
    sql: str


class Engine(ABC):
    """Runs read-only SQL over the ``vpc_flow_logs`` view of one store."""

    name: str = "engine"
    dialect: str = "duckdb"  # the sqlglot dialect this engine speaks

    @abstractmethod
    def query(
        self,
        query: str,
        *,
        dialect: str = "athena",
        limit: int | None = None,
        timeout: float | None = None,
        window: tuple[int | None, int | None] | None = None,
    ) -> QueryResult:
        """Run ``query`` (written in ``dialect``); at most ``limit`` rows, ``timeout`` seconds;
        ``window`` (Unix seconds since, until) limits the table to the flows starting in it."""

    def stream(
        self,
        query: str,
        *,
        dialect: str = "athena",
        limit: int | None = None,
        timeout: float | None = None,
        batch_rows: int = 10_000,
        window: tuple[int | None, int | None] | None = None,
    ):
        """Run ``query`` and return its result as a context manager that iterates Arrow record
        batches (``schema``, ``truncated`` and ``sql`` attributes), in bounded memory. The time
        limit covers the consumption of the batches too. Engines that cannot stream return
        the whole result as one stream."""
        res = self.query(query, dialect=dialect, limit=limit, timeout=timeout, window=window)
        return _TableStream(res, batch_rows)

    def sql(self, query: str, dialect: str = "athena") -> pa.Table:
        return self.query(query, dialect=dialect).table

    def refresh(self) -> None:
        """The store's files changed: see the new ones on the next query."""

    def close(self) -> None:
        """Release resources."""


class _TableStream:
    def __init__(self, res: QueryResult, batch_rows: int):
        self.schema = res.table.schema
        self.truncated = res.truncated
        self.sql = res.sql
        self._batches = res.table.to_batches(max_chunksize=batch_rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._batches = []

    def close(self) -> None:
        self._batches = []

    def __iter__(self):
        yield from self._batches


def default_engine(store) -> Engine:
    from .duckdb import DuckDBEngine

    return DuckDBEngine(store)
