"""A store on S3 (``--store s3://bucket/prefix``): written by the Spark ingest, read by the Spark
engine, against the moto server on 127.0.0.1.

The same input goes into a local store with the native ingest; every command must then give the
same answers from both stores: records (every column), manifest entries, quarantine, SQL, named
queries, Logs Insights and detect. All tests share one SparkSession (the ``spark`` fixture) and
one ingest (module fixture): Spark's share of ``make test`` stays small.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.errors import StoreWriteError
from vpcflow.store.manifest import Txn

pytestmark = pytest.mark.spark

BAD = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "2 123456789012 eni-0bad 10.0.1.5 10.0.2.9 443 notaport 6 5 900 1714525200 1714525260 ACCEPT OK\n"
    "2 123456789012 eni-0bad 10.0.1.5 10.0.2.9 443 51000 6 5 900 1714525200 1714525260 MAYBE OK\n"
    "2 123456789012 eni-0bad 10.0.1.5 10.0.2.9 443 51000 6 5 900 1714525200 1714525260 REJECT OK\n"
)
STORE = "s3://stores/team/vpcflow"
# Hadoop's S3A connector, fetched by `make test` (scripts/fetch-s3a-jars).
S3A_JARS = Path(sys.prefix) / "share" / "vpcflow-s3a"
# hadoop-aws 3.3.1 on PySpark's Hadoop 3.5 client: 3.5's defaults write durations ("60s") and
# name SDK v2 credential providers, which 3.3.1 cannot read; these are the 3.3 forms.
S3A_CONF = {
    "fs.s3a.aws.credentials.provider": "com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
    "fs.s3a.threads.keepalivetime": "60",
    "fs.s3a.connection.establish.timeout": "30000",
    "fs.s3a.connection.timeout": "200000",
    "fs.s3a.connection.request.timeout": "0",
    "fs.s3a.connection.ttl": "300000",
    "fs.s3a.connection.idle.time": "60000",
    "fs.s3a.connection.acquisition.timeout": "60000",
    "fs.s3a.multipart.purge.age": "86400",
    "fs.s3a.multipart.size": "67108864",
    "fs.s3a.block.size": "33554432",
    "fs.s3a.readahead.range": "65536",
    "fs.s3a.retry.interval": "500",
    "fs.s3a.retry.throttle.interval": "100",
}


def _cli(*args, ok=True):
    res = CliRunner().invoke(main, list(args))
    if ok:
        assert res.exit_code == 0, res.output
    return res


def _json(*args):
    return json.loads(_cli(*args, "--format", "json").stdout)


@pytest.fixture(scope="module")
def world(_moto_server, tmp_path_factory, spark):
    """Generated flow logs (text gz and Parquet, plus damaged lines) in a bucket on moto; one
    Spark ingest into an S3 store and one native ingest of the same objects into a local one."""
    d = tmp_path_factory.mktemp("s3-store")
    _cli(
        "generate",
        str(d / "gen"),
        "--records",
        "5000",
        "--seed",
        "7",
        "--hours",
        "3",
        "--attacks",
        "port-scan",
    )
    _cli(
        "generate", str(d / "pq"), "--records", "1000", "--seed", "8", "--hours", "2",
        "--format", "parquet", "--layout", "hive",
    )  # fmt: skip
    _moto_server.reset()
    env = _moto_server.env()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        s3 = boto3.client("s3")
        for b in ("flows", "stores"):
            s3.create_bucket(Bucket=b)
        for root in (d / "gen", d / "pq"):
            for p in sorted(root.rglob("*")):
                if p.is_file() and p.suffix in (".gz", ".parquet"):
                    s3.put_object(
                        Bucket="flows", Key=p.relative_to(root).as_posix(), Body=p.read_bytes()
                    )
        s3.put_object(Bucket="flows", Key="extra/bad.log.gz", Body=gzip.compress(BAD.encode()))
        sources = ["s3://flows/AWSLogs/", "s3://flows/extra/"]
        local = d / "local"
        native = json.loads(_cli("ingest", *sources, "--store", str(local), "--json").stdout)
        remote = json.loads(
            _cli("ingest", *sources, "--store", STORE, "--engine", "spark", "--json").stdout
        )
    return {"env": env, "local": str(local), "native": native, "remote": remote, "sources": sources}


@pytest.fixture
def aws_env(world, monkeypatch):
    for k, v in world["env"].items():
        monkeypatch.setenv(k, v)
    return world


def test_the_spark_ingest_into_s3_stores_what_the_native_ingest_stores(aws_env):
    native, remote = aws_env["native"], aws_env["remote"]
    for k in ("files", "records", "bad_lines", "failed_files", "tgw_records"):
        assert remote[k] == native[k], k
    assert remote["records"] > 5500 and remote["bad_lines"] == 2
    local = open_store(aws_env["local"], create=False)
    s3 = open_store(STORE, create=False)
    assert s3.count() == local.count() == native["records"]

    def entries(store):
        return sorted(
            (e["uri"], e["version"], e["records"], e["bad_lines"])
            for e in store.manifest.ingested().values()
        )

    assert entries(s3) == entries(local)
    assert sorted((q["path"], q["line"], q["field"]) for q in s3.quarantined()) == sorted(
        (q["path"], q["line"], q["field"]) for q in local.quarantined()
    )
    # every record, every column: the S3 store on Spark, the local one on DuckDB
    cols = _json("sql", "SELECT * FROM vpc_flow_logs LIMIT 1", "--store", aws_env["local"])[0]
    order = ", ".join(c for c in cols if c != "extra_fields")
    q = f"SELECT * FROM vpc_flow_logs ORDER BY {order}"
    want = _json("sql", q, "--store", aws_env["local"], "--limit", "0")
    got = _json("sql", q, "--store", STORE, "--engine", "spark", "--limit", "0")
    assert len(got) == native["records"] and got == want


def test_the_s3_store_has_the_local_layout_and_no_leftovers(aws_env):
    keys = [
        o["Key"]
        for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket="stores")
        for o in page.get("Contents", [])
    ]
    rel = [k.removeprefix("team/vpcflow/") for k in keys]
    assert "vpcflow-store.json" in rel
    assert not [k for k in rel if k.startswith("_vpcflow/staging/")]
    data = [k for k in rel if k.startswith("data/date=")]
    assert data and all(k.endswith(".parquet") for k in data)
    assert sorted(k for k in rel if k.startswith("_vpcflow/journal/")) == [
        "_vpcflow/journal/00000000000000000001.done",
        "_vpcflow/journal/00000000000000000001.json",
    ]
    store = open_store(STORE, create=False)
    assert sorted(f.removeprefix(STORE + "/") for f in store.files()) == sorted(data)
    # each data file's rollups were uploaded and moved with it
    rolled = [r["path"] for f in store.manifest.live_files() for r in f.get("rollups", {}).values()]
    assert rolled and set(rolled) <= set(rel)


@pytest.mark.parametrize(
    "args",
    [
        ["sql", "SELECT action, protocol, count(*) AS n, sum(bytes) AS b FROM vpc_flow_logs "
         "GROUP BY 1, 2 ORDER BY 1, 2"],
        ["sql", "SELECT date, count(*) AS n FROM vpc_flow_logs GROUP BY date ORDER BY date"],
        ["query", "rejects-by-source"],
        ["insights", "filter action = 'REJECT' | stats count(*) as n by srcAddr "
         "| sort n desc, srcAddr | limit 10"],
        ["detect", "--detector", "port-scan"],
        ["troubleshoot"],
    ],
    ids=["sql", "sql-date", "query", "insights", "detect", "troubleshoot"],
)  # fmt: skip
def test_every_query_command_answers_the_same_from_s3(aws_env, args):
    want = _json(*args, "--store", aws_env["local"])
    got = _json(*args, "--store", STORE, "--engine", "spark")
    assert got == want
    assert want, "an empty answer proves nothing"


def _all_records_query(local: str) -> str:
    cols = _json("sql", "SELECT * FROM vpc_flow_logs LIMIT 1", "--store", local)[0]
    return "SELECT * FROM vpc_flow_logs ORDER BY " + ", ".join(
        c for c in cols if c != "extra_fields"
    )


def test_a_spark_with_hadoops_s3a_connector_reads_the_store_through_it(aws_env):
    """The path a cluster with hadoop-aws takes (EMR, Glue, Dataproc): Spark's own Parquet reader
    on s3a:// paths, the endpoint taken from AWS_ENDPOINT_URL as boto3 takes it. A process of its
    own: the connector's jars must be on the JVM's class path from its start."""
    jars = sorted(str(p) for p in S3A_JARS.glob("*.jar"))
    assert len(jars) == 2, f"no S3A jars in {S3A_JARS}: run `make s3a-jars` (`make test` does)"
    q = _all_records_query(aws_env["local"])
    want = _json("sql", q, "--store", aws_env["local"], "--limit", "0")
    conf = {"spark.jars": ",".join(jars), "spark.driver.memory": "1g"}
    conf |= {f"spark.hadoop.{k}": v for k, v in S3A_CONF.items()}
    args = [sys.executable, "-m", "vpcflow", "-v", "sql", q, "--store", "s3a://stores/team/vpcflow"]
    args += ["--engine", "spark", "--spark-master", "local[1]", "--limit", "0", "--format", "json"]
    for k, v in conf.items():
        args += ["--spark-conf", f"{k}={v}"]
    # a JVM of its own on a shared machine: no query time limit (the default 60 s is for users)
    env = dict(os.environ, VPCFLOW_TIME_LIMIT="0")
    r = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "through Hadoop's S3A connector" in r.stderr
    got = json.loads(r.stdout)
    assert len(got) == aws_env["native"]["records"] and got == want


def test_hadoop_scheme_names_are_the_same_objects_and_the_same_store(aws_env):
    """s3a:// and s3n:// name what s3:// names: the manifest knows the objects under either."""
    hadoop = ["s3a://flows/AWSLogs/", "s3n://flows/extra/"]
    again = json.loads(
        _cli("ingest", *hadoop, "--store", "s3a://stores/team/vpcflow", "--engine", "spark",
             "--json").stdout
    )  # fmt: skip
    assert again["records"] == 0 and again["skipped_files"] == aws_env["native"]["files"]
    n = _json("sql", "SELECT count(*) AS n FROM vpc_flow_logs", "--store",
              "s3a://stores/team/vpcflow", "--engine", "spark")  # fmt: skip
    assert n == [{"n": aws_env["native"]["records"]}]


