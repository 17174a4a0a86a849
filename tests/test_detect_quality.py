"""Detection quality on generated data: precision and recall of every detector against the
generator's labels (``labels.json``) and threat feed (``threat-list.txt``), never against the
detectors' own output. ``make bench`` runs the same scoring at 2M records on two seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vpcflow import open_store
from vpcflow.detect import detect
from vpcflow.generate import LABELS_FILE, THREAT_LIST_FILE, generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.detect_quality import KINDS, false_alarms, missed, score  # noqa: E402

TARGET = 0.95


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """400,000 records of a day with every kind of incident (and the background sweeps)."""
    root = tmp_path_factory.mktemp("quality")
    generate(root / "logs", records=400_000, seed=7, attacks="all")
    store = open_store(root / "store")
    store.ingest([str(root / "logs" / "AWSLogs")])
    labels = json.loads((root / "logs" / LABELS_FILE).read_text())
    findings = detect(store, threat_lists=[root / "logs" / THREAT_LIST_FILE], enrich=False)
    store.close()
    return labels, findings


def test_every_detector_has_labelled_incidents(day):
    labels, _ = day
    assert {lab["type"] for lab in labels} == set(KINDS)
    variants = {(lab["type"], lab["variant"]) for lab in labels}
    for v in [
        ("port-scan", "slow"),
        ("host-sweep", "distributed"),
        ("host-sweep", "background"),
        ("rejected-spike", "flood"),
        ("known-bad-ip", "c2-beacon"),
    ]:
        assert v in variants


@pytest.mark.parametrize("kind", KINDS)
def test_precision_and_recall(day, kind):
    labels, findings = day
    s = score(findings, labels)[kind]
    why = (
        f"{kind}: {s}; missed {[lab['id'] for lab in missed(findings, labels) if lab['type'] == kind]}; "
        f"false alarms {[(f.source, f.first_seen) for f in false_alarms(findings, labels) if f.type == kind][:10]}"
    )
    assert s["labels"] > 0, why
    assert s["recall"] >= TARGET, why
    assert s["precision"] >= TARGET, why


def test_accepted_probes_rank_above_rejected(day):
    _, findings = day
    probes = [f for f in findings if f.type in ("port-scan", "host-sweep")]
    order = [f.action for f in probes if f.direction == "inbound"]
    assert "REJECT" in order and any(a != "REJECT" for a in order)
    # within one severity, anything accepted comes before anything only rejected
    for sev in ("high", "medium", "low"):
        acts = [f.action for f in probes if f.severity == sev]
        if "REJECT" in acts:
            assert all(a == "REJECT" for a in acts[acts.index("REJECT") :]), acts
    ranks = {f.action: findings.index(f) for f in reversed(probes) if f.direction == "inbound"}
    assert min(v for k, v in ranks.items() if k != "REJECT") < ranks["REJECT"]


def test_scanned_hosts_answers_are_not_a_second_scan(day):
    labels, findings = day
    out = next(lab for lab in labels if lab["variant"] == "outbound" and lab["type"] == "port-scan")
    scans = [f for f in findings if f.type == "port-scan"]
    assert not [f for f in scans if f.source in out["targets"]], "the scanned host's replies"
    assert [f for f in scans if f.source == out["source"]]
