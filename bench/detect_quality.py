"""Precision and recall of each detector on generated data with labelled incidents.

    >>> from bench.detect_quality import measure, report
    >>> scores = measure(records=2_000_000, seed=7)   # generate, ingest, detect, score
    >>> print(report(scores))

The ground truth is the generator's: ``labels.json`` (every incident it creates on purpose,
including the internet-wide background sweeps, ``variant: background``) and the threat feed
``threat-list.txt`` written beside it, which ``known-bad-ip`` is run with. Nothing is taken from
the detectors' own output.

A finding is a true positive when it matches a label of its type: same source (an address of
a distributed sweep, or its /24) and overlapping time (10 minutes of slack); for
``known-bad-ip`` the listed address; for ``rejected-spike`` the interface and time. A
rejected-spike finding caused by another labelled incident on that interface (a fast scan's
rejects are a spike too) is not a false alarm either, but only spike labels count for recall.
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

SLACK = timedelta(minutes=10)
KINDS = (
    "port-scan",
    "host-sweep",
    "brute-force",
    "data-exfiltration",
    "known-bad-ip",
    "rejected-spike",
)


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _sources(label) -> list[str]:
    src = label["source"]
    return list(src) if isinstance(src, list) else [src]


def _overlaps(f, label) -> bool:
    return _t(f.first_seen) - SLACK <= _t(label["end"]) and _t(label["start"]) - SLACK <= _t(
        f.last_seen
    )


def _source_matches(f, label) -> bool:
    srcs = set(_sources(label))
    if f.source in srcs or srcs & set(f.details.get("sources", []) or []):
        return True
    if "/" in f.source:
        net = ipaddress.ip_network(f.source, strict=False)
        return any(ipaddress.ip_address(s) in net for s in srcs)
    return False


def matches(f, label) -> bool:
    """Does finding ``f`` report the labelled incident ``label``?"""
    if f.type != label["type"]:
        return False
    if label["type"] == "known-bad-ip":
        return f.source == label.get("listed_address", label["source"])
    if label["type"] == "rejected-spike":
        return f.source == label.get("interface_id", label["source"]) and _overlaps(f, label)
    return _source_matches(f, label) and _overlaps(f, label)


def _caused_spike(f, label) -> bool:
    """A spike of rejects on a labelled incident's target while it ran."""
    return bool(set(label["targets"]) & set(f.targets)) and _overlaps(f, label)


def score(findings, labels: list[dict]) -> dict:
    """``{detector: {findings, labels, tp, fp, fn, precision, recall}}`` for every detector."""
    out = {}
    for kind in KINDS:
        mine = [f for f in findings if f.type == kind]
        labs = [lab for lab in labels if lab["type"] == kind]
        tp = 0
        for f in mine:
            if any(matches(f, lab) for lab in labs) or (
                kind == "rejected-spike" and any(_caused_spike(f, lab) for lab in labels)
            ):
                tp += 1
        found = sum(1 for lab in labs if any(matches(f, lab) for f in mine))
        out[kind] = {
            "findings": len(mine),
            "labels": len(labs),
            "tp": tp,
            "fp": len(mine) - tp,
            "fn": len(labs) - found,
            "precision": round(tp / len(mine), 3) if mine else 1.0,
            "recall": round(found / len(labs), 3) if labs else 1.0,
        }
    return out


def missed(findings, labels: list[dict]) -> list[dict]:
    """Labels no finding reports (for messages)."""
    return [lab for lab in labels if not any(matches(f, lab) for f in findings)]


def false_alarms(findings, labels: list[dict]) -> list:
    """Findings that report no labelled incident (for messages)."""
    return [
        f
        for f in findings
        if not any(matches(f, lab) for lab in labels)
        and not (f.type == "rejected-spike" and any(_caused_spike(f, lab) for lab in labels))
    ]


def measure(records: int = 2_000_000, seed: int = 7, workdir: str | None = None) -> dict:
    """Generate ``records`` with ``--attacks all``, ingest, detect (with the generated threat
    feed) and score. Returns the scores plus ``_seconds`` (generate, ingest, detect)."""
    from vpcflow import open_store
    from vpcflow.detect import detect
    from vpcflow.generate import THREAT_LIST_FILE, generate

    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    root = Path(workdir or tmp.name)
    times = {}
    try:
        t = time.perf_counter()
        gen = generate(root / "logs", records=records, seed=seed, attacks="all")
        times["generate"] = time.perf_counter() - t
        labels = json.loads(Path(gen.labels).read_text())
        store = open_store(root / "store")
        t = time.perf_counter()
        store.ingest([str(root / "logs" / "AWSLogs")])
        times["ingest"] = time.perf_counter() - t
        t = time.perf_counter()
        findings = detect(store, threat_lists=[root / "logs" / THREAT_LIST_FILE])
        times["detect"] = time.perf_counter() - t
        store.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    out: dict = score(findings, labels)
    out["_seconds"] = {k: round(v, 2) for k, v in times.items()}
    out["_records"] = records
    out["_seed"] = seed
    return out


def report(scores: dict) -> str:
    lines = [
        f"{'detector':<20}{'labels':>7}{'found':>7}{'TP':>5}{'FP':>5}{'FN':>5}"
        f"{'precision':>11}{'recall':>8}"
    ]
    for kind, s in scores.items():
        if kind.startswith("_"):
            continue
        lines.append(
            f"{kind:<20}{s['labels']:>7}{s['findings']:>7}{s['tp']:>5}{s['fp']:>5}"
            f"{s['fn']:>5}{s['precision']:>11.3f}{s['recall']:>8.3f}"
        )
    lines.append(
        f"records: {scores.get('_records'):,}  seed: {scores.get('_seed')}  "
        f"seconds: {scores.get('_seconds')}"
    )
    return "\n".join(lines)


def main(records: int = 2_000_000, seeds: tuple[int, ...] = (7, 11)) -> list[dict]:
    results = []
    for seed in seeds:
        scores = measure(records, seed)
        print(report(scores), flush=True)
        results.append(scores)
    return results


if __name__ == "__main__":
    main()
