"""Athena DDL: snapshots (reviewed by eye against the AWS Athena docs), sqlglot parses them, and
the columns are the log format's fields in order even when `region` is one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from vpcflow import schema
from vpcflow.cli import main
from vpcflow.queries import athena

SNAPSHOTS = Path(__file__).parent / "snapshots"

CASES = {
    "text-default": ["--location", "s3://amzn-s3-demo-bucket/prefix"],
    "text-all-hive-hourly": [
        "--location",
        "s3://amzn-s3-demo-bucket/prefix/",
        "--fields",
        "all",
        "--hive",
        "--hourly",
        "--key-region",
        "us-east-1",
        "--key-region",
        "eu-west-1",
    ],
    "parquet-v5-accounts": [
        "--location",
        "s3://amzn-s3-demo-bucket/AWSLogs/",
        "--format",
        "parquet",
        "--fields",
        " ".join(f.name for f in schema.fields_of_version(5)),
        "--account",
        "123456789012",
        "--hourly",
    ],
    "text-no-projection": ["--location", "s3://amzn-s3-demo-bucket/prefix", "--no-projection"],
    "store": ["--store", "s3://amzn-s3-demo-bucket/vpcflow-store", "--start", "2024-01-01"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_snapshot(case):
    res = CliRunner().invoke(main, ["athena-ddl", *CASES[case]])
    assert res.exit_code == 0, res.output
    snap = SNAPSHOTS / f"athena-ddl-{case}.sql"
    if os.environ.get("VPCFLOW_UPDATE_SNAPSHOTS") or not snap.exists():
        snap.parent.mkdir(exist_ok=True)
        snap.write_text(res.stdout)
    assert res.stdout == snap.read_text()


def _columns(ddl: str) -> tuple[list[str], list[str]]:
    tree = sqlglot.parse_one(ddl, read="athena")
    assert isinstance(tree, exp.Create)
    cols = [c.name for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
    parts = tree.find(exp.PartitionedByProperty)
    keys = [c.name for c in parts.this.expressions] if parts else []
    return cols, keys


@pytest.mark.parametrize("case", sorted(CASES))
def test_parses_with_sqlglot_athena(case):
    res = CliRunner().invoke(main, ["athena-ddl", *CASES[case]])
    cols, keys = _columns(res.stdout)
    assert cols and not set(cols) & set(keys)


def test_region_field_keeps_its_place():
    # AWS's projection example names a partition `region` and drops the column; with ${region}
    # in the format the columns after it would shift. Ours keep every field in order.
    fmt = "${version} ${account-id} ${region} ${az-id} ${srcaddr} ${action}"
    ddl = athena.flow_log_ddl("s3://b/p", fields=fmt)
    cols, keys = _columns(ddl)
    assert cols == ["version", "account_id", "region", "az_id", "srcaddr", "action"]
    assert "region" not in keys and "aws_region" in keys
    cols, _ = _columns(athena.flow_log_ddl("s3://b/p", fields="all", hive=True, hourly=True))
    assert cols == list(schema.COLUMNS)


def test_storage_template_matches_aws_key_layouts():
    ddl = athena.flow_log_ddl("s3://b/p", hourly=True)
    assert "'s3://b/p/AWSLogs/${aws_account_id}/vpcflowlogs/${aws_region}/${day}/${hour}'" in ddl
    ddl = athena.flow_log_ddl("s3://b/p", hive=True)
    assert (
        "aws-account-id=${aws_account_id}/aws-service=vpcflowlogs/aws-region=${aws_region}/"
        "year=${year}/month=${month}/day=${day}'"
    ) in ddl


def test_bad_input():
    res = CliRunner().invoke(main, ["athena-ddl", "--location", "/local/dir"])
    assert res.exit_code == 1 and "s3://" in res.output
    res = CliRunner().invoke(main, ["athena-ddl", "--location", "s3://b/p", "--fields", "nosuch"])
    assert res.exit_code == 1 and "unknown flow-log field" in res.output
    res = CliRunner().invoke(main, ["athena-ddl"])
    assert res.exit_code == 2
