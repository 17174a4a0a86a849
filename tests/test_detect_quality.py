"""Detection quality on generated data: precision and recall of every detector against the
generator's labels (``labels.json``, benign look-alikes included) and threat feed
(``threat-list.txt``), never against the detectors' own output; and the findings of a day with
no incident at all. ``make bench`` runs the same scoring at 2M and 20M records on three seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vpcflow import open_store
from vpcflow.detect import detect
from vpcflow.generate import LABELS_FILE, THREAT_LIST_FILE, generate
from vpcflow.generate.benign import ALLOW_LIST_FILE, VARIANTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.detect_quality import KINDS, false_alarms, missed, score  # noqa: E402

TARGET = 0.95


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """400,000 records of a day with every kind of incident (and the background sweeps) and
    every benign look-alike, detected with the allow-list the generator writes."""
    root = tmp_path_factory.mktemp("quality")
    generate(root / "logs", records=400_000, seed=7, attacks="all", lookalikes=True)
    store = open_store(root / "store")
    store.ingest([str(root / "logs" / "AWSLogs")])
    labels = json.loads((root / "logs" / LABELS_FILE).read_text())
    findings = detect(
        store,
        threat_lists=[root / "logs" / THREAT_LIST_FILE],
        allow=[root / "logs" / ALLOW_LIST_FILE],
        enrich=False,
    )
    store.close()
    return labels, findings


@pytest.fixture(scope="module")
def benign_day(tmp_path_factory):
    """A day without incidents: the background and the look-alikes, allow-list applied."""
    root = tmp_path_factory.mktemp("benign")
    generate(root / "logs", records=300_000, seed=11, benign_only=True)
    store = open_store(root / "store")
    store.ingest([str(root / "logs" / "AWSLogs")])
    labels = json.loads((root / "logs" / LABELS_FILE).read_text())
    findings = detect(store, allow=[root / "logs" / ALLOW_LIST_FILE], enrich=False)
    raw = detect(store, enrich=False, samples=0)
    store.close()
    return labels, findings, raw


def test_every_detector_has_labelled_incidents(day):
    labels, _ = day
    assert {lab["type"] for lab in labels} == set(KINDS) | {"benign"}
    assert {lab["variant"] for lab in labels if lab["type"] == "benign"} == set(VARIANTS)
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


def test_benign_only_day_raises_at_most_one_finding_per_detector(benign_day):
    labels, findings, _ = benign_day
    assert labels and all(lab["type"] == "benign" for lab in labels)
    per = {k: [(f.source, f.first_seen, f.summary) for f in findings if f.type == k] for k in KINDS}
    assert all(len(v) <= 1 for v in per.values()), per


def test_the_authorised_scanner_is_found_without_the_allow_list(benign_day):
    _, _, raw = benign_day
    scanner = next(lab for lab in benign_day[0] if lab["variant"] == "authorised-scanner")
    assert any(f.type == "port-scan" and f.source == scanner["source"] for f in raw)