def test_a_rerun_skips_what_the_s3_store_holds(aws_env):
    again = json.loads(
        _cli("ingest", *aws_env["sources"], "--store", STORE, "--engine", "spark", "--json").stdout
    )
    assert again["records"] == 0 and again["skipped_files"] == aws_env["native"]["files"]
    assert open_store(STORE, create=False).count() == aws_env["native"]["records"]


def test_duckdb_and_the_native_ingest_say_what_an_s3_store_needs(aws_env):
    res = _cli("sql", "SELECT 1", "--store", STORE, "--engine", "duckdb", ok=False)
    assert res.exit_code == 1
    assert "a store on S3 is queried by the Spark engine: add --engine spark" in res.output
    res = _cli("ingest", "s3://flows/extra/", "--store", STORE, "--engine", "duckdb", ok=False)
    assert res.exit_code == 1 and "written by the Spark ingest: add --engine spark" in res.output
    res = _cli("compact", "--store", STORE, ok=False)
    assert res.exit_code == 1 and "compact works on local stores only" in res.output
    res = _cli("interfaces", "sync", "--from-aws", "--store", STORE, ok=False)
    assert res.exit_code == 1 and "inventory is kept in local stores only" in res.output
    res = _cli("sql", "SELECT 1", "--store", "s3://stores/nothing-here", ok=False)
    assert res.exit_code == 1 and "no vpcflow store here" in res.output
    res = _cli("ingest", "s3://flows/extra/", "--store", "s3://flows/AWSLogs", ok=False)
    assert res.exit_code == 1 and "not a vpcflow store (no vpcflow-store.json) and not empty" in (
        res.output
    )


