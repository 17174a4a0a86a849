"""The findings and every field of them come out the same whatever order the engine returns the
detectors' rows in: rows of equal times have no order of their own in SQL, and the steps after
the queries keep the first of findings alike (episodes, echoes, the scan a spike belongs to)."""

from __future__ import annotations

import json

import pytest

import vpcflow.detect as detect_module
from flowdata import ingest_lines
from vpcflow import open_store
from vpcflow.detect import detect

T0 = 1714521600  # 2024-05-01T00:00:00Z
SCANNER = "198.51.100.20"
HOSTS = [f"10.0.3.{h}" for h in range(1, 6)]


def rec(src, dst, sport, dport, start, action="REJECT", eni="eni-0a1"):
    return (
        f"2 123456789012 {eni} {src} {dst} {sport} {dport} 6 1 44 {start} {start + 5} {action} OK\n"
    )


@pytest.fixture(scope="module")
def tied_store(tmp_path_factory):
    """One scanner probing 60 ports of five hosts and port 22 of every host, all at the same
    seconds: five port-scan rows and one sweep per port that tie on their times, grouped into
    one finding each."""
    lines = []
    for i, host in enumerate(HOSTS):
        for p in range(1, 61):
            lines.append(rec(SCANNER, host, 40000 + p, p, T0 + p, eni=f"eni-0c{i}"))
    store = open_store(ingest_lines(tmp_path_factory.mktemp("tied"), lines, "tied.log", "s"))
    yield store
    store.close()


def _findings(store, monkeypatch, reverse: bool) -> str:
    run = detect_module._Cells.run

    def reordered(self, template, **params):
        rows = run(self, template, **params)
        return rows[::-1] if reverse else rows

    monkeypatch.setattr(detect_module._Cells, "run", reordered)
    found = detect(store, enrich=False, samples=2)
    monkeypatch.setattr(detect_module._Cells, "run", run)
    return json.dumps([f.to_dict() for f in found])  # in order, keys as they were made


def test_the_rows_order_does_not_change_any_finding(tied_store, monkeypatch):
    straight = _findings(tied_store, monkeypatch, reverse=False)
    found = json.loads(straight)
    assert {f["type"] for f in found} >= {"port-scan", "host-sweep"}
    scans = [f for f in found if f["type"] == "port-scan"]
    assert len(scans) == 1 and scans[0]["details"]["hosts_scanned"] == len(HOSTS)
    assert _findings(tied_store, monkeypatch, reverse=True) == straight
