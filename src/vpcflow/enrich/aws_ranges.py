"""The AWS service and region of an address, from AWS's published ``ip-ranges.json``.

``vpcflow enrich update`` (:func:`update`) downloads the current file once into a per-user data
directory (``--file`` loads a copy from disk instead, for machines without internet access);
lookups read that copy and never touch the network. Until then they read the snapshot shipped
with vpcflow (``enrich/data/ip-ranges.json.gz``: AWS's file of the date in its ``createDate``,
each prefix's service and region), so a fresh machine without internet access still knows S3
from an unknown network; ``VPCFLOW_IP_RANGES_BUNDLED=false`` turns the snapshot off, and then,
without a downloaded file, ``aws_service()`` is NULL and a warning, given once per data
directory, says how to get it. An explicit ``VPCFLOW_IP_RANGES_FILE`` that does not exist is
never replaced by the snapshot.

Where     default                                          override
file      ``$XDG_DATA_HOME/vpcflow/ip-ranges.json``         ``VPCFLOW_IP_RANGES_FILE``
snapshot  ``vpcflow/enrich/data/ip-ranges.json.gz``         ``VPCFLOW_IP_RANGES_BUNDLED``
URL       https://ip-ranges.amazonaws.com/ip-ranges.json    ``VPCFLOW_IP_RANGES_URL``, ``--url``

Every prefix belongs to ``AMAZON`` and many also to a specific service (``EC2``, ``S3``,
``CLOUDFRONT``, ...). A lookup returns the specific service when one matches, else ``AMAZON``;
within each, the longest prefix wins.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import settings
from ..errors import ConfigError, SourceError
from . import ipaddr

log = logging.getLogger("vpcflow.enrich")

DEFAULT_URL = "https://ip-ranges.amazonaws.com/ip-ranges.json"


def default_url() -> str:
    return settings.get("ip_ranges_url") or DEFAULT_URL


def default_path() -> Path:
    explicit = settings.get("ip_ranges_file")
    return Path(explicit) if explicit else settings.data_dir() / "ip-ranges.json"


@dataclass(frozen=True)
class UpdateReport:
    path: str
    url: str
    create_date: str
    sync_token: str
    prefixes: int


def _validate(doc, where: str) -> int:
    if not isinstance(doc, dict) or not isinstance(doc.get("prefixes"), list):
        raise SourceError(f"{where}: not an AWS ip-ranges.json document (no 'prefixes' list)")
    return len(doc["prefixes"]) + len(doc.get("ipv6_prefixes") or [])


def update(
    url: str | None = None,
    path: str | os.PathLike | None = None,
    timeout: float = 30.0,
    file: str | os.PathLike | None = None,
):
    """Download ``ip-ranges.json`` from ``url`` (or copy a local ``file`` of it, for machines
    without internet access) into ``path`` (atomically) and return a report."""
    target = Path(path) if path else default_path()
    if file is not None:
        url = str(file)
        try:
            body = Path(file).read_bytes()
        except OSError as exc:
            raise SourceError(f"{file}: cannot read: {exc.strerror or exc}") from None
    else:
        url = url or default_url()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - user's URL
                body = resp.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(
                f"cannot download AWS IP ranges from {url}: {exc}; on a machine without internet "
                "access, copy ip-ranges.json there and load it from the file"
            ) from exc
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"{url}: not JSON ({exc})") from exc
    count = _validate(doc, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(body)
    os.replace(tmp, target)
    _cache.clear()
    log.info("saved %d AWS prefixes to %s", count, target)
    return UpdateReport(
        str(target), url, str(doc.get("createDate", "")), str(doc.get("syncToken", "")), count
    )


class AwsRanges:
    """Prefix tables built from one ip-ranges.json document."""

    def __init__(self, doc: dict, source: str = ""):
        _validate(doc, source or "ip-ranges.json")
        self.source = source
        self.create_date = str(doc.get("createDate", ""))
        pairs: list[tuple[str, str]] = []
        index: dict[tuple[str, str], int] = {}
        specific, generic = [], []
        rows = [(p.get("ip_prefix"), p) for p in doc["prefixes"]]
        rows += [(p.get("ipv6_prefix"), p) for p in doc.get("ipv6_prefixes") or []]
        for cidr, p in rows:
            try:
                net = ipaddr.network(cidr)
            except (AttributeError, TypeError, ValueError):
                raise ConfigError(f"{source}: bad prefix {cidr!r}") from None
            key = (str(p.get("service", "")), str(p.get("region", "")))
            if key not in index:
                index[key] = len(pairs)
                pairs.append(key)
            (generic if key[0] == "AMAZON" else specific).append((net, index[key]))
        self.services = pa.array([s for s, _ in pairs], type=pa.string())
        self.regions = pa.array([r for _, r in pairs], type=pa.string())
        self._tables = (ipaddr.PrefixTable(specific), ipaddr.PrefixTable(generic))

    def ids(self, values) -> np.ndarray:
        values = ipaddr.as_array(values)
        parsed = ipaddr.ipv4_ints(values)
        out = self._tables[0].lookup(values, parsed)
        missing = out < 0
        if missing.any():
            out = np.where(missing, self._tables[1].lookup(values, parsed), out)
        return out

    def service(self, values) -> pa.Array:
        return ipaddr.take_names(self.services, self.ids(values))

    def region(self, values) -> pa.Array:
        return ipaddr.take_names(self.regions, self.ids(values))

    def service_region(self, values) -> tuple[pa.Array, pa.Array]:
        """``(service(values), region(values))``, the addresses looked up once."""
        ids = self.ids(values)
        return ipaddr.take_names(self.services, ids), ipaddr.take_names(self.regions, ids)


_lock = threading.Lock()
_cache: dict[tuple[str, float], AwsRanges | None] = {}


BUNDLED = Path(__file__).parent / "data" / "ip-ranges.json.gz"


def load(path: str | os.PathLike | None = None) -> AwsRanges | None:
    """The ranges from ``path`` (default: the downloaded copy, else the snapshot shipped with
    vpcflow), or None when there is neither."""
    target = Path(path) if path else default_path()
    try:
        mtime = target.stat().st_mtime
    except OSError:
        if (
            path is None
            and not settings.get("ip_ranges_file")
            and settings.get("ip_ranges_bundled")
        ):
            return _bundled()
        with _lock:
            if ("missing", 0.0) not in _cache:
                _warn_missing_once(target)
                _cache[("missing", 0.0)] = None
        return None
    key = (str(target), mtime)
    with _lock:
        if key not in _cache:
            try:
                doc = json.loads(target.read_text())
            except (OSError, ValueError) as exc:
                raise SourceError(
                    f"{target}: unreadable AWS IP ranges ({exc}); run `vpcflow enrich update`"
                ) from exc
            _cache[key] = AwsRanges(doc, str(target))
        return _cache[key]


def _bundled() -> AwsRanges | None:
    key = (str(BUNDLED), 0.0)
    with _lock:
        if key not in _cache:
            import gzip

            try:
                doc = json.loads(gzip.decompress(BUNDLED.read_bytes()))
            except (OSError, ValueError) as exc:  # a broken install: say so, judge without
                log.warning("the AWS IP ranges shipped with vpcflow are unreadable: %s", exc)
                _cache[key] = None
                return None
            ranges = AwsRanges(doc, f"{BUNDLED} (snapshot of {doc.get('createDate', '?')})")
            log.info(
                "AWS IP ranges: the snapshot shipped with vpcflow (%s); "
                "`vpcflow enrich update` loads the current ones",
                ranges.create_date,
            )
            _cache[key] = ranges
        return _cache[key]


def _warn_missing_once(target: Path) -> None:
    # Said once per data directory, not on every command: aws_service() being NULL is the
    # documented behaviour without the file, and the first warning said how to get it.
    marker = settings.data_dir() / "ip-ranges.missing-warned"
    if marker.exists():
        log.info("no AWS IP ranges file at %s: aws_service() and aws_region() are NULL", target)
        return
    log.warning(
        "no AWS IP ranges file at %s: aws_service() and aws_region() are NULL until "
        "`vpcflow enrich update` (or `vpcflow enrich update --file ip-ranges.json`) loads one; "
        "this is said once",
        target,
    )
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(target) + "\n")
    except OSError:
        pass


def service(values) -> pa.Array:
    """AWS service per address (``EC2``, ``S3``, ``AMAZON``), NULL if not AWS or no file."""
    ranges = load()
    if ranges is None:
        return pa.nulls(len(values), type=pa.string())
    return ranges.service(values)


def region(values) -> pa.Array:
    """AWS region per address (``us-east-1``, ``GLOBAL``), NULL if not AWS or no file."""
    ranges = load()
    if ranges is None:
        return pa.nulls(len(values), type=pa.string())
    return ranges.region(values)
