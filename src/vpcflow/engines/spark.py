"""The Apache Spark engine: the same store, the same SQL, on a cluster (or ``local[*]``).

Queries arrive in Athena (or DuckDB) SQL and are transpiled by ``dialects`` for Spark SQL, as
for DuckDB. The table ``vpc_flow_logs`` is a temporary view over the store's live files (the
manifest's, not a directory listing), with the schema generated from ``schema.FIELDS`` and the
partition column ``date`` pinned to DATE. The SQL functions of ``engines.functions`` exist here
too: their DuckDB macros are expanded inline by ``dialects`` (so they stay vectorised SQL) and
their Arrow functions run as Arrow/pandas UDFs on the executors.

One SparkSession (one JVM) serves a process; every engine gets its own ``newSession()`` so that
views and functions of two stores never meet. ``session(master, conf)`` makes the first one.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from .. import schema, settings
from ..errors import ConfigError, MissingDependency, QueryError, QueryRefused, QueryTimeout
from . import Engine, QueryResult, inventory
from .dialects import to_engine_sql

log = logging.getLogger("vpcflow")

# Spark settings every vpcflow session gets: UTC like the store, no UI or listening ports
# beyond loopback in local mode, and no SQL over arbitrary files (the read-only guard).
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.runSQLOnFiles": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",  # size(NULL) is NULL, as len(NULL) in DuckDB
    "spark.ui.showConsoleProgress": "false",
}
LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
}

_lock = threading.Lock()
_session = None


def parse_conf(items) -> dict[str, str]:
    """``["k=v", ...]`` (``--spark-conf``) -> dict; a malformed item is a ConfigError."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--spark-conf {item!r}: expected KEY=VALUE, e.g. spark.executor.memory=4g"
            )
        out[key.strip()] = value.strip()
    return out


