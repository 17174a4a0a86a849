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
    ) -> QueryResult:
        """Run ``query`` (written in ``dialect``); at most ``limit`` rows, ``timeout`` seconds."""

    def sql(self, query: str, dialect: str = "athena") -> pa.Table:
        return self.query(query, dialect=dialect).table

    def create_temp_table(self, name: str, query: str, dialect: str = "duckdb") -> None:
        """Materialise the read ``query`` as temporary table ``name`` that this engine's next
        queries can read (an analysis's shared pre-aggregation); gone after
        ``drop_temp_table`` or ``close``. Engines that cannot hold one raise
        ``NotImplementedError`` and callers inline the query instead."""
        raise NotImplementedError

    def drop_temp_table(self, name: str) -> None:
        """Drop a table made by ``create_temp_table``."""

    def refresh(self) -> None:
        """The store's files changed: see the new ones on the next query."""

    def close(self) -> None:
        """Release resources."""


def default_engine(store) -> Engine:
    from .duckdb import DuckDBEngine

    return DuckDBEngine(store)
