"""The AWS ranges snapshot shipped with vpcflow: what a fresh machine without internet access
knows, and that a downloaded file, an explicit file and the setting all take precedence,
through the CLI. 52.216.0.0/15 is one of S3's us-east-1 ranges as AWS publishes them (its
developer guide's examples use it); 10.0.0.1 and 8.8.8.8 are no AWS addresses."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from vpcflow.cli import main
from vpcflow.enrich import aws_ranges


@pytest.fixture(autouse=True)
def _fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("VPCFLOW_IP_RANGES_BUNDLED", "true")
    aws_ranges._cache.clear()
    yield
    aws_ranges._cache.clear()


def _ip(*addrs):
    r = CliRunner().invoke(main, ["enrich", "ip", *addrs, "--format", "json"])
    assert r.exit_code == 0, r.output
    return {row["address"]: row for row in json.loads(r.stdout)}


def test_a_fresh_machine_knows_s3_from_the_snapshot():
    rows = _ip("52.216.8.11", "10.0.0.1", "8.8.8.8")
    assert (rows["52.216.8.11"]["aws_service"], rows["52.216.8.11"]["aws_region"]) == (
        "S3",
        "us-east-1",
    )
    assert rows["10.0.0.1"]["aws_service"] is None and rows["8.8.8.8"]["aws_service"] is None


def test_the_snapshot_is_a_recent_aws_document():
    ranges = aws_ranges.load()
    assert ranges is not None and ranges.create_date >= "2026-01-01"
    assert "snapshot" in ranges.source


def test_a_downloaded_file_wins_over_the_snapshot(tmp_path):
    own = tmp_path / "mine.json"
    own.write_text(
        json.dumps(
            {
                "createDate": "2030-01-01-00-00-00",
                "prefixes": [
                    {"ip_prefix": "52.216.0.0/15", "region": "xx-test-1", "service": "AMAZON"},
                    {"ip_prefix": "52.216.0.0/15", "region": "xx-test-1", "service": "TESTSVC"},
                ],
            }
        )
    )
    r = CliRunner().invoke(main, ["enrich", "update", "--file", str(own)])
    assert r.exit_code == 0, r.output
    row = _ip("52.216.8.11")["52.216.8.11"]
    assert (row["aws_service"], row["aws_region"]) == ("TESTSVC", "xx-test-1")


def test_an_explicit_missing_file_is_not_replaced_by_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("VPCFLOW_IP_RANGES_FILE", str(tmp_path / "nowhere.json"))
    assert _ip("52.216.8.11")["52.216.8.11"]["aws_service"] is None


def test_the_snapshot_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("VPCFLOW_IP_RANGES_BUNDLED", "false")
    assert _ip("52.216.8.11")["52.216.8.11"]["aws_service"] is None
