"""The interface inventory: which instance, load balancer, database, NAT gateway or endpoint is
behind each ENI, and since when.

    >>> from vpcflow import open_store
    >>> from vpcflow.store.inventory import sync, names_for
    >>> store = open_store("flows")
    >>> sync(store, file="describe-network-interfaces.json")      # or from_aws=True
    >>> names_for(store, ["eni-0e51d6f7081920314", "10.0.1.14"])
    {'eni-0e51d6f7081920314': 'web-4, i-0a1b2c3d4e5f60714', '10.0.1.14': 'web-4, i-0a1b2c3d4e5f60714'}

Kept in the store as data, beside the records:

    STORE/_vpcflow/interfaces/snapshot-<taken>-<id>.parquet   one per sync, never rewritten

A sync adds a snapshot (written to a temporary file, fsynced, then renamed: a crash leaves the
inventory as it was); :mod:`.history` folds the snapshots into the ``interfaces`` table with
``seen_from``/``seen_until``, so an address that moved between interfaces is attributed by time
and nothing a sync saw is ever lost. The engine exposes it as the tables ``interfaces`` and
``interface_addresses`` and the SQL functions ``interface_name``, ``address_owner`` and
``address_interface`` (:mod:`vpcflow.engines.inventory`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from ...errors import ConfigError, StoreError
from .. import INVENTORY_DIR
from .describe import (
    KINDS,
    NO_SECURITY_GROUP_KINDS,
    classify,
    kind_title,
    parse_describe,
    parse_instance_names,
)
from .history import (
    INTERFACE_COLUMNS,
    Entry,
    Names,
    fold,
    interfaces_table,
    resolve_name,
    snapshot_table,
)

log = logging.getLogger("vpcflow.store.inventory")

__all__ = [
    "INTERFACE_COLUMNS",
    "KINDS",
    "NO_SECURITY_GROUP_KINDS",
    "Entry",
    "Inventory",
    "Names",
    "SyncReport",
    "classify",
    "kind_title",
    "names_for",
    "parse_describe",
    "sync",
]

SUBDIR = INVENTORY_DIR


class SyncReport(dict):
    """What a sync did: ``interfaces``, ``kinds`` (count per kind), ``named``, ``taken_at``,
    ``snapshot`` (the file), ``source``, ``new``, ``changed``, ``gone``."""


class Inventory:
    """The inventory side table of one store (``store.inventory``)."""

    def __init__(self, store):
        self.store = store
        self.dir = Path(store.path) / SUBDIR
        self._cache: tuple[tuple[str, ...], list[dict]] | None = None

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("snapshot-*.parquet"))

    def __bool__(self) -> bool:
        return bool(self.files())

    def history(self) -> list[dict]:
        """One dict per interface and state (the ``interfaces`` table's columns)."""
        files = self.files()
        key = tuple(f.name for f in files)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        if not files:  # a query on a store without snapshots loads no Parquet reader
            return []
        import pyarrow.parquet as pq

        tables = []
        for f in files:
            try:
                tables.append(pq.read_table(f))
            except (OSError, pa.ArrowInvalid) as exc:
                # One damaged snapshot must not take the records' queries down with it.
                log.warning(
                    "%s: inventory snapshot is unreadable (%s); left out: move it away and sync "
                    "again",
                    f,
                    exc,
                )
        history = fold(tables)
        self._cache = (key, history)
        return history

    def table(self) -> pa.Table:
        return interfaces_table(self.history())

    def names(self) -> Names:
        return Names(self.history())

    def latest(self) -> dict[str, dict]:
        """The current state of every interface the inventory knows (the latest row of each)."""
        out: dict[str, dict] = {}
        for r in sorted(self.history(), key=lambda r: r["seen_from"]):
            out[r["interface_id"]] = r
        return out

    def _write(self, table: pa.Table, taken_at: dt.datetime) -> Path:
        import pyarrow.parquet as pq

        with self.store._writer():
            self.dir.mkdir(parents=True, exist_ok=True)
            for stale in self.dir.glob(".snapshot-*.tmp"):  # left by a crash: never committed
                stale.unlink(missing_ok=True)
            stamp = taken_at.strftime("%Y%m%dT%H%M%S") + f"{taken_at.microsecond // 1000:03d}Z"
            final = self.dir / f"snapshot-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            tmp = self.dir / f".{final.name}.tmp"
            pq.write_table(table, tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return final

    def add(
        self, rows: list[dict], taken_at: dt.datetime | None = None, source: str = ""
    ) -> SyncReport:
        """Write one snapshot of ``rows`` (from :func:`parse_describe`) taken at ``taken_at``."""
        taken_at = taken_at or dt.datetime.now(dt.UTC)
        if taken_at.tzinfo is None:
            taken_at = taken_at.replace(tzinfo=dt.UTC)
        before = self.latest()
        table = snapshot_table(rows, taken_at)
        try:
            final = self._write(table, taken_at)
        except OSError as exc:
            raise StoreError(
                f"{self.dir}: cannot write the inventory: {exc.strerror or exc}"
            ) from None
        self._cache = None
        self.store._invalidate()
        ids = {r["interface_id"] for r in rows}
        vpcs = {r.get("vpc_id") for r in rows}
        kinds: dict[str, int] = {}
        for r in rows:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        now = self.latest()
        return SyncReport(
            source=source,
            snapshot=str(final),
            taken_at=taken_at.isoformat().replace("+00:00", "Z"),
            interfaces=len(rows),
            named=sum(1 for r in rows if r.get("name")),
            kinds=dict(sorted(kinds.items())),
            new=len(ids - set(before)),
            changed=sum(
                1 for i in ids & set(before) if before[i]["seen_from"] != now[i]["seen_from"]
            ),
            gone=sum(
                1
                for i, r in before.items()
                if i not in ids and r["vpc_id"] in vpcs and r["seen_until"] is None
            ),
        )


def _paths(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def _taken(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    from ...timeparse import to_datetime

    return to_datetime(value, name="taken_at")


def sync(
    store,
    *,
    file: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    from_aws: bool = False,
    profile: str | None = None,
    region: str | None = None,
    taken_at=None,
    instances: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    client_factory=None,
) -> SyncReport:
    """Add a snapshot of the interfaces to ``store``'s inventory.

    ``file``: the JSON ``aws ec2 describe-network-interfaces`` printed (one path or several,
    all one snapshot). ``from_aws``: describe every interface of the account and region with
    boto3 (paginated), and name them from instances' Name tags, load balancers, NAT gateways,
    VPC endpoints and RDS instances. ``taken_at``: when the description was taken (default
    now; for a file saved earlier, its time: ISO-8601, Unix seconds or ``2h``).
    ``instances``: with ``file``, the JSON ``aws ec2 describe-instances`` printed, whose Name
    tags name the instances' interfaces (as ``from_aws`` does by itself).
    """
    if getattr(store, "remote", False):  # before any AWS call
        store.inventory.add()  # raises: a store on S3 keeps no inventory
    if bool(file) == bool(from_aws):
        raise ConfigError(
            "give either a describe-network-interfaces JSON file or from_aws=True "
            "(vpcflow interfaces sync --file F | --from-aws)"
        )
    if from_aws and instances:
        raise ConfigError("instances= goes with file=; from_aws=True reads the instances itself")
    if from_aws:
        from .fetch import fetch_interfaces

        rows, source = fetch_interfaces(
            profile=profile, region=region, client_factory=client_factory
        )
    else:
        paths = _paths(file)
        rows, seen = [], set()
        for p in paths:
            try:
                data = Path(p).read_bytes()
            except OSError as exc:
                raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
            for r in parse_describe(data, str(p)):
                if r["interface_id"] not in seen:
                    seen.add(r["interface_id"])
                    rows.append(r)
        source = ", ".join(str(p) for p in paths)
        for p in _paths(instances):
            try:
                data = Path(p).read_bytes()
            except OSError as exc:
                raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
            named = parse_instance_names(data, str(p))
            for r in rows:
                if r["kind"] == "instance" and r["instance_id"] in named:
                    r["name"] = named[r["instance_id"]]
    for r in rows:
        if not r.get("name"):
            r["name"] = resolve_name(r)
    if not rows:
        raise ConfigError(f"{source}: no network interfaces in it; nothing to add")
    report = store.inventory.add(rows, _taken(taken_at), source)
    log.info("inventory: %d interfaces from %s", len(rows), source)
    return report


def names_for(store, values: Iterable[str], at=None) -> dict[str, str]:
    """What to print next to each of ``values`` (eni- ids and addresses) that the inventory
    knows: ``{"10.0.1.14": "web-4, i-0abc…", "eni-…": "ALB app/shop-prod"}``.

    ``at``: the time the values were seen (Unix seconds, datetime or ISO-8601), so that an
    address that moved between interfaces names its holder at that time; default the latest.
    """
    names = store.inventory.names()
    if not names:
        return {}
    when = None
    if at is not None:
        when = at if isinstance(at, (int, float)) else _taken(at).timestamp()
    out = {}
    for v in values:
        if v and (d := names.describe(str(v), when)):
            out[str(v)] = d
    return out
