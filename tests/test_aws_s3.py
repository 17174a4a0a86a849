"""`vpcflow ingest s3://…` against a moto S3 server on 127.0.0.1, compared with local ingest."""

from __future__ import annotations

import gzip
import json
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from aws_testdata import key, parquet_bytes, records, text_gz
from vpcflow.api import open_store
from vpcflow.cli import main
from vpcflow.sources import resolve

BUCKET = "flow-bucket"
A1, A2 = "111111111111", "222222222222"

# (layout, account, region, delivery time, parquet?) — every AWS layout under one prefix
OBJECTS = [
    ("plain", A1, "us-east-1", datetime(2024, 5, 1, 10, 5), False),
    ("plain-hour", A1, "us-east-1", datetime(2024, 5, 2, 11, 20), False),
    ("hive", A1, "eu-west-1", datetime(2024, 5, 2, 12, 0), False),
    ("hive-hour", A2, "us-east-1", datetime(2024, 5, 3, 13, 35), False),
    ("hive", A2, "eu-west-1", datetime(2024, 5, 4, 9, 10), True),
    ("plain-hour", A2, "us-east-1", datetime(2024, 5, 5, 0, 15), True),
]
PER_OBJECT = 25


def _objects(prefix="logs/"):
    out = {}
    for i, (layout, acct, region, when, parquet) in enumerate(OBJECTS):
        recs = records(PER_OBJECT, seed=i, account=acct, start=when.replace(tzinfo=UTC))
        body = parquet_bytes(recs) if parquet else text_gz(recs)
        out[key(layout, acct, region, when, parquet=parquet, prefix=prefix)] = (body, recs)
    return out


@pytest.fixture
def bucket(moto_endpoint):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    objs = _objects()
    for k, (body, _) in objs.items():
        s3.put_object(Bucket=BUCKET, Key=k, Body=body)
    # noise that must never be read: another service's logs and a folder marker
    s3.put_object(
        Bucket=BUCKET, Key=f"logs/AWSLogs/{A1}/CloudTrail/us-east-1/x.json.gz", Body=b"{}"
    )
    s3.put_object(Bucket=BUCKET, Key="logs/AWSLogs/", Body=b"")
    return objs


@pytest.fixture
def gets(caplog):
    """Object downloads seen by the moto server (its werkzeug request log)."""
    caplog.set_level(logging.INFO, logger="werkzeug")

    def keys():
        found = []
        for rec in caplog.records:
            m = re.search(r'"GET /flow-bucket/(\S+) HTTP', rec.getMessage())
            if m and "list-type" not in m[1]:
                found.append(m[1])
        return found

    keys.clear = caplog.clear
    return keys


def _rows(store, where="true"):
    q = (
        f"SELECT account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, "
        f'packets, bytes, start, "end", action, log_status, region '
        f"FROM vpc_flow_logs WHERE {where} ORDER BY start, srcaddr, srcport"
    )
    return store.sql(q).to_pylist()


def _expected(objs, pred=lambda k: True):
    out = []
    for k, (_, recs) in objs.items():
        if pred(k):
            out.extend(recs)
    return out


def test_all_layouts_match_local_ingest(bucket, tmp_path, gets):
    s3_store = open_store(tmp_path / "s3store")
    report = s3_store.ingest(f"s3://{BUCKET}/logs/")
    assert report.failed_files == 0, report.problems
    assert report.files == len(OBJECTS)
    assert report.records == len(OBJECTS) * PER_OBJECT
    assert not any("CloudTrail" in g for g in gets())

    # the same objects, laid out identically on disk
    local = tmp_path / "local"
    for k, (body, _) in bucket.items():
        p = local / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    local_store = open_store(tmp_path / "localstore")
    local_store.ingest(str(local / "logs"))

    got = _rows(s3_store)
    assert got == _rows(local_store)
    assert len(got) == len(OBJECTS) * PER_OBJECT
    expected = _expected(bucket)
    assert sum(r["bytes"] for r in got) == sum(r["bytes"] for r in expected)
    assert sorted(r["srcaddr"] for r in got) == sorted(r["srcaddr"] for r in expected)
    # region comes from the key (the default format has none)
    regions = {(r["account_id"], r["region"]) for r in got}
    assert regions == {(a, reg) for _, a, reg, _, _ in OBJECTS}


