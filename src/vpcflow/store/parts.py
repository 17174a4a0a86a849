"""One object read and parsed (``read_object``), and the Parquet files of a transaction
(``PartWriter``): the work that the ingest does in-process and its workers do in parallel.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import schema
from ..errors import FormatError, VpcflowError, write_failure
from ..parse import (
    BadLine,
    Layouts,
    ParseResult,
    iter_parquet,
    iter_text_chunks,
    looks_like_json,
    parse_json_lines,
    parse_lines,
)
from ..sources import RawObject
from ..sources.local import open_decompressed
from . import physical, rollups
from .manifest import staged_path

ROW_GROUP_ROWS = physical.ROW_GROUP_ROWS
# A partition's buffered records are written as a row group at ROW_GROUP_ROWS or at this many
# bytes, whichever comes first: very long records (16 kB interface ids) keep memory bounded.
# (Records of the default format hold about 80 bytes each as buffered: a million fit.)
ROW_GROUP_BYTES = 96 << 20
CHUNK_BYTES = 8 << 20


@dataclass
class ObjectResult:
    """One object read and parsed: counts and bad lines (tables stay where they were written)."""

    uri: str
    records: int = 0
    bad: list[BadLine] = field(default_factory=list)
    raw_bytes: int = 0
    error: str | None = None
    unknown_fields: set[str] = field(default_factory=set)
    skipped: dict[str, int] = field(default_factory=dict)
    tgw_records: int = 0

    def add(self, part: ParseResult) -> None:
        self.records += part.records
        self.bad.extend(part.bad_lines)
        self.unknown_fields |= part.unknown_fields
        self.tgw_records += part.tgw.num_rows if part.tgw is not None else 0
        for k, v in part.skipped.items():
            self.skipped[k] = self.skipped.get(k, 0) + v


def _date_column(table: pa.Table, fallback: date | None) -> pa.Array:
    secs = pc.cast(table.column("start"), pa.float64())
    days = pc.cast(pc.floor(pc.divide(secs, 86400.0)), pa.int32())
    dates = pc.cast(days, pa.date32())
    if fallback is not None and dates.null_count:
        dates = pc.fill_null(dates, pa.scalar(fallback, pa.date32()))
    return dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates


def table_of(table: pa.Table) -> schema.Table:
    """The flow-log table (VPC or Transit Gateway) whose store schema ``table`` has."""
    return schema.TGW if table.schema.equals(schema.TGW.arrow_schema()) else schema.VPC


class _File:
    """One Parquet file being written: its path in the store, the columns it stores, its rows
    and the partial summaries of its rollups."""

    def __init__(self, rel: str, writer: pq.ParquetWriter, columns: frozenset, summary):
        self.rel = rel
        self.writer = writer
        self.columns = columns
        self.rows = 0
        self.summary = summary


class PartWriter:
    """One Parquet file per table and date partition, in a transaction's staging directory.

    Keys are partition directories relative to the store: ``data/date=YYYY-MM-DD`` for VPC
    flow logs, ``tgw/date=YYYY-MM-DD`` for Transit Gateway flow logs. Records are buffered per
    partition up to a row group, which is arranged and encoded as ``physical`` says (sorted by
    address, dictionaries, delta-coded times) when it is written. A file stores the columns its
    first row group has values in (``physical.stored_columns``); a later row group of the same
    partition with values elsewhere (records of another format) starts the partition's next
    file, ``part-NAME-1.parquet`` and so on.
    """

    def __init__(self, stage: Path, name: str):
        self.stage = stage
        self.name = name
        self.open: dict[str, _File] = {}  # each key's file being written
        self.finished: list[_File] = []  # files closed to make room for another column set
        self.schemas: dict[str, pa.Schema] = {}  # the logical schema of each key's table
        self.tables: dict[str, schema.Table] = {}
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered: dict[str, int] = {}
        self.buffered_bytes: dict[str, int] = {}
        self.counts: dict[str, int] = {}  # files started per key

    def add(self, table: pa.Table, fallback_day: date | None) -> None:
        if not table.num_rows:
            return
        tbl = table_of(table)
        dates = _date_column(table, fallback_day)
        uniq = pc.unique(dates)
        for d in uniq.to_pylist():
            if len(uniq) == 1:
                part = table
            elif d is None:
                part = table.filter(pc.is_null(dates))
            else:
                part = table.filter(pc.equal(dates, pa.scalar(d, pa.date32())))
            day = d.isoformat() if d is not None else "__HIVE_DEFAULT_PARTITION__"
            self.add_part(day, part, tbl)

    def add_part(self, day: str, table: pa.Table, tbl: schema.Table = schema.VPC) -> None:
        """Add records of ``tbl`` that belong to partition ``date=day``."""
        key = f"{tbl.directory}/date={day}"
        if key not in self.schemas:
            self.schemas[key] = tbl.arrow_schema()
            self.tables[key] = tbl
        slim = physical.slim(table)
        self.buffers.setdefault(key, []).append(slim)
        self.buffered[key] = self.buffered.get(key, 0) + table.num_rows
        # what is held (the columns with values), not the all-NULL columns dropped above
        self.buffered_bytes[key] = self.buffered_bytes.get(key, 0) + slim.nbytes
        if self.buffered[key] >= ROW_GROUP_ROWS or self.buffered_bytes[key] >= ROW_GROUP_BYTES:
            self._flush(key)

    def _start(self, key: str, columns: frozenset) -> _File:
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        rel = f"{key}/part-{self.name}{f'-{n}' if n else ''}.parquet"
        path = staged_path(self.stage, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        logical = self.schemas[key]
        w = physical.writer(path, logical, columns)
        summary = rollups.Summariser(rollups.rollups_for(self.tables[key].name))
        return _File(rel, w, columns, summary)

    def _flush(self, key: str) -> None:
        tables = self.buffers.pop(key, [])
        self.buffered.pop(key, None)
        self.buffered_bytes.pop(key, None)
        if not tables:
            return
        f = self.open.get(key)
        path = staged_path(self.stage, f.rel if f else key)
        try:
            t = physical.arrange(tables, self.schemas[key], consume=True)
            columns = physical.stored_columns(t)
            if f is not None and not columns <= f.columns:
                f.writer.close()  # records with values in other columns: the next file
                self.finished.append(f)
                f = None
            if f is None:
                f = self._start(key, columns)
                self.open[key] = f
            path = staged_path(self.stage, f.rel)
            f.writer.write_table(physical.stored(t, f.columns), row_group_size=max(t.num_rows, 1))
            f.summary.add(t)
        except OSError as exc:  # a full disk, a read-only file system: the caller rolls back
            raise write_failure(exc, path) from exc
        f.rows += t.num_rows

    def close(self) -> list[dict]:
        """Finish every file (written and fsynced); return their manifest entries, each with
        the file's size and CRC-32 so that ``Store.check`` can verify it later."""
        for key in list(self.buffers):
            self._flush(key)
        files = []
        try:
            for f in self.open.values():
                f.writer.close()
            for f in sorted([*self.finished, *self.open.values()], key=lambda f: f.rel):
                size, crc = fsync_file(staged_path(self.stage, f.rel), checksum=True)
                entry = {"path": f.rel, "rows": f.rows, "size": size, "crc32": crc}
                if f.summary.rollups:
                    entry["rollups"] = write_rollups(self.stage, f.rel, f.summary)
                files.append(entry)
        except OSError as exc:
            raise write_failure(exc, self.stage) from exc
        self._clear()
        return files

    def abort(self) -> None:
        """Drop everything after a failed write (the caller deletes the staging directory)."""
        for f in self.open.values():
            try:
                f.writer.close()
            except OSError:
                f.writer.is_open = False  # else its finaliser tries (and reports) again
        self._clear()

    def _clear(self) -> None:
        self.open.clear()
        self.finished.clear()
        self.buffers.clear()
        self.buffered.clear()
        self.buffered_bytes.clear()
        self.schemas.clear()
        self.tables.clear()
        self.counts.clear()


