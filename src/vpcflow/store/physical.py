"""The store's physical design: how records are arranged and encoded in its Parquet files.

The logical schema is ``schema.arrow_schema()`` and every column a file stores has its type
(plain INT32, INT64 and UTF8 columns that Spark, Trino/Athena and DuckDB read as they are); only
which columns are stored, the order of records within a row group and the Parquet encodings are
chosen here:

- each row group is sorted by ``SORT_COLUMNS``: the addresses queries group on, then the
  start time. Records of one conversation end up next to each other, so the address columns
  become long runs of one dictionary index, and the times of a pair are close to each other.
  Row groups still follow the order in which objects arrive, so their ``start`` statistics
  stay narrow for time-range filters.
- string columns are dictionary-encoded before the sort (moving indices, not strings) and
  written as the dictionaries they are;
- columns in ``DELTA_COLUMNS`` (times, sorted within a pair, and byte counts, cheaper to
  read so) use DELTA_BINARY_PACKED, those in ``PLAIN_COLUMNS`` (ports, where a dictionary
  costs more than it saves) PLAIN; every other column a dictionary, as Parquet writers do by
  default;
- a file stores every column of the schema (``stored_columns``; a file with fewer columns,
  written by a later design, reads them as NULL).

A column the catalogue adds later simply gets the default (dictionary) encoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import schema

ROW_GROUP_ROWS = 1 << 20  # 1,048,576: larger groups compress better, but each is buffered
SORT_COLUMNS = ("srcaddr", "dstaddr", "start")
# Times, sorted within an address pair, are smaller delta-coded than PLAIN under zstd (start
# 14 %, end 7 % on flow logs) and cheaper to write (zstd gets less to compress). Byte counts are
# near-random and 11 % larger delta-coded than PLAIN, but a reader decodes them 3x faster: PLAIN
# INT64 makes zstd inflate 8 bytes a record, the bit-packed deltas about 2 (a day's sum(bytes) in
# DuckDB on 2 cores, 20M records: 104 ms PLAIN, 34 ms delta) -- the dashboard's volumes and every
# top-N by bytes read that column. Ports, read less, stay PLAIN: zstd compresses them best.
DELTA_COLUMNS: tuple[str, ...] = ("start", "end", "bytes")
PLAIN_COLUMNS = ("srcport", "dstport")
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1


def physical_schema(logical: pa.Schema | None = None) -> pa.Schema:
    """``logical`` (default ``schema.arrow_schema()``) with its string columns as dictionaries
    (as written)."""
    logical = logical if logical is not None else schema.arrow_schema()
    return pa.schema(
        [
            pa.field(f.name, pa.dictionary(pa.int32(), f.type), nullable=True)
            if pa.types.is_string(f.type)
            else f
            for f in logical
        ]
    )


def slim(table: pa.Table) -> pa.Table:
    """``table`` as it is buffered until its row group is written: without its columns that
    hold no value (``arrange`` puts them back; fields absent from the records' format are most
    of the catalogue), its strings dictionary-encoded (about a third of the memory: addresses,
    interface ids and actions repeat; ``arrange`` unifies the parts' dictionaries)."""
    n = table.num_rows
    keep = [i for i, c in enumerate(table.columns) if c.null_count < n]
    cols = []
    for i in keep:
        col = table.column(i)
        if pa.types.is_string(col.type):
            col = pc.dictionary_encode(col)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=[table.schema.names[i] for i in keep])


