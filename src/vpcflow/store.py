"""The store: a directory of Hive-partitioned Parquet plus a manifest of ingested objects.

    STORE/
      vpcflow-store.json                 marker: this directory is a vpcflow store
      data/date=YYYY-MM-DD/part-*.parquet  the records, readable as-is by DuckDB, Spark, Athena
      _vpcflow/manifest.jsonl            journal of transactions (see ``manifest``)
      _vpcflow/quarantine/*.jsonl        lines that could not be stored, with file, line, reason
      _vpcflow/staging/                  files of a transaction before it commits

Ingest is incremental (an object already in the manifest with the same version is skipped),
atomic (see ``manifest``: a SIGKILL at any moment leaves whole files only, and a re-run ends with
exactly the right records) and streaming (objects are parsed chunk by chunk and written as
Parquet row groups; a large object commits its progress and resumes where it stopped).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import schema, settings
from .errors import FormatError, StoreError, VpcflowError
from .manifest import Manifest, Txn
from .parse import (
    BadLine,
    Layouts,
    iter_parquet,
    iter_text_chunks,
    looks_like_json,
    parse_bytes,
    parse_lines,
)
from .sources import RawObject, resolve
from .sources.local import open_decompressed

log = logging.getLogger("vpcflow")

__all__ = ["Store", "IngestReport", "open_store"]

MARKER = "vpcflow-store.json"
STORE_FORMAT = 1
ROW_GROUP_ROWS = 262_144
# Objects up to this size (as stored) are parsed whole by a worker thread; larger ones stream.
SMALL_OBJECT = 16 << 20
CHUNK_BYTES = 8 << 20
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
    problems: list[dict] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)

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
            "problems": self.problems,
            "quarantine": self.quarantine,
        }


@dataclass
class _ObjectResult:
    obj: RawObject
    tables: list[pa.Table]
    bad: list[BadLine]
    records: int = 0
    raw_bytes: int = 0
    error: str | None = None
    unknown_fields: set[str] = field(default_factory=set)


def _date_column(table: pa.Table, fallback: date | None) -> pa.Array:
    days = pc.cast(
        pc.floor(pc.divide(pc.cast(table.column("start"), pa.float64()), 86400.0)), pa.int32()
    )
    dates = pc.cast(days, pa.date32())
    if fallback is not None and dates.null_count:
        dates = pc.fill_null(dates, pa.scalar(fallback, pa.date32()))
    return dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates


class _Writer:
    """Per-date Parquet writers for one transaction, in staging."""

    def __init__(self, store: Store):
        self.store = store
        self.txn = uuid.uuid4().hex[:16]
        self.stage = store._staging / self.txn
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.objects: list[dict] = []
        self.bad: list[BadLine] = []
        self.total_rows = 0

    def add(self, table: pa.Table, fallback_day: date | None) -> None:
        if not table.num_rows:
            return
        dates = _date_column(table, fallback_day)
        uniq = pc.unique(dates)
        for d in uniq.to_pylist():
            part = (
                table
                if len(uniq) == 1
                else table.filter(
                    pc.is_null(dates) if d is None else pc.equal(dates, pa.scalar(d, pa.date32()))
                )
            )
            key = d.isoformat() if d is not None else "__HIVE_DEFAULT_PARTITION__"
            self.buffers.setdefault(key, []).append(part)
            self.buffered[key] = self.buffered.get(key, 0) + part.num_rows
            self.total_rows += part.num_rows
            if self.buffered[key] >= ROW_GROUP_ROWS:
                self._flush(key)

    def _flush(self, key: str) -> None:
        tables = self.buffers.pop(key, [])
        self.buffered.pop(key, None)
        if not tables:
            return
        w = self.writers.get(key)
        if w is None:
            path = self.stage / f"date={key}" / f"part-{self.txn}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            w = pq.ParquetWriter(
                path,
                schema.arrow_schema(),
                compression="zstd",
                compression_level=1,
                write_statistics=True,
            )
            self.writers[key] = w
        t = pa.concat_tables(tables)
        w.write_table(t, row_group_size=ROW_GROUP_ROWS)
        self.rows[key] = self.rows.get(key, 0) + t.num_rows

    def commit(self) -> Txn | None:
        for key in list(self.buffers):
            self._flush(key)
        for w in self.writers.values():
            w.close()
        if not self.objects and not self.writers:
            shutil.rmtree(self.stage, ignore_errors=True)
            return None
        files = [
            {"path": f"data/date={key}/part-{self.txn}.parquet", "rows": n}
            for key, n in sorted(self.rows.items())
        ]
        quarantine = None
        if self.bad:
            quarantine = f"_vpcflow/quarantine/{self.txn}.jsonl"
            qpath = self.stage / "quarantine.jsonl"
            qpath.parent.mkdir(parents=True, exist_ok=True)
            with open(qpath, "w", encoding="utf-8") as fh:
                for b in self.bad:
                    fh.write(json.dumps(b.as_dict()) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        for key in self.rows:
            _fsync_file(self.stage / f"date={key}" / f"part-{self.txn}.parquet")
        txn = Txn(self.txn, self.objects, files, [], quarantine, time.time())
        self.store._commit(txn)
        return txn


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """A vpcflow store. Use ``open_store(path)``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser().resolve()
        self._meta = self.path / "_vpcflow"
        self._staging = self._meta / "staging"
        self.manifest = Manifest(self._meta / "manifest.jsonl")
        self._engine = None

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def create_or_open(cls, path: str | os.PathLike, create: bool = True) -> Store:
        p = Path(path).expanduser()
        marker = p / MARKER
        if p.exists() and not p.is_dir():
            raise StoreError(f"{p}: is a file, not a vpcflow store directory")
        if marker.exists():
            try:
                meta = json.loads(marker.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise StoreError(f"{p}: store marker {MARKER} is unreadable: {exc}") from exc
            if meta.get("format") != STORE_FORMAT:
                raise StoreError(
                    f"{p}: store format {meta.get('format')} is not supported by this vpcflow"
                )
        elif p.exists() and any(p.iterdir()):
            raise StoreError(
                f"{p}: not a vpcflow store (no {MARKER}) and not empty; "
                "pick an empty or new directory for --store"
            )
        elif not create:
            raise StoreError(
                f"{p}: no vpcflow store here; run 'vpcflow ingest SOURCE --store {p}' first"
            )
        else:
            p.mkdir(parents=True, exist_ok=True)
            (p / "data").mkdir(exist_ok=True)
            tmp = p / (MARKER + ".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "format": STORE_FORMAT,
                        "created": time.time(),
                        "schema": list(schema.COLUMNS),
                        "partition": ["date"],
                    }
                )
            )
            os.replace(tmp, marker)
        store = cls(p)
        store.recover(blocking=False)
        return store

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _lock(self, blocking: bool = True) -> Iterator[bool]:
        self._meta.mkdir(parents=True, exist_ok=True)
        fh = open(self._meta / "lock", "a+")
        try:
            flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(fh, flags)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            fh.close()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        with self._lock(blocking=False) as got:
            if not got:
                raise StoreError(
                    f"{self.path}: another vpcflow process is writing to this store; try again when it ends"
                )
            self._recover_locked()
            yield

    # -- transactions -------------------------------------------------------------------------

    def _commit(self, txn: Txn) -> None:
        self.manifest.append(txn.as_commit())
        self._apply(txn)

    def _apply(self, txn: Txn) -> None:
        """Roll a committed transaction forward: idempotent."""
        stage = self._staging / txn.txn
        for f in txn.files:
            final = self.path / f["path"]
            staged = stage / Path(f["path"]).relative_to("data")
            if staged.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
        if txn.quarantine:
            staged = stage / "quarantine.jsonl"
            if staged.exists():
                final = self.path / txn.quarantine
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
        for p in txn.remove:
            (self.path / p).unlink(missing_ok=True)
        self.manifest.append({"op": "done", "txn": txn.txn})
        shutil.rmtree(stage, ignore_errors=True)
        self._invalidate()

    def recover(self, blocking: bool = True) -> bool:
        """Finish or discard what a crashed writer left. False if another writer is active."""
        with self._lock(blocking=blocking) as got:
            if got:
                self._recover_locked()
            return got

    def _recover_locked(self) -> None:
        committed = {t.txn: t for t in self.manifest.transactions()}
        for t in committed.values():
            if not t.done:
                log.info("rolling forward transaction %s left by an interrupted run", t.txn)
                self._apply(t)
        # Under the lock, whatever is left in staging belongs to no live transaction: either
        # never committed (the objects will be ingested again) or already applied.
        if self._staging.exists():
            for d in self._staging.iterdir():
                shutil.rmtree(d, ignore_errors=True)

    def _invalidate(self) -> None:
        if self._engine is not None:
            self._engine.refresh()

    # -- reading ----------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The Parquet files of the store (committed transactions only)."""
        return [self.path / f["path"] for f in self.manifest.live_files()]

    def count(self) -> int:
        """Records in the store, from the manifest (no data is read)."""
        return sum(f["rows"] for f in self.manifest.live_files())

    @property
    def engine(self):
        if self._engine is None:
            from .engines import default_engine

            self._engine = default_engine(self)
        return self._engine

    def sql(
        self,
        query: str,
        dialect: str = "athena",
        *,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Run a read-only SQL query over ``vpc_flow_logs``; Athena (Trino) dialect by default."""
        return self.query(query, dialect, limit=limit, timeout=timeout).table

    def query(
        self,
        query: str,
        dialect: str = "athena",
        *,
        limit: int | None = None,
        timeout: float | None = None,
    ):
        """Like ``sql`` but returns a ``QueryResult`` (table, truncated, sql)."""
        return self.engine.query(query, dialect=dialect, limit=limit, timeout=timeout)

    # -- writing ----------------------------------------------------------------------------

    def ingest(
        self,
        sources: Iterable[str | RawObject] | str,
        *,
        log_format: str | None = None,
        progress: Callable[[dict], None] | None = None,
        batch_rows: int | None = None,
        **source_options,
    ) -> IngestReport:
        """Ingest SOURCES (paths, globs, ``-``, ``s3://…``, ``cloudwatch://…`` or ``RawObject``s).

        Objects already ingested (same URI and version) are skipped. Bad lines are counted,
        reported and kept in the quarantine; an unreadable object is reported and the rest go on.
        """
        if isinstance(sources, str):
            sources = [sources]
        if log_format:
            schema.parse_log_format(log_format)  # fail early on a bad format
        batch_rows = batch_rows or int(settings.get("batch_rows"))
        report = IngestReport()
        started = time.perf_counter()
        with self._writer():
            done = self.manifest.ingested()
            objects = self._objects(sources, done, report, log_format, source_options)
            self._run(objects, report, log_format, progress, batch_rows, done)
        report.seconds = time.perf_counter() - started
        return report

    def _objects(self, sources, done, report, log_format, options) -> Iterator[RawObject]:
        # Resolve every SOURCE first so that a missing path fails before anything is written.
        resolved = []
        # Remote sources read the manifest to skip known objects before download and to
        # resume (CloudWatch stream positions).
        options = {"manifest": self.manifest, **options}
        for s in sources:
            resolved.append(
                [s] if isinstance(s, RawObject) else resolve(s, log_format=log_format, **options)
            )
        for it in resolved:
            for obj in it:
                prev = done.get((obj.uri, obj.version))
                if obj.version and prev is not None and prev.get("complete", True):
                    report.skipped_files += 1
                    continue
                yield obj

    def _run(self, objects, report, log_format, progress, batch_rows, done) -> None:
        writer = _Writer(self)
        workers = max(1, settings.threads())

        def tick():
            if progress:
                progress(
                    {
                        "files": report.files,
                        "records": report.records,
                        "bytes": report.bytes,
                        "bad_lines": report.bad_lines,
                        "skipped_files": report.skipped_files,
                    }
                )

        def absorb(res: _ObjectResult) -> None:
            nonlocal writer
            obj = res.obj
            report.bytes += res.raw_bytes
            if res.error:
                report.failed_files += 1
                report.problem(obj.uri, res.error)
                log.warning("%s: %s", obj.uri, res.error)
            for t in res.tables:
                writer.add(t, obj.day)
            n_bad = len(res.bad)
            for b in res.bad:
                report.problem(b.path, b.reason, b.line, b.field)
            writer.bad.extend(res.bad)
            report.bad_lines += n_bad
            report.records += res.records
            if res.unknown_fields:
                report.problem(
                    obj.uri,
                    "ignored unknown fields in header: " + ", ".join(sorted(res.unknown_fields)),
                )
            if res.error is None or res.records or n_bad:
                # Readable objects (even empty or all-bad ones) are recorded; an object that
                # failed before yielding anything is not, so a re-run tries it again.
                report.files += 1
                if res.records == 0 and n_bad == 0 and res.error is None:
                    report.empty_files += 1
                    report.problem(obj.uri, "file is empty (no records)")
                writer.objects.append(
                    self._entry(obj, res.records, n_bad, res.error, complete=True)
                )
            tick()
            if writer.total_rows >= batch_rows:
                self._finish(writer, report)
                writer = _Writer(self)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vpcflow-parse")
        pending: list = []
        try:
            for obj in objects:
                if obj.size is not None and obj.size <= SMALL_OBJECT:
                    pending.append(pool.submit(_read_whole, obj, log_format))
                    while len(pending) > 2 * workers:
                        absorb(pending.pop(0).result())
                    continue
                while pending:
                    absorb(pending.pop(0).result())
                # A large object streams in the main thread, committing its progress.
                self._finish(writer, report)
                writer = _Writer(self)
                writer = self._stream(obj, log_format, writer, report, batch_rows, done, tick)
            while pending:
                absorb(pending.pop(0).result())
            self._finish(writer, report)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, writer: _Writer, report: IngestReport) -> None:
        txn = writer.commit()
        if txn is not None and txn.quarantine:
            report.quarantine.append(str(self.path / txn.quarantine))

    @staticmethod
    def _entry(
        obj: RawObject,
        records: int,
        bad: int,
        error: str | None,
        complete: bool,
        resume: dict | None = None,
    ) -> dict:
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

    def _stream(self, obj, log_format, writer, report, batch_rows, done, tick) -> _Writer:
        """Ingest one large object chunk by chunk; commit progress every ``batch_rows``."""
        prev = done.get((obj.uri, obj.version)) or {}
        resume = prev.get("resume") if not prev.get("complete", True) else None
        records = prev.get("records", 0) if resume else 0
        bad_n = prev.get("bad_lines", 0) if resume else 0
        error = None
        try:
            raw = obj.open()
        except VpcflowError as exc:
            report.failed_files += 1
            report.problem(obj.uri, str(exc))
            return writer
        except OSError as exc:
            report.failed_files += 1
            report.problem(obj.uri, f"cannot read: {exc}")
            return writer
        stream, kind = open_decompressed(raw)
        try:
            if kind == "parquet" or obj.kind == "parquet":
                # Parquet needs random access: spool to a temporary file, then read row groups.
                results = iter_parquet(_spool(stream), path=obj.uri, defaults=obj.defaults)
                for res in results:
                    writer.add(res.table, obj.day)
                    records += res.records
                    report.records += res.records
                    tick()
            else:
                layouts = Layouts(obj.log_format or log_format)
                skip = resume["bytes"] if resume else 0
                if resume and resume.get("header"):
                    layouts.set_header(resume["header"])
                consumed = 0
                for chunk, first_line in iter_text_chunks(stream, CHUNK_BYTES):
                    if consumed + len(chunk) <= skip:
                        consumed += len(chunk)
                        continue
                    consumed += len(chunk)
                    res = parse_lines(
                        chunk,
                        path=obj.uri,
                        layouts=layouts,
                        first_line=first_line,
                        defaults=obj.defaults,
                    )
                    writer.add(res.table, obj.day)
                    writer.bad.extend(res.bad_lines)
                    for b in res.bad_lines:
                        report.problem(b.path, b.reason, b.line, b.field)
                    records += res.records
                    bad_n += len(res.bad_lines)
                    report.records += res.records
                    report.bad_lines += len(res.bad_lines)
                    report.bytes += len(chunk)
                    tick()
                    if writer.total_rows >= batch_rows:
                        header = (
                            [f.name if f else "-" for f in layouts.header]
                            if layouts.header
                            else None
                        )
                        writer.objects.append(
                            self._entry(
                                obj,
                                records,
                                bad_n,
                                None,
                                complete=False,
                                resume={"bytes": consumed, "line": first_line, "header": header},
                            )
                        )
                        self._finish(writer, report)
                        writer = _Writer(self)
        except EOFError as exc:
            error = f"{exc}; the records before the damage were stored"
        except (FormatError, OSError, ValueError, zlib.error) as exc:
            error = str(exc)
        if error:
            report.failed_files += 1
            report.problem(obj.uri, error)
        report.files += 1
        writer.objects.append(self._entry(obj, records, bad_n, error, complete=True))
        return writer

    # -- maintenance ------------------------------------------------------------------------

    def compact(self, target_rows: int = 8_000_000) -> dict:
        """Merge the small files of each date partition into files of up to ``target_rows``."""
        merged = 0
        written = 0
        with self._writer():
            by_date: dict[str, list[dict]] = {}
            for f in self.manifest.live_files():
                by_date.setdefault(Path(f["path"]).parent.name, []).append(f)
            for part, files in sorted(by_date.items()):
                if len(files) < 2:
                    continue
                txn_id = uuid.uuid4().hex[:16]
                stage = self._staging / txn_id / part
                stage.mkdir(parents=True, exist_ok=True)
                new_files = []
                w = None
                rows = 0
                idx = 0
                for f in files:
                    pf = pq.ParquetFile(self.path / f["path"])
                    for i in range(pf.num_row_groups):
                        t = pf.read_row_group(i)
                        if w is None or rows >= target_rows:
                            if w is not None:
                                w.close()
                                new_files[-1]["rows"] = rows
                            name = f"part-{txn_id}-{idx}.parquet"
                            idx += 1
                            w = pq.ParquetWriter(
                                stage / name,
                                schema.arrow_schema(),
                                compression="zstd",
                                compression_level=3,
                            )
                            new_files.append({"path": f"data/{part}/{name}", "rows": 0})
                            rows = 0
                        w.write_table(t.cast(schema.arrow_schema()), row_group_size=ROW_GROUP_ROWS)
                        rows += t.num_rows
                if w is not None:
                    w.close()
                    new_files[-1]["rows"] = rows
                for nf in new_files:
                    _fsync_file(self._staging / txn_id / Path(nf["path"]).relative_to("data"))
                self._commit(
                    Txn(txn_id, [], new_files, [f["path"] for f in files], None, time.time())
                )
                merged += len(files)
                written += len(new_files)
        return {"files_merged": merged, "files_written": written}

    def info(self) -> dict:
        files = self.manifest.live_files()
        parts = sorted({Path(f["path"]).parent.name.split("=", 1)[1] for f in files})
        objects = self.manifest.ingested()
        return {
            "store": str(self.path),
            "records": sum(f["rows"] for f in files),
            "files": len(files),
            "bytes": sum(
                (self.path / f["path"]).stat().st_size
                for f in files
                if (self.path / f["path"]).exists()
            ),
            "objects_ingested": len(objects),
            "first_date": parts[0] if parts else None,
            "last_date": parts[-1] if parts else None,
            "partitions": len(parts),
        }

    def quarantined(self) -> Iterator[dict]:
        """Every quarantined line: path, line, field, reason, text."""
        qdir = self._meta / "quarantine"
        if not qdir.exists():
            return
        for p in sorted(qdir.glob("*.jsonl")):
            with open(p, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)


def _spool(stream):
    import tempfile

    tmp = tempfile.TemporaryFile()
    shutil.copyfileobj(stream, tmp, 1 << 20)
    tmp.seek(0)
    return tmp


def _read_whole(obj: RawObject, log_format: str | None) -> _ObjectResult:
    """Read and parse one small object completely (runs in a worker thread)."""
    try:
        raw = obj.open()
    except VpcflowError as exc:
        return _ObjectResult(obj, [], [], error=str(exc))
    except OSError as exc:
        return _ObjectResult(obj, [], [], error=f"cannot read: {exc}")
    error = None
    try:
        stream, kind = open_decompressed(raw)
        chunks = []
        try:
            while True:
                b = stream.read(CHUNK_BYTES)
                if not b:
                    break
                chunks.append(b)
        except EOFError as exc:
            error = f"{exc}; the records before the damage were stored"
        except (OSError, ValueError, zlib.error) as exc:
            error = f"cannot decompress: {exc}"
        finally:
            stream.close()
    except OSError as exc:
        return _ObjectResult(obj, [], [], error=f"cannot read: {exc}")
    data = b"".join(chunks)
    if error and data:
        # Keep only whole lines of a damaged stream.
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
    try:
        if kind == "parquet" or obj.kind == "parquet":
            res = parse_bytes(data, path=obj.uri, defaults=obj.defaults)
        elif looks_like_json(data):
            res = parse_bytes(
                data, path=obj.uri, log_format=obj.log_format or log_format, defaults=obj.defaults
            )
        else:
            res = parse_lines(
                data,
                path=obj.uri,
                layouts=Layouts(obj.log_format or log_format),
                defaults=obj.defaults,
            )
    except FormatError as exc:
        return _ObjectResult(obj, [], [], raw_bytes=len(data), error=str(exc))
    return _ObjectResult(
        obj, [res.table], res.bad_lines, res.records, len(data), error, res.unknown_fields
    )


def open_store(path: str | os.PathLike | None = None, create: bool = True) -> Store:
    """Open the store at ``path`` (default: ``$VPCFLOW_STORE`` or the per-user data dir).

    ``create=True`` makes a new store in a missing or empty directory; a non-empty directory
    that is not a store is refused.
    """
    return Store.create_or_open(path or settings.get("store"), create=create)
