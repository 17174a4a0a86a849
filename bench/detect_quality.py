"""Precision and recall of each detector on generated data with labelled incidents.

    >>> from bench.detect_quality import measure, report
    >>> scores = measure(records=2_000_000, seed=7)   # generate, ingest, detect, score
    >>> print(report(scores))

``measure(records, seed, workdir=None)`` returns ``{detector: {"tp", "fp", "fn", "precision",
"recall", "findings", "labels"}, "_seconds": {...}}``. The labels are the generator's
``labels.json``; ``known-bad-ip`` is scored with a threat list made from the labelled external
attackers plus addresses that never appear, and ``rejected-spike`` against the labelled inbound
incidents that were rejected at 100 or more records in 10 minutes (the generator labels no spikes
of its own).
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

SLACK = timedelta(minutes=10)


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
    if f.source in srcs or srcs & set(f.details.get("sources", [])):
        return True
    if "/" in f.source:
        net = ipaddress.ip_network(f.source, strict=False)
        return any(ipaddress.ip_address(s) in net for s in srcs)
    return False


def score(findings, labels, kind: str, match) -> dict:
    mine = [f for f in findings if f.type == kind]
    tp = sum(1 for f in mine if any(match(f, lab) for lab in labels))
    found = sum(1 for lab in labels if any(match(f, lab) for f in mine))
    precision = tp / len(mine) if mine else 1.0
    recall = found / len(labels) if labels else 1.0
    return {
        "findings": len(mine),
        "labels": len(labels),
        "tp": tp,
        "fp": len(mine) - tp,
        "fn": len(labels) - found,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
    }


def measure(records: int = 2_000_000, seed: int = 7, workdir: str | None = None) -> dict:
    from vpcflow import open_store
    from vpcflow.detect import detect
    from vpcflow.generate import generate

    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    root = Path(workdir or tmp.name)
    times = {}
    t = time.perf_counter()
    gen = generate(root / "logs", records=records, seed=seed, attacks="all")
    times["generate"] = time.perf_counter() - t
    labels = json.loads(Path(gen.labels).read_text())
    store = open_store(root / "store")
    t = time.perf_counter()
    store.ingest([str(root / "logs")])
    times["ingest"] = time.perf_counter() - t

    external = sorted(
        {s for lab in labels for s in _sources(lab) if not ipaddress.ip_address(s).is_private}
        | {lab["targets"][0] for lab in labels if lab["type"] == "data-exfiltration"}
    )
    threat = root / "threats.txt"
    decoys = ["192.0.2.1", "198.51.100.0/25", "2001:db8::/32", "203.0.113.77"]
    threat.write_text("# labelled attackers\n" + "\n".join(external + decoys) + "\n")

    t = time.perf_counter()
    findings = detect(store, threat_lists=[threat])
    times["detect"] = time.perf_counter() - t
    out: dict = {}
    for kind in ("port-scan", "host-sweep", "brute-force", "data-exfiltration"):
        labs = [lab for lab in labels if lab["type"] == kind]
        out[kind] = score(
            findings, labs, kind, lambda f, lab: _source_matches(f, lab) and _overlaps(f, lab)
        )
    bad = [
        {"source": a, "start": "1970-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
        for a in external
    ]
    out["known-bad-ip"] = score(
        findings, bad, "known-bad-ip", lambda f, lab: f.source == lab["source"]
    )
    spikes = [
        lab
        for lab in labels
        if lab["direction"] == "inbound"
        and lab["action"] == "REJECT"
        and lab["records"] >= 100
        and (_t(lab["end"]) - _t(lab["start"])).total_seconds() <= 600
    ]
    out["rejected-spike"] = score(
        findings,
        spikes,
        "rejected-spike",
        lambda f, lab: set(lab["targets"]) & set(f.targets) and _overlaps(f, lab),
    )
    # A spike caused by any labelled incident is not a false alarm.
    spike_fp = [
        f
        for f in findings
        if f.type == "rejected-spike"
        and not any(set(lab["targets"]) & set(f.targets) and _overlaps(f, lab) for lab in labels)
    ]
    rs = out["rejected-spike"]
    rs["fp"] = len(spike_fp)
    rs["tp"] = rs["findings"] - rs["fp"]
    rs["precision"] = round(rs["tp"] / rs["findings"], 3) if rs["findings"] else 1.0
    out["_seconds"] = {k: round(v, 2) for k, v in times.items()}
    out["_records"] = records
    if tmp is not None:
        tmp.cleanup()
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
    lines.append(f"records: {scores.get('_records')}  seconds: {scores.get('_seconds')}")
    return "\n".join(lines)


def main(records: int = 2_000_000, seed: int = 7) -> dict:
    scores = measure(records, seed)
    print(report(scores))
    return scores


if __name__ == "__main__":
    main()
