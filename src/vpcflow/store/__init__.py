"""The store: a directory of Hive-partitioned Parquet plus a manifest of ingested objects.

This is the storage layer: files, the manifest, ingest and compaction. It knows nothing of the
engines that query it or the analyses above them (``vpcflow.api.Store`` adds those).

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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .. import schema, settings
from ..errors import StoreDamaged, StoreError, StoreWriteError, write_failure
from ..sources import RawObject, resolve
from .manifest import Manifest, Txn, rollup_paths, staged_path

# Ingest (the parser, Arrow compute, the Parquet writer) loads when a store is written to, so
# that opening a store to query it stays cheap.
if TYPE_CHECKING:
    import pyarrow as pa

    from .ingest import IngestReport

log = logging.getLogger("vpcflow")

__all__ = ["Store", "IngestReport", "open_store"]

MARKER = "vpcflow-store.json"
STORE_FORMAT = 1
INVENTORY_DIR = Path("_vpcflow") / "interfaces"  # the interface inventory's snapshots


class Store:
    """A vpcflow store. Use ``open_store(path)``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser().resolve()
        self._meta = self.path / "_vpcflow"
        self._staging = self._meta / "staging"
        self.manifest = Manifest(self._meta / "manifest.jsonl")
        self._inventory = None

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
        try:
            store.recover(blocking=False)
        except (OSError, StoreWriteError) as exc:  # a read-only store is still readable
            log.info("%s: not recovering: %s", p, exc)
        except StoreDamaged as exc:  # queries say so; `vpcflow check --repair` mends it
            log.info("%s", exc)
        return store

    def close(self) -> None:
        """Release what the store holds open (nothing here; layers above add theirs)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _lock(self, blocking: bool = True) -> Iterator[bool]:
        try:
            self._meta.mkdir(parents=True, exist_ok=True)
            fh = open(self._meta / "lock", "a+")
        except OSError as exc:  # a read-only store: one line, not a traceback
            err = write_failure(exc, self.path)
            raise StoreWriteError(
                f"{err}; it can be queried, but ingest, compact and check --repair need "
                "write access"
            ) from exc
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
        try:
            self.manifest.append(txn.as_commit())
        except OSError as exc:  # nothing committed; the journal is as it was
            raise write_failure(exc, self.manifest.path) from exc
        try:
            self._apply(txn)
        except OSError as exc:  # committed: the next writer or open rolls it forward
            err = write_failure(exc, self.path / "data")
            err.committed = True
            raise err from exc

    def _apply(self, txn: Txn) -> None:
        """Roll a committed transaction forward: idempotent."""
        stage = self._staging / txn.txn
        for rel in [p for f in txn.files for p in [f["path"], *rollup_paths(f)]]:
            final = self.path / rel
            staged = staged_path(stage, rel)
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
        """The store's files changed (a commit): a hook for layers that cache what they read."""

    # -- reading ----------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The Parquet files of the store (committed transactions only)."""
        return [self.path / f["path"] for f in self.manifest.live_files()]

    def assert_intact(self) -> None:
        """Raise ``StoreDamaged`` naming the first data file that is missing or whose size is
        not the one recorded at commit (a stat per file; ``check`` reads them in full)."""
        for f in self.manifest.live_files():
            why = self._quick_damage(f)
            if why:
                raise StoreDamaged(
                    f"{self.path / f['path']}: {why}; "
                    f"run 'vpcflow check --repair --store {self.path}'"
                )

    def first_damaged(self) -> tuple[Path, str] | None:
        """The first data file whose content is not what was committed, and why (each read in
        full, as ``check`` does), or None: for a read error that names no file, such as DuckDB's
        "Corrupted file?" on a damaged page of a file of the right size."""
        from .check import verify_file

        for f in self.manifest.live_files():
            why = verify_file(self.path, f)
            if why:
                return self.path / f["path"], why
        return None

    def _quick_damage(self, f: dict) -> str | None:
        try:
            size = (self.path / f["path"]).stat().st_size
        except FileNotFoundError:
            return "data file is missing"
        except OSError as exc:
            return f"data file cannot be read: {exc.strerror}"
        if f.get("size") is not None and size != f["size"]:
            return f"data file has {size:,} bytes, {f['size']:,} when committed"
        return None

    def count(self) -> int:
        """Records in the store, from the manifest (no data is read)."""
        return sum(f["rows"] for f in self.manifest.live_files())

    @property
    def inventory(self):
        """The interface inventory kept beside the records (``vpcflow.store.inventory``)."""
        if self._inventory is None:
            from .inventory import Inventory

            self._inventory = Inventory(self)
        return self._inventory

    def inventory_files(self) -> list[Path]:
        """The inventory's snapshot files (what ``inventory.files()`` lists, without loading the
        inventory package)."""
        d = self.path / INVENTORY_DIR
        return sorted(d.glob("snapshot-*.parquet")) if d.is_dir() else []

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
        A failed write (full disk, read-only store) raises ``StoreWriteError`` whose ``report``
        counts what was committed; the rest is rolled back and ingested by the next run.
        """
        if isinstance(sources, str):
            sources = [sources]
        if log_format:
            schema.parse_log_format(log_format)  # fail early on a bad format
        batch_rows = batch_rows or int(settings.get("batch_rows"))
        from .ingest import Ingest, IngestReport

        report = IngestReport()
        started = time.perf_counter()
        source_options.setdefault("on_ignored", report.ignore)
        try:
            with self._writer():
                done = self.manifest.ingested()
                objects = self._objects(sources, done, report, log_format, source_options)
                Ingest(self, report, log_format, progress, batch_rows, done).run(objects)
        finally:
            report.seconds = time.perf_counter() - started
        if report.unknown_fields:
            names = ", ".join(sorted(report.unknown_fields))
            log.warning(
                "fields not in the catalogue were kept in extra_fields: %s "
                "(query them as extra_fields['name'])",
                names,
            )
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

    # -- maintenance ------------------------------------------------------------------------

    def compact(self, target_rows: int = 8_000_000) -> dict:
        """Merge the small files of each date partition into files of up to ``target_rows``."""
        import pyarrow as pa
        import pyarrow.parquet as pq  # the write path only: a query never needs it

        from .parts import PartWriter

        merged = 0
        written = 0
        with self._writer():
            self.assert_intact()
            by_date: dict[str, list[dict]] = {}
            for f in self.manifest.live_files():
                by_date.setdefault(str(Path(f["path"]).parent), []).append(f)
            tables = {t.directory: t for t in schema.TABLES}
            for part, files in sorted(by_date.items()):
                if len(files) < 2:
                    continue
                txn_id = uuid.uuid4().hex[:16]
                tbl = tables[Path(part).parts[0]]
                key = Path(part).name.split("=", 1)[1]
                new_files: list[dict] = []
                writer, rows = None, 0
                for f in files:
                    try:
                        pf = pq.ParquetFile(self.path / f["path"])
                    except (pa.ArrowInvalid, OSError) as exc:
                        raise StoreDamaged(
                            f"{self.path / f['path']}: data file is damaged ({exc}); "
                            f"run 'vpcflow check --repair --store {self.path}'"
                        ) from exc
                    for i in range(pf.num_row_groups):
                        if writer is None or rows >= target_rows:
                            if writer is not None:
                                new_files += writer.close()
                            writer = PartWriter(
                                self._staging / txn_id, f"{txn_id}-{len(new_files)}"
                            )
                            rows = 0
                        t = _conform(pf.read_row_group(i), tbl)
                        writer.add_part(key, t, tbl)
                        rows += t.num_rows
                if writer is not None:
                    new_files += writer.close()
                gone = [p for f in files for p in [f["path"], *rollup_paths(f)]]
                self._commit(Txn(txn_id, [], new_files, gone, None, time.time()))
                merged += len(files)
                written += len(new_files)
        return {"files_merged": merged, "files_written": written}

    # -- rollups ---------------------------------------------------------------------------

    def rollup_status(self, name: str, since: int | None = None, until: int | None = None) -> dict:
        """Whether every data file whose records may start in [since, until) (epoch seconds,
        None: open) has the current rollup ``name`` (``store.rollups``): ``complete``, with
        ``current`` (the rollup files) and ``missing`` (data files without it)."""
        from . import rollups

        if name not in rollups.ROLLUPS:
            raise StoreError(f"no rollup named {name!r}; known: {', '.join(rollups.ROLLUPS)}")
        return rollups.status(self.manifest.live_files(), rollups.ROLLUPS[name], since, until)

    def rollup_files(self, name: str) -> list[Path]:
        """The current files of rollup ``name`` (a reader checks ``rollup_status`` first)."""
        return [self.path / p for p in self.rollup_status(name)["current"]]

    def rebuild_rollups(self, names: Iterable[str] | None = None, batch: int = 64) -> dict:
        """Write the rollups that data files lack (written before a rollup existed, by a Spark
        ingest, with other parameters, or damaged), ``batch`` files per transaction. Returns
        how many files and rollups were written."""
        from . import rollups

        names = list(names or rollups.enabled())
        unknown = sorted(set(names) - set(rollups.ROLLUPS))
        if unknown:
            raise StoreError(
                f"no rollup named {', '.join(unknown)}; known: {', '.join(rollups.ROLLUPS)}"
            )
        with self._writer():
            self.assert_intact()
            return self._rebuild_rollups_locked([rollups.ROLLUPS[n] for n in names], batch)

    def _rebuild_rollups_locked(self, wanted: list, batch: int = 64) -> dict:
        from . import rollups
        from .parts import write_rollups

        live = self.manifest.live_files()
        todo: dict[str, list] = {}
        for r in wanted:
            for p in rollups.status(live, r)["missing"]:
                todo.setdefault(p, []).append(r)
        by_path = {f["path"]: f for f in live}
        tables = {t.directory: t for t in schema.TABLES}
        paths = sorted(todo)
        written = 0
        for lo in range(0, len(paths), batch):
            txn_id = uuid.uuid4().hex[:16]
            stage = self._staging / txn_id
            entries, gone = [], []
            for p in paths[lo : lo + batch]:
                f = by_path[p]
                logical = tables[Path(p).parts[0]].arrow_schema()
                try:
                    summary = rollups.summarise_file(self.path / p, todo[p], logical)
                    new = write_rollups(stage, p, summary, tag=txn_id)
                except OSError as exc:
                    shutil.rmtree(stage, ignore_errors=True)
                    raise write_failure(exc, stage) from exc
                old = f.get("rollups", {})
                gone += [old[n]["path"] for n in new if n in old]
                entries.append({**f, "rollups": {**old, **new}})
                written += len(new)
            self._commit(Txn(txn_id, [], entries, gone, None, time.time()))
        return {"files": len(paths), "rollups_written": written}

    # -- day summaries ---------------------------------------------------------------------

    def summary_status(
        self,
        name: str,
        since: int | None = None,
        until: int | None = None,
        country: str | None = None,
    ):
        """Whether every day with records starting in [since, until) has a current day summary
        ``name`` (``store.summaries``): ``complete``, ``days`` (day -> its files), ``missing``.
        ``country``: the version of the country lookup the ``seen`` summary was written with."""
        from . import rollups, summaries

        if name not in summaries.SUMMARIES:
            known = ", ".join(summaries.SUMMARIES)
            raise StoreError(f"no day summary named {name!r}; known: {known}")
        first, last = rollups._day_range(since, until)
        live = self.manifest.live_files()
        return summaries.status(self.path, live, name, first, last, country)

    def build_summaries(self, names: Iterable[str] | None = None, country=None) -> dict:
        """Write the day summaries that are missing or stale (a day ingested or compacted since
        they were written); ``names``: some of ``store.summaries.SUMMARIES``. Returns how many
        were ``written`` and how many were ``current`` already. ``country``: (version, country, network)
        functions of the address database that the ``seen`` summary needs (the storage layer
        has none)."""
        from . import summaries

        names = list(names or summaries.SUMMARIES)
        unknown = sorted(set(names) - set(summaries.SUMMARIES))
        if unknown:
            known = ", ".join(summaries.SUMMARIES)
            raise StoreError(f"no day summary named {', '.join(unknown)}; known: {known}")
        self.assert_intact()
        try:
            return summaries.build(self.path, self.manifest.live_files(), names, country=country)
        except OSError as exc:
            raise write_failure(exc, self.path / summaries.SUMMARY_DIR) from exc

    def check(self, repair: bool = False) -> dict:
        """Verify every data file against the manifest (present, size and CRC-32 recorded at
        commit, readable Parquet with the recorded row count) and every manifest line.

        ``repair=True`` sets damaged manifest lines aside, drops missing or damaged files
        from the manifest and marks the objects they came from for re-ingest (see
        ``vpcflow.check``). Returns what was found and done."""
        from .check import check_store

        return check_store(self, repair=repair)

    def info(self) -> dict:
        files = self.manifest.live_files()
        parts = sorted({Path(f["path"]).parent.name.split("=", 1)[1] for f in files})
        objects = self.manifest.ingested()
        damaged = [f for f in files if self._quick_damage(f)]
        return {
            "store": str(self.path),
            "records": sum(f["rows"] for f in files),
            "tgw_records": sum(
                f["rows"] for f in files if Path(f["path"]).parts[0] == schema.TGW.directory
            ),
            "files": len(files),
            "bytes": sum(
                (self.path / f["path"]).stat().st_size
                for f in files
                if (self.path / f["path"]).exists()
            ),
            "damaged_files": len(damaged),
            "damaged_records": sum(f["rows"] for f in damaged),
            "objects_ingested": sum(1 for o in objects.values() if "reingest" not in o),
            "objects_to_reingest": sum(1 for o in objects.values() if "reingest" in o),
            "first_date": parts[0] if parts else None,
            "last_date": parts[-1] if parts else None,
            "partitions": len(parts),
            "interfaces": sum(1 for r in self.inventory.latest().values() if not r["seen_until"]),
            "interface_snapshots": len(self.inventory.files()),
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


def _conform(t: pa.Table, tbl: schema.Table) -> pa.Table:
    """Records of an older file in today's store schema: a field the catalogue gained since the
    file was written is taken from its ``extra_fields`` (where it was kept), other columns the
    file lacks are NULL. ``extra_fields`` itself is kept as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = tbl.arrow_schema()
    extra = t.column(schema.EXTRA_COLUMN) if schema.EXTRA_COLUMN in t.column_names else None
    cols = []
    for f in target:
        have = t.column(f.name).cast(f.type) if f.name in t.column_names else None
        fld = tbl.by_column.get(f.name)
        newer = fld is not None and (have is None or fld.version > schema.STORED_COLUMNS_SINCE)
        if extra is not None and newer:
            values = pc.map_lookup(extra, pa.scalar(fld.name), "first")
            try:
                values = pc.cast(values, f.type)
                have = values if have is None else pc.coalesce(have, values)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                log.warning("compact: %s values kept in extra_fields only", fld.name)
        cols.append(have if have is not None else pa.nulls(t.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=target)


def open_store(path: str | os.PathLike | None = None, create: bool = True) -> Store:
    """Open the store at ``path`` (default: ``$VPCFLOW_STORE`` or the per-user data dir).

    ``create=True`` makes a new store in a missing or empty directory; a non-empty directory
    that is not a store is refused.
    """
    return Store.create_or_open(path or settings.get("store"), create=create)


def __getattr__(name):
    if name == "IngestReport":  # re-exported, loaded on first use
        from .ingest import IngestReport

        return IngestReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
