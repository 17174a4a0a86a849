"""``s3://bucket/prefix``: flow-log objects in the key layouts AWS delivers to S3.

Every layout under one prefix, mixed freely: default (``AWSLogs/<acct>/vpcflowlogs/<region>/
YYYY/MM/DD/[HH/]``), Hive-compatible (``aws-account-id=…/…/day=DD/[hour=HH/]``), text
``.log.gz`` and Parquet ``.log.parquet``. Keys are read with :func:`vpcflow.sources.keys.parse_key`.

Filtering happens on keys, before anything is downloaded:

* ``account``/``region`` prune the listing at the ``AWSLogs/<acct>/`` and ``<region>/``
  levels (so CloudTrail, ELB and other accounts under the same ``AWSLogs/`` are never listed);
* ``since``/``until`` start each (account, region) listing at the first day that can hold
  records in range (``StartAfter``) and stop after the last, then check each key's hour and
  file timestamp. Key times are delivery times, so the window is widened by ``KEY_SLACK``: the
  key filter may keep a few objects just outside the range, never drop one inside it.

Objects already in the store's manifest (same URI and ETag) are skipped before download when
the store passes ``manifest``. Downloads run ``workers`` at a time ahead of the consumer, each
into a spooled temporary file (``SPOOL_BYTES`` in memory, the rest on disk), and at most
``workers`` downloads are held unclaimed, so memory stays bounded however large the prefix.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import BinaryIO

from .. import aws
from ..errors import ConfigError, SourceError
from . import RawObject
from ._filters import Filters
from .keys import KeyInfo, parse_key

log = logging.getLogger("vpcflow.sources.s3")

__all__ = ["iter_s3", "parse_s3_uri", "KEY_SLACK", "DEFAULT_WORKERS"]

KEY_SLACK = timedelta(hours=1)
DEFAULT_WORKERS = 8
SPOOL_BYTES = 8 << 20
_CHUNK = 1 << 20

_ROOT = re.compile(
    r"(?:^|/)AWSLogs/(?P<hive>aws-account-id=)?(?P<account>[^/]+)/"
    r"(?:aws-service=)?vpcflowlogs/(?:aws-region=)?(?P<region>[^/]+)/"
)
_ACCOUNT_DIR = re.compile(r"(?:^|/)AWSLogs/(?:aws-account-id=)?(?P<account>[^/]+)/")
_SERVICE_DIR = re.compile(r"(?:^|/)AWSLogs/[^/]+/(?P<service>[^/]+)/")


def parse_s3_uri(spec: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` (or ``s3a://``, ``s3n://``) -> (bucket, prefix)."""
    url = aws.s3_url(spec)
    if url is None:
        raise ConfigError(f"not an S3 URI: {spec!r}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise ConfigError(f"no bucket in {spec!r}: use s3://BUCKET[/PREFIX]")
    return bucket, prefix


def _key_window(info: KeyInfo) -> tuple[datetime | None, datetime | None]:
    """The times records in an object with this key can have (widened by KEY_SLACK)."""
    if info.timestamp is not None:
        return info.timestamp - KEY_SLACK, info.timestamp + KEY_SLACK
    if info.day is None:
        return None, None
    start = datetime.combine(info.day, time(), tzinfo=UTC)
    if info.hour is not None:
        start += timedelta(hours=info.hour)
        return start - KEY_SLACK, start + timedelta(hours=1) + KEY_SLACK
    return start - KEY_SLACK, start + timedelta(days=1) + KEY_SLACK


def _wanted(key: str, info: KeyInfo, flt: Filters) -> bool:
    if key.endswith("/"):
        return False  # a "folder" marker
    if info.layout is None:
        svc = _SERVICE_DIR.search(key)
        if svc and svc["service"] not in ("vpcflowlogs", "aws-service=vpcflowlogs"):
            return False  # CloudTrail, ELB, ... delivered under the same AWSLogs/
    return (
        flt.account_ok(info.account)
        and flt.region_ok(info.region)
        and flt.overlaps(*_key_window(info))
    )


def _date_path(dt: datetime, hive: bool) -> str:
    if hive:
        return f"year={dt:%Y}/month={dt:%m}/day={dt:%d}"
    return f"{dt:%Y/%m/%d}"


class _Lister:
    def __init__(self, s3, bucket: str, flt: Filters):
        self.s3 = s3
        self.bucket = bucket
        self.flt = flt

    def _pages(self, **kw) -> Iterator[dict]:
        where = f"s3://{self.bucket}/{kw.get('Prefix', '')}"
        with aws.aws_errors(where):
            yield from self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **kw)

    def objects(self, prefix: str) -> Iterator[dict]:
        """Listing entries (Key, ETag, Size) under ``prefix`` that the filters may want."""
        if not self.flt.active or (prefix and not prefix.endswith("/")):
            for page in self._pages(Prefix=prefix):
                yield from page.get("Contents", [])
            return
        yield from self._walk(prefix)

    def _walk(self, prefix: str) -> Iterator[dict]:
        root = _ROOT.search(prefix)
        if root:
            yield from self._dated(prefix, root)
            return
        acct = _ACCOUNT_DIR.search(prefix)
        if acct and not self.flt.account_ok(acct["account"]):
            return
        svc = _SERVICE_DIR.search(prefix)
        if svc and svc["service"] not in ("vpcflowlogs", "aws-service=vpcflowlogs"):
            return
        for page in self._pages(Prefix=prefix, Delimiter="/"):
            yield from page.get("Contents", [])
            for cp in page.get("CommonPrefixes", []):
                yield from self._walk(cp["Prefix"])

    def _dated(self, prefix: str, root: re.Match) -> Iterator[dict]:
        """List one (account, region) tree, starting and stopping at the days in range."""
        flt = self.flt
        if not (flt.account_ok(root["account"]) and flt.region_ok(root["region"])):
            return
        base = prefix[: root.end()]
        kw: dict = {"Prefix": prefix}
        stop = None
        if prefix == base:  # at the root: the date folders below sort chronologically
            hive = bool(root["hive"])
            if flt.since:
                kw["StartAfter"] = base + _date_path(flt.since - KEY_SLACK, hive)
            if flt.until:
                stop = base + _date_path(flt.until + KEY_SLACK + timedelta(days=1), hive)
        for page in self._pages(**kw):
            for obj in page.get("Contents", []):
                if stop is not None and obj["Key"] >= stop:
                    return
                yield obj


