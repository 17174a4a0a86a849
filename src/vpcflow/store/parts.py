"""One object read and parsed (``read_object``), and the Parquet files of a transaction
(``PartWriter``): the work that the ingest does in-process and its workers do in parallel.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import FormatError, VpcflowError
from ..parse import BadLine, Layouts, looks_like_json, parse_bytes, parse_lines
from ..sources import RawObject
from ..sources.local import open_decompressed
from . import physical

ROW_GROUP_ROWS = physical.ROW_GROUP_ROWS
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
    tables: list[pa.Table] = field(default_factory=list)


def _date_column(table: pa.Table, fallback: date | None) -> pa.Array:
    secs = pc.cast(table.column("start"), pa.float64())
    days = pc.cast(pc.floor(pc.divide(secs, 86400.0)), pa.int32())
    dates = pc.cast(days, pa.date32())
    if fallback is not None and dates.null_count:
        dates = pc.fill_null(dates, pa.scalar(fallback, pa.date32()))
    return dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates


class PartWriter:
    """One Parquet file per date partition, in a transaction's staging directory.

    Records are buffered per partition up to a row group, which is arranged and encoded as
    ``physical`` says (sorted by address, dictionaries, delta-coded times) when it is written.
    """

    def __init__(self, stage: Path, name: str):
        self.stage = stage
        self.name = name
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered: dict[str, int] = {}
        self.rows: dict[str, int] = {}

    def add(self, table: pa.Table, fallback_day: date | None) -> None:
        if not table.num_rows:
            return
        dates = _date_column(table, fallback_day)
        uniq = pc.unique(dates)
        for d in uniq.to_pylist():
            if len(uniq) == 1:
                part = table
            elif d is None:
                part = table.filter(pc.is_null(dates))
            else:
                part = table.filter(pc.equal(dates, pa.scalar(d, pa.date32())))
            self.add_part(d.isoformat() if d is not None else "__HIVE_DEFAULT_PARTITION__", part)

    def add_part(self, key: str, table: pa.Table) -> None:
        """Add records that belong to partition ``date=key``."""
        self.buffers.setdefault(key, []).append(physical.slim(table))
        self.buffered[key] = self.buffered.get(key, 0) + table.num_rows
        if self.buffered[key] >= ROW_GROUP_ROWS:
            self._flush(key)

    def _flush(self, key: str) -> None:
        tables = self.buffers.pop(key, [])
        self.buffered.pop(key, None)
        if not tables:
            return
        w = self.writers.get(key)
        if w is None:
            path = self.stage / f"date={key}" / f"part-{self.name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            w = physical.writer(path)
            self.writers[key] = w
        t = physical.arrange(tables)
        w.write_table(t, row_group_size=max(t.num_rows, 1))
        self.rows[key] = self.rows.get(key, 0) + t.num_rows

    def close(self) -> list[dict]:
        """Finish every file (written and fsynced); return their manifest entries."""
        for key in list(self.buffers):
            self._flush(key)
        for w in self.writers.values():
            w.close()
        files = []
        for key, n in sorted(self.rows.items()):
            rel = f"date={key}/part-{self.name}.parquet"
            fsync_file(self.stage / rel)
            files.append({"path": f"data/{rel}", "rows": n})
        self.writers.clear()
        self.rows.clear()
        return files


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_object(obj: RawObject, log_format: str | None) -> ObjectResult:
    """Read and parse one object completely (small objects; in a worker or in-process)."""
    res = ObjectResult(obj.uri)
    try:
        raw = obj.open()
    except VpcflowError as exc:
        res.error = str(exc)
        return res
    except OSError as exc:
        res.error = f"cannot read: {exc}"
        return res
    chunks = []
    kind = "text"
    try:
        stream, kind = open_decompressed(raw)
        try:
            while b := stream.read(CHUNK_BYTES):
                chunks.append(b)
        except EOFError as exc:
            res.error = f"{exc}; the records before the damage were stored"
        except (OSError, ValueError, zlib.error) as exc:
            res.error = f"cannot decompress: {exc}"
        finally:
            stream.close()
    except OSError as exc:
        res.error = f"cannot read: {exc}"
        return res
    data = b"".join(chunks)
    res.raw_bytes = len(data)
    if res.error and data:  # keep only whole lines of a damaged stream
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
    fmt = obj.log_format or log_format
    try:
        if kind == "parquet" or obj.kind == "parquet":
            parsed = parse_bytes(data, path=obj.uri, defaults=obj.defaults)
        elif looks_like_json(data):
            parsed = parse_bytes(data, path=obj.uri, log_format=fmt, defaults=obj.defaults)
        else:
            parsed = parse_lines(data, path=obj.uri, layouts=Layouts(fmt), defaults=obj.defaults)
    except FormatError as exc:
        res.error = str(exc)
        return res
    res.tables = [parsed.table]
    res.records = parsed.records
    res.bad = parsed.bad_lines
    res.unknown_fields = parsed.unknown_fields
    return res
