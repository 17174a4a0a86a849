"""The store's manifest: an append-only journal of transactions.

Every change to the store is one transaction. Its data files are written under
``_vpcflow/staging/<txn>/`` first; then one ``commit`` line is appended (and fsynced) naming the
source objects it covers, the files it adds and the files it removes; then the files are renamed
into ``data/`` and a ``done`` line is appended. A crash before the commit line leaves only
staging debris (deleted on recovery; the objects are ingested again). A crash after it is rolled
forward on recovery: renames are idempotent. So a store is never left with half an ingest, and a
re-run never stores an object twice.

Lines are JSON objects. Only a torn *last* line (a crash mid-append: no line end) is ignored,
and the next append cuts it off; a failed append (a full disk) truncates what it wrote. Any other
line that does not read as a journal record — undecodable, not an object, a commit without the
fields it needs, a path outside ``data/`` — is damage: reading raises ``StoreDamaged`` naming the
line, and ``vpcflow check --repair`` sets it aside (``Manifest.scan`` reads leniently for that).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreDamaged

# What a path in the journal may look like: relative, inside the store's data/ (or the
# quarantine), no "..", no glob characters (DuckDB would expand them), no control characters.
_DATA_PATH = re.compile(r"(data|tgw)(/[A-Za-z0-9_.=:+-]+)+\.parquet")
_ROLLUP_PATH = re.compile(r"_vpcflow/rollups/[a-z0-9_]+/(data|tgw)(/[A-Za-z0-9_.=:+-]+)+\.parquet")
_QUARANTINE_PATH = re.compile(r"_vpcflow/quarantine/[A-Za-z0-9_.-]+\.jsonl")


def _bad_path(p, pattern: re.Pattern) -> str | None:
    if not isinstance(p, str):
        return f"path {p!r} is not a string"
    if not pattern.fullmatch(p) or any(part in (".", "..") for part in p.split("/")):
        return f"path {p!r} is not a file inside the store"
    return None


def validate(rec) -> str | None:
    """Why ``rec`` is not a well-formed journal record, or None."""
    if not isinstance(rec, dict):
        return f"a {type(rec).__name__}, not a JSON object"
    op = rec.get("op")
    if op not in ("commit", "done"):
        return f"unknown op {op!r}"
    if not isinstance(rec.get("txn"), str) or not rec["txn"]:
        return "no transaction id"
    if op == "done":
        return None
    objects, files, remove = rec.get("objects", []), rec.get("files", []), rec.get("remove", [])
    if not all(isinstance(x, list) for x in (objects, files, remove)):
        return "objects, files and remove must be lists"
    for o in objects:
        if not isinstance(o, dict) or not isinstance(o.get("uri"), str):
            return "an object entry without a uri"
    for f in files:
        if not isinstance(f, dict):
            return "a file entry that is not an object"
        if why := _bad_path(f.get("path"), _DATA_PATH):
            return why
        if not isinstance(f.get("rows"), int) or f["rows"] < 0:
            return f"file {f['path']!r} has no row count"
        rollups = f.get("rollups", {})
        if not isinstance(rollups, dict):
            return f"file {f['path']!r}: rollups must be an object"
        for name, r in rollups.items():
            if not isinstance(r, dict) or not isinstance(r.get("rows"), int):
                return f"file {f['path']!r}: rollup {name!r} has no row count"
            if why := _bad_path(r.get("path"), _ROLLUP_PATH):
                return why
    for p in remove:
        if _bad_path(p, _DATA_PATH) and (why := _bad_path(p, _ROLLUP_PATH)):
            return why
    q = rec.get("quarantine")
    if q is not None and (why := _bad_path(q, _QUARANTINE_PATH)):
        return why
    return None


@dataclass
class Txn:
    txn: str
    objects: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    quarantine: str | None = None
    time: float = 0.0
    done: bool = False

    def as_commit(self) -> dict:
        return {
            "op": "commit",
            "txn": self.txn,
            "time": self.time or time.time(),
            "objects": self.objects,
            "files": self.files,
            "remove": self.remove,
            "quarantine": self.quarantine,
        }


class JournalViews:
    """What a journal answers from its ``transactions()`` (the local manifest and a store on S3's
    journal share these)."""

    def transactions(self) -> list[Txn]:
        raise NotImplementedError

    def live_files(self, include_pending: bool = False) -> list[dict]:
        """Data files of finished transactions (with their row counts), oldest first."""
        return live_files(self.transactions(), include_pending)

    def ingested(self) -> dict[tuple[str, str], dict]:
        """(uri, version) -> the latest manifest entry for every object a commit covered."""
        out: dict[tuple[str, str], dict] = {}
        for t in self.transactions():
            for o in t.objects:
                out[(o["uri"], o.get("version", ""))] = o
        return out

    def entries(self, prefix: str = "") -> list[dict]:
        """Manifest entries of objects whose URI starts with ``prefix``, in commit order
        (sources use this to resume, e.g. CloudWatch stream positions in ``state``)."""
        return [o for t in self.transactions() for o in t.objects if o["uri"].startswith(prefix)]


class Manifest(JournalViews):
    """Read and append the journal at ``<store>/_vpcflow/manifest.jsonl``."""

    def __init__(self, path: Path):
        self.path = path
        self._cache: tuple[tuple[int, int], list[Txn]] | None = None

    def _lines(self, damaged: list[tuple[int, str]] | None = None) -> Iterator[dict]:
        """The records of the journal. A damaged line raises ``StoreDamaged``, or, with
        ``damaged`` given, is listed there as (line number, reason) and passed over."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        torn = lines.pop()  # after the last line end: b"" unless the last append was cut off
        for no, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                why = validate(rec)
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
                why = f"not JSON ({exc})"
            if why is None:
                yield rec
            elif damaged is not None:
                damaged.append((no, why))
            else:
                raise StoreDamaged(
                    f"{self.path}:{no}: damaged manifest line: {why}; "
                    f"run 'vpcflow check --repair --store {self.path.parent.parent}'"
                )
        if torn.strip():
            try:
                rec = json.loads(torn)
            except ValueError:
                return  # a torn last line from a crash mid-append: never committed
            if validate(rec) is None:
                yield rec

    def scan(self) -> tuple[list[Txn], list[tuple[int, str]]]:
        """Every readable transaction and the damaged lines, without raising (for ``check``)."""
        damaged: list[tuple[int, str]] = []
        return self._read(damaged), damaged

    def transactions(self) -> list[Txn]:
        """Every committed transaction, oldest first. Every query asks (for the live files),
        so the parsed journal is kept until the file changes."""
        try:
            st = self.path.stat()
            key = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        txns = self._read()
        self._cache = (key, txns)
        return txns

    def _read(self, damaged: list[tuple[int, str]] | None = None) -> list[Txn]:
        txns: dict[str, Txn] = {}
        for rec in self._lines(damaged):
            op, tid = rec.get("op"), rec.get("txn")
            if op == "commit":
                txns[tid] = Txn(
                    tid,
                    rec.get("objects", []),
                    rec.get("files", []),
                    rec.get("remove", []),
                    rec.get("quarantine"),
                    rec.get("time", 0.0),
                )
            elif op == "done" and tid in txns:
                txns[tid].done = True
        return list(txns.values())

    def append(self, record: dict) -> None:
        """Append one record durably (under the store's writer lock). Raises ``OSError`` with
        the journal as it was: a short or failed write is truncated away."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            keep = _end_of_last_line(fd, size)
            if keep < size:  # a torn last line left by a crash: it was never committed
                os.ftruncate(fd, keep)
                size = keep
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError:
                try:  # leave no torn line behind (it would read as damage)
                    os.ftruncate(fd, size)
                    os.fsync(fd)
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)


def _end_of_last_line(fd: int, size: int) -> int:
    """Offset just past the last line end of the file (0 if none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - (64 << 10))
        block = os.pread(fd, pos - start, start)
        nl = block.rfind(b"\n")
        if nl >= 0:
            return start + nl + 1
        pos = start
    return 0


def live_files(txns: list[Txn], include_pending: bool = False) -> list[dict]:
    """The data files that ``txns`` leave in the store, oldest first."""
    files: dict[str, dict] = {}
    for t in txns:
        if not (t.done or include_pending):
            continue
        for p in t.remove:
            files.pop(p, None)
        for f in t.files:
            files[f["path"]] = f
    return list(files.values())


def rollup_paths(entry: dict) -> list[str]:
    """The rollup files recorded with the data file of manifest entry ``entry``."""
    return [r["path"] for r in entry.get("rollups", {}).values()]


def staged_path(stage: Path, rel: str) -> Path:
    """Where the file ``rel`` (relative to the store: ``data/date=…/…``, ``tgw/date=…/…``,
    ``_vpcflow/rollups/…``) waits in a transaction's staging directory."""
    p = Path(rel)
    return stage / (p.relative_to("data") if p.parts[0] == "data" else p)
