"""The store's manifest: an append-only journal of transactions.

Every change to the store is one transaction. Its data files are written under
``_vpcflow/staging/<txn>/`` first; then one ``commit`` line is appended (and fsynced) naming the
source objects it covers, the files it adds and the files it removes; then the files are renamed
into ``data/`` and a ``done`` line is appended. A crash before the commit line leaves only
staging debris (deleted on recovery; the objects are ingested again). A crash after it is rolled
forward on recovery: renames are idempotent. So a store is never left with half an ingest, and a
re-run never stores an object twice.

Lines are JSON. A torn last line (a crash mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


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


class Manifest:
    """Read and append the journal at ``<store>/_vpcflow/manifest.jsonl``."""

    def __init__(self, path: Path):
        self.path = path
        self._cache: tuple[tuple[int, int], list[Txn]] | None = None

    def _lines(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            data = fh.read()
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue  # a torn line from a crash mid-append

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

    def _read(self) -> list[Txn]:
        txns: dict[str, Txn] = {}
        for rec in self._lines():
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # A torn previous line would swallow this one: start on a fresh line.
            if os.fstat(fd).st_size:
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- views over the journal -------------------------------------------------------------

    def live_files(self, include_pending: bool = False) -> list[dict]:
        """Data files of finished transactions (with their row counts), oldest first."""
        files: dict[str, dict] = {}
        for t in self.transactions():
            if not (t.done or include_pending):
                continue
            for p in t.remove:
                files.pop(p, None)
            for f in t.files:
                files[f["path"]] = f
        return list(files.values())

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
