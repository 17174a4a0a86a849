"""The demo: generate a day of a small VPC, ingest it, and report what a person would ask first.

    >>> from vpcflow.demo import run_demo
    >>> print(run_demo(records=200_000).text)

The report is plain text (the CLI prints it as is): volume per hour, accept/reject split, top
talkers, top rejected sources and ports, findings of the detectors checked against the
generator's ground truth, troubleshooting verdicts, and how to go on.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VpcflowError
from .generate import THREAT_LIST_FILE, generate, topology

log = logging.getLogger("vpcflow.demo")

Progress = Callable[[str, int, int], None]

_BARS = " ▁▂▃▄▅▆▇█"


@dataclass
class DemoResult:
    """The report text plus the numbers behind it."""

    text: str
    records: int
    files: int
    seconds: dict[str, float] = field(default_factory=dict)
    sections: dict[str, object] = field(default_factory=dict)
    store: Path | None = None


def _who(store, value: str | None) -> str:
    """An address or interface with what the store's inventory says is behind it."""
    if value is None:
        return "-"
    return store.inventory.names().show(value)


def _num(n: float) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}P"


def _rows(table) -> list[dict]:
    return table.to_pylist()


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    """Fixed-width text table; ``columns`` is (key, heading)."""
    cells = [[str(r[k]) for k, _ in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h) in enumerate(columns)]
    out = ["  " + "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True))]
    for c in cells:
        out.append("  " + "  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
    return out


Q_HOURLY = """
SELECT hour(to_timestamp("start")) AS h, count(*) AS records, sum(bytes) AS bytes
FROM vpc_flow_logs WHERE log_status = 'OK' GROUP BY 1 ORDER BY 1
"""
Q_ACTIONS = """
SELECT coalesce(action, log_status) AS action, count(*) AS records, sum(bytes) AS bytes
FROM vpc_flow_logs GROUP BY 1 ORDER BY 2 DESC
"""
Q_TALKERS = """
SELECT srcaddr, dstaddr, sum(bytes) AS bytes, count(*) AS records
FROM vpc_flow_logs WHERE action = 'ACCEPT' AND flow_direction IS DISTINCT FROM 'egress'
GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5
"""
Q_REJECTED_SOURCES = """
SELECT srcaddr, records, ports, targets,
       ip_country(srcaddr) AS country, ip_asn(srcaddr) AS network
FROM (
    SELECT srcaddr, count(*) AS records, count(DISTINCT dstport) AS ports,
           count(DISTINCT dstaddr) AS targets
    FROM vpc_flow_logs WHERE action = 'REJECT' GROUP BY 1 ORDER BY 2 DESC LIMIT 5
)
ORDER BY records DESC
"""
Q_BUSIEST_HOUR = """
SELECT "start" - "start" % 3600 AS h FROM vpc_flow_logs WHERE log_status = 'OK'
GROUP BY 1 ORDER BY count(*) DESC LIMIT 1
"""
Q_REJECTED_PORTS = """
SELECT dstport, protocol, count(*) AS records, count(DISTINCT srcaddr) AS sources
FROM vpc_flow_logs WHERE action = 'REJECT' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 8
"""


def _volume(store) -> tuple[list[str], list[dict]]:
    rows = _rows(store.sql(Q_HOURLY, dialect="duckdb"))
    if not rows:
        return ["  (no records)"], rows
    peak = max(r["records"] for r in rows)
    bars = "".join(_BARS[round(r["records"] / peak * (len(_BARS) - 1))] for r in rows)
    lo = min(rows, key=lambda r: r["records"])
    hi = max(rows, key=lambda r: r["records"])
    return [
        f"  {bars}   records per hour, 00h–23h UTC",
        f"  quietest {lo['h']:02d}h: {lo['records']:,} records; busiest {hi['h']:02d}h: "
        f"{hi['records']:,} records",
    ], rows


def _actions(store) -> tuple[list[str], list[dict]]:
    rows = _rows(store.sql(Q_ACTIONS, dialect="duckdb"))
    total = sum(r["records"] for r in rows) or 1
    for r in rows:
        r["share"] = f"{100 * r['records'] / total:.1f}%"
        r["records_s"] = f"{r['records']:,}"
        r["bytes_s"] = _num(r["bytes"] or 0) + "B"
    cols = [
        ("action", "action"),
        ("records_s", "records"),
        ("share", "share"),
        ("bytes_s", "bytes"),
    ]
    return _table(rows, cols), rows


def _talkers(store) -> tuple[list[str], list[dict]]:
    rows = _rows(store.sql(Q_TALKERS, dialect="duckdb"))
    for r in rows:
        r["src"], r["dst"], r["bytes_s"] = (
            _who(store, r["srcaddr"]),
            _who(store, r["dstaddr"]),
            _num(r["bytes"]) + "B",
        )
    return _table(
        rows,
        [("src", "source"), ("dst", "destination"), ("bytes_s", "bytes"), ("records", "records")],
    ), rows


def _rejected(store) -> tuple[list[str], list[dict], list[dict]]:
    srcs = _rows(store.sql(Q_REJECTED_SOURCES, dialect="duckdb"))
    ports = _rows(store.sql(Q_REJECTED_PORTS, dialect="duckdb"))
    proto = {6: "tcp", 17: "udp", 1: "icmp"}
    for r in srcs:
        r["src"] = _who(store, r["srcaddr"])
    for r in ports:
        r["port"] = f"{r['dstport']}/{proto.get(r['protocol'], r['protocol'])}"
    lines = ["  sources:"]
    for r in srcs:  # enrichment of the source (offline database): where the rejects come from
        r["country"] = r.get("country") or "-"
        r["network"] = r.get("network") or "-"
    lines += _table(
        srcs,
        [
            ("src", "source"),
            ("country", "country"),
            ("network", "network"),
            ("records", "rejected"),
            ("ports", "ports"),
            ("targets", "hosts"),
        ],
    )
    lines += ["  ports:"]
    lines += _table(ports, [("port", "port"), ("records", "rejected"), ("sources", "sources")])
    return lines, srcs, ports


def _findings(store, labels: list[dict], threat_list: Path | None = None):
    try:
        from .detect import detect
    except ImportError:
        return ["  (detection not installed in this build)"], []
    lists = [threat_list] if threat_list is not None and threat_list.is_file() else []
    found = detect(store, threat_lists=lists, enrich=False)
    lines = []
    for f in found[:10]:
        lines.append(f"  {f.severity:<8} {f.type:<18} {f.summary}")
    if len(found) > 10:
        lines.append(f"  … and {len(found) - 10} more: vpcflow detect")
    if not found:
        lines.append("  no findings")
    if labels:
        caught = [lab for lab in labels if _caught(lab, found)]
        lines.append(
            f"  ground truth: {len(caught)} of {len(labels)} injected incidents found "
            f"({', '.join(sorted({lab['type'] for lab in caught})) or 'none'})"
        )
    return lines, [f.to_dict() for f in found]


def _caught(label: dict, findings) -> bool:
    if label["type"] in ("known-bad-ip", "rejected-spike"):
        key = label.get("listed_address") or label.get("interface_id") or label["source"]
        return any(f.type == label["type"] and f.source == key for f in findings)
    sources = label["source"] if isinstance(label["source"], list) else [label["source"]]
    prefixes = {s.rsplit(".", 1)[0] + "." for s in sources}
    for f in findings:
        if f.type != label["type"]:
            continue
        src = f.source or ""
        if src in sources or any(src.startswith(p) for p in prefixes):
            return True
    return False


def _verdicts(store) -> tuple[list[str], list[dict]]:
    try:
        from .troubleshoot import troubleshoot
    except ImportError:
        return ["  (troubleshooting not installed in this build)"], []
    # The busiest hour: enough conversations to show every kind of block, fast to pair.
    row = _rows(store.sql(Q_BUSIEST_HOUR, dialect="duckdb"))
    if not row or row[0]["h"] is None:
        return ["  (no records)"], []
    h = int(row[0]["h"])
    span = "in the busiest hour ({0}–{1}:59 UTC)"
    try:
        verdicts = troubleshoot(store, since=h, until=h + 3600)
    except VpcflowError as exc:  # an older troubleshoot cannot take both bounds: widen
        log.info("troubleshoot with since and until failed (%s); using since only", exc)
        verdicts = troubleshoot(store, since=h)
        span = "from the busiest hour on ({0} UTC)"
    blocked = [v for v in verdicts if v.verdict != "allowed"]
    by_kind: dict[str, int] = {}
    for v in blocked:
        by_kind[v.verdict] = by_kind.get(v.verdict, 0) + v.occurrences
    hour = time.strftime("%H:00", time.gmtime(h))
    lines = [
        f"  {span.format(hour, hour[:2])}: "
        + ", ".join(f"{k}: {n:,} conversations" for k, n in sorted(by_kind.items()))
        if by_kind
        else "  nothing blocked"
    ]
    nacl = [v for v in blocked if v.stage and "response" in v.stage]
    seen = set()
    for v in nacl:
        eni = _who(store, v.interface_id)
        if eni in seen:
            continue
        seen.add(eni)
        lines.append(
            f"  {eni}: requests ACCEPTed but responses {v.stage.split()[-1]} REJECTed "
            f"→ {v.verdict} ({v.occurrences:,} conversations, e.g. {v.srcaddr} → "
            f"{v.dstaddr}:{v.dstport})"
        )
        if len(seen) >= 4:
            break
    return lines, [
        {"verdict": v.verdict, "interface_id": v.interface_id, "occurrences": v.occurrences}
        for v in blocked[:50]
    ]


def run_demo(
    records: int = 1_000_000,
    seed: int = 7,
    keep_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Generate ``records`` records of a day, ingest them, and build the report.

    Without ``keep_dir`` everything lives in a temporary directory removed afterwards.
    ``progress(stage, done, total)`` is called while generating and ingesting."""
    tmp = None
    if keep_dir is None:
        tmp = tempfile.mkdtemp(prefix="vpcflow-demo-")
        base = Path(tmp)
    else:
        base = Path(keep_dir)
        base.mkdir(parents=True, exist_ok=True)
    try:
        return _run(base, records, seed, progress, temporary=tmp is not None)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(
    base: Path, records: int, seed: int, progress: Progress | None, temporary: bool
) -> DemoResult:
    from .api import open_store
    from .store.inventory import sync as sync_interfaces

    secs: dict[str, float] = {}
    logs, store_dir = base / "logs", base / "store"
    t = time.perf_counter()
    gen = generate(
        logs,
        records=records,
        seed=seed,
        attacks="all",
        progress=(lambda d, n: progress("generate", d, n)) if progress else None,
    )
    secs["generate"] = time.perf_counter() - t

    t = time.perf_counter()
    store = open_store(store_dir, create=True)
    ingest_progress = (
        (lambda ev: progress("ingest", ev["records"], gen.records)) if progress else None
    )
    rep = store.ingest([str(logs / "AWSLogs")], progress=ingest_progress)
    if progress:
        progress("ingest", rep.records, gen.records)
    secs["ingest"] = time.perf_counter() - t
    # Name the interfaces as a user does: the VPC's describe-network-interfaces JSON.
    synced = (
        sync_interfaces(store, file=gen.interfaces, taken_at=gen.start) if gen.interfaces else None
    )

    sections: dict[str, object] = {}
    out = [
        f"vpcflow demo — one day of a small VPC ({gen.start[:10]}, account {topology.ACCOUNT}, "
        f"{topology.REGION})",
        f"Generated {gen.records:,} records in {len(gen.files)} files "
        f"({gen.bytes / 1e6:.1f} MB gzip) in {secs['generate']:.1f} s; ingested "
        f"{rep.records:,} records in {secs['ingest']:.1f} s "
        f"({rep.records / max(secs['ingest'], 1e-9):,.0f} records/s), {rep.bad_lines} bad lines.",
    ]
    if synced:
        kinds = ", ".join(f"{n} {k}" for k, n in synced["kinds"].items())
        out.append(
            f"Named {synced['interfaces']} interfaces ({kinds}) from {gen.interfaces.name} "
            "(vpcflow interfaces sync)."
        )
    out += [
        "",
    ]
    t = time.perf_counter()
    steps = [
        ("Volume over the day", _volume),
        ("Accepted vs rejected", _actions),
        ("Top talkers (accepted bytes)", _talkers),
        ("Most rejected", _rejected),
        (
            "Findings (vpcflow detect)",
            lambda s: _findings(s, gen.incidents, logs / THREAT_LIST_FILE),
        ),
        ("Why traffic was rejected (vpcflow troubleshoot)", _verdicts),
    ]
    for title, fn in steps:
        out.append(title)
        try:
            lines, *data = fn(store)
        except Exception as exc:  # one broken analysis must not hide the rest of the tour
            level = logging.WARNING if isinstance(exc, VpcflowError) else logging.ERROR
            log.log(level, "demo section %r failed: %s", title, exc, exc_info=level > 30)
            lines, data = [f"  (could not compute: {exc})"], []
        out.extend(lines)
        out.append("")
        sections[title] = data[0] if len(data) == 1 else data
    secs["report"] = time.perf_counter() - t
    where = "--store ./store" if temporary else f"--store {store_dir}"
    out += [
        "Go on:",
        "  vpcflow generate ./flows --records 1000000 --attacks all   # logs to keep"
        if temporary
        else f"  logs are in {logs}",
        f"  vpcflow ingest ./flows/AWSLogs {where}" if temporary else f"  store is {store_dir}",
        f'  vpcflow sql "SELECT srcaddr, sum(bytes) FROM vpc_flow_logs GROUP BY 1 '
        f'ORDER BY 2 DESC LIMIT 10" {where}',
        f"  vpcflow detect {where}    vpcflow troubleshoot {where}",
        f"  vpcflow interfaces sync --file {'./flows' if temporary else logs}/"
        f"describe-network-interfaces.json {where}   # names for every report",
        f"  vpcflow insights 'filter action = \"REJECT\" | stats count(*) by srcAddr' {where}",
        "The dashboard (every page above, clickable, in a browser):",
        "  vpcflow demo --serve    # this tour again, then the dashboard on its store"
        if temporary
        else f"  vpcflow serve --store {store_dir}    # then open http://127.0.0.1:8000/",
    ]
    store.close()
    return DemoResult(
        text="\n".join(out),
        records=rep.records,
        files=len(gen.files),
        seconds=secs,
        sections=sections,
        store=None if temporary else store_dir,
    )
