"""Engines: open a store, run SQL, return Arrow.

The ``Engine`` interface is small on purpose: DuckDB (embedded, the default) implements it here,
and a cluster engine can implement it without the rest of vpcflow knowing. Queries are written
once (Athena/Trino SQL by default) and transpiled by ``dialects`` for the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

__all__ = ["Engine", "QueryResult", "default_engine", "create", "ENGINES", "TABLE"]

TABLE = "vpc_flow_logs"


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool
    sql: str


def pin_types(table: pa.Table) -> pa.Table:
    """The result types every engine returns, as Athena (Trino) types them.

    DuckDB sums BIGINTs into a 128-bit integer (``decimal(38, 0)`` in Arrow) where Trino and Spark
    return BIGINT; timestamps are UTC instants in microseconds; large strings (Spark's Arrow)
    are plain strings."""
    fields, changed = [], False
    for i, f in enumerate(table.schema):
        t = f.type
        if pa.types.is_decimal(t) and t.scale == 0 and t.precision == 38:
            bounds = pa.compute.min_max(table.column(i))
            fits = all(
                v is None or -(2**63) <= v < 2**63
                for v in (bounds["min"].as_py(), bounds["max"].as_py())
            )
            t = pa.int64() if fits else t
        elif pa.types.is_timestamp(t) and (t.tz is None or t.unit != "us"):
            t = pa.timestamp("us", tz="UTC")  # both engines' sessions run in UTC
        elif pa.types.is_large_string(t):
            t = pa.string()
        elif pa.types.is_large_binary(t):
            t = pa.binary()
        changed = changed or t != f.type
        fields.append(pa.field(f.name, t, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table


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

    def refresh(self) -> None:
        """The store's files changed: see the new ones on the next query."""

    def close(self) -> None:
        """Release resources."""


# name -> "module:class"; an engine's module is imported only when it is used (Spark is an extra).
ENGINES = {
    "duckdb": "vpcflow.engines.duckdb:DuckDBEngine",
    "spark": "vpcflow.engines.spark:SparkEngine",
}


def create(
    name: str | None,
    store,
    *,
    spark_master: str | None = None,
    spark_conf: dict[str, str] | None = None,
) -> Engine:
    """The engine ``name`` (default: the ``engine`` setting, ``VPCFLOW_ENGINE``) over ``store``."""
    import importlib

    from .. import settings
    from ..errors import ConfigError

    name = (name or str(settings.get("engine"))).lower()
    target = ENGINES.get(name)
    if target is None:
        raise ConfigError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    module, _, cls = target.partition(":")
    engine_cls = getattr(importlib.import_module(module), cls)
    if name == "spark":
        return engine_cls(store, master=spark_master, conf=spark_conf)
    return engine_cls(store)


def default_engine(store) -> Engine:
    """The engine the ``engine`` setting names (DuckDB unless ``VPCFLOW_ENGINE`` says otherwise)."""
    return create(None, store)
