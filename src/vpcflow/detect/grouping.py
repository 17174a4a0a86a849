"""One finding per scanning source and time: the per-port host-sweep rows and the per-host
port-scan rows of one source that overlap in time are one incident to a person, so they are
reported as one finding each (ports, or hosts, grouped) rather than one per port or host.

An authorised scanner that tries 1,000 ports on 18 hosts is one host-sweep finding listing the
ports and one port-scan finding listing the hosts, not 1,000 and 18. The reject spikes the scan
set off on the interfaces it scanned are part of it too: folded into the scan's finding
(``details.reject_spikes``), not reported one per interface.
"""

from __future__ import annotations

from .finding import SEVERITIES, Finding, short_list

#: Findings of one source this close in time (seconds) belong to one episode.
SLACK = 3600


def iso_seconds(text: str | None) -> float:
    import datetime as dt

    if not text:
        return 0.0
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _key(f: Finding) -> tuple:
    """A /24's sweeps of several ports are one incident whichever of its addresses took each
    port (bots each given a few hosts, SSH on one and RDP on the next)."""
    return (f.type, f.source, f.direction)


def _episodes(findings: list[Finding]) -> list[list[Finding]]:
    """Findings of one key chained while each starts within SLACK of the previous ones' end."""
    out: list[list[Finding]] = []
    by: dict[tuple, list[Finding]] = {}
    for f in findings:
        by.setdefault(_key(f), []).append(f)
    for group in by.values():
        group.sort(key=lambda f: f.first_seen or "")
        cur: list[Finding] = []
        end = None
        for f in group:
            if cur and iso_seconds(f.first_seen) > end + SLACK:
                out.append(cur)
                cur = []
            cur.append(f)
            end = max(end or 0.0, iso_seconds(f.last_seen))
        if cur:
            out.append(cur)
    return out


def _action(group: list[Finding]) -> str:
    actions = {f.action for f in group}
    return actions.pop() if len(actions) == 1 else "mixed"


def _merge(group: list[Finding], summary: str, **details) -> Finding:
    first = group[0]
    thresholds: dict[str, dict] = {}
    for f in group:  # each threshold once, with the most observed
        for t in f.thresholds:
            old = thresholds.get(t["threshold"])
            obs = t.get("observed")
            if old is None or (
                isinstance(obs, int | float)
                and isinstance(old.get("observed"), int | float)
                and obs > old["observed"]
            ):
                thresholds[t["threshold"]] = dict(t)
    merged_details = dict(first.details)
    merged_details.update(details)
    merged_details["grouped"] = len(group)
    return Finding(
        type=first.type,
        severity=max((f.severity for f in group), key=SEVERITIES.index),
        source=first.source,
        targets=sorted({t for f in group for t in f.targets}),
        ports=sorted({p for f in group for p in f.ports}),
        first_seen=min(f.first_seen or "" for f in group) or None,
        last_seen=max(f.last_seen or "" for f in group) or None,
        records=sum(f.records for f in group),
        bytes=sum(f.bytes for f in group),
        action=_action(group),
        summary=summary,
        direction=first.direction,
        details=merged_details,
        thresholds=list(thresholds.values()),
    )


def _state(accepted: int, what: str) -> str:
    """The summary's verdict from the accepted count the findings' details carry (a probe
    accepted by the scanner's interface and rejected by the target's was rejected)."""
    if not accepted:
        return "all were rejected"
    return f"{accepted} accepted: check {what} are meant to be reachable"


def _sweep(group: list[Finding]) -> Finding:
    f0 = group[0]
    ports = sorted({p for f in group for p in f.ports})
    targets = {t for f in group for t in f.targets}
    sources = sorted({s for f in group for s in f.details.get("sources") or []})
    per_port = {str(f.ports[0]): len(f.targets) for f in group if f.ports}
    who = f0.source
    if len(sources) > 1 or "/" in who:
        who = f"{len(sources)} addresses of {f0.source}"
    plist = short_list(ports, 8)
    accepted = sum(int(f.details.get("targets_accepted") or 0) for f in group)
    if f0.direction in ("outbound", "internal"):
        where = (
            "external addresses (a mass scan)" if f0.direction == "outbound" else "of our addresses"
        )
        what = (
            f"Our instance {who} probed {len(ports)} port(s) ({plist}) on {len(targets)} "
            f"{where}: it may be compromised; isolate it."
        )
    else:
        state = _state(accepted, "those ports")
        what = (
            f"{who} probed {len(ports)} port(s) ({plist}) on {len(targets)} of our addresses; "
            f"{state}."
        )
    return _merge(
        group,
        what,
        sources=sources,
        targets_probed=len(targets),
        # (port, target) pairs that accepted a probe
        targets_accepted=accepted,
        ports_swept=len(ports),
        targets_per_port=per_port,
    )