def _require_pyspark():
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise MissingDependency("pyspark", "spark") from exc
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise MissingDependency(
            "java",
            "spark",
            "the Spark engine needs a Java runtime (17 or newer) and none was found: "
            "install one (apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        )


def session(master: str | None = None, conf: Mapping[str, str] | None = None):
    """The process's SparkSession, started on first use (``master`` default: the setting)."""
    global _session
    with _lock:
        if _session is not None:
            return _session
        _require_pyspark()
        from pyspark import SparkConf
        from pyspark.sql import SparkSession

        submitted = SparkConf().get("spark.master")  # under spark-submit: its --master
        master = master or os.environ.get("VPCFLOW_SPARK_MASTER") or submitted
        master = master or str(settings.get("spark_master"))
        builder = SparkSession.builder.appName("vpcflow")
        if master != submitted:
            builder = builder.master(master)
        merged = dict(BASE_CONF)
        if master.startswith("local"):
            merged.update(LOCAL_CONF)
            # Python workers run this interpreter (vpcflow and its dependencies are here).
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        merged.update(conf or {})
        if "spark.driver.extraJavaOptions" not in merged and not submitted:
            # the JVM's start-up chatter (log4j profile, native-hadoop, hostname) is not ours
            # to print; its warnings and errors still are
            log4j = Path(__file__).resolve().parent / "spark-log4j2.properties"
            merged["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={log4j.as_uri()}"
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # PySpark's own logger prints every failed query as a JSON record; vpcflow says it in
        # one line (QueryError)
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        for k, v in merged.items():
            builder = builder.config(k, v)
        try:
            _session = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start: Java missing or broken, bad master
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise QueryError(f"cannot start Spark (master {master}): {first}") from exc
        _session.sparkContext.setLogLevel("ERROR")
        return _session


def stop_session() -> None:
    """Stop the process's SparkSession (tests and ``spark-job`` runs end with this)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


def _spark_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_map(t):
        return f"MAP<{_spark_type(t.key_type)}, {_spark_type(t.item_type)}>"
    if pa.types.is_int32(t):
        return "INT"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_date32(t):
        return "DATE"
    return "STRING"


def spark_ddl(table: schema.Table = schema.VPC) -> str:
    """The Spark schema (DDL) of a flow-log table, generated from its store schema (the
    ``schema`` table's fields, ``extra_fields``, the key columns, then ``date``)."""
    return ", ".join(
        f"`{f.name}` {_spark_type(f.type)}" for f in table.arrow_schema(with_partition=True)
    )


# -- SQL functions ------------------------------------------------------------------------


class _Recorder:
    """Stands in for a DuckDB connection so that ``register(con)`` of a function module tells
    what it defines: macros (kept as DuckDB SQL) and vectorised Arrow functions."""

    def __init__(self):
        self.macros: dict[str, tuple[list[str], str]] = {}
        self.functions: dict[str, tuple[object, str, int]] = {}

    def execute(self, sql: str, *args):
        from .dialects import parse_macro

        name, params, body = parse_macro(sql)
        self.macros[name] = (params, body)
        return self

    def create_function(self, name, fn, params, returns, **_kw):
        self.functions[name] = (fn, str(returns).upper(), len(params))


_functions: _Recorder | None = None


def functions() -> _Recorder:
    """Every SQL function of ``engines.functions`` and the DuckDB engine's ``CONNECT_HOOKS``."""
    global _functions
    if _functions is None:
        from . import functions as sql_functions
        from .duckdb import CONNECT_HOOKS

        rec = _Recorder()
        sql_functions.register(rec)
        for hook in CONNECT_HOOKS:
            hook(rec)
        _functions = rec
    return _functions


_SPARK_TYPES = {"VARCHAR": "string", "BOOLEAN": "boolean", "BIGINT": "bigint", "INTEGER": "int"}


def _arrow_udf(fn, returns: str, arity: int):
    """A Spark Arrow UDF (batches of ``pyarrow.Array`` in and out) for ``fn``."""
    from pyspark.sql.functions import arrow_udf

    def whole(out):
        return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out

    def plain(a: pa.Array) -> pa.Array:  # Spark hands strings over as large_string
        return a.cast(pa.string()) if pa.types.is_large_string(a.type) else a

    if arity == 1:

        def run1(a: pa.Array) -> pa.Array:
            return whole(fn(plain(a)))

        run = run1
    else:

        def run2(a: pa.Array, b: pa.Array) -> pa.Array:
            return whole(fn(plain(a), plain(b)))

        run = run2
    return arrow_udf(run, _SPARK_TYPES.get(returns, "string"))


class SparkEngine(Engine):
    """Runs read-only SQL over ``vpc_flow_logs`` of one store on Spark."""

    name = "spark"
    dialect = "spark"
    reads_s3 = True

    def __init__(
        self,
        store,
        master: str | None = None,
        conf: Mapping[str, str] | None = None,
        spark=None,
    ):
        self.store = store
        self._root = spark or session(master, conf)
        self._spark = None
        self._files: list[str] | None = None
        self._cached: list = []  # frames kept by Spark for this engine (a store on S3)
        self._job = f"vpcflow-{uuid.uuid4().hex[:8]}"

    # -- the table ----------------------------------------------------------------------------

    def _connect(self):
        files = [str(p) for p in self.store.files()]
        snapshots = inventory.state(self.store)
        if self._spark is not None and (files, snapshots) == self._files:
            return self._spark
        spark = self._spark or self._new_session()
        self._uncache()
        for table in schema.TABLES:
            self._frame(spark, table, files).createOrReplaceTempView(table.name)
        self._inventory(spark)
        self._spark, self._files = spark, (files, snapshots)
        return spark

    def _inventory(self, spark) -> None:
        """The tables ``interfaces``, ``interface_addresses`` and the functions
        ``interface_name``, ``address_owner``, ``address_interface`` (``engines.inventory``)."""
        for name, table in inventory.spark_tables(self.store).items():
            spark.createDataFrame(table).createOrReplaceTempView(name)
        for name, (fn, returns, arity) in inventory.spark_functions(self.store).items():
            spark.udf.register(name, _arrow_udf(fn, returns, arity))

    def _frame(self, spark, table: schema.Table, files: list[str]):
        """The DataFrame of one table: its files (``data/date=…``, ``tgw/date=…``) read with the
        schema generated from the catalogue."""
        ddl = spark_ddl(table)
        mine = [f for f in files if f"/{table.directory}/date=" in f]
        if not mine:
            return spark.createDataFrame([], ddl)
        if getattr(self.store, "remote", False):
            from .spark_s3 import remote_frame

            frame, cached = remote_frame(
                spark, table, ddl, mine, f"{self.store.url}/{table.directory}"
            )
            if cached:
                self._cached.append(frame)
            return frame
        return (
            spark.read.schema(ddl)
            .option("basePath", str(self.store.path / table.directory))
            .option("mergeSchema", "false")
            .parquet(*mine)
        )

    def _new_session(self):
        spark = self._root.newSession()
        for k, v in BASE_CONF.items():
            if not k.startswith("spark.ui"):
                spark.conf.set(k, v)
        for name, (fn, returns, arity) in functions().functions.items():
            spark.udf.register(name, _arrow_udf(fn, returns, arity))
        return spark

    def refresh(self) -> None:
        self._files = None

    def _uncache(self) -> None:
        for frame in self._cached:
            try:
                frame.unpersist()
            except Exception:  # the session was stopped already
                pass
        self._cached = []

    def close(self) -> None:
        self._uncache()
        if self._spark is not None:
            for table in [t.name for t in schema.TABLES] + list(inventory.spark_tables(None)):
                try:
                    self._spark.catalog.dropTempView(table)
                except Exception:  # the session was stopped already
                    pass
            self._spark = None

    # -- queries ------------------------------------------------------------------------------

    def query(
        self,
        query: str,
        *,
        dialect: str = "athena",
        limit: int | None = None,
        timeout: float | None = None,
        window: tuple[int | None, int | None] | None = None,
    ) -> QueryResult:
        macros = {**functions().macros, **inventory.SPARK_MACROS}
        sql = to_engine_sql(query, dialect, self.dialect, window=window, macros=macros)
        spark = self._connect()
        sc = spark.sparkContext
        group = f"{self._job}-{uuid.uuid4().hex[:6]}"
        timer = None
        cancelled = threading.Event()
        if timeout:

            def cancel():
                cancelled.set()
                sc.cancelJobGroup(group)

            timer = threading.Timer(timeout, cancel)
            timer.daemon = True
            timer.start()
        try:
            sc.setJobGroup(group, "vpcflow query", interruptOnCancel=True)
            df = spark.sql(sql)
            if limit:
                df = df.limit(limit + 1)
            table = pin_types(df.toArrow())
        except Exception as exc:
            if cancelled.is_set():
                raise QueryTimeout(
                    f"query cancelled after the {timeout:g} s time limit (--timeout)"
                ) from exc
            raise _query_error(exc, sql) from exc
        finally:
            if timer is not None:
                timer.cancel()
            sc.setLocalProperty("spark.jobGroup.id", None)
        truncated = bool(limit) and table.num_rows > limit
        if truncated:
            table = table.slice(0, limit)
        return QueryResult(table, truncated, sql)


def _query_error(exc: Exception, sql: str) -> QueryError:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    cls = QueryRefused if "UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY" in text else QueryError
    return cls(f"{first}\nSQL run: {sql}")


def pin_types(table: pa.Table) -> pa.Table:
    """Arrow as the DuckDB engine returns it: plain (not large) strings and binaries."""
    fields, changed = [], False
    for f in table.schema:
        t = f.type
        if pa.types.is_large_string(t):
            t = pa.string()
        elif pa.types.is_large_binary(t):
            t = pa.binary()
        elif pa.types.is_large_list(t):
            t = pa.list_(pa.string() if pa.types.is_large_string(t.value_type) else t.value_type)
        changed = changed or t != f.type
        fields.append(pa.field(f.name, t, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table
