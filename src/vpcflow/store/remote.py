"""A store on S3: the same layout as a local store, with a journal S3 can hold safely.

    s3://BUCKET/PREFIX/
      vpcflow-store.json                   marker (created with If-None-Match: *)
      data/date=YYYY-MM-DD/part-*.parquet  the records, as in a local store (Athena reads them)
      _vpcflow/rollups/<name>/data/...     each data file's rollups, as in a local store
      tgw/date=YYYY-MM-DD/part-*.parquet   Transit Gateway records
      _vpcflow/journal/<N>.json            commit number N: the same record as a local journal line
      _vpcflow/journal/<N>.done            N has been applied (its files are in data/)
      _vpcflow/staging/<txn>/...           files of a transaction before it commits
      _vpcflow/quarantine/<txn>.jsonl      lines that could not be stored

S3 has no append, so the journal is one immutable object per commit. A writer stages its files
under ``_vpcflow/staging/<txn>/``, then creates ``_vpcflow/journal/<N>.json`` for the next free
number N with ``If-None-Match: *`` (S3 creates it only if no object has that key). Two writers
that race for N: one wins; the other re-reads the commits it missed and, when none of them covers
an object it ingested, retries with the next number, or else gives up having committed nothing
(optimistic concurrency, as Delta Lake commits on S3). No lock object is needed, so a writer that
dies holds nothing up. After the commit the staged files are copied into ``data/`` and ``<N>.done``
is written; a commit without ``.done`` is rolled forward by the next writer (copies are idempotent).
Readers see only applied commits. S3 reads are strongly consistent after a write, so a listing
made after a commit sees it.

Staging left by a job that died before its commit is never read; the next writer deletes what is
older than ``STALE_STAGING_S``. Objects are written and read with boto3 (``AWS_ENDPOINT_URL`` for
S3-compatible endpoints); the storage layer knows nothing of the engines that read the files.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import aws, schema
from ..errors import StoreDamaged, StoreError, StoreWriteError
from .manifest import JournalViews, Txn, rollup_paths, staged_path, validate

log = logging.getLogger("vpcflow")

__all__ = ["S3Store", "is_s3_url", "upload_staged"]

MARKER = "vpcflow-store.json"
STORE_FORMAT = 1
JOURNAL = "_vpcflow/journal/"
STALE_STAGING_S = 24 * 3600
COMMIT_ATTEMPTS = 20


def is_s3_url(path) -> bool:
    return aws.s3_url(path) is not None


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` (or ``s3a://``, ``s3n://``) -> (``bucket``, ``a/b``); the prefix
    has no trailing slash."""
    rest = (aws.s3_url(url) or url)[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreError(f"{url}: an S3 store needs a bucket: --store s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def _code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))


def _s3():
    return aws.client("s3")


def upload_staged(files: list[dict], local_stage: Path, stage_url: str) -> None:
    """Upload the files a ``PartWriter`` wrote under ``local_stage`` to ``stage_url`` (the
    transaction's staging prefix on S3), keeping their layout. Runs where the files were written
    (a Spark executor, say)."""
    bucket, prefix = split_url(stage_url)
    s3 = _s3()
    for rel in [p for f in files for p in [f["path"], *rollup_paths(f)]]:
        local = staged_path(local_stage, rel)
        key = f"{prefix}/{local.relative_to(local_stage).as_posix()}"
        with aws.aws_errors(f"s3://{bucket}/{key}"):
            s3.upload_file(str(local), bucket, key)


class S3Journal(JournalViews):
    """The commits of an S3 store (``Manifest``'s reading interface)."""

    def __init__(self, store: S3Store):
        self.store = store
        self.path = f"{store.url}/{JOURNAL}"
        self._records: dict[int, dict] = {}  # commit objects never change: read each once

    def _listing(self) -> tuple[list[int], set[int]]:
        commits, done = [], set()
        for key in self.store._keys(JOURNAL):
            name = key.rsplit("/", 1)[-1]
            stem, _, ext = name.partition(".")
            if not stem.isdigit():
                continue
            if ext == "json":
                commits.append(int(stem))
            elif ext == "done":
                done.add(int(stem))
        return sorted(commits), done

    def _record(self, n: int) -> dict:
        if n not in self._records:
            key = self.store._key(f"{JOURNAL}{n:020d}.json")
            raw = self.store._get(key)
            try:
                rec = json.loads(raw)
                why = validate(rec)
            except ValueError as exc:
                why = f"not JSON ({exc})"
            if why is not None:
                raise StoreDamaged(f"s3://{self.store.bucket}/{key}: damaged commit: {why}")
            self._records[n] = rec
        return self._records[n]

    def numbered(self) -> list[tuple[int, Txn]]:
        """(commit number, transaction) for every commit, oldest first."""
        commits, done = self._listing()
        out = []
        for n in commits:
            r = self._record(n)
            t = Txn(
                r["txn"],
                r.get("objects", []),
                r.get("files", []),
                r.get("remove", []),
                r.get("quarantine"),
                r.get("time", 0.0),
                done=n in done,
            )
            out.append((n, t))
        return out

    def transactions(self) -> list[Txn]:
        return [t for _, t in self.numbered()]


class NoInventory:
    """The interface inventory of a store on S3: none is kept there (``vpcflow interfaces sync``
    needs a local store), so every look-up is empty and a sync is refused."""

    def __init__(self, url: str):
        self.url = url

    def __bool__(self) -> bool:
        return False

    def files(self) -> list:
        return []

    def history(self) -> list[dict]:
        return []

    def latest(self) -> dict[str, dict]:
        return {}

    def table(self):
        from .inventory.history import interfaces_table

        return interfaces_table([])

    def names(self):
        from .inventory.history import Names

        return Names([])

    def add(self, *_a, **_kw):
        raise StoreError(f"{self.url}: the interface inventory is kept in local stores only")


class S3Store:
    """A vpcflow store under ``s3://BUCKET/PREFIX``. Use ``S3Store.create_or_open(url)``.

    Written by the Spark ingest (``ingest(..., engine="spark")`` in ``vpcflow.api``), read by the
    Spark engine; the native ingest and the DuckDB engine need a local store."""

    remote = True

    def __init__(self, url: str):
        self.bucket, self.prefix = split_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.path = self.url  # what messages name; not a filesystem path
        self.manifest = S3Journal(self)
        self.inventory = NoInventory(self.url)
        self._base: set[str] | None = None  # the commits a writer saw when it started

    # -- objects ------------------------------------------------------------------------------

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _uri(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self._key(rel)}"

    def _keys(self, rel_prefix: str, with_time: bool = False) -> Iterator:
        s3 = _s3()
        with aws.aws_errors(self._uri(rel_prefix)):
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(rel_prefix)
            )
            for page in pages:
                for o in page.get("Contents", []):
                    yield (o["Key"], o["LastModified"].timestamp()) if with_time else o["Key"]

    def _get(self, key: str) -> bytes:
        with aws.aws_errors(f"s3://{self.bucket}/{key}"):
            return _s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _put_new(self, key: str, body: bytes) -> bool:
        """Create ``key`` only if it does not exist (If-None-Match: *); False if it does."""
        try:
            _s3().put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            with aws.aws_errors(f"s3://{self.bucket}/{key}"):
                raise
        return True

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def create_or_open(cls, url: str, create: bool = True) -> S3Store:
        store = cls(url)
        marker = store._key(MARKER)
        meta = None
        try:
            raw = _s3().get_object(Bucket=store.bucket, Key=marker)["Body"].read()
        except Exception as exc:
            if _code(exc) not in ("NoSuchKey", "404"):
                with aws.aws_errors(store.url):
                    raise
        else:
            try:
                meta = json.loads(raw)
            except ValueError as exc:
                raise StoreError(
                    f"{store.url}: store marker {MARKER} is unreadable: {exc}"
                ) from exc
        if meta is not None:
            if meta.get("format") != STORE_FORMAT:
                raise StoreError(f"{store.url}: store format {meta.get('format')} is not supported")
        elif not create:
            raise StoreError(
                f"{store.url}: no vpcflow store here; run "
                f"'vpcflow ingest SOURCE --engine spark --store {store.url}' first"
            )
        else:
            if next(store._keys(""), None) is not None:
                raise StoreError(
                    f"{store.url}: not a vpcflow store (no {MARKER}) and not empty; "
                    "pick an empty prefix for --store"
                )
            body = json.dumps(
                {
                    "format": STORE_FORMAT,
                    "created": time.time(),
                    "schema": list(schema.COLUMNS),
                    "partition": ["date"],
                }
            ).encode()
            store._put_new(marker, body)  # lost a race with another creator: theirs is ours
        return store

    def close(self) -> None:
        """Nothing is held open; layers above add theirs."""

    def __enter__(self) -> S3Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _invalidate(self) -> None:
        """The store's files changed (a commit): a hook for layers that cache what they read."""

    # -- reading ------------------------------------------------------------------------------

    def files(self) -> list[str]:
        """The Parquet files of the store, as ``s3://`` URIs (applied commits only)."""
        return [self._uri(f["path"]) for f in self.manifest.live_files()]

    def count(self) -> int:
        return sum(f["rows"] for f in self.manifest.live_files())

    def assert_intact(self) -> None:
        """The manifest is the only list of files; S3 does not lose acknowledged objects."""

    def first_damaged(self) -> None:
        """Not verified here (``check`` works on local stores only)."""
        return None

    def info(self) -> dict:
        files = self.manifest.live_files()
        parts = sorted({Path(f["path"]).parent.name.split("=", 1)[1] for f in files})
        objects = self.manifest.ingested()
        return {
            "store": self.url,
            "records": sum(f["rows"] for f in files),
            "tgw_records": sum(
                f["rows"] for f in files if Path(f["path"]).parts[0] == schema.TGW.directory
            ),
            "files": len(files),
            "bytes": sum(f.get("size") or 0 for f in files),
            "objects_ingested": sum(1 for o in objects.values() if "reingest" not in o),
            "first_date": parts[0] if parts else None,
            "last_date": parts[-1] if parts else None,
            "partitions": len(parts),
        }

    def quarantined(self) -> Iterator[dict]:
        for t in self.manifest.transactions():
            if t.done and t.quarantine:
                for line in self._get(self._key(t.quarantine)).decode().splitlines():
                    if line.strip():
                        yield json.loads(line)

    # -- writing ------------------------------------------------------------------------------

    def ingest(self, sources, **_options):
        raise StoreError(
            f"{self.url}: a store on S3 is written by the Spark ingest: add --engine spark "
            "(Python: store.ingest(..., engine='spark'))"
        )

    def compact(self, *_a, **_kw):
        raise StoreError(f"{self.url}: compact works on local stores only")

    def check(self, *_a, **_kw):
        raise StoreError(f"{self.url}: check works on local stores only")

    def stage_url(self, txn: str) -> str:
        """Where the files of transaction ``txn`` wait before it commits."""
        return self._uri(f"_vpcflow/staging/{txn}")

    def put_staged(self, txn: str, name: str, body: bytes) -> None:
        key = self._key(f"_vpcflow/staging/{txn}/{name}")
        with aws.aws_errors(f"s3://{self.bucket}/{key}"):
            _s3().put_object(Bucket=self.bucket, Key=key, Body=body)

    def location(self, rel: str) -> str:
        return self._uri(rel)

    # The same selection of objects as a local store: resolve every source, skip what the journal
    # holds (the function reads only ``self.manifest``).
    from . import Store as _Local

    _objects = _Local._objects
    del _Local

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """Roll forward commits that were not applied and sweep stale staging; writers do not
        lock each other out (see the module docstring: commits are conditional)."""
        for _, t in self.manifest.numbered():
            if not t.done:
                log.info("rolling forward transaction %s left by an interrupted run", t.txn)
                self._apply(t)
        self._sweep_staging()
        # What this writer saw: a commit made after this by another writer that covers one of
        # the objects it is about to ingest is a conflict (see ``_commit``).
        self._base = {t.txn for t in self.manifest.transactions()}
        try:
            yield
        finally:
            self._base = None

    def _sweep_staging(self) -> None:
        known = {t.txn for t in self.manifest.transactions()}
        cutoff = time.time() - STALE_STAGING_S
        stale = [
            k
            for k, mtime in self._keys("_vpcflow/staging/", with_time=True)
            if mtime < cutoff and k.split("/_vpcflow/staging/")[-1].split("/")[0] not in known
        ]
        self._delete(stale)

    def _delete(self, keys: list[str]) -> None:
        s3 = _s3()
        for i in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[i : i + 1000]]
            with aws.aws_errors(self.url):
                s3.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})

    def abort(self, txn: str) -> None:
        """Remove what a transaction staged (it did not commit)."""
        self._delete(list(self._keys(f"_vpcflow/staging/{txn}/")))

    def _commit(self, txn: Txn) -> None:
        """Commit ``txn`` with the next free journal number, then apply it."""
        mine = {(o["uri"], o.get("version", "")) for o in txn.objects}
        body = json.dumps(txn.as_commit(), separators=(",", ":")).encode()
        seen = self._base if self._base is not None else set()
        for _ in range(COMMIT_ATTEMPTS):
            numbered = self.manifest.numbered()
            clash = [
                t.txn
                for _, t in numbered
                if t.txn not in seen
                and mine & {(o["uri"], o.get("version", "")) for o in t.objects}
            ]
            if clash:
                self.abort(txn.txn)
                raise StoreWriteError(
                    f"{self.url}: another writer committed some of the same objects "
                    f"(transaction {clash[0]}) while this ingest ran; nothing of this run was "
                    "committed: run it again to ingest what is left"
                )
            n = numbered[-1][0] + 1 if numbered else 1
            if self._put_new(self._key(f"{JOURNAL}{n:020d}.json"), body):
                break
            log.info("commit %d was taken by another writer; trying the next", n)
        else:
            self.abort(txn.txn)
            raise StoreWriteError(f"{self.url}: could not commit after {COMMIT_ATTEMPTS} tries")
        self._apply(txn, n)

    def _apply(self, txn: Txn, n: int | None = None) -> None:
        """Copy the staged files into place and mark the commit done: idempotent."""
        s3 = _s3()
        if n is None:
            n = next(k for k, t in self.manifest.numbered() if t.txn == txn.txn)
        stage = Path(f"_vpcflow/staging/{txn.txn}")
        # Each data file with its rollups (``store.rollups``), written in the same transaction.
        moves = [
            (staged_path(stage, rel).as_posix(), rel)
            for f in txn.files
            for rel in [f["path"], *rollup_paths(f)]
        ]
        if txn.quarantine:
            moves.append(((stage / "quarantine.jsonl").as_posix(), txn.quarantine))
        for src, dst in moves:
            try:
                s3.copy({"Bucket": self.bucket, "Key": self._key(src)}, self.bucket, self._key(dst))
            except Exception as exc:
                if _code(exc) not in ("404", "NoSuchKey"):  # already moved by an earlier run
                    with aws.aws_errors(self._uri(dst)):
                        raise
        self._delete([self._key(p) for p in txn.remove])
        with aws.aws_errors(self.url):
            s3.put_object(Bucket=self.bucket, Key=self._key(f"{JOURNAL}{n:020d}.done"), Body=b"")
        self.abort(txn.txn)
        self._invalidate()
