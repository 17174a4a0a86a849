"""Engines: open a store, run SQL, return Arrow.

The ``Engine`` interface is small on purpose: DuckDB (embedded, the default) implements it here,
and a cluster engine can implement it without the rest of vpcflow knowing. Queries are written
once (Athena/Trino SQL by default) and transpiled by ``dialects`` for the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Engine", "QueryResult", "default_engine", "create", "ENGINES", "TABLE"]

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
    reads_s3: bool = False  # can it query a store on S3 (``--store s3://…``)?
    #: Whether the engine defines the views ``rollup_<name>`` over the store's rollups.
    reads_rollups: bool = False
    #: Whether ``WITH x AS MATERIALIZED (...)`` computes ``x`` once for all its readers (else a
    #: CTE read by several parts of a query is computed by each).
    materializes_ctes: bool = False

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
        python: bool = False,
    ):
        """Run ``query`` and return its result as a context manager that iterates Arrow record
        batches (``schema``, ``names``, ``truncated`` and ``sql`` attributes), in bounded memory.
        The time limit covers the consumption of the batches too. Engines that cannot stream
        return the whole result as one stream. ``python=True`` allows an engine to yield each
        chunk as lists of Python values per column instead, which it says with
        ``stream.python`` (the DuckDB engine does for plain results, without loading pyarrow)."""
        res = self.query(query, dialect=dialect, limit=limit, timeout=timeout, window=window)
        return _TableStream(res, batch_rows)

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


class _TableStream:
    def __init__(self, res: QueryResult, batch_rows: int):
        self.schema = res.table.schema
        self.names = list(self.schema.names)
        self.python = False
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
    if getattr(store, "remote", False) and not engine_cls.reads_s3:
        raise ConfigError(
            f"{store.url}: a store on S3 is queried by the Spark engine: add --engine spark "
            f"(or set VPCFLOW_ENGINE=spark); for {name}, copy it to a local directory first "
            f"(aws s3 sync {store.url} DIR)"
        )
    if name == "spark":
        return engine_cls(store, master=spark_master, conf=spark_conf)
    return engine_cls(store)


# name -> "module:function" of an engine's own ingest job; an engine not listed ingests natively.
INGEST_JOBS = {"spark": "vpcflow.engines.spark_ingest:spark_ingest"}


def ingest_job(name: str | None):
    """The ingest job of engine ``name`` (default: the ``engine`` setting), None for the native
    ingest of the storage layer."""
    import importlib

    from .. import settings
    from ..errors import ConfigError

    name = (name or str(settings.get("engine"))).lower()
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    target = INGEST_JOBS.get(name)
    if target is None:
        return None
    module, _, fn = target.partition(":")
    return getattr(importlib.import_module(module), fn)


def default_engine(store) -> Engine:
    """The engine the ``engine`` setting names (DuckDB unless ``VPCFLOW_ENGINE`` says otherwise)."""
    return create(None, store)
