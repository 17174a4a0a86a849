"""The inventory's history: snapshots in, one row per interface and state out.

Each sync writes one snapshot (the interfaces EC2 described, and when). The ``interfaces`` table
folds them: consecutive snapshots in which an interface looks the same make one row whose
``seen_from`` is the first of them and ``seen_until`` the first snapshot of the same VPCs without
it (NULL while the latest still has it). A snapshot speaks only for the VPCs it lists, so a sync
of one VPC never ends the interfaces of another.

An address is attributed by time: its holder at ``t`` is the interface whose span (from
``seen_from``, or from the instance attachment time EC2 gave when that is earlier, to the next
holder) contains ``t``; before the first snapshot, the first holder.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass

import pyarrow as pa

from .describe import kind_title

__all__ = ["INTERFACE_COLUMNS", "Entry", "Names", "fold", "interfaces_table", "label"]

_LIST = pa.list_(pa.string())
_TS = pa.timestamp("ms", tz="UTC")

#: The ``interfaces`` table: (column, Arrow type, meaning). Snapshots store the same columns
#: without ``label``, ``seen_from`` and ``seen_until``, plus ``taken_at``.
INTERFACE_COLUMNS = (
    ("interface_id", pa.string(), "the network interface (eni-…)"),
    ("kind", pa.string(), "instance, application-load-balancer, nat-gateway, vpc-endpoint, rds, …"),
    ("name", pa.string(), "what a person calls it: the Name tag, else the resource's own name"),
    ("label", pa.string(), "what reports print next to the id: 'web-4, i-0abc…', 'ALB app/shop'"),
    ("resource_id", pa.string(), "the instance, nat-…, app/name/id, vpce-…, DB or function"),
    ("instance_id", pa.string(), "the instance it is attached to"),
    ("interface_type", pa.string(), "EC2's InterfaceType (interface, nat_gateway, lambda, …)"),
    ("description", pa.string(), "EC2's Description"),
    ("owner_id", pa.string(), "the account that owns the interface"),
    ("requester_id", pa.string(), "who created it (amazon-elb, amazon-rds, … or an account)"),
    ("requester_managed", pa.bool_(), "created and managed by an AWS service"),
    ("status", pa.string(), "in-use, available, …"),
    ("availability_zone", pa.string(), "its Availability Zone"),
    ("subnet_id", pa.string(), "its subnet"),
    ("vpc_id", pa.string(), "its VPC"),
    ("security_groups", _LIST, "its security group ids (empty for kinds that have none)"),
    ("private_addresses", _LIST, "private IPv4 and IPv6 addresses"),
    ("public_addresses", _LIST, "public IPv4 addresses (Elastic IPs and auto-assigned)"),
    ("attached_at", _TS, "when it was attached to its instance (EC2's AttachTime)"),
    ("seen_from", _TS, "the first sync that saw it in this state"),
    ("seen_until", _TS, "the first later sync of its VPC without it in this state (NULL: current)"),
)
SNAPSHOT_COLUMNS = tuple(
    (n, t) for n, t, _ in INTERFACE_COLUMNS if n not in ("label", "seen_from", "seen_until")
) + (("taken_at", _TS),)

_STATE = tuple(n for n, _ in SNAPSHOT_COLUMNS if n not in ("taken_at", "status", "attached_at"))


def snapshot_schema() -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in SNAPSHOT_COLUMNS])


def _ts(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).replace("Z", "+00:00")
    try:
        d = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.UTC)


def snapshot_table(rows: list[dict], taken_at: dt.datetime) -> pa.Table:
    cols = {n: [] for n, _ in SNAPSHOT_COLUMNS}
    for r in rows:
        for n, _ in SNAPSHOT_COLUMNS:
            if n == "taken_at":
                cols[n].append(taken_at)
            elif n == "attached_at":
                cols[n].append(_ts(r.get(n)))
            elif n in ("security_groups", "private_addresses", "public_addresses"):
                cols[n].append(list(r.get(n) or []))
            elif n == "requester_managed":
                cols[n].append(bool(r.get(n)))
            else:
                cols[n].append(r.get(n))
    return pa.table({n: pa.array(cols[n], type=t) for n, t in SNAPSHOT_COLUMNS})


def label(row: dict) -> str:
    """'web-4, i-0abc…' for an instance; 'ALB app/shop-prod', 'NAT gateway nat-0abc' else."""
    kind, name = row.get("kind"), row.get("name")
    rid = row.get("resource_id")
    if kind == "instance":
        parts = [p for p in (name, row.get("instance_id") or rid) if p]
        return ", ".join(dict.fromkeys(parts)) or row["interface_id"]
    title = kind_title(kind)
    if kind in (None, "", "interface") and name:
        return name  # one's own interface, named by its tag
    lb = kind in ("application-load-balancer", "network-load-balancer", "gateway-load-balancer")
    if lb and rid and rid.count("/") == 2:
        return f"{title} {rid.rsplit('/', 1)[0]}"
    if name and name != rid and rid and kind in ("nat-gateway", "vpc-endpoint", "rds"):
        return f"{title} {name} ({rid})"
    what = name or rid
    if what:
        return what if what.lower().startswith(title.lower()) else f"{title} {what}"
    return title


def resolve_name(row: dict) -> str | None:
    """The name to keep when no tag names it: derived from the resource id (None: none)."""
    rid, kind = row.get("resource_id"), row.get("kind")
    if rid and kind in (
        "application-load-balancer",
        "network-load-balancer",
        "gateway-load-balancer",
    ):
        parts = rid.split("/")
        if len(parts) == 3:
            return parts[1]
    return rid or None


def fold(snapshots: list[pa.Table]) -> list[dict]:
    """History rows (``INTERFACE_COLUMNS``) from snapshot tables, oldest first."""
    by_time: dict[dt.datetime, list[dict]] = {}
    for t in snapshots:
        for r in t.to_pylist():
            by_time.setdefault(r["taken_at"], []).append(r)
    open_runs: dict[str, dict] = {}
    out: list[dict] = []
    for taken in sorted(by_time):
        rows = {r["interface_id"]: r for r in by_time[taken]}
        vpcs = {r["vpc_id"] for r in rows.values()}
        for eni, run in list(open_runs.items()):
            r = rows.get(eni)
            state = tuple(_key(r, c) for c in _STATE) if r else None
            if r is not None and state == run["_state"]:
                run["status"] = r["status"]
                continue
            if r is None and run["vpc_id"] not in vpcs:
                continue  # this snapshot does not speak for that VPC
            run["seen_until"] = taken
            out.append(open_runs.pop(eni))
        for eni, r in rows.items():
            if eni in open_runs:
                continue
            run = {n: r.get(n) for n, _, _ in INTERFACE_COLUMNS if n in r}
            run["seen_from"], run["seen_until"] = taken, None
            run["_state"] = tuple(_key(r, c) for c in _STATE)
            open_runs[eni] = run
    out.extend(open_runs.values())
    for run in out:
        run.pop("_state", None)
        run["label"] = label(run)
    out.sort(key=lambda r: (r["interface_id"], r["seen_from"]))
    return out


def _key(r: dict, c: str):
    v = r.get(c)
    return tuple(v) if isinstance(v, list) else v


def interfaces_table(history: list[dict]) -> pa.Table:
    cols = {n: [r.get(n) for r in history] for n, _, _ in INTERFACE_COLUMNS}
    return pa.table({n: pa.array(cols[n], type=t) for n, t, _ in INTERFACE_COLUMNS})


_ADDRESS_COLUMNS = (
    ("address", pa.string()),
    ("interface_id", pa.string()),
    ("kind", pa.string()),
    ("name", pa.string()),
    ("label", pa.string()),
    ("instance_id", pa.string()),
    ("subnet_id", pa.string()),
    ("vpc_id", pa.string()),
    ("public", pa.bool_()),
    ("held_from", _TS),
    ("held_until", _TS),
)


@dataclass(frozen=True)
class Entry:
    """What is behind one interface (one history row)."""

    interface_id: str
    kind: str
    name: str
    label: str
    instance_id: str | None
    resource_id: str | None
    subnet_id: str | None
    vpc_id: str | None
    security_groups: tuple[str, ...]
    interface_type: str | None
    description: str | None

    @classmethod
    def of(cls, r: dict) -> Entry:
        return cls(
            r["interface_id"],
            r.get("kind") or "interface",
            r.get("name") or resolve_name(r) or r.get("label") or label(r),
            r.get("label") or label(r),
            r.get("instance_id"),
            r.get("resource_id"),
            r.get("subnet_id"),
            r.get("vpc_id"),
            tuple(r.get("security_groups") or ()),
            r.get("interface_type"),
            r.get("description"),
        )


class Names:
    """Look-ups over the history: interface ids and addresses to what is behind them."""

    def __init__(self, history: list[dict]):
        self.history = history
        self._by_eni: dict[str, Entry] = {}
        # address -> [(held_from epoch, entry, held_until epoch or None, public)] by held_from
        seen: dict[str, list] = {}
        first_run: set[str] = set()
        for r in sorted(history, key=lambda r: r["seen_from"]):
            e = Entry.of(r)
            self._by_eni[e.interface_id] = e  # the latest state wins
            attached = None
            if r["interface_id"] not in first_run:
                first_run.add(r["interface_id"])
                attached = r.get("attached_at")
            until = r.get("seen_until")
            for public, key in ((False, "private_addresses"), (True, "public_addresses")):
                for a in r.get(key) or ():
                    seen.setdefault(a, []).append((r["seen_from"], attached, e, until, public))
        self._spans = {}
        for a, runs in seen.items():
            spans, prev = [], None
            for seen_from, attached, e, until, public in runs:
                start = seen_from
                # EC2's attachment time moves the start back, but never before a sync that saw
                # the address on another interface: that sync is proof of who held it then.
                if (
                    attached is not None
                    and attached < seen_from
                    and (prev is None or attached > prev)
                ):
                    start = attached
                spans.append((start.timestamp(), e, until.timestamp() if until else None, public))
                prev = seen_from
            self._spans[a] = sorted(spans, key=lambda s: s[0])
        self._starts = {a: [s[0] for s in v] for a, v in self._spans.items()}

    def __bool__(self) -> bool:
        return bool(self._by_eni)

    def interface(self, interface_id: str | None) -> Entry | None:
        return self._by_eni.get(interface_id) if interface_id else None

    def address(self, addr: str | None, at: float | int | None = None) -> Entry | None:
        """The interface that held ``addr`` at ``at`` (Unix seconds; None: the latest)."""
        spans = self._spans.get(addr) if addr else None
        if not spans:
            return None
        if at is None:
            return spans[-1][1]
        i = bisect_right(self._starts[addr], float(at)) - 1
        return spans[max(i, 0)][1]

    def moved(self) -> set[str]:
        """Addresses held by more than one interface over the history."""
        return {a for a, v in self._spans.items() if len({s[1].interface_id for s in v}) > 1}

    def addresses_table(self) -> pa.Table:
        rows = []
        for a, spans in sorted(self._spans.items()):
            for i, (start, e, until, public) in enumerate(spans):
                nxt = next(
                    (s[0] for s in spans[i + 1 :] if s[1].interface_id != e.interface_id), None
                )
                end = nxt if nxt is not None else until
                rows.append(
                    {
                        "address": a,
                        "interface_id": e.interface_id,
                        "kind": e.kind,
                        "name": e.name,
                        "label": e.label,
                        "instance_id": e.instance_id,
                        "subnet_id": e.subnet_id,
                        "vpc_id": e.vpc_id,
                        "public": public,
                        "held_from": dt.datetime.fromtimestamp(start, dt.UTC),
                        "held_until": dt.datetime.fromtimestamp(end, dt.UTC) if end else None,
                    }
                )
        return pa.table({n: pa.array([r[n] for r in rows], type=t) for n, t in _ADDRESS_COLUMNS})

    def describe(self, value: str, at: float | int | None = None) -> str | None:
        """The words to print next to ``value`` (an eni- id or an address), or None."""
        e = self.interface(value) if value.startswith("eni-") else self.address(value, at)
        return e.label if e else None

    def show(self, value: str, at: float | int | None = None) -> str:
        """``value`` with its label: '10.0.1.14 (web-4, i-0abc…)', 'eni-… (ALB app/shop)'."""
        d = self.describe(value, at)
        return f"{value} ({d})" if d else value