class _Body(io.RawIOBase):
    """A streaming GetObject body whose read errors become ``SourceError``."""

    def __init__(self, body, uri: str):
        self._body = body
        self._uri = uri

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self._body.read(len(b))
        except Exception as exc:  # connection reset, timeout mid-object: a stream read error
            raise OSError(f"download of {self._uri} failed: {exc}".replace("\n", " ")) from exc
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


def _get(s3, bucket: str, key: str, etag: str | None) -> BinaryIO:
    uri = f"s3://{bucket}/{key}"
    kw = {"Bucket": bucket, "Key": key}
    if etag:
        kw["IfMatch"] = f'"{etag}"'  # the object we listed, not a newer one under the same key
    with aws.aws_errors(uri):
        try:
            body = s3.get_object(**kw)["Body"]
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412"):
                raise SourceError(f"{uri}: changed while ingesting; re-run to pick it up") from exc
            raise
    return io.BufferedReader(_Body(body, uri), buffer_size=_CHUNK)


def _download(s3, bucket: str, key: str, etag: str | None) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="vpcflow-s3-")  # noqa: SIM115 (returned open)
    try:
        with _get(s3, bucket, key, etag) as src:
            while chunk := src.read(_CHUNK):
                spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _skipper(manifest, skip) -> Callable[[str, str], bool]:
    if skip is not None:
        return skip
    if manifest is not None:
        done = {k for k, e in manifest.ingested().items() if e.get("complete", True)}
        return lambda uri, version: (uri, version) in done
    return lambda uri, version: False


def iter_s3(
    spec: str,
    *,
    account=None,
    region=None,
    since=None,
    until=None,
    profile: str | None = None,
    aws_region: str | None = None,
    workers: int | None = None,
    manifest=None,
    skip: Callable[[str, str], bool] | None = None,
    **_options,
) -> Iterator[RawObject]:
    """The flow-log objects under ``s3://bucket/prefix`` that pass the key filters.

    ``account``/``region`` (a value, a comma-separated string or a list) and ``since``/
    ``until`` filter on the key. ``region`` filters the data; the client's region is
    ``aws_region`` (default: the boto3 chain) since S3 listing works from any region.
    ``manifest`` (the store's) or ``skip(uri, version)`` leave out objects already ingested.
    """
    bucket, prefix = parse_s3_uri(spec)
    flt = Filters.from_options(account, region, since, until)
    s3 = aws.client("s3", profile=profile, region=aws_region)
    is_done = _skipper(manifest, skip)
    if workers is None:
        # Prefetch only when already-ingested objects are known here; otherwise the store
        # skips them after listing, and a prefetch would download them for nothing.
        workers = DEFAULT_WORKERS if (manifest is not None or skip is not None) else 0
    workers = max(0, int(workers))

    passed = 0

    def listed() -> Iterator[tuple[dict, KeyInfo, str]]:
        nonlocal passed
        for obj in _Lister(s3, bucket, flt).objects(prefix):
            key = obj["Key"]
            info = parse_key(key)
            if not _wanted(key, info, flt):
                continue
            passed += 1
            etag = str(obj.get("ETag", "")).strip('"')
            # Known objects are still yielded (the store counts them as skipped) but never
            # prefetched: the store does not open them.
            yield obj, info, etag, is_done(f"s3://{bucket}/{key}", etag)

    yield from _prefetching(s3, bucket, listed(), workers)
    if passed == 0 and flt.active:
        log.warning("%s", _nothing_passed(s3, bucket, prefix, flt))


