"""Every field AWS writes is stored: the catalogue's fields (up to encryption-status), fields the
catalogue does not know yet (kept in extra_fields, one warning per ingest), and Transit Gateway
flow logs in their own table. Checked through the real command line, on AWS's examples, the
conformance samples and adversarial input."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import vpcflow
from vpcflow import schema
from vpcflow.parse import parse_bytes

DATA = Path(__file__).parent / "data"
CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def run(*args, input=None):
    return subprocess.run(
        [sys.executable, "-m", "vpcflow", *args],
        capture_output=True,
        text=True,
        input=input,
        env=dict(os.environ),
        timeout=120,
    )


def sql_json(store: Path, query: str) -> list[dict]:
    r = run("sql", query, "--store", str(store), "--format", "json", "--limit", "0")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# A value for every field, valid for its kind, and distinct enough to catch a shifted column.
SAMPLE = {
    "version": "11",
    "account-id": "123456789010",
    "interface-id": "eni-1235b8ca123456789",
    "srcaddr": "10.0.1.5",
    "dstaddr": "2001:db8:1234:a102:3304:8879:34cf:4071",
    "srcport": "43416",
    "dstport": "443",
    "protocol": "6",
    "packets": "20",
    "bytes": "4249",
    "start": "1755592533",
    "end": "1755592593",
    "action": "ACCEPT",
    "log-status": "OK",
    "vpc-id": "vpc-abcdefab012345678",
    "subnet-id": "subnet-aaaaaaaa012345678",
    "instance-id": "i-01234567890123456",
    "tcp-flags": "19",
    "type": "IPv4",
    "pkt-srcaddr": "10.0.1.5",
    "pkt-dstaddr": "203.0.113.5",
    "region": "ap-southeast-2",
    "az-id": "apse2-az3",
    "sublocation-type": "outpost",
    "sublocation-id": "op-0123456789abcdef0",
    "pkt-src-aws-service": "S3",
    "pkt-dst-aws-service": "EC2",
    "flow-direction": "egress",
    "traffic-path": "8",
    "ecs-cluster-arn": "arn:aws:ecs:ap-southeast-2:123456789010:cluster/web",
    "ecs-cluster-name": "web",
    "ecs-container-instance-arn": "arn:aws:ecs:ap-southeast-2:123456789010:container-instance/x",
    "ecs-container-instance-id": "a1b2c3",
    "ecs-container-id": "c0ffee01",
    "ecs-second-container-id": "c0ffee02",
    "ecs-service-name": "frontend",
    "ecs-task-definition-arn": "arn:aws:ecs:ap-southeast-2:123456789010:task-definition/web:3",
    "ecs-task-arn": "arn:aws:ecs:ap-southeast-2:123456789010:task/web/0123",
    "ecs-task-id": "0123",
    "reject-reason": "BPA",
    "resource-id": "nat-0123456789abcdef0",
    "encryption-status": "3",
    # version 11 (June 2026): tag values are percent-encoded UTF-8
    "instance-tag": "web%20tier",
    "instance-tag-2": "prod",
    "interface-tag": "frontend",
    "interface-tag-2": "team%3Dnet",
    "asg-tag": "web-asg",
    "asg-tag-2": "blue",
    "interface-type": "nat_gateway",
    "next-hop-interface-id": "eni-0fedcba9876543210",
    "next-hop-subnet-id": "subnet-bbbbbbbb012345678",
    "next-hop-az-id": "apse2-az1",
    "next-hop-vpc-id": "vpc-0123456789abcdef0",
    "next-hop-interface-type": "vpc_endpoint",
}
FUTURE = {"quantum-path-id": "qp-77", "future-flag": "-"}


def _typed(f: schema.Field, text: str):
    if text == "-":
        return None
    return int(text) if f.athena_type in ("int", "bigint") else text


def test_the_catalogue_has_every_field_once_with_its_type():
    assert set(SAMPLE) == {f.name for f in schema.FIELDS}
    es = schema.FIELD_BY_NAME["encryption-status"]
    assert (es.version, es.athena_type, es.min_value, es.max_value) == (10, "int", 0, 3)
    # AWS's "Available fields" table (2026): 9 resource-id, 11 the tag and next-hop fields
    assert [f.name for f in schema.FIELDS if f.version == 9] == ["resource-id"]
    assert len([f for f in schema.FIELDS if f.version == 11]) == 12
    assert len(schema.FIELDS) == 54
    assert len({f.column for f in schema.TGW.fields}) == len(schema.TGW.fields) == 36


def test_every_field_and_future_fields_round_trip_through_the_cli(tmp_path):
    names = [*SAMPLE, *FUTURE]
    values = [*SAMPLE.values(), *FUTURE.values()]
    logs = tmp_path / "logs"
    logs.mkdir()
    # two objects naming the same unknown fields: still one warning for the ingest
    for i in range(2):
        line = " ".join(values).replace("43416", str(43416 + i))
        (logs / f"part{i}.log").write_text(" ".join(names) + "\n" + line + "\n")
    store = tmp_path / "store"
    r = run("ingest", str(logs), "--store", str(store))
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if "extra_fields" in ln]
    assert len(warnings) == 1 and "future-flag, quantum-path-id" in warnings[0]
    rows = sql_json(store, "SELECT * FROM vpc_flow_logs ORDER BY srcport")
    assert len(rows) == 2
    row = rows[0]
    for f in schema.FIELDS:
        assert row[f.column] == _typed(f, SAMPLE[f.name]), f.name
    assert row["extra_fields"] == {"quantum-path-id": "qp-77", "future-flag": None}
    # the key's columns: a local file has no key, and the record fields stay as written
    assert row["aws_account_id"] is None and row["region"] == "ap-southeast-2"
    got = sql_json(
        store,
        "SELECT extra_fields['quantum-path-id'] AS q FROM vpc_flow_logs WHERE srcport = 43417",
    )
    assert got == [{"q": "qp-77"}]
    r = run("ingest", str(logs), "--store", str(store), "--json")
    assert json.loads(r.stdout)["skipped_files"] == 2


def test_unknown_fields_in_a_log_format_and_in_parquet_are_kept(tmp_path):
    res = parse_bytes(
        b"10.0.0.1 10.0.0.2 5 x-1\n", log_format="${srcaddr} ${dstaddr} ${packets} ${new-thing}"
    )
    assert res.unknown_fields == {"new-thing"}
    assert res.table.column("extra_fields").to_pylist() == [[("new-thing", "x-1")]]
    # Parquet as AWS delivers it, with a column the catalogue does not know
    t = pa.table(
        {
            "version": pa.array([10], pa.int32()),
            "srcaddr": ["10.0.0.1"],
            "encryption_status": pa.array([2], pa.int32()),
            "next_gen_field": pa.array([7], pa.int64()),
        }
    )
    pq.write_table(t, tmp_path / "f.parquet")
    res = parse_bytes((tmp_path / "f.parquet").read_bytes())
    row = res.table.to_pylist()[0]
    assert row["encryption_status"] == 2 and row["extra_fields"] == [("next-gen-field", "7")]


def test_a_field_added_to_the_catalogue_later_needs_no_reingest(tmp_path, monkeypatch):
    """Ingested while the catalogue did not know encryption-status, the values sit in
    extra_fields: once the catalogue knows it, the view reads them from there, and compaction
    moves them into the column."""
    store = vpcflow.open_store(tmp_path / "s")
    body = "version srcaddr start encryption-status\n10 10.0.0.{i} 1755592533 {i}\n"
    with monkeypatch.context() as m:  # an older catalogue, without the field
        m.setattr(schema.VPC, "by_name", {k: v for k, v in schema.VPC.by_name.items()
                                          if k != "encryption-status"})  # fmt: skip
        for i in (1, 2):
            (tmp_path / f"{i}.log").write_text(body.format(i=i))
            rep = store.ingest(str(tmp_path / f"{i}.log"))
            assert rep.unknown_fields == {"encryption-status"}
    for path in store.files():
        t = pq.read_table(path)
        assert t.column("encryption_status").null_count == t.num_rows
    q = "SELECT srcaddr, encryption_status FROM vpc_flow_logs ORDER BY srcaddr"
    want = [
        {"srcaddr": "10.0.0.1", "encryption_status": 1},
        {"srcaddr": "10.0.0.2", "encryption_status": 2},
    ]
    assert store.sql(q).to_pylist() == want
    store.close()
    r = run("compact", "--store", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    store = vpcflow.open_store(tmp_path / "s")
    (path,) = store.files()
    assert pq.read_table(path).column("encryption_status").to_pylist() == [1, 2]
    assert store.sql(q).to_pylist() == want


def test_aws_encryption_status_example_parses_to_the_documented_values():
    res = parse_bytes((DATA / "aws" / "encryption-status.log").read_bytes())
    assert res.bad_lines == [] and res.unknown_fields == set()
    rows = res.table.select(
        ["flow_direction", "traffic_path", "srcaddr", "dstaddr", "srcport", "encryption_status"]
    ).to_pylist()
    assert rows[0] == {
        "flow_direction": "ingress",
        "traffic_path": None,
        "srcaddr": "10.0.133.8",
        "dstaddr": "10.0.128.55",
        "srcport": 43236,
        "encryption_status": 1,
    }
    nitro = {r["srcaddr"] for r in rows if r["encryption_status"] == 1} - {"10.0.128.55"}
    plain = {r["dstaddr"] for r in rows if r["encryption_status"] == 0} - {"10.0.128.55"}
    assert nitro == {"10.0.133.8"} and plain == {"10.0.130.104"}
    assert [r["traffic_path"] for r in rows if r["flow_direction"] == "egress"] == [1] * 4


def test_encryption_status_out_of_range_is_reported_not_stored():
    res = parse_bytes(b"version srcaddr encryption-status\n10 10.0.0.1 7\n10 10.0.0.2 2\n")
    assert res.table.column("encryption_status").to_pylist() == [2]
    (bad,) = res.bad_lines
    assert (bad.line, bad.field) == (2, "encryption_status") and "0..3" in bad.reason


TGW_LINE = (
    "6 TransitGateway 123456789012 tgw-0a1b2c3d4e5f60718 tgw-attach-0aaa1111bbbb2222c "
    "123456789012 210987654321 vpc-0a12b34c56d78e90f vpc-0b12c34d56e78f90a "
    "subnet-0a1a2a3a4a5a6a7a8 subnet-0b1b2b3b4b5b6b7b8 eni-0a0a0a0a0a0a0a0a0 "
    "eni-0b0b0b0b0b0b0b0b0 use1-az1 use1-az2 tgw-attach-0bbb2222cccc3333d 10.0.1.5 10.1.2.3 "
    "49152 443 6 10 9000 1755592533 1755592593 OK IPv4 1 2 3 4 19 us-east-1 ingress - S3"
)


def test_tgw_records_by_header_by_count_and_by_log_format():
    header = " ".join(f.name for f in schema.TGW.fields)
    for data, fmt in (
        (header + "\n" + TGW_LINE + "\n", None),  # header line
        (TGW_LINE + "\n", None),  # header-less: 36 fields is the TGW default format
        (TGW_LINE + "\n", schema.format_string(schema.TGW.fields)),  # --log-format
    ):
        res = parse_bytes(data, log_format=fmt)
        assert res.bad_lines == [] and res.table.num_rows == 0
        (row,) = res.tgw.to_pylist()
        assert row["resource_type"] == "TransitGateway"
        assert row["tgw_pair_attachment_id"] == "tgw-attach-0bbb2222cccc3333d"
        assert [
            row[c]
            for c in (
                "packets_lost_no_route",
                "packets_lost_blackhole",
                "packets_lost_mtu_exceeded",
                "packets_lost_ttl_expired",
            )
        ] == [1, 2, 3, 4]
        assert (row["pkt_src_aws_service"], row["pkt_dst_aws_service"]) == (None, "S3")
    bad = parse_bytes(TGW_LINE.replace("tgw-attach-0aaa", "attach-0aaa") + "\n")
    assert bad.bad_lines[0].field == "tgw_attachment_id"


@pytest.mark.skipif(not CONFORMANCE.exists(), reason="../shared/conformance not present")
def test_elastic_tgw_samples_parse_to_their_expected_values():
    base = CONFORMANCE / "elastic-integrations"
    res = parse_bytes((base / "test-tgw-samples.log").read_bytes())
    expected = json.loads((base / "test-tgw-samples.log-expected.json").read_text())["expected"]
    assert res.bad_lines == [] and res.table.num_rows == 0
    rows = res.tgw.to_pylist()
    assert len(rows) == len(expected) == 10
    for row, want in zip(rows, expected, strict=True):
        for k, v in want["aws"]["vpcflow"].items():
            assert str(row[k]) == str(v), k
        assert row["srcaddr"] == want["source"]["ip"]
        assert row["dstaddr"] == want["destination"]["ip"]
        assert row["srcport"] == want["source"]["port"]
        assert row["dstport"] == want["destination"]["port"]


def test_tgw_end_to_end_generate_ingest_sql_insights_queries(tmp_path):
    logs, store = tmp_path / "logs", tmp_path / "store"
    r = run("generate", str(logs), "--records", "500", "--tgw-records", "1500", "--json")
    assert r.returncode == 0, r.stderr
    lost = json.loads(r.stdout)["tgw"]["packets_lost"]
    assert all(v > 0 for v in lost.values()), lost
    r = run("ingest", str(logs), "--store", str(store), "--json")
    rep = json.loads(r.stdout)
    assert rep["bad_lines"] == 0 and rep["tgw_records"] >= 1500
    assert sql_json(store, "SELECT count(*) AS n FROM vpc_flow_logs") == [{"n": 500}]
    info = json.loads(run("info", "--store", str(store), "--format", "json").stdout)[0]
    assert info["tgw_records"] == rep["tgw_records"] == info["records"] - 500
    # the named query's drops, per reason, are what the generator wrote
    r = run("query", "tgw-dropped-by-attachment", "--store", str(store), "--format", "json")
    (row,) = json.loads(r.stdout)
    assert (
        row["lost_no_route"],
        row["lost_blackhole"],
        row["lost_mtu_exceeded"],
        row["lost_ttl_expired"],
    ) == (lost["no-route"], lost["blackhole"], lost["mtu"], lost["ttl"])
    r = run("query", "tgw-top-talkers", "--store", str(store), "--format", "json", "-p", "limit=3")
    top = json.loads(r.stdout)
    assert len(top) == 3 and all(t["tgw_src_vpc_id"] != t["tgw_dst_vpc_id"] for t in top)
    assert top[0]["bytes"] >= top[1]["bytes"] >= top[2]["bytes"]
    r = run(
        "insights",
        "filter packetsLostBlackhole > 0 | stats sum(packetsLostBlackhole) as lost by tgwAttachmentId",
        "--table",
        "tgw_flow_logs",
        "--store",
        str(store),
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    assert [x["lost"] for x in json.loads(r.stdout)] == [lost["blackhole"]]
    r = run("schema", "--table", "tgw_flow_logs", "--format", "json")
    cols = [x["column"] for x in json.loads(r.stdout)]
    assert cols == [*schema.TGW.columns, "extra_fields", "aws_account_id", "aws_region", "date"]
    # the key's account and region have their own columns; the records' own fields stay
    got = sql_json(
        store,
        "SELECT DISTINCT aws_account_id, aws_region, account_id FROM tgw_flow_logs",
    )
    assert got == [
        {"aws_account_id": "123456789012", "aws_region": "us-east-1", "account_id": "123456789012"}
    ]


def test_gzip_tgw_object_next_to_vpc_objects_in_one_ingest(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "tgw.log.gz").write_bytes(gzip.compress((TGW_LINE + "\n").encode()))
    (tmp_path / "in" / "vpc.log").write_text(
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
        "1418530010 1418530070 ACCEPT OK\n"
    )
    store = vpcflow.open_store(tmp_path / "s")
    rep = store.ingest(str(tmp_path / "in"))
    assert (rep.records, rep.tgw_records, rep.bad_lines) == (2, 1, 0)
    assert store.sql("SELECT count(*) AS n FROM tgw_flow_logs").to_pylist() == [{"n": 1}]
    assert store.sql("SELECT count(*) AS n FROM vpc_flow_logs").to_pylist() == [{"n": 1}]
