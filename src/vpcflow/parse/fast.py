"""Fast paths of the parser, for clean chunks of text records.

Each returns a ``ParseResult`` or None; None hands the chunk to the exact per-line parser in
``exact``, which alone reports bad lines. Whatever a fast path stores, the exact parser stores too
(``tests/test_parse_paths.py`` holds them to that):

- the native tokenizer (``_tokenize.c``, optional): splits on runs of spaces and tabs and checks
  every value while filling Arrow buffers;
- Arrow's CSV reader with typed columns, then the same vectorised checks as the exact path.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..schema import ADDR, ENUM, INT, Field
from .core import (
    MAX_LINE_BYTES,
    Layouts,
    ParseResult,
    _check,
    _empty_table,
    _is_header,
    _layout_for_count,
    _result,
    assemble,
    epochs_in_range,
    layout_table,
    to_seconds,
)

try:  # the optional native tokenizer (see _tokenize.c); Arrow's CSV reader otherwise
    from ._tokenize import tokenize as _tokenize
except ImportError:  # pragma: no cover - not compiled on this machine
    _tokenize = None


def _spec(f: Field | None) -> tuple:
    if f is None:
        return ("x", None, None)
    if not f.known:  # kept as text in extra_fields
        return ("s", None, None)
    if f.kind == INT:
        return ("i", f.min_value, f.max_value)
    if f.kind == ENUM:
        return ("e", tuple(v.encode() for v in f.values), None)
    if f.kind == ADDR:
        return ("a", None, None)
    if f.name == "account-id":
        return ("c", None, None)
    prefix = "eni-" if f.name == "interface-id" else f.prefix
    return ("p", prefix.encode(), None) if prefix else ("s", None, None)


def _split_header(data: bytes, layouts: Layouts, first_line: int) -> tuple[bytes, set[str]]:
    """Take a header line off the front of ``data`` (setting the layout); return the rest."""
    nl = data.find(b"\n")
    first = data[: nl if nl >= 0 else len(data)]
    if first[:1].isalpha() and first[:1].islower():
        toks = first.decode("utf-8", "replace").split()
        if _is_header(toks, first_line == 1):
            return (data[nl + 1 :] if nl >= 0 else b""), layouts.set_header(toks)
    return data, set()


def _native_path(
    data: bytes, layouts: Layouts, defaults: dict[str, str], first_line: int
) -> ParseResult | None:
    """The native tokenizer on a chunk; None whenever it declines (the next path takes over)."""
    if _tokenize is None:
        return None
    rest, unknown = _split_header(data, layouts, first_line)
    skipped = {"header": 1} if rest is not data else {}
    data = rest
    if not data:
        return ParseResult(_empty_table(), [], unknown, skipped)
    nl = data.find(b"\n")
    layout = _layout_for_count(len(data[: nl if nl >= 0 else len(data)].split()), layouts)
    if layout is None:
        return None
    # The tokenizer declines lines longer than the exact parser stores, '#' lines and blank lines.
    out = _tokenize(data, tuple(_spec(f) for f in layout), MAX_LINE_BYTES)
    if out is None:
        return None
    n, cols = out
    columns: dict[str, pa.Array] = {}
    extras: dict[str, pa.Array] = {}
    for f, col in zip(layout, cols, strict=True):
        if f is None:
            continue
        if f.known and f.kind == INT:
            values, validity, nulls = col
            arr = pa.Array.from_buffers(
                pa.int64(),
                n,
                [pa.py_buffer(validity) if validity else None, pa.py_buffer(values)],
                null_count=nulls,
            )
            if f.name in ("start", "end"):
                arr = to_seconds(arr)
                if not epochs_in_range(arr):
                    return None
            columns[f.column] = arr if f.arrow_type == pa.int64() else pc.cast(arr, f.arrow_type)
        else:
            offsets, values, validity, nulls, saw_ipv6 = col
            arr = pa.Array.from_buffers(
                pa.string(),
                n,
                [
                    pa.py_buffer(validity) if validity else None,
                    pa.py_buffer(offsets),
                    pa.py_buffer(values),
                ],
                null_count=nulls,
            )
            if not f.known:
                extras[f.name] = arr
                continue
            if saw_ipv6 and not pc.all(_check(arr, f)).as_py():
                return None
            columns[f.column] = arr
    table = assemble(columns, n, defaults, layout_table(layout), extras)
    return _result([table], [], unknown, skipped)


def _longest_line(data: bytes) -> int:
    """Bytes of the longest line of ``data``, not counting its ``\\n``."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if not len(ends):
        return len(data)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return int(max((ends - starts).max(), len(data) - ends[-1] - 1))


def _fast_path(
    data: bytes, layouts: Layouts, defaults: dict[str, str], first_line: int
) -> ParseResult | None:
    """Arrow's multi-threaded CSV reader for clean chunks: single spaces, one layout, every value
    valid. Returns None whenever anything is off, and the exact per-line path takes over."""
    if b"\t" in data:
        return None
    # Arrow reads "0x10" as 16 and "-0" as 0 where the exact path refuses both (not digits):
    # such chunks go the exact way, so both paths store the same records.
    # (Arrow refuses "+5"; every other negative fails the fields' minimum below.)
    if b"0x" in data or b"0X" in data or b" -0" in data or b"\n-0" in data or data[:2] == b"-0":
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    rest, unknown = _split_header(data, layouts, first_line)
    skipped = {"header": 1} if rest is not data else {}
    data = rest
    if not data:
        return ParseResult(_empty_table(), [], unknown, skipped)
    if data[:1] in (b" ", b"\n", b"#") or b"  " in data or b"\n\n" in data or b" \n" in data:
        return None
    if b"\n#" in data or _longest_line(data) > MAX_LINE_BYTES:
        return None
    nl = data.find(b"\n")
    count = len(data[: nl if nl >= 0 else len(data)].split())
    layout = _layout_for_count(count, layouts)
    if layout is None or len(layout) != count:
        return None
    names = [f"c{j}" for j in range(count)]
    types = {
        names[j]: (pa.int64() if f is not None and f.known and f.kind == INT else pa.string())
        for j, f in enumerate(layout)
    }
    try:
        t = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                delimiter=" ", quote_char=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=["-"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    columns: dict[str, pa.Array] = {}
    extras: dict[str, pa.Array] = {}
    for j, f in enumerate(layout):
        if f is None:
            continue
        col = t.column(j).combine_chunks()
        if not f.known:
            extras[f.name] = col
            continue
        if f.kind == INT:
            if f.min_value is not None and pc.any(pc.less(col, f.min_value)).as_py():
                return None
            if f.max_value is not None and pc.any(pc.greater(col, f.max_value)).as_py():
                return None
            if f.name in ("start", "end"):
                col = to_seconds(col)
                if not epochs_in_range(col):
                    return None
            col = pc.cast(col, f.arrow_type)
        elif not pc.all(_check(col, f)).as_py():
            return None
        columns[f.column] = col
    table = assemble(columns, t.num_rows, defaults, layout_table(layout), extras)
    return _result([table], [], unknown, skipped)


def fast_paths(
    data: bytes, layouts: Layouts, defaults: dict[str, str], first_line: int
) -> ParseResult | None:
    """The first fast path that takes ``data``, or None."""
    res = _native_path(data, layouts, defaults, first_line)
    return res if res is not None else _fast_path(data, layouts, defaults, first_line)