def _scan(group: list[Finding]) -> Finding:
    f0 = group[0]
    ports = sorted({p for f in group for p in f.ports})
    targets = sorted({t for f in group for t in f.targets})
    most = max(int(f.details.get("ports_probed") or len(f.ports)) for f in group)
    hosts = short_list(targets, 5)
    accepted = sum(int(f.details.get("ports_accepted") or 0) for f in group)
    if f0.direction in ("outbound", "internal"):
        where = "external hosts" if f0.direction == "outbound" else "of our hosts"
        what = (
            f"Our instance {f0.source} probed up to {most} ports on each of {len(targets)} "
            f"{where} ({hosts}): it may be compromised; isolate it and inspect its processes."
        )
    else:
        state = _state(accepted, "those (host, port) pairs")
        what = (
            f"{f0.source} probed up to {most} ports on each of {len(targets)} of our hosts "
            f"({hosts}), {len(ports)} ports in all; {state}."
        )
    return _merge(
        group,
        what,
        ports_probed=len(ports),
        # (host, port) pairs that accepted a probe
        ports_accepted=accepted,
        hosts_scanned=len(targets),
        ports_per_host={t: len(f.ports) for f in group for t in f.targets},
    )


def group_scans(findings: list[Finding]) -> list[Finding]:
    """host-sweep findings of one source (or /24) overlapping in time: one finding with the
    ports grouped; port-scan findings of one source overlapping in time: one finding with the
    hosts grouped. Other findings pass unchanged."""
    out = [f for f in findings if f.type not in ("host-sweep", "port-scan")]
    for group in _episodes([f for f in findings if f.type in ("host-sweep", "port-scan")]):
        if len(group) == 1:
            out.append(group[0])
        elif group[0].type == "host-sweep":
            out.append(_sweep(group))
        else:
            out.append(_scan(group))
    return out


def _spike_cause(spike: Finding, scans: list[Finding]) -> Finding | None:
    """The scan finding whose sources caused ``spike``: without their rejects the window would
    not have been a spike, and the scan was running then."""
    srcs = spike.details.get("sources") or []
    counts = spike.details.get("source_rejects") or []
    limit = float(spike.details.get("spike_rejects") or 0)
    if not isinstance(srcs, list) or len(srcs) != len(counts) or not limit:
        return None
    t0, t1 = iso_seconds(spike.first_seen), iso_seconds(spike.last_seen)
    for g in scans:
        if iso_seconds(g.first_seen) - SLACK > t1 or t0 > iso_seconds(g.last_seen) + SLACK:
            continue
        mine = {g.source, *(g.details.get("sources") or [])}
        theirs = sum(n for a, n in zip(srcs, counts, strict=True) if a in mine)
        if theirs and spike.records - theirs < limit:
            return g
    return None


def fold_spikes(findings: list[Finding]) -> list[Finding]:
    """Reject spikes a scan or sweep caused, folded into that scan's finding."""
    scans = [f for f in findings if f.type in ("port-scan", "host-sweep")]
    scans.sort(key=lambda f: (f.type != "port-scan", f.first_seen or ""))
    if not scans:
        return findings
    out = []
    for f in findings:
        g = _spike_cause(f, scans) if f.type == "rejected-spike" else None
        if g is None:
            out.append(f)
            continue
        spikes = g.details.setdefault("reject_spikes", [])
        spikes.append({"interface": f.source, "first_seen": f.first_seen, "rejected": f.records})
        n = len(spikes)
        base = g.summary.split(" It set off reject spikes", 1)[0]
        g.summary = f"{base} It set off reject spikes on {n} interface{'s' if n > 1 else ''}."
    return out