def _staged_txn(store, txn: str, uri: str) -> Txn:
    store.put_staged(txn, "date=2024-05-01/x.parquet", b"PAR1")
    return Txn(
        txn,
        [{"uri": uri, "version": "v1", "records": 1, "bad_lines": 0}],
        [{"path": f"data/date=2024-05-01/{txn}.parquet", "rows": 1}],
        [],
        None,
        time.time(),
    )


def test_concurrent_writers_the_one_that_lost_the_race_commits_nothing(aws_env):
    """Writers b and c read the journal (empty), then a commits number 1 with the object x.
    b, which ingested x too, sees that commit cover its object and gives up, leaving no staged
    files. c, with another object, first tries number 1 (its view is stale), loses the
    conditional PUT, and commits number 2."""
    a = open_store("s3://stores/race", create=True)
    b = open_store("s3://stores/race", create=False)
    c = open_store("s3://stores/race", create=False)
    with b._writer(), c._writer():
        a._commit(_staged_txn(a, "aaaa", "s3://flows/x"))
        with pytest.raises(StoreWriteError, match="another writer committed some of the same"):
            b._commit(_staged_txn(b, "bbbb", "s3://flows/x"))
        assert not list(b._keys("_vpcflow/staging/bbbb/"))
        real, calls = c.manifest.numbered, []

        def stale():
            calls.append(1)
            return [] if len(calls) == 1 else real()

        c.manifest.numbered = stale
        c._commit(_staged_txn(c, "cccc", "s3://flows/y"))
    assert len(calls) > 1  # it did lose the race for number 1
    fresh = open_store("s3://stores/race", create=False)
    assert [(n, t.txn) for n, t in fresh.manifest.numbered()] == [(1, "aaaa"), (2, "cccc")]
    assert sorted(u for u, _ in fresh.manifest.ingested()) == ["s3://flows/x", "s3://flows/y"]
    assert len(fresh.files()) == 2 and not list(fresh._keys("_vpcflow/staging/"))