def test_rerun_fetches_nothing_and_new_object_only_it(bucket, tmp_path, gets):
    store = open_store(tmp_path / "st")
    first = store.ingest(f"s3://{BUCKET}/logs")
    assert first.files == len(OBJECTS)
    gets.clear()

    again = store.ingest(f"s3://{BUCKET}/logs")
    assert (again.files, again.records, again.skipped_files) == (0, 0, len(OBJECTS))
    assert gets() == []

    when = datetime(2024, 5, 6, 8, 0)
    recs = records(7, seed=99, account=A1, start=when.replace(tzinfo=UTC))
    new_key = key("hive-hour", A1, "us-east-1", when, prefix="logs/")
    boto3.client("s3").put_object(Bucket=BUCKET, Key=new_key, Body=text_gz(recs))
    gets.clear()
    third = store.ingest(f"s3://{BUCKET}/logs")
    assert (third.files, third.records) == (1, 7)
    assert gets() == [new_key]
    assert store.count() == len(OBJECTS) * PER_OBJECT + 7


def test_corrupt_object_is_reported_and_the_rest_stored(bucket, tmp_path):
    s3 = boto3.client("s3")
    bad_key = key("plain", A1, "us-east-1", datetime(2024, 5, 1, 10, 30), prefix="logs/")
    good = text_gz(records(10, seed=5, account=A1, start=datetime(2024, 5, 1, 10, 30, tzinfo=UTC)))
    s3.put_object(Bucket=BUCKET, Key=bad_key, Body=good[: len(good) // 2])  # truncated gzip
    junk_key = bad_key.replace("_2024", "_2023")
    s3.put_object(Bucket=BUCKET, Key=junk_key, Body=b"\x1f\x8bnot gzip at all")
    store = open_store(tmp_path / "st")
    report = store.ingest(f"s3://{BUCKET}/logs/")
    problems = {p["path"] for p in report.problems}
    assert f"s3://{BUCKET}/{junk_key}" in problems
    assert f"s3://{BUCKET}/{bad_key}" in problems
    assert report.records >= len(OBJECTS) * PER_OBJECT  # every good object stored
    assert store.count() == report.records
    # the good objects are not fetched again
    again = store.ingest(f"s3://{BUCKET}/logs/")
    assert again.skipped_files >= len(OBJECTS)


@pytest.mark.parametrize(
    ("options", "pred"),
    [
        ({"account": [A2]}, lambda o: o[1] == A2),
        ({"region": ["eu-west-1"]}, lambda o: o[2] == "eu-west-1"),
        ({"account": [A1], "region": ["us-east-1"]}, lambda o: o[1] == A1 and o[2] == "us-east-1"),
        ({"since": "2024-05-03T12:00:00Z"}, lambda o: o[3] >= datetime(2024, 5, 3)),
        (
            {"since": "2024-05-02", "until": "2024-05-04"},
            lambda o: datetime(2024, 5, 2) <= o[3] < datetime(2024, 5, 4),
        ),
    ],
)
def test_key_filters_select_before_download(bucket, tmp_path, gets, options, pred):
    store = open_store(tmp_path / "st")
    report = store.ingest(f"s3://{BUCKET}/logs/", **options)
    wanted = [o for o in OBJECTS if pred(o)]
    assert report.files == len(wanted)
    assert report.records == len(wanted) * PER_OBJECT
    assert len(gets()) == len(wanted)  # nothing else was downloaded


def test_key_time_filter_widens_by_slack_at_the_edges(bucket):
    # 2024-05-02 11:20 is delivered shortly after --until 11:00: may hold records before it
    objs = list(
        resolve(f"s3://{BUCKET}/logs/", since="2024-05-02T10:30Z", until="2024-05-02T11:00Z")
    )
    assert [o.day.isoformat() for o in objs] == ["2024-05-02"]
    assert objs[0].uri.endswith("_20240502T1120Z_" + objs[0].uri.rsplit("_", 1)[1])


def test_raw_objects_carry_provenance(bucket):
    objs = {o.uri: o for o in resolve(f"s3://{BUCKET}/logs")}
    assert len(objs) == len(OBJECTS)
    k = key("hive", A2, "eu-west-1", datetime(2024, 5, 4, 9, 10), parquet=True, prefix="logs/")
    o = objs[f"s3://{BUCKET}/{k}"]
    assert (o.account, o.region, o.day.isoformat(), o.kind) == (
        A2,
        "eu-west-1",
        "2024-05-04",
        "parquet",
    )
    assert o.version and o.size == len(bucket[k][0])
    with o.open() as fh:
        assert fh.read() == bucket[k][0]


def test_prefetch_with_manifest_downloads_in_parallel_and_skips_known(bucket, tmp_path, gets):
    store = open_store(tmp_path / "st")
    store.ingest(f"s3://{BUCKET}/logs/", account=[A1])
    gets.clear()
    objs = list(resolve(f"s3://{BUCKET}/logs/", manifest=store.manifest, workers=4))
    assert len(objs) == len(OBJECTS)  # known objects are listed (the store counts them)...
    new = [o for o in objs if o.account == A2]
    for o in new:
        with o.open() as fh:
            data = fh.read()
        assert data[:2] == b"\x1f\x8b" or data[:4] == b"PAR1"
    # ...but only the new ones were downloaded
    assert sorted(gets()) == sorted(o.uri.split("/", 3)[3] for o in new)


def test_cli_ingest_s3_json(bucket, tmp_path):
    res = CliRunner().invoke(
        main,
        [
            "ingest",
            f"s3://{BUCKET}/logs/",
            "--store",
            str(tmp_path / "st"),
            "--json",
            "--account",
            A1,
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    n = sum(1 for o in OBJECTS if o[1] == A1)
    assert (out["files"], out["records"]) == (n, n * PER_OBJECT)


def test_filters_that_pass_no_key_say_what_was_listed(bucket, tmp_path, caplog):
    # Every object is from May 2024: "the last week" passes none of them. The real entry point
    # (the moto endpoint is in the environment), to see what a user sees.
    res = subprocess.run(
        [sys.executable, "-m", "vpcflow", "ingest", f"s3://{BUCKET}/logs/",
         "--store", str(tmp_path / "st"), "--since", "7d"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Ingested 0 records from 0 files" in res.stdout
    assert (
        f"s3://{BUCKET}/logs/: {len(OBJECTS)} flow-log objects listed, none passes the filters: "
        f"{len(OBJECTS)} by the time range (since/until); the keys cover 2024-05-01 to 2024-05-05"
    ) in res.stderr
    res = CliRunner().invoke(
        main,
        ["ingest", f"s3://{BUCKET}/logs/", "--store", str(tmp_path / "st"),
         "--account", "999999999999", "--key-region", "us-east-1"],
    )  # fmt: skip
    assert f"{len(OBJECTS)} by the account (999999999999)" in caplog.text
    res = CliRunner().invoke(
        main,
        ["ingest", f"s3://{BUCKET}/logs/", "--store", str(tmp_path / "st"),
         "--key-region", "ap-south-1"],
    )  # fmt: skip
    assert f"{len(OBJECTS)} by the key region (ap-south-1)" in caplog.text


def test_cli_missing_bucket_and_no_credentials(moto_endpoint, tmp_path, monkeypatch):
    res = CliRunner().invoke(
        main, ["ingest", "s3://no-such-bucket/x/", "--store", str(tmp_path / "st"), "--json"]
    )
    assert res.exit_code == 1
    assert "no such S3 bucket" in res.stderr and res.stderr.count("\n") == 1
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    res = CliRunner().invoke(
        main, ["ingest", "s3://no-such-bucket/x/", "--store", str(tmp_path / "st"), "--json"]
    )
    assert res.exit_code == 1
    assert "no AWS credentials" in res.stderr and res.stderr.count("\n") == 1


def test_gzip_helper_sanity():
    assert gzip.decompress(text_gz([], header=True)).startswith(b"version account-id")
    assert Path(__file__).name == "test_aws_s3.py"