def arrange(
    tables: pa.Table | list[pa.Table], logical: pa.Schema | None = None, consume: bool = False
) -> pa.Table:
    """Records of ``logical`` (default ``schema.arrow_schema()``; one table, or ``slim`` parts
    of one) as one row group to write: dictionary-encoded and sorted. With ``consume``, the
    list ``tables`` is emptied and each column's parts are let go as soon as that column is
    encoded, so that memory holds about one copy of the records, not three."""
    logical = logical if logical is not None else schema.arrow_schema()
    parts = [tables] if isinstance(tables, pa.Table) else list(tables)
    if consume and isinstance(tables, list):
        tables.clear()
    n = sum(t.num_rows for t in parts)
    target = physical_schema(logical)
    # Columns with no value at all (fields absent from the records' format) are not moved.
    pieces: dict[str, list[pa.Array]] = {}
    for fld in logical:
        where = [t.schema.get_field_index(fld.name) for t in parts]
        if all(i < 0 for i in where):  # no part has a value here: nothing to allocate
            continue
        chunks = []
        for t, i in zip(parts, where, strict=True):
            chunks.extend(t.column(i).chunks if i >= 0 else [pa.nulls(t.num_rows, fld.type)])
        pieces[fld.name] = chunks
    del parts  # from here on, a column's parts live only in ``pieces``
    filled: dict[str, pa.Array] = {}
    keys: dict[str, np.ndarray] = {}
    for fld in logical:
        name = fld.name
        chunks = pieces.pop(name, None)
        if not chunks:
            continue
        if sum(c.null_count for c in chunks) == n:
            continue
        if pa.types.is_string(fld.type):
            # Parts encoded as they were buffered (``slim``) get one dictionary between them;
            # others are encoded here, part by part (they share the final dictionary): the
            # strings are hashed once and never copied.
            plain = [not pa.types.is_dictionary(c.type) for c in chunks]
            if all(plain):
                enc = pc.dictionary_encode(pa.chunked_array(chunks, fld.type))
            else:
                if any(plain):
                    chunks = [
                        pc.dictionary_encode(c) if p else c
                        for c, p in zip(chunks, plain, strict=True)
                    ]
                enc = pa.chunked_array(chunks, target.field(name).type).unify_dictionaries()
            del chunks
            indices = pa.concat_arrays([c.indices for c in enc.chunks])
            arr = pa.DictionaryArray.from_arrays(indices, enc.chunk(0).dictionary)
            del enc
            if name in SORT_COLUMNS:
                # first-appearance codes: the sort groups equal values, the order is arbitrary
                keys[name] = indices.fill_null(-1).to_numpy()
        else:
            arr = pa.chunked_array(chunks, fld.type).combine_chunks()
            del chunks
            if name in SORT_COLUMNS:
                keys[name] = arr.fill_null(0).to_numpy()
        filled[name] = arr
    order = _order([keys[c] for c in SORT_COLUMNS if c in keys], n)
    del keys
    if order is not None:
        for name in list(filled):  # one column at a time: one unsorted copy at most
            filled[name] = _take(filled[name], order)
    # One all-NULL array per type stands for every column without a value (most of the
    # catalogue): allocating each anew costs more than sorting the rest.
    nulls: dict[pa.DataType, pa.Array] = {}
    for f in target:
        if f.name not in filled and f.type not in nulls:
            nulls[f.type] = pa.nulls(n, f.type)
    return pa.Table.from_arrays(
        [filled[f.name] if f.name in filled else nulls[f.type] for f in target],
        schema=target,
    )


def _order(keys: list[np.ndarray], n: int) -> np.ndarray | None:
    """The permutation that sorts by ``keys`` (first key first), or None if nothing to sort."""
    if not keys or n < 2:
        return None
    # One 64-bit key when the parts fit (dictionary codes < n, offsets from the minimum), so
    # that one argsort replaces a multi-key lexsort.
    parts = [k.astype(np.int64) - k.min() for k in keys]
    widths = [max(1, int(p.max()).bit_length()) for p in parts]
    if sum(widths) > 63:
        return np.lexsort(keys[::-1])  # lexsort sorts by its last key first
    combined = np.zeros(n, dtype=np.uint64)
    for p, w in zip(parts, widths, strict=True):
        combined = (combined << np.uint64(w)) | p.astype(np.uint64)
    return np.argsort(combined)


def _take(arr: pa.Array, order: np.ndarray) -> pa.Array:
    """``arr`` permuted by ``order`` (numpy's gather; Arrow's take is slower here)."""
    if isinstance(arr, pa.DictionaryArray):
        return pa.DictionaryArray.from_arrays(_take(arr.indices, order), arr.dictionary)
    if pa.types.is_nested(arr.type):  # extra_fields (a MAP): Arrow's own take
        return arr.take(pa.array(order))
    if not arr.null_count:
        return pa.array(arr.to_numpy()[order], type=arr.type)
    values = arr.fill_null(0).to_numpy()[order]
    mask = arr.is_null().to_numpy(zero_copy_only=False)[order]
    return pa.array(values, type=arr.type, mask=mask)


def stored_columns(table: pa.Table) -> frozenset[str]:
    """The columns of an arranged row group that a file stores: every column of the table's
    schema. (Leaving out the columns no record has a value in would make encoding three times
    cheaper -- each costs a definition level per record -- but the day summaries, the SQL
    cache's key and readers of single files still expect every file to have every column.)"""
    return frozenset(table.schema.names)


def stored(table: pa.Table, columns: frozenset[str]) -> pa.Table:
    """The part of an arranged row group that a file storing ``columns`` writes."""
    return table.select([name for name in table.schema.names if name in columns])


def writer(
    path: Path, logical: pa.Schema | None = None, columns: frozenset[str] | None = None
) -> pq.ParquetWriter:
    """A Parquet writer of the store's physical design at ``path`` for records of ``logical``
    (default ``schema.arrow_schema()``), storing ``columns`` of it (default: all)."""
    logical = logical if logical is not None else schema.arrow_schema()
    if columns is not None:
        logical = pa.schema([f for f in logical if f.name in columns])
    flat = [f.name for f in logical if not pa.types.is_nested(f.type)]
    encodings = {c: "DELTA_BINARY_PACKED" for c in DELTA_COLUMNS if c in flat}
    encodings.update({c: "PLAIN" for c in PLAIN_COLUMNS if c in flat})
    return pq.ParquetWriter(
        path,
        physical_schema(logical),
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=[c for c in flat if c not in encodings],
        column_encoding=encodings,
        # Readers take the column types from Parquet's own logical types (string, not the
        # dictionary type used for writing).
        store_schema=False,
    )