_DIAGNOSE_KEYS = 100_000  # most keys listed to explain an empty result


def _nothing_passed(s3, bucket: str, prefix: str, flt: Filters) -> str:
    """Why no key under the prefix passed the filters: what was there, and which filter took it."""
    where = f"s3://{bucket}/{prefix}"
    counts = {"account": 0, "region": 0, "time": 0}
    listed = 0
    days: list = []
    lister = _Lister(s3, bucket, Filters())
    for obj in lister.objects(prefix):
        key = obj["Key"]
        info = parse_key(key)
        if key.endswith("/") or info.layout is None:
            continue
        listed += 1
        if info.day is not None:
            days.append(info.day)
        if not flt.account_ok(info.account):
            counts["account"] += 1
        elif not flt.region_ok(info.region):
            counts["region"] += 1
        elif not flt.overlaps(*_key_window(info)):
            counts["time"] += 1
        if listed >= _DIAGNOSE_KEYS:
            break
    if listed == 0:
        return f"{where}: no flow-log objects under this prefix"
    names = {
        "account": f"account ({', '.join(sorted(flt.accounts or ()))})",
        "region": f"key region ({', '.join(sorted(flt.regions or ()))})",
        "time": "time range (since/until)",
    }
    why = ", ".join(f"{n:,} by the {names[k]}" for k, n in counts.items() if n)
    span = f"; the keys cover {min(days)} to {max(days)}" if days else ""
    more = "+" if listed >= _DIAGNOSE_KEYS else ""
    return (
        f"{where}: {listed:,}{more} flow-log objects listed, none passes the filters: {why}{span}"
    )


def _prefetching(s3, bucket: str, listed, workers: int) -> Iterator[RawObject]:
    """Yield objects while up to ``workers`` of the next ones download in the background.

    A download counts against ``workers`` until its object is opened, so a consumer that
    collects objects before opening them gets lazy (streaming) downloads past the first few
    instead of unbounded buffering.
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix="vpcflow-s3") if workers > 1 else None
    outstanding = 0  # submitted downloads not yet claimed by open()
    lock = threading.Lock()
    window: deque[list] = deque()  # [obj, info, etag, known, future | None]
    ahead = max(workers, 1) * 4  # listing entries held ahead of the consumer
    source = iter(listed)

    def fill() -> None:
        nonlocal outstanding
        while len(window) < ahead:
            item = next(source, None)
            if item is None:
                break
            window.append([*item, None])
        if pool is None:
            return
        with lock:
            for entry in window:
                if outstanding >= workers:
                    break
                if not entry[3] and entry[4] is None:
                    entry[4] = pool.submit(_download, s3, bucket, entry[0]["Key"], entry[2])
                    outstanding += 1

    def opener(key: str, etag: str, fut: Future | None) -> Callable[[], BinaryIO]:
        state = {"fut": fut}

        def open_() -> BinaryIO:
            nonlocal outstanding
            pending = state.pop("fut", None)
            if pending is not None:
                with lock:
                    outstanding -= 1
                try:
                    return pending.result()
                except CancelledError:  # the listing ended (pool shut down) before this open
                    pass
            return _get(s3, bucket, key, etag)  # a second open, or never prefetched

        return open_

    try:
        fill()
        while window:
            obj, info, etag, _known, fut = window.popleft()
            key = obj["Key"]
            yield RawObject(
                uri=f"s3://{bucket}/{key}",
                open=opener(key, etag, fut),
                version=etag,
                size=obj.get("Size"),
                kind="parquet" if info.file_format == "parquet" else "text",
                account=info.account,
                region=info.region,
                day=info.day,
            )
            fill()
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
