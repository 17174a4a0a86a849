"""Flow logs as AWS delivers them in Parquet (``FileFormat=parquet``), mapped onto the store schema."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import schema
from ..errors import FormatError
from ..schema import INT, Field
from .core import (
    BadLine,
    ParseResult,
    _empty_table,
    assemble,
    epoch_in_range,
    epochs_in_range,
    to_seconds,
)


def parse_parquet(
    source,
    *,
    path: str = "<input>",
    defaults: dict[str, str] | None = None,
    batch_size: int = 262_144,
) -> ParseResult:
    """Parse a Parquet object as AWS delivers it (``FileFormat=parquet``): columns named by
    field (hyphens or underscores), AWS's Parquet types. Returns all rows in one table."""
    return _concat(list(iter_parquet(source, path=path, defaults=defaults, batch_size=batch_size)))


def _concat(results: list[ParseResult]) -> ParseResult:
    if not results:
        return ParseResult(_empty_table())
    out = ParseResult(pa.concat_tables([r.table for r in results]))
    for r in results:
        out.bad_lines.extend(r.bad_lines)
        out.unknown_fields |= r.unknown_fields
        for k, v in r.skipped.items():
            out.skipped[k] = out.skipped.get(k, 0) + v
    return out


def iter_parquet(
    source,
    *,
    path: str = "<input>",
    defaults: dict[str, str] | None = None,
    batch_size: int = 262_144,
) -> Iterator[ParseResult]:
    """Stream a flow-log Parquet object batch by batch, mapped onto the store schema."""
    defaults = defaults or {}
    try:
        pf = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormatError(f"{path}: not a readable Parquet file: {exc}") from exc
    mapping: dict[str, Field] = {}
    unknown: set[str] = set()
    for name in pf.schema_arrow.names:
        f = schema.resolve_field_name(name)
        if f is None:
            unknown.add(name)
        else:
            mapping[name] = f
    if not mapping:
        raise FormatError(
            f"{path}: Parquet file has no flow-log columns ({', '.join(pf.schema_arrow.names)})"
        )
    row0 = 0  # a Parquet record's "line" is its row number, from 1
    for batch in pf.iter_batches(batch_size=batch_size, columns=list(mapping)):
        cols = {}
        for name, f in mapping.items():
            arr = batch.column(name)
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                # '-' is AWS's NULL; 'None' and '' appear in files written by other tools.
                missing = pc.is_in(arr, value_set=pa.array(["-", "None", ""], arr.type))
                arr = pc.if_else(missing, pa.scalar(None, arr.type), arr)
            try:
                if f.kind == INT and (
                    pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                ):
                    arr = pc.cast(arr, pa.int64())
                if f.name in ("start", "end"):
                    arr = to_seconds(pc.cast(arr, pa.int64()))
                cols[f.column] = pc.cast(arr, f.arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise FormatError(
                    f"{path}: column {name!r} cannot be read as {f.athena_type}: {exc}"
                ) from exc
        n, bad = batch.num_rows, []
        good = np.ones(n, dtype=bool)
        for column in ("start", "end"):
            if column in cols and not epochs_in_range(cols[column]):
                ok = np.asarray(epoch_in_range(cols[column]))
                bad += [
                    BadLine(
                        path,
                        row0 + int(i) + 1,
                        f"{cols[column][int(i)].as_py()} is after the year 9999",
                        column,
                    )
                    for i in np.flatnonzero(~ok & good)
                ]
                good &= ok
        if not good.all():
            keep = pa.array(good)
            cols = {k: v.filter(keep) for k, v in cols.items()}
            n = int(good.sum())
        row0 += batch.num_rows
        yield ParseResult(assemble(cols, n, defaults), sorted(bad, key=lambda b: b.line), unknown)
