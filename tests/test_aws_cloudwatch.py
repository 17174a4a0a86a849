"""`vpcflow ingest cloudwatch://…` against a moto CloudWatch Logs server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from click.testing import CliRunner

from aws_testdata import records
from vpcflow import aws
from vpcflow.api import open_store
from vpcflow.cli import main

GROUP = "/vpc/flows"
ACCOUNT = "123456789012"  # moto's account
CUSTOM = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} "
    "${flow-direction}"
)
FIELDS = re.findall(r"\$\{([^}]+)\}", CUSTOM)
STREAMS = ["eni-0aaa1111-all", "eni-0bbb2222-all", "eni-0ccc3333-all"]
T0 = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)  # moto keeps < 14 days


def message(rec: dict) -> str:
    extra = {
        "vpc-id": "vpc-0123abcd",
        "flow-direction": "ingress" if rec["srcport"] % 2 else "egress",
    }
    return " ".join(str({**rec, **extra}[f]) for f in FIELDS)


def put(stream: str, recs: list[dict]) -> None:
    events = [{"timestamp": r["start"] * 1000, "message": message(r)} for r in recs]
    boto3.client("logs").put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


@pytest.fixture
def group(moto_endpoint):
    """A log group with three ENI streams, and a custom-format flow log publishing to it."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    data = {}
    for i, stream in enumerate(STREAMS):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        recs = records(
            12 + i,
            seed=i,
            account=ACCOUNT,
            start=T0 + timedelta(minutes=i),
            eni=stream.rsplit("-", 1)[0],
        )
        put(stream, recs)
        data[stream] = recs
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc],
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=GROUP,
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/x",
        LogFormat=CUSTOM,
    )
    return data


COLS = (
    "account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, "
    'start, "end", action, log_status, vpc_id, flow_direction'
)


def rows(store):
    return store.sql(
        f"SELECT {COLS} FROM vpc_flow_logs ORDER BY interface_id, start, srcport"
    ).to_pylist()


def test_ingest_uses_describe_flow_logs_format_and_matches_local(group, tmp_path):
    store = open_store(tmp_path / "cw")
    report = store.ingest(f"cloudwatch://{GROUP}", page_limit=5)  # forces pagination
    total = sum(len(r) for r in group.values())
    assert report.failed_files == 0 and report.bad_lines == 0, report.problems
    assert report.records == total

    local = tmp_path / "events.log"
    local.write_text("".join(message(r) + "\n" for recs in group.values() for r in recs))
    local_store = open_store(tmp_path / "local")
    local_store.ingest(str(local), log_format=CUSTOM)
    got = rows(store)
    assert got == rows(local_store)
    assert {r["vpc_id"] for r in got} == {"vpc-0123abcd"}
    assert sum(r["bytes"] for r in got) == sum(r["bytes"] for recs in group.values() for r in recs)
    region = store.sql("SELECT DISTINCT region FROM vpc_flow_logs").to_pylist()
    assert region == [{"region": "us-east-1"}]  # from the client, the format has no region


def test_resume_reads_only_new_events(group, tmp_path):
    store = open_store(tmp_path / "cw")
    first = store.ingest(f"cloudwatch://{GROUP}")
    assert first.records == sum(len(r) for r in group.values())

    again = store.ingest(f"cloudwatch://{GROUP}")
    assert again.records == 0

    later = records(4, seed=42, account=ACCOUNT, start=T0 + timedelta(hours=1), eni="eni-0bbb2222")
    # one event at the very same millisecond as the stream's last one must not be lost
    last = group[STREAMS[1]][-1]
    same_ms = dict(last, srcaddr="10.99.99.99")
    put(STREAMS[1], [same_ms, *later])
    third = store.ingest(f"cloudwatch://{GROUP}")
    assert third.records == 5
    assert store.count() == first.records + 5
    assert store.sql(
        "SELECT count(*) AS n FROM vpc_flow_logs WHERE srcaddr = '10.99.99.99'"
    ).to_pylist() == [{"n": 1}]


def test_idle_streams_are_not_read(group, tmp_path, monkeypatch):
    store = open_store(tmp_path / "cw")
    store.ingest(f"cloudwatch://{GROUP}")
    calls = []
    real = aws.client

    def spying(service, **kw):
        cl = real(service, **kw)
        if service == "logs":
            orig = cl.get_log_events
            cl.get_log_events = lambda **a: (calls.append(a["logStreamName"]), orig(**a))[1]
        return cl

    monkeypatch.setattr(aws, "client", spying)
    put(STREAMS[2], records(2, seed=7, account=ACCOUNT, start=T0 + timedelta(hours=2)))
    report = store.ingest(f"cloudwatch://{GROUP}")
    assert report.records == 2
    assert set(calls) == {STREAMS[2]}


def test_since_until_select_events(group, tmp_path):
    store = open_store(tmp_path / "cw")
    since = T0 + timedelta(minutes=1)  # stream 0 starts at T0, stream 1 at T0+1m, stream 2 at T0+2m
    until = T0 + timedelta(minutes=2, seconds=30)
    report = store.ingest(f"cloudwatch://{GROUP}", since=since.isoformat(), until=until.isoformat())
    expected = [
        r
        for recs in group.values()
        for r in recs
        if since.timestamp() <= r["start"] < until.timestamp()
    ]
    assert 0 < len(expected) < sum(len(r) for r in group.values())
    assert report.records == len(expected)


def test_log_format_option_overrides_and_is_needed_without_flow_log(moto_endpoint, tmp_path):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAMS[0])
    put(STREAMS[0], records(6, seed=3, account=ACCOUNT, start=T0))
    # no flow log describes this group: the 16-field lines cannot be guessed
    guessed = open_store(tmp_path / "a").ingest(f"cloudwatch://{GROUP}")
    assert guessed.records == 0 and guessed.bad_lines == 6
    told = open_store(tmp_path / "b").ingest(f"cloudwatch://{GROUP}", log_format=CUSTOM)
    assert told.records == 6 and told.bad_lines == 0


def test_throttling_is_retried(group, tmp_path, monkeypatch):
    from botocore.exceptions import ClientError

    real = aws.client
    failures = []

    def throttling(service, **kw):
        cl = real(service, **kw)
        if service == "logs":
            orig = cl.get_log_events

            def flaky(**a):
                if len(failures) < 3:
                    failures.append(1)
                    raise ClientError(
                        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                        "GetLogEvents",
                    )
                return orig(**a)

            cl.get_log_events = flaky
        return cl

    monkeypatch.setattr(aws, "client", throttling)
    report = open_store(tmp_path / "cw").ingest(f"cloudwatch://{GROUP}")
    assert len(failures) == 3
    assert report.records == sum(len(r) for r in group.values())


def test_cli_ingest_and_missing_group(group, tmp_path):
    res = CliRunner().invoke(
        main, ["ingest", f"cloudwatch://{GROUP}", "--store", str(tmp_path / "st"), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["records"] == sum(len(r) for r in group.values())

    res = CliRunner().invoke(
        main, ["ingest", "cloudwatch://nope", "--store", str(tmp_path / "st"), "--json"]
    )
    assert res.exit_code == 1
    assert "no such log group 'nope'" in res.stderr and res.stderr.count("\n") == 1
