"""Names next to ids in findings: '10.0.1.14 (web-4, i-0abc…)', 'eni-… (ALB app/shop-prod)'.

The store's interface inventory (:mod:`vpcflow.store.inventory`) says what held each address at the
time of the finding; the finding keeps them in ``names`` and its summary shows them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from .finding import Finding

log = logging.getLogger("vpcflow.detect")

__all__ = ["name_findings"]


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def name_findings(store, findings: list[Finding]) -> None:
    """Fill ``finding.names`` and name the ids in ``finding.summary`` (in place)."""
    inv = getattr(store, "inventory", None)
    if not findings or not inv:
        return
    try:
        names = inv.names()
    except Exception as exc:  # names are a bonus; never lose findings over them
        log.warning("could not name the interfaces in findings: %s", exc)
        return
    for f in findings:
        at = _epoch(f.first_seen)
        values = [f.source, *f.targets, f.details.get("interface_id")]
        found = {}
        for v in values:
            if isinstance(v, str) and v and v not in found and (d := names.describe(v, at)):
                found[v] = d
        if not found:
            continue
        f.names = found
        summary = f.summary
        for v, d in found.items():
            summary = re.sub(
                rf"(?<![\w.:]){re.escape(v)}(?![\w.:/]|\s\()", f"{v} ({d})", summary, count=1
            )
        f.summary = summary
