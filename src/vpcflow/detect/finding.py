"""What a detector reports: one :class:`Finding` per incident."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

SEVERITIES = ("low", "medium", "high")


def iso(epoch: int | float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).isoformat().replace("+00:00", "Z")


def action_of(accepted: int, records: int, rejected: int | None = None) -> str:
    """What the flows got: ``ACCEPT``, ``REJECT`` or ``mixed`` (from the rejected records when
    known, else from the accepted ones)."""
    if rejected is not None:
        if not rejected:
            return "ACCEPT" if accepted or records else "REJECT"
        return "REJECT" if not accepted else "mixed"
    if records and accepted >= records:
        return "ACCEPT"
    return "REJECT" if not accepted else "mixed"


def human_bytes(n: int | float) -> str:
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def short_list(items, limit: int = 5) -> str:
    items = [str(x) for x in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


@dataclass
class Finding:
    """One detected incident.

    ``source`` is the address (or /24, or interface for ``rejected-spike``) behind it,
    ``targets`` the addresses it touched, ``ports`` the destination ports. ``action`` is what the
    flows got: ``ACCEPT``, ``REJECT`` or ``mixed``. ``first_seen``/``last_seen`` are ISO-8601 UTC.
    ``details`` holds detector-specific numbers (ports counted, baseline, threat-list line...);
    ``source_*`` fields are enrichment of the source address; ``names`` maps the addresses
    and interfaces of the finding to what the inventory says is behind them.

    Every finding explains itself: ``thresholds`` lists each threshold it crossed (``threshold``
    name, ``rule``, its ``value`` and the ``observed`` value), ``query`` is the ``vpcflow sql``
    query that lists every record behind it, ``samples`` a few of those records. ``id`` is
    stable across runs (type, source, ports and first record), for ``--new`` and SIEMs.
    """

    type: str
    severity: str
    source: str
    targets: list[str]
    ports: list[int]
    first_seen: str | None
    last_seen: str | None
    records: int
    bytes: int
    action: str
    summary: str
    direction: str = ""
    details: dict = field(default_factory=dict)
    source_country: str | None = None
    source_asn: str | None = None
    source_aws_service: str | None = None
    names: dict = field(default_factory=dict)  # id or address -> what it is (the inventory)
    thresholds: list[dict] = field(default_factory=list)
    query: str = ""
    samples: list[dict] = field(default_factory=list)
    id: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def rank(self) -> tuple:
        """Sort key: severity, then accepted before rejected, then volume."""
        accepted = {"ACCEPT": 2, "mixed": 1, "REJECT": 0}.get(self.action, 0)
        return (-SEVERITIES.index(self.severity), -accepted, -self.records, self.first_seen or "")
