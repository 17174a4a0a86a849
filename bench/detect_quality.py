"""Precision and recall of each detector on generated data with labelled incidents.

    >>> from bench.detect_quality import measure, report
    >>> scores = measure(records=2_000_000, seed=7)   # generate, ingest, detect, score
    >>> print(report(scores))

The ground truth is the generator's: ``labels.json`` (every incident it creates on purpose,
including the internet-wide background sweeps, ``variant: background``, and every benign
look-alike, ``type: benign``, on which any finding is a false alarm), the threat feed
``threat-list.txt`` written beside it, which ``known-bad-ip`` is run with, and the allow-list
``allow-list.txt`` for the authorised scanner. Nothing is taken from the detectors' own output.
``benign_day`` counts the findings of a day without any incident; ``speed`` times detection
from the store's rollups against the same detection from the records.

A finding is a true positive when it matches a label of its type: same source (an address of
a distributed sweep, or its /24) and overlapping time (10 minutes of slack); for
``known-bad-ip`` the listed address; for ``rejected-spike`` the interface and time. A
rejected-spike finding caused by another labelled incident on that interface (a fast scan's
rejects are a spike too) is not a false alarm either, but only spike labels count for recall.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import statistics
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


def _day(root: Path, records: int, seed: int, **options) -> tuple[Path, Path]:
    """Generate (once per ``root``) and ingest a day; returns (logs, store)."""
    from vpcflow import open_store
    from vpcflow.generate import generate

    logs, store = root / "logs", root / "store"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        generate(logs, records=records, seed=seed, **options)
        gen_s = time.perf_counter() - t
        s = open_store(store)
        t = time.perf_counter()
        s.ingest([str(logs / "AWSLogs")])
        s.rebuild_rollups(["conversations"])  # not in the default set
        s.close()
        (root / ".complete").write_text(
            json.dumps({"generate": round(gen_s, 2), "ingest": round(time.perf_counter() - t, 2)})
        )
    return logs, store


def _lists(logs: Path) -> dict:
    from vpcflow.generate import THREAT_LIST_FILE
    from vpcflow.generate.benign import ALLOW_LIST_FILE

    out: dict = {"threat_lists": [], "allow": []}
    if (logs / THREAT_LIST_FILE).exists():
        out["threat_lists"] = [logs / THREAT_LIST_FILE]
    if (logs / ALLOW_LIST_FILE).exists():
        out["allow"] = [logs / ALLOW_LIST_FILE]
    return out


def measure(
    records: int = 2_000_000, seed: int = 7, workdir: str | None = None, speed_repeat: int = 0
) -> dict:
    """Generate ``records`` with ``--attacks all --lookalikes``, ingest, detect (with the
    generated threat feed and allow-list) and score. With ``speed_repeat``, also time detection
    from the rollups and from the records (``speed``)."""
    from vpcflow import open_store
    from vpcflow.detect import detect

    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    root = Path(workdir or tmp.name) / f"quality-{records}-{seed}"
    try:
        logs, path = _day(root, records, seed, attacks="all", lookalikes=True)
        labels = json.loads((logs / "labels.json").read_text())
        store = open_store(path)
        t = time.perf_counter()
        findings = detect(store, enrich=False, **_lists(logs))
        seconds = time.perf_counter() - t
        out: dict = score(findings, labels)
        out["_lookalike_findings"] = lookalike_findings(findings, labels)
        out["_seconds"] = {**json.loads((root / ".complete").read_text()), "detect": seconds}
        store.close()
        if speed_repeat:
            out["_speed"] = speed_in_fresh_process(path, logs, speed_repeat)
    finally:
        if tmp is not None:
            tmp.cleanup()
    out["_records"] = records
    out["_seed"] = seed
    return out


def lookalike_findings(findings, labels: list[dict]) -> dict:
    """False alarms per benign look-alike variant (a finding whose source is the look-alike's)."""
    out: dict = {}
    for lab in labels:
        if lab["type"] != "benign":
            continue
        srcs = set(_sources(lab))
        out[lab["variant"]] = sum(1 for f in false_alarms(findings, labels) if f.source in srcs)
    return out


def benign_day(records: int = 2_000_000, seed: int = 7, workdir: str | None = None) -> dict:
    """Findings per detector on a day without incidents (background and look-alikes)."""
    from vpcflow import open_store
    from vpcflow.detect import detect

    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    root = Path(workdir or tmp.name) / f"benign-{records}-{seed}"
    try:
        logs, path = _day(root, records, seed, benign_only=True)
        store = open_store(path)
        findings = detect(store, enrich=False, **_lists(logs))
        store.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    per = {k: sum(f.type == k for f in findings) for k in KINDS}
    return {
        "records": records,
        "seed": seed,
        "findings": per,
        "examples": [f.summary for f in findings[:5]],
    }


def speed(store, logs: Path | None = None, repeat: int = 3, per_detector: bool = True) -> dict:
    """Seconds to detect from the store's rollups ("new") and from the records ("old": the
    shared pre-aggregation built by a scan of the records), alternating, ``repeat`` times each:
    medians and spread. ``rollups_used`` says whether the new path could read the rollups.
    ``cli``: the same two paths as a user runs them, ``vpcflow detect`` (table) whole process,
    alternating. ``per_detector_s``: one run of the path before the shared pre-aggregation, every
    detector scanning the records itself (``shared=False``), for the record."""
    import logging
    import os
    import subprocess
    import sys

    from vpcflow.detect import detect

    lists = _lists(logs) if logs is not None else {}
    runs: dict[str, list[float]] = {"old": [], "new": []}
    detect(store, enrich=False, samples=0, rollups=False, **lists)  # warm the cache
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda rec: seen.append(rec.getMessage())
    lg = logging.getLogger("vpcflow.detect")
    lg.addHandler(handler)
    level = lg.level
    lg.setLevel(logging.INFO)
    try:
        for i in range(repeat):
            order = (("old", False), ("new", True))
            for name, rollups in order if i % 2 == 0 else order[::-1]:
                t = time.perf_counter()
                detect(store, enrich=False, rollups=rollups, **lists)
                runs[name].append(time.perf_counter() - t)
    finally:
        lg.removeHandler(handler)
        lg.setLevel(level)
    vpcflow = str(Path(sys.executable).with_name("vpcflow"))
    argv = [vpcflow, "detect", "--store", str(store.path)]
    for flag, key in (("--threat-list", "threat_lists"), ("--allow-list", "allow")):
        for path in lists.get(key, []):
            argv += [flag, str(path)]
    cli: dict[str, list[float]] = {"old": [], "new": []}
    for i in range(repeat):
        order = (("old", ["--no-rollups"]), ("new", []))
        for name, extra in order if i % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            subprocess.run([*argv, *extra], check=True, capture_output=True, env=os.environ)
            cli[name].append(time.perf_counter() - t)
    out = {
        "repeat": repeat,
        "records": store.count(),
        "load_average": os.getloadavg(),
        "rollups_used": any("conversations rollup" in m for m in seen),
    }
    for label, got in (("", runs), ("cli_", cli)):
        med = {k: statistics.median(v) for k, v in got.items()}
        out[f"{label}old_s"] = round(med["old"], 2)
        out[f"{label}new_s"] = round(med["new"], 2)
        for k in ("old", "new"):
            out[f"{label}{k}_spread_s"] = [round(min(got[k]), 2), round(max(got[k]), 2)]
        out[f"{label}ratio_old_over_new"] = round(med["old"] / med["new"], 2)
    if per_detector:
        t = time.perf_counter()
        detect(store, enrich=False, rollups=False, shared=False, **lists)
        out["per_detector_s"] = round(time.perf_counter() - t, 2)
        out["ratio_per_detector_over_new"] = round(out["per_detector_s"] / out["new_s"], 2)
    return out


def speed_in_fresh_process(path: Path, logs: Path | None, repeat: int) -> dict:
    """``speed`` run by a new Python process: this one has just generated and ingested the
    day, and detect in it took 1.6x as long as in a process that had done nothing else (7.4 s
    against 4.6 s at 20M records), which is not what a user's process sees."""
    import subprocess
    import sys

    code = (
        "import json, sys; from pathlib import Path; import vpcflow; "
        "from bench.detect_quality import speed; "
        "store = vpcflow.open_store(sys.argv[1], create=False); "
        "logs = Path(sys.argv[2]) if sys.argv[2] else None; "
        "print(json.dumps(speed(store, logs, int(sys.argv[3]))))"
    )
    args = [str(Path(path).resolve()), str(Path(logs).resolve()) if logs else "", str(repeat)]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,  # where `bench` is importable from
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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
        f"records: {scores.get('_records', 0):,}  seed: {scores.get('_seed')}  "
        f"seconds: {scores.get('_seconds')}"
    )
    if scores.get("_lookalike_findings"):
        noisy = {k: v for k, v in scores["_lookalike_findings"].items() if v}
        lines.append(f"false alarms on benign look-alikes: {noisy or 'none'}")
    if scores.get("_speed"):
        sp = scores["_speed"]
        lines.append(
            f"detect speed, {sp['records']:,} records: from the records {sp['old_s']} s (spread {sp['old_spread_s']}), "
            f"from the rollups {sp['new_s']} s (spread {sp['new_spread_s']}), "
            f"ratio {sp['ratio_old_over_new']}"
        )
        lines.append(
            f"  vpcflow detect (whole process): from the records {sp['cli_old_s']} s "
            f"(spread {sp['cli_old_spread_s']}), from the rollups {sp['cli_new_s']} s (spread "
            f"{sp['cli_new_spread_s']}), ratio {sp['cli_ratio_old_over_new']}; every detector "
            f"scanning the records: {sp.get('per_detector_s', '-')} s "
            f"({sp.get('ratio_per_detector_over_new', '-')}x the rollups); load {sp['load_average']}"
        )
    return "\n".join(lines)


def main(
    sizes: tuple[int, ...] = (2_000_000, 20_000_000),
    seeds: tuple[int, ...] = (7, 11, 13),
    workdir: str | None = None,
    speed_repeat: int = 3,
) -> dict:
    """Precision/recall at every size and seed (speed measured on the first seed of each
    size), and one benign-only day per size."""
    results: dict = {"quality": [], "benign_only": []}
    for records in sizes:
        for i, seed in enumerate(seeds):
            scores = measure(records, seed, workdir, speed_repeat if i == 0 else 0)
            print(report(scores), flush=True)
            results["quality"].append(scores)
        day = benign_day(records, seeds[0], workdir)
        print(f"benign-only day, {records:,} records: {day['findings']}", flush=True)
        results["benign_only"].append(day)
    return results


if __name__ == "__main__":
    main()