def write_rollups(stage: Path, rel: str, summary: rollups.Summariser, tag: str = "") -> dict:
    """Write the rollups of the data file ``rel`` into the staging directory ``stage``; their
    entries for the data file's manifest entry (``rollups``: name -> path, rows, size, CRC)."""
    out = {}
    for name, (table, meta) in summary.finish().items():
        path = rollups.ROLLUPS[name].path_for(rel, tag)
        staged = staged_path(stage, path)
        rollups.write(staged, table)
        size, crc = fsync_file(staged, checksum=True)
        out[name] = {"path": path, "rows": table.num_rows, "size": size, "crc32": crc, **meta}
    return out


def file_crc32(path: Path) -> tuple[int, int]:
    """(size, CRC-32) of a file, read in blocks."""
    crc, size = 0, 0
    with open(path, "rb", buffering=0) as fh:
        while block := fh.read(1 << 20):
            crc = _crc32(block, crc)
            size += len(block)
    return size, crc


def fsync_file(path: Path, checksum: bool = False) -> tuple[int, int] | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return file_crc32(path) if checksum else None


try:  # ISA-L's CRC-32 is several times faster than zlib's; same values
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover
    _crc32 = zlib.crc32


def read_object(
    obj: RawObject, log_format: str | None, sink: Callable[[pa.Table], None]
) -> ObjectResult:
    """Read and parse one object, streaming: each parsed chunk goes to ``sink`` as it comes,
    so memory stays bounded whatever the object inflates to. Damage in a gzip stream (cut off,
    corrupt, bad CRC) keeps the whole lines before it and reports the rest."""
    res = ObjectResult(obj.uri)
    try:
        raw = obj.open()
        stream, kind = open_decompressed(raw)
    except VpcflowError as exc:
        res.error = str(exc)
        return res
    except OSError as exc:
        res.error = f"cannot read: {exc}"
        return res
    fmt = obj.log_format or log_format
    try:
        if kind == "parquet" or obj.kind == "parquet":
            data = stream.read()  # a small object as stored; Parquet needs random access
            res.raw_bytes = len(data)
            for part in iter_parquet(io.BytesIO(data), path=obj.uri, defaults=obj.defaults):
                res.add(part)
                for t in part.tables:
                    sink(t)
        else:
            layouts = Layouts(fmt)
            parser = None
            for chunk, first_line in iter_text_chunks(stream, CHUNK_BYTES):
                res.raw_bytes += len(chunk)
                if parser is None:
                    parser = parse_json_lines if looks_like_json(chunk) else parse_lines
                part = parser(
                    chunk,
                    path=obj.uri,
                    layouts=layouts,
                    first_line=first_line,
                    defaults=obj.defaults,
                )
                res.add(part)
                for t in part.tables:
                    sink(t)
    except EOFError as exc:
        res.error = f"{exc}; the records before the damage were stored"
    except zlib.error as exc:
        res.error = f"{exc}; the records before the damage were stored"
    except FormatError as exc:
        res.error = str(exc)
    except OSError as exc:  # reading only: write failures are StoreWriteError
        res.error = f"cannot read: {exc}"
    finally:
        stream.close()
    return res
