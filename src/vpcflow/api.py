"""The public ``Store``: the storage layer with the query engine and the analyses on top.

``vpcflow.store.Store`` knows files, the manifest, ingest and compaction only. This class adds
what a user asks of a store — SQL through the engine, Logs Insights, named queries, detection,
troubleshooting — as thin methods over those packages, which take the store and read it through
the engine. Nothing below this module imports it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from . import settings
from . import store as storage
from .errors import MissingDependency
from .store.remote import S3Store as S3Storage
from .store.remote import is_s3_url

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["S3Store", "Store", "open_store"]


class _Analyses:
    """What a store answers, on top of either storage class (a directory or ``s3://``)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._engine = None

    # -- ingest -----------------------------------------------------------------------------

    def ingest(
        self,
        sources,
        *,
        engine: str | None = None,
        spark_master: str | None = None,
        spark_conf: dict[str, str] | None = None,
        tasks: int | None = None,
        **options,
    ):
        """Ingest SOURCES (see ``vpcflow.store.Store.ingest`` for the options).

        ``engine="spark"`` (default: the ``engine`` setting, ``VPCFLOW_ENGINE``) runs the ingest
        as a Spark job (``vpcflow.engines.spark_ingest``): listed in the driver, parsed and
        written by the executors, committed as one transaction; ``spark_master``, ``spark_conf``
        and ``tasks`` are its settings. A store on S3 is written only this way."""
        from .engines import ingest_job

        job = ingest_job(engine)
        if job is None:
            return super().ingest(sources, **options)
        options.pop("progress", None)  # a Spark job reports when it ends
        options.pop("batch_rows", None)
        return job(
            self, sources, spark_master=spark_master, spark_conf=spark_conf, tasks=tasks, **options
        )

    # -- the engine -------------------------------------------------------------------------

    @property
    def engine(self):
        if self._engine is None:
            from .engines import default_engine

            self._engine = default_engine(self)
        return self._engine

    def use_engine(
        self,
        name: str | None = None,
        *,
        spark_master: str | None = None,
        spark_conf: dict[str, str] | None = None,
    ):
        """Run this store's queries on engine ``name`` (``duckdb`` or ``spark``); returns it."""
        from .engines import create

        engine = create(name, self, spark_master=spark_master, spark_conf=spark_conf)
        if self._engine is not None:
            self._engine.close()
        self._engine = engine
        return engine

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
        since=None,
        until=None,
    ) -> pa.Table:
        """Run a read-only SQL query over ``vpc_flow_logs``; Athena (Trino) dialect by default.

        ``since``/``until`` (datetimes, ISO-8601, Unix seconds or durations like ``"24h"``)
        limit the table to the flows starting in that window. Sums are int64 (Athena's bigint).
        """
        return self.query(
            query, dialect, limit=limit, timeout=timeout, since=since, until=until
        ).table

    def query(
        self,
        query: str,
        dialect: str = "athena",
        *,
        limit: int | None = None,
        timeout: float | None = None,
        since=None,
        until=None,
    ):
        """Like ``sql`` but returns a ``QueryResult`` (table, truncated, sql)."""
        return self.engine.query(
            query, dialect=dialect, limit=limit, timeout=timeout, window=_window(since, until)
        )

    def stream(
        self,
        query: str,
        dialect: str = "athena",
        *,
        limit: int | None = None,
        timeout: float | None = None,
        since=None,
        until=None,
        batch_rows: int = 10_000,
    ):
        """Run a query and iterate its result as Arrow record batches in bounded memory::

            with store.stream("SELECT * FROM vpc_flow_logs") as batches:
                for batch in batches: ...

        The time limit covers the iteration too."""
        return self.engine.stream(
            query,
            dialect=dialect,
            limit=limit,
            timeout=timeout,
            batch_rows=batch_rows,
            window=_window(since, until),
        )

    # -- the interface inventory ------------------------------------------------------------

    def sync_interfaces(self, **options):
        """Add a snapshot of the network interfaces (``file=`` describe-network-interfaces
        JSON, or ``from_aws=True``); see ``vpcflow.store.inventory.sync``."""
        from .store.inventory import sync

        return sync(self, **options)

    def names_for(self, values, at=None) -> dict[str, str]:
        """What is behind each eni- id or address the inventory knows, e.g.
        ``{"10.0.1.14": "web-4, i-0abc…"}``; ``at``: when they were seen (default the latest)."""
        from .store.inventory import names_for

        return names_for(self, values, at=at)

    # -- the analyses -----------------------------------------------------------------------

    def insights(
        self, query: str, *, since=None, until=None, table: str = "vpc_flow_logs"
    ) -> pa.Table:
        """Run a CloudWatch Logs Insights query (see ``vpcflow.insights``) over ``table``
        (``tgw_flow_logs`` for Transit Gateway flow logs)."""
        from . import insights

        return insights.run(self, query, since=since, until=until, table=table)

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


class Store(_Analyses, storage.Store):
    """A vpcflow store: ingest into it, query it, analyse it. Use ``open_store(path)``."""

    def build_summaries(self, names=None, country=None) -> dict:
        """Write the day summaries that are missing or stale (``vpcflow rollup summarise``);
        ``seen`` with the countries of ``vpcflow.enrich`` (when installed)."""
        return super().build_summaries(names, country=country or _country_lookup())

    def summary_status(self, name, since=None, until=None, country=None) -> dict:
        lookup = _country_lookup()
        version = country or (lookup[0] if lookup else None)
        return super().summary_status(name, since, until, version)


class S3Store(_Analyses, S3Storage):
    """A vpcflow store on S3 (``s3://bucket/prefix``): written by the Spark ingest, queried by the
    Spark engine. Use ``open_store("s3://…")``."""


def _country_lookup():
    """(version, country, network) of the offline address database, or None without
    ``[enrich]``."""
    try:
        from .enrich import geo

        return geo.version(), geo.country, geo.asn
    except ImportError:
        return None
    except MissingDependency:
        return None


def _window(since, until) -> tuple[int | None, int | None] | None:
    if since is None and until is None:
        return None
    from .timeparse import to_epoch

    return to_epoch(since, name="since"), to_epoch(until, name="until")


def open_store(path: str | os.PathLike | None = None, create: bool = True) -> Store:
    """Open the store at ``path`` (default: ``$VPCFLOW_STORE`` or the per-user data dir), a
    directory or ``s3://bucket/prefix``.

    ``create=True`` makes a new store in a missing or empty directory (or S3 prefix); a non-empty
    one that is not a store is refused.
    """
    path = path or settings.get("store")
    if is_s3_url(path):
        return S3Store.create_or_open(path, create=create)
    return Store.create_or_open(path, create=create)
