"""Detect reads its cells from the store's conversations rollup when the rollup answers the run
exactly, and the findings are the same as from the records: on a generated store with every
kind of incident, on the busy VPC of ``tests/busy_vpc.py`` (which the generator did not make),
and through the CLI. Where the rollup cannot answer (files without it, a time range off the
hour, other probe or login thresholds) detect reads the records."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

import busy_vpc
from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.detect import detect

# These tests read every rollup; ingest keeps only the traffic rollup by default.
pytestmark = pytest.mark.usefixtures("every_rollup")


ROLLUP = "cells from the conversations rollup"
RECORDS = "reading the records, not the rollup"


def _key(findings):
    return [
        (
            f.type,
            f.source,
            f.targets,
            f.ports,
            f.first_seen,
            f.last_seen,
            f.records,
            f.summary,
            f.severity,
            f.thresholds,
            f.samples,
        )
        for f in findings
    ]


def _both(store, caplog, **kw):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="vpcflow.detect"):
        new = detect(store, enrich=False, **kw)
    used = ROLLUP in caplog.text
    old = detect(store, enrich=False, rollups=False, **kw)
    return new, old, used


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from vpcflow.generate import THREAT_LIST_FILE, generate

    root = tmp_path_factory.mktemp("gen")
    generate(root / "logs", records=60_000, seed=11, attacks="all")
    store = open_store(root / "store")
    store.ingest([str(root / "logs" / "AWSLogs")])
    return store, root / "logs" / THREAT_LIST_FILE


def test_generated_store_same_findings_from_the_rollup(generated, caplog):
    store, threats = generated
    new, old, used = _both(store, caplog, threat_lists=[threats])
    assert used
    assert len({f.type for f in old}) >= 5  # every kind of incident is there to compare
    assert _key(new) == _key(old)


@pytest.mark.parametrize("flags", [False, True], ids=["v2", "tcp-flags"])
def test_busy_vpc_same_findings_from_the_rollup(tmp_path, caplog, flags):
    written = busy_vpc.write(tmp_path, seed=2, flags=flags, scale=0.3)
    store = open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "flows.log")])
    new, old, used = _both(store, caplog, threat_lists=[tmp_path / "threat-list.txt"])
    assert used and old and written["labels"]
    assert _key(new) == _key(old)


def test_other_internal_networks_still_read_the_rollup(generated, caplog):
    """The rollup records which side is ours for the default internal networks; a run with
    others tests the addresses itself, from the same rollup rows, and finds what the records
    give (other findings than the default networks give: the VPC's 10.x addresses are now
    outside)."""
    store, threats = generated
    default, _, _ = _both(store, caplog, threat_lists=[threats])
    new, old, used = _both(store, caplog, threat_lists=[threats], internal=("192.168.0.0/16",))
    assert used
    assert _key(new) == _key(old)
    assert _key(new) != _key(default)


def test_whole_hours_use_the_rollup_and_other_ranges_the_records(generated, caplog):
    store, _ = generated
    t0 = store.sql("SELECT min(start) AS t FROM vpc_flow_logs", dialect="duckdb").column(0)[0]
    hour = (t0.as_py() // 3600 + 2) * 3600
    new, old, used = _both(store, caplog, since=hour, until=hour + 4 * 3600)
    assert used and _key(new) == _key(old)
    new, old, used = _both(store, caplog, since=hour + 60, until=hour + 4 * 3600)
    assert not used and "whole hours" in caplog.text and _key(new) == _key(old)


def test_other_login_thresholds_read_the_records(generated, caplog):
    store, _ = generated
    kw = {"thresholds": {"brute-force": {"min_bytes": 500}}}
    new, old, used = _both(store, caplog, **kw)
    assert not used and "thresholds differ" in caplog.text
    assert _key(new) == _key(old)


def test_files_without_rollups_read_the_records_until_rebuilt(tmp_path, caplog, monkeypatch):
    busy_vpc.write(tmp_path, seed=3, flags=False, scale=0.2)
    monkeypatch.setenv("VPCFLOW_ROLLUPS", "0")
    store = open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "flows.log")])
    monkeypatch.setenv("VPCFLOW_ROLLUPS", "all")
    new, old, used = _both(store, caplog)
    assert not used and "rollup rebuild" in caplog.text and _key(new) == _key(old)
    store.rebuild_rollups()
    new, old, used = _both(store, caplog)
    assert used and _key(new) == _key(old)


def test_cli_detect_with_and_without_rollups(generated):
    store, threats = generated
    runner = CliRunner()
    args = ["detect", "--store", str(store.path), "--format", "json", "--threat-list", str(threats)]
    a = runner.invoke(main, args)
    b = runner.invoke(main, [*args, "--no-rollups"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    fa, fb = json.loads(a.stdout), json.loads(b.stdout)
    assert fa and fa == fb


@pytest.mark.parametrize("flags", [False, True], ids=["v2", "tcp-flags"])
def test_conversations_spread_over_many_files_same_findings(tmp_path, caplog, monkeypatch, flags):
    """Small ingest batches: the rows of one conversation and hour (and of one interface's
    rejects in 10 minutes) are in the rollups of several data files, accepted ones through a
    NAT gateway logged on two interfaces. The rollup path merges the accepted rows and sums the
    rejected ones as the detectors read them: the same findings as from the records."""
    written = busy_vpc.write(tmp_path, seed=5, flags=flags, scale=0.3)
    monkeypatch.setenv("VPCFLOW_BATCH_ROWS", "3000")
    store = open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "flows.log")])
    files = store.rollup_status("conversations")["files"]
    assert files >= 4
    merged = (
        store.sql(
            "SELECT count(*) AS n FROM (SELECT eni, client, server, port, protocol, bucket "
            "FROM rollup_conversations GROUP BY ALL HAVING count(*) > 1) x",
            dialect="duckdb",
        )
        .column(0)[0]
        .as_py()
    )
    assert merged > 100  # keys really are split between files
    new, old, used = _both(store, caplog, threat_lists=[tmp_path / "threat-list.txt"])
    assert used and old and written["labels"]
    assert _key(new) == _key(old)
    assert {f.type for f in old} >= {"port-scan", "host-sweep", "brute-force"}


def test_one_connection_logged_by_two_interfaces_in_two_files_counts_once(tmp_path, caplog):
    """Both ends of an internal SSH connection log it, and each interface's records arrive in
    an ingest of their own: the conversation's hour is a row in each file's rollup, each with
    one interface. Read together they are one conversation logged twice, so 40 login-sized
    connections are 40 attempts (not 80), from the rollup as from the records."""
    hour = 1_767_225_600  # 2026-01-01T00:00Z
    for eni in ("eni-0aaa00000000000a1", "eni-0bbb00000000000b2"):
        lines = [
            f"2 123456789012 {eni} 10.0.3.9 10.0.4.20 {40000 + i} 22 6 12 2400 "
            f"{hour + 60 * i} {hour + 60 * i + 5} ACCEPT OK"
            for i in range(40)
        ]
        path = tmp_path / f"{eni}.log"
        path.write_text("\n".join(lines) + "\n")
        store = open_store(tmp_path / "store")
        store.ingest([str(path)])
    store = open_store(tmp_path / "store")
    assert store.rollup_status("conversations")["files"] == 2
    new, old, used = _both(store, caplog, detectors=["brute-force"])
    assert used
    assert [f.details["attempts"] for f in new] == [40]
    assert _key(new) == _key(old)


def test_a_damaged_rollup_file_is_named_with_the_fix(tmp_path):
    """A rollup file cut short (a full disk, a bad copy): detect says which file and how to
    repair it, in one line; after ``check --repair`` it runs again."""
    busy_vpc.write(tmp_path, seed=3, flags=False, scale=0.1)
    store = open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "flows.log")])
    store.close()
    (victim, *_) = sorted(
        (tmp_path / "store" / "_vpcflow" / "rollups" / "conversations").rglob("*.parquet")
    )
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    runner = CliRunner()
    r = runner.invoke(main, ["detect", "--store", str(tmp_path / "store")])
    assert r.exit_code == 1
    (line,) = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("detecting")]
    assert victim.name in line and "rollup file is damaged" in line and "check --repair" in line
    assert (
        runner.invoke(main, ["check", "--repair", "--store", str(tmp_path / "store")]).exit_code
        == 0
    )
    assert runner.invoke(main, ["detect", "--store", str(tmp_path / "store")]).exit_code == 0
