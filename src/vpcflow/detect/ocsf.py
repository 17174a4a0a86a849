"""Findings as OCSF Detection Findings (class 2004), for Security Lake and SIEMs.

    >>> from vpcflow.detect.ocsf import to_ocsf
    >>> event = to_ocsf(finding)          # one dict; json.dumps it, one a line

Field names follow the OCSF schema (``events/findings/detection_finding.json``,
``objects/finding_info.json``, ``objects/evidences.json``). Times are epoch milliseconds, as
OCSF timestamps are. What OCSF has no attribute for (the thresholds crossed, the records query,
the detector's numbers) goes in ``unmapped``.
"""

from __future__ import annotations

import datetime as dt
import time

SCHEMA_VERSION = "1.1.0"  # the first release with Detection Finding (2004)
CLASS_UID, CATEGORY_UID, ACTIVITY_CREATE = 2004, 2, 1
SEVERITY_ID = {"low": 2, "medium": 3, "high": 4}
DIRECTION_ID = {"inbound": 1, "outbound": 2, "internal": 3}  # OCSF: 3 is Lateral


def _ms(iso: str | None) -> int | None:
    if not iso:
        return None
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("vpcflow")
    except Exception:  # an uninstalled checkout
        return "0"


def _evidence(f, rec: dict | None) -> dict:
    if rec is None:
        ev = {"src_endpoint": {"ip": f.source} if "." in f.source or ":" in f.source else {}}
        if f.targets:
            ev["dst_endpoint"] = {"ip": f.targets[0]}
            if f.ports:
                ev["dst_endpoint"]["port"] = f.ports[0]
        return ev
    ev = {
        "src_endpoint": {"ip": rec["srcaddr"], "port": rec["srcport"]},
        "dst_endpoint": {"ip": rec["dstaddr"], "port": rec["dstport"]},
        "connection_info": {"protocol_num": rec["protocol"]},
        "data": {k: rec[k] for k in ("interface_id", "packets", "bytes", "start", "end", "action")},
    }
    if rec.get("interface_id"):
        ev["dst_endpoint"]["interface_uid"] = rec["interface_id"]
    if rec.get("tcp_flags") is not None:
        ev["connection_info"]["tcp_flags"] = rec["tcp_flags"]
    if f.direction in DIRECTION_ID:
        ev["connection_info"]["direction_id"] = DIRECTION_ID[f.direction]
    return ev


def to_ocsf(f, *, now_ms: int | None = None) -> dict:
    """One :class:`~.finding.Finding` as an OCSF Detection Finding (activity Create)."""
    severity = f.severity.capitalize()
    observables = []
    if ("." in f.source or ":" in f.source) and "/" not in f.source:
        observables.append({"name": "src_endpoint.ip", "type_id": 2, "value": f.source})
    observables += [{"name": "dst_endpoint.ip", "type_id": 2, "value": t} for t in f.targets[:50]]
    event = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": int(time.time() * 1000) if now_ms is None else now_ms,
        "start_time": _ms(f.first_seen),
        "end_time": _ms(f.last_seen),
        "count": f.records,
        "severity_id": SEVERITY_ID.get(f.severity, 0),
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "message": f.summary,
        "metadata": {
            "version": SCHEMA_VERSION,
            "product": {"name": "vpcflow", "vendor_name": "vpcflow", "version": _version()},
        },
        "finding_info": {
            "uid": f.id,
            "title": f"{f.type} from {f.source}",
            "desc": f.summary,
            "types": [f.type],
            "first_seen_time": _ms(f.first_seen),
            "last_seen_time": _ms(f.last_seen),
            "analytic": {"name": f.type, "uid": f.type, "type_id": 1, "type": "Rule"},
        },
        "evidences": [_evidence(f, r) for r in f.samples] or [_evidence(f, None)],
        "observables": observables,
        "unmapped": {
            "action": f.action,
            "direction": f.direction,
            "bytes": f.bytes,
            "ports": f.ports,
            "thresholds": f.thresholds,
            "records_query": f.query,
            "details": f.details,
            "source_country": f.source_country,
            "source_asn": f.source_asn,
        },
    }
    if f.type == "rejected-spike":
        event["resources"] = [{"uid": f.source, "type": "AWS::EC2::NetworkInterface"}]
    return event
