"""The Spark ingest stores exactly what the native ingest stores, from local paths and from S3.

Inputs mix what AWS delivers: gzip text with a header line in the default S3 key layout,
Parquet in the Hive-compatible layout, a header with a custom field order, and damaged lines.
Both stores must hold the same records (every column), the same manifest entries and the same
quarantined lines; the Spark store must be readable by the DuckDB engine.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.engines import spark_ingest as job

CUSTOM = (
    "srcaddr dstaddr srcport dstport protocol action start end account-id interface-id "
    "version packets bytes log-status tcp-flags\n"
    "10.0.1.5 10.0.2.9 443 51000 6 ACCEPT 1714525200 1714525260 123456789012 eni-0a1 3 5 900 OK 18\n"
    "10.0.2.9 10.0.1.5 51000 443 6 ACCEPT 1714525200 1714525260 123456789012 eni-0a1 3 4 300 OK 2\n"
    "10.0.2.9 10.0.1.5 51000 notaport 6 ACCEPT 1714525200 1714525260 123456789012 eni-0a1 3 4 300 OK 2\n"
    "10.0.2.9 10.0.1.5 51000 443 6 MAYBE 1714525200 1714525260 123456789012 eni-0a1 3 4 300 OK 2\n"
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("spark-ingest")
    for i, args in enumerate(
        (
            ["--records", "3000", "--seed", "3", "--hours", "2"],
            ["--records", "2000", "--seed", "4", "--hours", "2", "--format", "parquet"]
            + ["--layout", "hive", "--version", "5"],
        )
    ):
        res = CliRunner().invoke(main, ["generate", str(d / f"gen{i}"), *args])
        assert res.exit_code == 0, res.output
        (d / "in").mkdir(exist_ok=True)
        for p in (d / f"gen{i}" / "AWSLogs").rglob("*"):
            if p.is_file():
                target = d / "in" / "AWSLogs" / p.relative_to(d / f"gen{i}" / "AWSLogs")
                target.parent.mkdir(parents=True, exist_ok=True)
                p.rename(target)
    (d / "in" / "extra").mkdir()
    (d / "in" / "extra" / "custom.log.gz").write_bytes(gzip.compress(CUSTOM.encode()))
    (d / "in" / "extra" / "empty.log").write_text("")
    return d / "in"


def _sources(inputs):
    return [str(p) for p in sorted(inputs.iterdir())]


def _everything(store_dir):
    store = open_store(store_dir, create=False)
    cols = ", ".join(
        f'"{c}"' for c in store.sql("SELECT * FROM vpc_flow_logs LIMIT 0").schema.names
    )
    table = store.sql(f"SELECT {cols} FROM vpc_flow_logs ORDER BY {cols}", dialect="duckdb")
    manifest = sorted(
        (e["uri"], e["version"], e["records"], e["bad_lines"], e.get("error"))
        for e in store.manifest.ingested().values()
    )
    quarantine = sorted(
        (q["path"], q["line"], q["field"], q["reason"]) for q in store.quarantined()
    )
    return table, manifest, quarantine


def _same_stores(a, b):
    ta, ma, qa = _everything(a)
    tb, mb, qb = _everything(b)
    assert tb.num_rows == ta.num_rows > 0
    assert tb.equals(ta)
    assert mb == ma
    assert qb == qa and len(qa) == 2
    assert {q[2] for q in qa} == {"dstport", "action"}


def _ingest(*args):
    res = CliRunner().invoke(main, ["ingest", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_local_spark_ingest_stores_what_native_ingest_stores(inputs, tmp_path, spark):
    native = _ingest(*_sources(inputs), "--store", str(tmp_path / "native"))
    sp = _ingest(*_sources(inputs), "--store", str(tmp_path / "spark"), "--engine", "spark")
    for k in ("files", "records", "bad_lines", "failed_files", "empty_files"):
        assert sp[k] == native[k], k
    assert sp["records"] > 4000 and sp["bad_lines"] == 2 and sp["empty_files"] == 1
    _same_stores(tmp_path / "native", tmp_path / "spark")
    # a re-run skips everything it already holds
    again = _ingest(*_sources(inputs), "--store", str(tmp_path / "spark"), "--engine", "spark")
    assert again["records"] == 0 and again["skipped_files"] == native["files"]


def test_a_failed_job_commits_nothing(inputs, tmp_path, spark, monkeypatch):
    real = job._describe

    def broken(obj):
        d = real(obj)
        if d["uri"].endswith("custom.log.gz"):
            d["day"] = "not-a-day"  # the task that gets this object fails
        return d

    monkeypatch.setattr(job, "_describe", broken)
    store = open_store(tmp_path / "st")
    with pytest.raises(Exception, match="not-a-day"):
        job.spark_ingest(store, _sources(inputs))
    assert store.count() == 0 and store.manifest.ingested() == {}
    monkeypatch.setattr(job, "_describe", real)
    report = job.spark_ingest(store, _sources(inputs))
    assert report.records == store.count() > 4000 and report.bad_lines == 2
    assert not any((tmp_path / "st" / "_vpcflow" / "staging").iterdir())


def test_s3_spark_ingest_on_moto(inputs, tmp_path, spark, moto_endpoint):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="flows")
    for p in sorted(Path(inputs).rglob("*")):
        if p.is_file() and p.suffix in (".gz", ".parquet", ".log"):
            s3.put_object(Bucket="flows", Key=f"logs/{p.relative_to(inputs)}", Body=p.read_bytes())
    srcs = ["s3://flows/logs/AWSLogs/", "s3://flows/logs/extra/"]
    native = _ingest(*srcs, "--store", str(tmp_path / "native"))
    sp = _ingest(*srcs, "--store", str(tmp_path / "spark"), "--engine", "spark")
    assert sp["records"] == native["records"] > 4000
    assert sp["files"] == native["files"] and sp["bad_lines"] == native["bad_lines"] == 2
    _same_stores(tmp_path / "native", tmp_path / "spark")
    # the key told account and region; the manifest names the S3 objects
    store = open_store(tmp_path / "spark", create=False)
    assert all(u.startswith("s3://flows/logs/") for u, _ in store.manifest.ingested())


def test_spark_ingest_refuses_stdin(tmp_path, spark):
    res = CliRunner().invoke(
        main, ["ingest", "-", "--store", str(tmp_path / "s"), "--engine", "spark"], input="x\n"
    )
    assert res.exit_code == 1 and "local files and s3:// objects only" in res.output


def test_spark_job_packages_and_its_command_runs(inputs, tmp_path):
    """The printed spark-submit command, run as printed (local master), fills the store."""
    import os
    import shlex
    import subprocess
    import sys

    res = CliRunner().invoke(
        main,
        ["spark-job", *_sources(inputs), "--store", str(tmp_path / "st")]
        + ["--spark-master", "local[1]", "--out", str(tmp_path / "job"), "--platform", "k8s"],
    )
    assert res.exit_code == 0, res.output
    assert "spark.kubernetes.container.image" in res.stdout
    res = CliRunner().invoke(
        main,
        ["spark-job", *_sources(inputs), "--store", str(tmp_path / "st")]
        + ["--spark-master", "local[1]", "--out", str(tmp_path / "job")]
        + ["--spark-conf", "spark.ui.enabled=false"],
    )
    assert res.exit_code == 0, res.output
    cmd = shlex.split(res.stdout.strip().splitlines()[-1])
    assert cmd[0] == "spark-submit" and (tmp_path / "job" / "vpcflow-0.1.0.zip").exists()
    cmd[0] = str(Path(sys.executable).parent / "spark-submit")
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert report["records"] > 4000 and report["bad_lines"] == 2
    assert open_store(tmp_path / "st", create=False).count() == report["records"]
