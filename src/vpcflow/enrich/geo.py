"""Country and autonomous system of an address, offline.

The data is the MaxMind GeoLite2 country + ASN extract that the ``geoip2fast`` package ships
(``geoip2fast-asn.dat.gz`` for IPv4, ``geoip2fast-asn-ipv6.dat.gz`` for IPv6; install with
``pip install 'vpcflow[enrich]'``). Nothing is fetched at query time. The file carries AS
organisation names (``CLOUDFLARENET``, ``AMAZON-02``), not AS numbers, so :func:`asn` returns
the name.

Special-purpose addresses (private, loopback, documentation, ...) are answered from the IANA
registries in :mod:`.ipaddr` before the database, and named as such: ``ip_country('10.0.0.1')``
is ``'private'``, ``ip_country('192.0.2.7')`` is ``'documentation'``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import pickle
import threading
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import settings
from ..errors import MissingDependency
from . import ipaddr

log = logging.getLogger("vpcflow.enrich")

_V4_FILE = "geoip2fast-asn.dat.gz"
_V6_FILE = "geoip2fast-asn-ipv6.dat.gz"


@dataclass
class _Ranges:
    starts: np.ndarray | list[int]
    ends: np.ndarray | list[int]
    ids: np.ndarray | list[int]


def _data_path(name: str) -> str:
    try:
        import geoip2fast
    except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
        raise MissingDependency("geoip2fast", "enrich") from exc
    return os.path.join(os.path.dirname(geoip2fast.__file__), name)


def _flatten(first, netlen, ids, bits: int, numpy: bool) -> _Ranges:
    starts = [ip for chunk in first for ip in chunk]
    lengths = [n for chunk in netlen for n in chunk]
    idents = [i for chunk in ids for i in chunk]
    if numpy:
        s = np.array(starts, dtype=np.uint64)
        size = np.left_shift(np.uint64(1), (bits - np.array(lengths, dtype=np.uint64)))
        return _Ranges(s, s + size - np.uint64(1), np.array(idents, dtype=np.int64))
    ends = [s + (1 << (bits - n)) - 1 for s, n in zip(starts, lengths, strict=True)]
    return _Ranges(starts, ends, idents)


class GeoDB:
    """The loaded database: country and ASN ranges, sorted by first address."""

    def __init__(self, path: str, numpy: bool = True, bits: int = 32):
        with gzip.open(path, "rb") as fh:
            # A pickle written by the geoip2fast maintainers and installed with the package.
            version, info, _total, db = pickle.load(fh)  # noqa: S301
        if version not in (120, 121) or not (info.get("country") and info.get("asn")):
            raise MissingDependency("geoip2fast (with its country+ASN data file)", "enrich")
        self.source = info.get("info", "")
        (
            _index,
            _index_asn,
            country_names,
            asn_names,
            first,
            first_asn,
            id_country,
            id_asn,
            netlen,
            netlen_asn,
        ) = db
        self.codes: list[str | None] = []
        self.names: list[str | None] = []
        for item in country_names:
            code, _, name = item.partition(":")
            real = len(code) == 2 and code.isalpha()
            self.codes.append(code if real else None)
            self.names.append(name if real else None)
        self.asn_names = [None if n.startswith("<") else n for n in asn_names]
        self.country = _flatten(first, netlen, id_country, bits, numpy)
        self.asn = _flatten(first_asn, netlen_asn, id_asn, bits, numpy)

    _ARRAYS = ("starts", "ends", "ids")

    def arrays(self) -> dict[str, np.ndarray]:
        """The IPv4 database as arrays (``from_arrays`` reads them back)."""
        out = {  # IPv4 addresses fit 32 bits: half the file
            f"{w}_{a}": getattr(getattr(self, w), a).astype(np.int32 if a == "ids" else np.uint32)
            for w in ("country", "asn")
            for a in self._ARRAYS
        }
        names = [self.source, self.codes, self.names, self.asn_names]
        out["names"] = np.frombuffer(json.dumps(names).encode(), dtype=np.uint8)
        return out

    @classmethod
    def from_arrays(cls, arrays) -> GeoDB:
        db = cls.__new__(cls)
        db.source, db.codes, db.names, db.asn_names = json.loads(arrays["names"].tobytes())
        for w in ("country", "asn"):
            starts, ends, ids = (arrays[f"{w}_{a}"] for a in cls._ARRAYS)
            ranges = _Ranges(starts.astype(np.uint64), ends.astype(np.uint64), ids.astype(np.int64))
            setattr(db, w, ranges)
        if not (len(db.country.starts) == len(db.country.ends) == len(db.country.ids)):
            raise ValueError("ranges of different lengths")
        return db

    def ids_v4(self, ints: np.ndarray, ok: np.ndarray, which: str) -> np.ndarray:
        r: _Ranges = getattr(self, which)
        x = ints.astype(np.uint64)
        pos = np.searchsorted(r.starts, x, side="right") - 1
        pos_c = np.maximum(pos, 0)
        hit = ok & (pos >= 0) & (x <= r.ends[pos_c])
        return np.where(hit, r.ids[pos_c], -1)

    def id_one(self, value: int, which: str) -> int:
        r: _Ranges = getattr(self, which)
        pos = bisect_right(r.starts, value) - 1
        if pos >= 0 and value <= r.ends[pos]:
            return int(r.ids[pos])
        return -1


_lock = threading.Lock()
_db: dict[int, GeoDB] = {}
_version: list[str] = []


def version() -> str:
    """What identifies the database this process reads (the package's version and the data
    files' sizes and times): a summary of countries written under another is stale."""
    if not _version:
        import geoip2fast

        parts = [str(getattr(geoip2fast, "__version__", ""))]
        for name in (_V4_FILE, _V6_FILE):
            st = os.stat(_data_path(name))
            parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
        _version.append(" ".join(parts))
    return _version[0]


def database(version: int = 4) -> GeoDB:
    """The GeoDB for IPv4 (NumPy arrays) or IPv6 (Python ints), loaded once per process."""
    with _lock:
        if version not in _db:
            if version == 4:
                _db[4] = _load_v4()
            else:
                _db[6] = GeoDB(_data_path(_V6_FILE), numpy=False, bits=128)
            log.debug("loaded %s", _db[version].source)
        return _db[version]


def _load_v4() -> GeoDB:
    """The IPv4 database, from its arrays in the cache directory when they were saved from the
    same data file (a tenth of the time of unpickling and flattening it), else from the file,
    then saved there for the next process. A cache that cannot be read or written is skipped."""
    key = hashlib.sha256(version().encode()).hexdigest()[:16]
    path = settings.cache_dir() / "geo" / f"v4-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return GeoDB.from_arrays(arrays)
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - any damage (a cut zip, foreign content): rebuilt
        log.debug("geo cache %s ignored: %s", path, exc)
    db = GeoDB(_data_path(_V4_FILE))
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, **db.arrays())
        os.replace(tmp, path)  # whole or not at all, whoever else writes it at the same time
    except OSError as exc:  # a full disk, a read-only home
        log.debug("geo cache %s not written: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return db


def _lookup(values, which: str, names_of) -> pa.Array:
    values = ipaddr.as_array(values)
    ints, ok = ipaddr.ipv4_ints(values)
    special, special_names = ipaddr.special_index(values, (ints, ok))
    n_special = len(special_names)
    idx = special.copy()
    public_v4 = ok & (special < 0)
    v6 = [(i, a) for i, a in ipaddr.v6_positions(values, ok) if special[i] < 0]
    if not public_v4.any() and not v6:
        return ipaddr.take_names(special_names, idx)
    db = database(4)
    names = names_of(db)
    table = _arrow_table(special_names, names)
    if public_v4.any():
        ids = db.ids_v4(ints, public_v4, which)
        idx = np.where(public_v4, np.where(ids >= 0, ids + n_special, -1), idx)
    if v6:
        db6 = database(6)
        extra: list[str | None] = []
        for i, addr in v6:
            j = db6.id_one(int(addr), which)
            if j >= 0:
                idx[i] = len(table) + len(extra)
                extra.append(names_of(db6)[j])
        table = pa.concat_arrays([table, pa.array(extra, type=pa.string())])
    return ipaddr.take_names(table, idx)


_tables: dict[int, pa.Array] = {}


def _arrow_table(special: list[str], names: list[str | None]) -> pa.Array:
    key = id(names)
    if key not in _tables:
        _tables[key] = pa.array([*special, *names], type=pa.string())
    return _tables[key]


def country(values) -> pa.Array:
    """ISO 3166 country code per address (``'US'``), the special range name, or NULL."""
    return _lookup(values, "country", lambda db: db.codes)


def country_name(values) -> pa.Array:
    """Country name per address (``'United States'``), the special range name, or NULL."""
    return _lookup(values, "country", lambda db: db.names)


def asn(values) -> pa.Array:
    """Autonomous-system organisation per address (``'AMAZON-02'``), special range name, or NULL."""
    return _lookup(values, "asn", lambda db: db.asn_names)
