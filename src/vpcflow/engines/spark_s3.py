"""Spark over a store on S3 (``--store s3://…``), with or without Hadoop's S3 connector.

A cluster whose Spark has ``hadoop-aws`` (EMR, Glue, Dataproc with the connector, Databricks)
reads the store's files as ``s3a://`` paths, with Parquet column and partition pruning. PySpark
from PyPI ships no ``hadoop-aws``; there the executors read each file with PyArrow's own S3
client (``pyarrow.fs.S3FileSystem``, no JVM or Hadoop involved) inside ``mapInArrow``, one task
per few files. That path reads whole files (every column) and filters afterwards, so the engine
keeps what it read (``MEMORY_AND_DISK``: executors' memory, spilling to their local disks) until
the store changes: the first query reads the store once, the next ones (a detect run is dozens)
read the copy. Either way the files are the manifest's, never a listing of the prefix.

The executors find S3 as boto3 does: the default credential chain, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` (``AWS_ENDPOINT_URL_S3``) for S3-compatible
endpoints; in local mode the driver's ``AWS_*`` variables are handed to the Python workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Mapping
from urllib.parse import urlparse

import pyarrow as pa

from .. import schema
from ..errors import MissingDependency

log = logging.getLogger("vpcflow")

__all__ = ["remote_frame", "has_s3a"]

_BATCH_ROWS = 65_536


def has_s3a(spark) -> bool:
    """Does this Spark have Hadoop's S3A filesystem (the ``hadoop-aws`` jars)?"""
    # Hadoop's own class loader (which sees ``spark.jars``), as FileSystem.get will use it; the
    # py4j thread's ``Class.forName`` sees only the JVM's start-up class path.
    try:
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        return conf.getClassByNameOrNull("org.apache.hadoop.fs.s3a.S3AFileSystem") is not None
    except Exception:
        return False


def _s3a_endpoint(spark, env: Mapping[str, str] | None = None) -> None:
    """Point S3A at ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` (an S3-compatible store, as
    boto3 and the executors' PyArrow client use it) unless ``fs.s3a.endpoint`` was set."""
    env = os.environ if env is None else env
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    if not endpoint or spark.sparkContext.getConf().contains("spark.hadoop.fs.s3a.endpoint"):
        return
    u = urlparse(endpoint)
    conf.set("fs.s3a.endpoint", endpoint)
    conf.set("fs.s3a.path.style.access", "true")
    conf.set("fs.s3a.connection.ssl.enabled", "true" if u.scheme != "http" else "false")


def s3_filesystem(env: Mapping[str, str] | None = None):
    """A ``pyarrow.fs.S3FileSystem`` configured like boto3 from ``env`` (default: os.environ)."""
    from pyarrow import fs

    env = os.environ if env is None else env
    kw: dict = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        u = urlparse(endpoint)
        kw["endpoint_override"] = u.netloc or u.path
        kw["scheme"] = u.scheme or "https"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        kw["region"] = region
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        kw["access_key"] = env["AWS_ACCESS_KEY_ID"]
        kw["secret_key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            kw["session_token"] = env["AWS_SESSION_TOKEN"]
    return fs.S3FileSystem(**kw)


def read_file(filesystem, uri: str, table: schema.Table) -> pa.Table:
    """One store file as the table's rows: the catalogue's columns (a column the file lacks is
    NULL; a newer field kept in ``extra_fields`` is read from there), then ``date`` from the
    file's partition directory."""
    import pyarrow.parquet as pq

    from ..store import _conform

    path = uri[len("s3://") :]
    t = _conform(pq.read_table(path, filesystem=filesystem), table)
    day = next(p.split("=", 1)[1] for p in path.split("/") if p.startswith("date="))
    days = pa.array([dt.date.fromisoformat(day)] * t.num_rows, pa.date32())
    return t.append_column(pa.field(schema.PARTITION_COLUMN, pa.date32()), days)


def _reader(table_name: str, env: Mapping[str, str]):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        os.environ.update(env)
        table = schema.TABLE_BY_NAME[table_name]
        filesystem = s3_filesystem()
        for batch in batches:
            for uri in batch.column(0).to_pylist():
                yield from read_file(filesystem, uri, table).to_batches(_BATCH_ROWS)

    return run


def remote_frame(spark, table: schema.Table, ddl: str, files: list[str], base: str):
    """The DataFrame of ``table`` over ``files`` (``s3://`` URIs under ``base``), and whether it
    is persisted (the caller unpersists it when the store changes); ``ddl``: its Spark schema."""
    if has_s3a(spark):
        _s3a_endpoint(spark)
        log.info("spark: reading %d store files through Hadoop's S3A connector", len(files))
        frame = (
            spark.read.schema(ddl)
            .option("basePath", "s3a://" + base[len("s3://") :])
            .option("mergeSchema", "false")
            .parquet(*("s3a://" + f[len("s3://") :] for f in files))
        )
        return frame, False
    try:
        import pandas  # noqa: F401 (PySpark's mapInArrow insists on it)
    except ImportError as exc:
        raise MissingDependency(
            "pandas",
            "spark",
            "reading a store on S3 without hadoop-aws runs Spark's mapInArrow, which needs "
            "pandas: pip install 'vpcflow[spark]'",
        ) from exc
    sc = spark.sparkContext
    local = sc.master.startswith("local")
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} if local else {}
    slices = max(1, min(len(files), sc.defaultParallelism * 2))
    paths = spark.createDataFrame(sc.parallelize([(f,) for f in files], slices), "path STRING")
    from pyspark import StorageLevel

    frame = paths.mapInArrow(_reader(table.name, env), ddl)
    return frame.persist(StorageLevel.MEMORY_AND_DISK), True
