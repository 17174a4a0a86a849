"""Ingest: objects from sources → parsed records → Parquet files of one transaction → commit.

One ingest is a series of transactions (see ``manifest``). Each collects whole objects until it
holds ``batch_rows`` records, then commits: its data files move from staging into ``data/`` and
its objects become "ingested" in the same step.

Parsing and Parquet encoding are CPU-bound, so many small objects (the S3 delivery: a file per
interface and five minutes) are handed to worker *processes*, one per core. Each worker reads,
parses and writes its own Parquet file per date into the transaction's staging directory and
reports counts and bad lines back; the parent only coordinates and commits. Workers die with
the parent (``PR_SET_PDEATHSIG``), so a killed ingest leaves only staging debris, which the next
writer deletes. Few objects are parsed in-process; a large object is streamed in-process chunk
by chunk and commits its progress so that a re-run resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import settings
from ..errors import FormatError, StoreWriteError, VpcflowError, write_failure
from ..parse import (
    BadLine,
    Layouts,
    iter_parquet,
    iter_text_chunks,
    parse_lines,
)
from ..sources import RawObject
from ..sources.local import open_decompressed
from .manifest import Txn
from .parts import CHUNK_BYTES, ObjectResult, PartWriter, read_object
from .workers import Workers, start_method

log = logging.getLogger("vpcflow")

# Objects up to this size (as stored) are ingested in one transaction (by a worker when there
# are many); larger ones commit their progress every batch and resume. Both stream: nothing
# is ever inflated whole in memory.
SMALL_OBJECT = 16 << 20
# Worker processes start once an ingest has seen this much small-object input (as stored); the
# parent parses objects itself until then, and while they start.
PARALLEL_AFTER_BYTES = 2 << 20
MAX_PROBLEMS = 200


@dataclass
class IngestReport:
    """What an ingest did. ``problems`` lists bad lines and unreadable files (first 200)."""

    files: int = 0
    records: int = 0
    bad_lines: int = 0
    skipped_files: int = 0
    failed_files: int = 0
    empty_files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    workers: int = 1
    problems: list[dict] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)
    # Field names the catalogue does not know: their values are kept in ``extra_fields``.
    unknown_fields: set[str] = field(default_factory=set)
    tgw_records: int = 0
    # Lines that are neither records nor bad lines, by reason: header, blank, comment.
    skipped_lines: dict[str, int] = field(default_factory=dict)
    # Files of a directory left out as not being flow-log objects (first 200), and how many.
    ignored_files: list[str] = field(default_factory=list)
    ignored: int = 0

    def ignore(self, path: str) -> None:
        self.ignored += 1
        if len(self.ignored_files) < MAX_PROBLEMS:
            self.ignored_files.append(path)

    def skip_lines(self, skipped: dict[str, int]) -> None:
        for k, v in skipped.items():
            self.skipped_lines[k] = self.skipped_lines.get(k, 0) + v

    _COUNTS = ("files", "records", "bad_lines", "failed_files", "empty_files", "bytes")

    def snapshot(self) -> dict:
        """The counters as they stand (what is committed, when taken right after a commit)."""
        snap = {k: getattr(self, k) for k in self._COUNTS}
        snap["skipped_lines"] = dict(self.skipped_lines)
        snap["quarantine"] = list(self.quarantine)
        return snap

    def restore(self, snap: dict) -> None:
        for k, v in snap.items():
            setattr(self, k, v)

    def problem(
        self, path: str, reason: str, line: int | None = None, field_name: str = ""
    ) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(
                {"path": path, "line": line, "field": field_name, "reason": reason}
            )

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "records": self.records,
            "bad_lines": self.bad_lines,
            "skipped_files": self.skipped_files,
            "failed_files": self.failed_files,
            "empty_files": self.empty_files,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds else None,
            "workers": self.workers,
            "skipped_lines": self.skipped_lines,
            "ignored_files": self.ignored,
            "ignored": self.ignored_files,
            "problems": self.problems,
            "quarantine": self.quarantine,
            "unknown_fields": sorted(self.unknown_fields),
            "tgw_records": self.tgw_records,
        }


# -- the ingest loop -------------------------------------------------------------------------


class _Batch:
    """The transaction being built."""

    def __init__(self, stage_root: Path):
        self.txn = uuid.uuid4().hex[:16]
        self.stage = stage_root / self.txn
        self.local = PartWriter(self.stage, self.txn)
        self.objects: list[dict] = []
        self.bad: list[BadLine] = []
        self.rows = 0


class Ingest:
    """Run one ingest into ``store`` (which holds the writer lock)."""

    def __init__(
        self,
        store,
        report: IngestReport,
        log_format: str | None,
        progress: Callable[[dict], None] | None,
        batch_rows: int,
        done: dict,
    ):
        self.store = store
        self.report = report
        self.log_format = log_format
        self.progress = progress
        self.batch_rows = batch_rows
        self.done = done
        self.stage_root = store.path / "_vpcflow" / "staging"
        self.batch = _Batch(self.stage_root)
        self.workers: Workers | None = None
        self.seq = 0
        self.committed = report.snapshot()  # the report as of the last commit

    # progress and bookkeeping
    def tick(self) -> None:
        if self.progress:
            r = self.report
            self.progress(
                {
                    "files": r.files,
                    "records": r.records,
                    "bytes": r.bytes,
                    "bad_lines": r.bad_lines,
                    "skipped_files": r.skipped_files,
                }
            )

    def absorb(self, obj: RawObject, res: ObjectResult) -> None:
        r = self.report
        r.bytes += res.raw_bytes
        if res.error:
            r.failed_files += 1
            r.problem(obj.uri, res.error)
            log.warning("%s: %s", obj.uri, res.error)
        for b in res.bad:
            r.problem(b.path, b.reason, b.line, b.field)
        self.batch.bad.extend(res.bad)
        r.bad_lines += len(res.bad)
        r.records += res.records
        r.tgw_records += res.tgw_records
        r.skip_lines(res.skipped)
        self.batch.rows += res.records
        # Unknown fields are kept (extra_fields); the ingest names them once, at the end.
        r.unknown_fields |= res.unknown_fields
        if res.error is None or res.records or res.bad:
            # Readable objects (even empty or all-bad ones) are recorded; an object that failed
            # before yielding anything is not, so that a re-run tries it again.
            r.files += 1
            if res.records == 0 and not res.bad and res.error is None:
                r.empty_files += 1
                r.problem(obj.uri, "file is empty (no records)")
            self.batch.objects.append(
                entry(obj, res.records, len(res.bad), res.error, complete=True)
            )
        self.tick()

    def commit(self) -> None:
        """Close the batch's files and commit them with its objects; start a new batch.

        A failed write (full disk, read-only file system) rolls the batch back: its staging is
        deleted, its objects stay un-ingested (the next run takes them again), the report goes
        back to what was committed, and ``StoreWriteError`` says so."""
        try:
            self._commit_batch()
        except StoreWriteError as exc:
            if exc.committed:  # the commit line is durable: the batch counts
                self.committed = self.report.snapshot()
            raise self._rolled_back(exc) from exc
        self.committed = self.report.snapshot()

    def _rolled_back(self, exc: StoreWriteError) -> StoreWriteError:
        """Drop the batch being written after a failed write; the error to raise."""
        if exc.report is not None:  # already rolled back
            return exc
        self.batch.local.abort()
        shutil.rmtree(self.batch.stage, ignore_errors=True)
        self.report.restore(self.committed)
        self.batch = _Batch(self.stage_root)
        r = self.report
        done = f"{r.records:,} records from {r.files:,} files are committed"
        if exc.committed:
            rest = "the next vpcflow command finishes moving the last batch into place"
        else:
            rest = "what was being written was rolled back and is ingested again by the next run"
        return StoreWriteError(
            f"{exc}; the ingest stopped: {done}, {rest}: make room and run the ingest again",
            report=r,
            committed=exc.committed,
        )

    def _commit_batch(self) -> None:
        b = self.batch
        if self.workers is not None:
            while self.workers.busy():
                for obj, res in self.workers.results():
                    self.absorb(obj, res)
            # The workers close their files while the parent closes its own.
            self.workers.flush_start()
            local = b.local.close()
            files = self.workers.flush_wait() + local
        else:
            files = b.local.close()
        if b.objects or files:
            quarantine = None
            if b.bad:
                quarantine = f"_vpcflow/quarantine/{b.txn}.jsonl"
                try:
                    b.stage.mkdir(parents=True, exist_ok=True)
                    with open(b.stage / "quarantine.jsonl", "w", encoding="utf-8") as fh:
                        for bad in b.bad:
                            fh.write(json.dumps(bad.as_dict()) + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                except OSError as exc:
                    raise write_failure(exc, b.stage / "quarantine.jsonl") from exc
                self.report.quarantine.append(str(self.store.path / quarantine))
            self.store._commit(Txn(b.txn, b.objects, files, [], quarantine, time.time()))
        else:
            shutil.rmtree(b.stage, ignore_errors=True)
        self.batch = _Batch(self.stage_root)

    def run(self, objects: Iterable[RawObject]) -> None:
        n_workers = max(1, settings.threads())
        if n_workers > 1:
            start_method()  # a malformed setting fails before any work, not a few MB in
        seen = 0  # bytes of small objects so far: worker processes pay off past a few MB
        try:
            for obj in objects:
                prev = self.done.get((obj.uri, obj.version)) or {}
                # A partly committed object resumes where it stopped, whatever its size.
                if obj.size is None or obj.size > SMALL_OBJECT or prev.get("resume"):
                    self.stream(obj)
                    continue
                seen += obj.size
                if self.workers is None and n_workers > 1 and seen >= PARALLEL_AFTER_BYTES:
                    self.workers = Workers(n_workers, self.stage_root, self.log_format)
                    self.report.workers = n_workers
                if self.workers is None:
                    self._parse_here(obj)
                else:
                    self._dispatch(obj)
            self.commit()
        except StoreWriteError as exc:
            raise self._rolled_back(exc) from exc
        finally:
            if self.workers is not None:
                self.workers.close()

    def _parse_here(self, obj: RawObject) -> None:
        local = self.batch.local
        res = read_object(obj, self.log_format, lambda t: local.add(t, obj.day))
        self.absorb(obj, res)
        if self.batch.rows >= self.batch_rows:
            self.commit()

    def _dispatch(self, obj: RawObject) -> None:
        w = self.workers
        if w.booting():  # the workers are still starting: parse this one here
            self._parse_here(obj)
            return
        while w.full():
            for done_obj, res in w.results():
                self.absorb(done_obj, res)
        self.seq += 1
        w.submit(self.seq, self.batch.txn, obj)
        if self.batch.rows >= self.batch_rows:
            self.commit()

    def stream(self, obj: RawObject) -> None:
        """Ingest one large object chunk by chunk, committing progress every ``batch_rows``."""
        r = self.report
        prev = self.done.get((obj.uri, obj.version)) or {}
        resume = prev.get("resume") if not prev.get("complete", True) else None
        records = prev.get("records", 0) if resume else 0
        bad_n = prev.get("bad_lines", 0) if resume else 0
        error = None

        def take(res) -> None:
            """Stage one parsed piece of the object and count it."""
            nonlocal records, bad_n
            for t in res.tables:
                self.batch.local.add(t, obj.day)
            r.unknown_fields |= res.unknown_fields
            r.tgw_records += res.tgw.num_rows if res.tgw is not None else 0
            self.batch.bad.extend(res.bad_lines)
            for b in res.bad_lines:
                r.problem(b.path, b.reason, b.line, b.field)
            records += res.records
            bad_n += len(res.bad_lines)
            r.records += res.records
            r.bad_lines += len(res.bad_lines)

        try:
            raw = obj.open()
            stream, kind = open_decompressed(raw)
        except (VpcflowError, OSError) as exc:
            r.failed_files += 1
            r.problem(obj.uri, str(exc) if isinstance(exc, VpcflowError) else f"cannot read: {exc}")
            return
        try:
            if kind == "parquet" or obj.kind == "parquet":
                # Parquet needs random access: spool to a temporary file, then read row groups.
                spool = tempfile.TemporaryFile()
                shutil.copyfileobj(stream, spool, 1 << 20)
                spool.seek(0)
                for res in iter_parquet(spool, path=obj.uri, defaults=obj.defaults):
                    take(res)
                    self.batch.rows += res.records
                    self.tick()
            else:
                layouts = Layouts(obj.log_format or self.log_format)
                skip = resume["bytes"] if resume else 0
                if resume and resume.get("header"):
                    layouts.set_header(resume["header"])
                consumed = 0
                for chunk, first_line in iter_text_chunks(stream, CHUNK_BYTES):
                    at = consumed
                    consumed += len(chunk)
                    if consumed <= skip:
                        continue
                    if at < skip:  # resume mid-chunk (the last run read other chunk sizes)
                        first_line += chunk.count(b"\n", 0, skip - at)
                        chunk = chunk[skip - at :]
                    res = parse_lines(
                        chunk,
                        path=obj.uri,
                        layouts=layouts,
                        first_line=first_line,
                        defaults=obj.defaults,
                    )
                    take(res)
                    r.skip_lines(res.skipped)
                    r.bytes += len(chunk)
                    self.batch.rows += res.records
                    self.tick()
                    if self.batch.rows >= self.batch_rows:
                        header = [f.name for f in layouts.header] if layouts.header else None
                        self.batch.objects.append(
                            entry(
                                obj,
                                records,
                                bad_n,
                                None,
                                complete=False,
                                resume={"bytes": consumed, "header": header},
                            )
                        )
                        self.commit()
        except (EOFError, zlib.error) as exc:
            error = f"{exc}; the records before the damage were stored"
        except FormatError as exc:
            error = str(exc)
        except OSError as exc:  # reading only: write failures are StoreWriteError
            error = f"cannot read: {exc}"
        finally:
            stream.close()
        if error:
            r.failed_files += 1
            r.problem(obj.uri, error)
        r.files += 1
        self.batch.objects.append(entry(obj, records, bad_n, error, complete=True))
        self.commit()


def entry(
    obj: RawObject,
    records: int,
    bad: int,
    error: str | None,
    complete: bool,
    resume: dict | None = None,
) -> dict:
    """The manifest entry of one object."""
    e = {
        "uri": obj.uri,
        "version": obj.version,
        "size": obj.size,
        "records": records,
        "bad_lines": bad,
        "complete": complete,
        "time": time.time(),
    }
    if error:
        e["error"] = error
    if obj.state:
        e["state"] = obj.state
    if resume:
        e["resume"] = resume
    return e