def test_a_commit_not_yet_applied_is_rolled_forward_by_the_next_writer(aws_env):
    store = open_store("s3://stores/crash", create=True)
    t = _staged_txn(store, "dddd", "s3://flows/z")
    store._put_new(
        store._key("_vpcflow/journal/00000000000000000001.json"), json.dumps(t.as_commit()).encode()
    )  # the writer died here: committed, not applied
    assert store.files() == []  # readers see applied commits only
    with store._writer():
        pass
    assert store.files() == ["s3://stores/crash/data/date=2024-05-01/dddd.parquet"]
    assert not list(store._keys("_vpcflow/staging/"))


def test_info_and_quarantine_read_the_s3_store(aws_env):
    (info,) = _json("info", "--store", STORE)
    lines = _json("quarantine", "--store", STORE)
    assert sorted(q["field"] for q in lines) == ["action", "dstport"]
    assert info["records"] == aws_env["native"]["records"]
    assert info["store"] == STORE


def test_a_damaged_commit_object_is_named(aws_env):
    store = open_store("s3://stores/damaged", create=True)
    store._put_new(store._key("_vpcflow/journal/00000000000000000001.json"), b'{"op": "commit"')
    res = _cli("info", "--store", "s3://stores/damaged", ok=False)
    assert res.exit_code == 1
    assert res.output.startswith(
        "Error: s3://stores/damaged/_vpcflow/journal/00000000000000000001.json: damaged commit: "
        "not JSON"
    )
    assert len(res.output.strip().splitlines()) == 1
