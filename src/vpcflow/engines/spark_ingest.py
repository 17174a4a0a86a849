"""Cluster-sized ingest: the objects of an ingest parsed and written by Spark executors.

The driver lists the sources (local paths, ``s3://`` prefixes in every AWS key layout) without
downloading anything, leaves out objects the manifest already holds, and hands the rest to the
executors as small descriptions. Each task opens its objects itself (local files, or S3 with
boto3, ``If-Match`` the listed ETag), parses them with vpcflow's own parser — the same header,
format-string, Parquet and validation rules as the native ingest — and writes one Parquet file
per date into the transaction's staging directory. The driver then writes the quarantine (bad
lines with file, line, field and reason) and commits every object and file in one manifest
transaction. A job that fails commits nothing: its staging files are removed by the next writer,
and a re-run starts again from the objects that are not in the manifest.

Hadoop's ``s3a://`` needs the ``hadoop-aws`` jars, which PySpark does not ship; reading objects
with boto3 in the executors works on any cluster with vpcflow installed on it (``vpcflow
spark-job`` packages it), and keeps one S3 code path for both ingests.

On a cluster, the store directory must be on a filesystem every executor mounts (EFS, NFS,
Lustre, a Databricks volume): the executors write the files, the driver commits them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..errors import SourceError
from ..sources import RawObject
from ..store import rollups
from ..store.ingest import IngestReport, entry
from ..store.parts import PartWriter, fsync_file, read_object

log = logging.getLogger("vpcflow")

__all__ = ["spark_ingest"]

# Environment the Python workers need to reach S3 the way the driver does, in local mode (a
# cluster's executors use their own credential chain, e.g. the instance role).
_FORWARDED_ENV = ("AWS_",)


def _describe(obj: RawObject) -> dict:
    """What an executor needs to open ``obj`` again (RawObject.open does not travel)."""
    d = {
        "uri": obj.uri,
        "version": obj.version,
        "size": obj.size,
        "kind": obj.kind,
        "account": obj.account,
        "region": obj.region,
        "day": obj.day.isoformat() if obj.day else None,
        "log_format": obj.log_format,
        "path": obj.path,
    }
    if obj.path is None and not obj.uri.startswith("s3://"):
        raise SourceError(
            f"{obj.uri}: the Spark ingest reads local files and s3:// objects only; "
            "ingest this source without --engine spark"
        )
    return d


def _reopen(d: dict, s3_client) -> RawObject:
    import datetime as dt

    if d["path"] is not None:
        path = d["path"]

        def opener():
            return open(path, "rb")  # noqa: SIM115 (the caller closes it)

    else:
        from ..sources.s3 import _get, parse_s3_uri

        bucket, key = parse_s3_uri(d["uri"])

        def opener():
            return _get(s3_client(), bucket, key, d["version"] or None)

    return RawObject(
        uri=d["uri"],
        open=opener,
        version=d["version"],
        size=d["size"],
        kind=d["kind"],
        account=d["account"],
        region=d["region"],
        day=dt.date.fromisoformat(d["day"]) if d["day"] else None,
        log_format=d["log_format"],
        path=d["path"],
    )


def _task(stage: str, txn: str, log_format: str | None, env: Mapping[str, str]):
    """The function each Spark task runs over its share of object descriptions. ``stage``: the
    transaction's staging directory (a filesystem every node mounts), or its ``s3://`` prefix
    for a store on S3 (the task writes to a local directory, then uploads)."""

    def run(index: int, items: Iterable[tuple[int, dict]]) -> Iterator[dict]:
        os.environ.update(env)
        client = {}
        remote = stage.startswith("s3://")
        local = Path(tempfile.mkdtemp(prefix="vpcflow-stage-")) if remote else Path(stage)

        def s3():
            if "s3" not in client:
                from .. import aws

                client["s3"] = aws.client("s3")
            return client["s3"]

        writer = PartWriter(local, f"{txn}-t{index:05d}")
        for seq, d in items:
            obj = _reopen(d, s3)
            res = read_object(obj, log_format, lambda t, day=obj.day: writer.add(t, day))
            yield {
                "seq": seq,
                "uri": obj.uri,
                "records": res.records,
                "raw_bytes": res.raw_bytes,
                "error": res.error,
                "bad": [b.as_dict() for b in res.bad],
                "unknown": sorted(res.unknown_fields),
                "skipped": dict(res.skipped),
                "entry": entry(obj, res.records, len(res.bad), res.error, complete=True),
            }
        files = writer.close()
        if remote:
            from ..store.remote import upload_staged

            try:
                upload_staged(files, local, stage)
            finally:
                shutil.rmtree(local, ignore_errors=True)
        yield {"files": files}

    return run


def spark_ingest(
    store,
    sources: Iterable[str] | str,
    *,
    log_format: str | None = None,
    spark_master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    tasks: int | None = None,
    **source_options,
) -> IngestReport:
    """Ingest SOURCES into ``store`` (a storage ``Store``) with Spark; one transaction per job.

    Same result as ``store.ingest`` on the same objects: the same records, bad lines and
    manifest entries. ``tasks``: how many Spark tasks share the objects (default: four per core
    of the cluster, so that a slow object does not hold up the others)."""
    from .. import schema
    from .spark import session

    if isinstance(sources, str):
        sources = [sources]
    if log_format:
        schema.parse_log_format(log_format)
    spark = session(spark_master, spark_conf)
    sc = spark.sparkContext
    report = IngestReport()
    started = time.perf_counter()
    local = sc.master.startswith("local")
    env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV)} if local else {}
    # The executors write what the driver's settings say (an executor started earlier, or on
    # another node, has other environment variables): vpcflow's settings, the rollup set above all.
    env.update({k: v for k, v in os.environ.items() if k.startswith("VPCFLOW_")})
    env["VPCFLOW_ROLLUPS"] = ",".join(rollups.enabled()) or "none"
    with store._writer():
        done = store.manifest.ingested()
        options = {"workers": 0, **source_options}  # list only: the executors download
        objs = [
            _describe(o) for o in store._objects(list(sources), done, report, log_format, options)
        ]
        if objs:
            txn = uuid.uuid4().hex[:16]
            remote = getattr(store, "remote", False)
            if remote:
                stage = store.stage_url(txn)
            else:
                stage = store.path / "_vpcflow" / "staging" / txn
                stage.mkdir(parents=True, exist_ok=True)
            n = max(1, min(len(objs), tasks or sc.defaultParallelism * 4))
            rdd = sc.parallelize(list(enumerate(objs)), n)
            sc.setJobGroup(f"vpcflow-ingest-{txn}", f"vpcflow ingest of {len(objs)} objects")
            try:
                results = rdd.mapPartitionsWithIndex(
                    _task(str(stage), txn, log_format, env)
                ).collect()
            except BaseException:
                if remote:  # a local store's next writer sweeps its staging under the lock
                    store.abort(txn)
                raise
            _commit(store, txn, stage, results, report)
        report.workers = sc.defaultParallelism
    report.seconds = time.perf_counter() - started
    return report


def _commit(store, txn: str, stage: Path | str, results: list[dict], report: IngestReport) -> None:
    """Count what the tasks did, exactly as the native ingest does, and commit it at once."""
    from ..store.manifest import Txn

    files: list[dict] = []
    objects: list[dict] = []
    bad_lines: list[dict] = []
    for r in sorted((r for r in results if "seq" in r), key=lambda r: r["seq"]):
        report.bytes += r["raw_bytes"]
        if r["error"]:
            report.failed_files += 1
            report.problem(r["uri"], r["error"])
            log.warning("%s: %s", r["uri"], r["error"])
        for b in r["bad"]:
            report.problem(b["path"], b["reason"], b.get("line"), b.get("field") or "")
        bad_lines.extend(r["bad"])
        report.bad_lines += len(r["bad"])
        report.records += r["records"]
        report.skip_lines(r.get("skipped", {}))
        if r["unknown"]:
            report.problem(r["uri"], "ignored unknown fields in header: " + ", ".join(r["unknown"]))
        if r["error"] is None or r["records"] or r["bad"]:
            report.files += 1
            if r["records"] == 0 and not r["bad"] and r["error"] is None:
                report.empty_files += 1
                report.problem(r["uri"], "file is empty (no records)")
            objects.append(r["entry"])
    for r in results:
        files.extend(r.get("files", []))
    quarantine = None
    if bad_lines:
        quarantine = f"_vpcflow/quarantine/{txn}.jsonl"
        text = "".join(json.dumps(b) + "\n" for b in bad_lines)
        if isinstance(stage, str):  # a store on S3
            store.put_staged(txn, "quarantine.jsonl", text.encode())
            report.quarantine.append(store.location(quarantine))
        else:
            with open(stage / "quarantine.jsonl", "w", encoding="utf-8") as fh:
                fh.write(text)
            fsync_file(stage / "quarantine.jsonl")
            report.quarantine.append(str(store.path / quarantine))
    if objects or files:
        store._commit(Txn(txn, objects, files, [], quarantine, time.time()))
