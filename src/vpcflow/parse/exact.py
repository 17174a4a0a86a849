"""The exact parser: line by line (vectorised), the authority on what is stored and what is
reported. Fast paths (``fast``) take clean chunks; whatever they store, this stores too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..schema import INT, Field
from .core import (
    _HEADER_CANDIDATE,
    MAX_LINE_BYTES,
    BadLine,
    Layouts,
    ParseResult,
    _check,
    _convert,
    _empty_table,
    _explain_value,
    _is_header,
    _layout_for_count,
    _lines_array,
    _valid_utf8,
    assemble,
)


def _build(
    tokens: pa.ListArray,
    rows: np.ndarray,
    layout: tuple[Field | None, ...],
    line_numbers: np.ndarray,
    lines: pa.Array,
    path: str,
    defaults: dict[str, str],
) -> tuple[pa.Table, list[BadLine]]:
    """Turn the token lists of ``rows`` (all with ``len(layout)`` tokens) into a typed table."""
    k = len(layout)
    n = len(rows)
    flat = pc.list_flatten(tokens.take(pa.array(rows)))
    base = np.arange(n, dtype=np.int64) * k
    good = np.ones(n, dtype=bool)
    first_bad: dict[int, tuple[str, str]] = {}
    columns: dict[str, pa.Array] = {}
    dash = pa.scalar("-", flat.type)
    for j, f in enumerate(layout):
        if f is None:  # unknown header column: ignored
            continue
        col = flat.take(pa.array(base + j))
        col = pc.if_else(pc.equal(col, dash), pa.scalar(None, flat.type), col)
        ok = np.asarray(_check(col, f))
        if ok.all():
            values, range_ok = _convert(col, f) if f.kind == INT else (col, None)
        else:
            masked = pc.if_else(pa.array(ok), col, pa.scalar(None, flat.type))
            values, range_ok = _convert(masked, f) if f.kind == INT else (masked, None)
        if range_ok is not None:
            ok = ok & np.asarray(range_ok)
        if not ok.all():
            for i in np.flatnonzero(~ok & good):
                first_bad[int(i)] = (f.column, _explain_value(col[int(i)].as_py(), f))
            good &= ok
        if f.arrow_type == pa.string() and pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        columns[f.column] = values
    bad = [
        BadLine(
            path,
            int(line_numbers[rows[i]]),
            reason,
            fieldname,
            lines[int(rows[i])].as_py().rstrip("\r\n")[:500],
        )
        for i, (fieldname, reason) in sorted(first_bad.items())
    ]
    if not good.all():
        keep = pa.array(good)
        columns = {name: arr.filter(keep) for name, arr in columns.items()}
    return assemble(columns, int(good.sum()), defaults), bad


def parse_exact(
    data: bytes,
    *,
    path: str = "<input>",
    layouts: Layouts | None = None,
    first_line: int = 1,
    defaults: dict[str, str] | None = None,
    line_numbers: np.ndarray | None = None,
) -> ParseResult:
    """The exact per-line parser: the authority on what is stored and what is reported.
    ``line_numbers`` gives each line's number when the chunk is not contiguous (JSON)."""
    layouts = layouts or Layouts()
    defaults = defaults or {}
    if not data:
        return ParseResult(_empty_table())
    lines = _lines_array(data)
    n = len(lines)
    if line_numbers is None:
        line_numbers = np.arange(first_line, first_line + n, dtype=np.int64)
    bad: list[BadLine] = []
    unknown: set[str] = set()

    usable = np.ones(n, dtype=bool)
    utf8_ok = _valid_utf8(lines)
    if utf8_ok is not None:
        for i in np.flatnonzero(~utf8_ok):
            bad.append(BadLine(path, int(line_numbers[i]), "line is not UTF-8 text (binary data?)"))
        usable &= utf8_ok
        # Blank out invalid lines so the kernels below can run on the rest.
        lines = pc.if_else(pa.array(utf8_ok), lines, pa.scalar("", lines.type))
    lengths = np.asarray(pc.binary_length(pc.utf8_rtrim(lines, characters="\r\n")))
    too_long = lengths > MAX_LINE_BYTES
    if too_long.any():
        for i in np.flatnonzero(too_long & usable):
            bad.append(
                BadLine(
                    path,
                    int(line_numbers[i]),
                    f"line is {lengths[i]} bytes, longer than {MAX_LINE_BYTES}",
                )
            )
        usable &= ~too_long
        lines = pc.if_else(pa.array(~too_long), lines, pa.scalar("", lines.type))

    trimmed = pc.utf8_trim_whitespace(lines)
    blank = np.asarray(pc.equal(pc.binary_length(trimmed), 0)) & usable
    comment = np.asarray(pc.fill_null(pc.starts_with(trimmed, "#"), False)) & usable
    usable &= ~blank & ~comment
    tokens = pc.utf8_split_whitespace(trimmed)
    counts = np.asarray(pc.list_value_length(tokens))
    skipped: dict[str, int] = {}
    if blank.any():
        skipped["blank"] = int(blank.sum())
    for i in np.flatnonzero(comment):
        # Flow logs have no comments: a '#' line shaped like a record is reported, not dropped.
        rest = lines[int(i)].as_py().strip().lstrip("#").split()
        layout = _layout_for_count(len(rest), layouts) if rest else None
        if layout is not None and len(layout) == len(rest):
            bad.append(
                BadLine(
                    path,
                    int(line_numbers[i]),
                    "a record commented out with '#': remove the '#' to store it",
                    "",
                    lines[int(i)].as_py().rstrip("\r\n")[:500],
                )
            )
        else:
            skipped["comment"] = skipped.get("comment", 0) + 1

    # Header lines: made only of lower-case words, and naming known fields.
    cand = np.asarray(pc.fill_null(pc.match_substring_regex(trimmed, _HEADER_CANDIDATE), False))
    header_rows = []
    for i in np.flatnonzero(cand & usable):
        if _is_header(tokens[int(i)].as_py(), i == 0 and first_line == 1):
            header_rows.append(int(i))
    is_header = np.zeros(n, dtype=bool)
    is_header[header_rows] = True
    if header_rows:
        skipped["header"] = len(header_rows)

    # Segments between header lines share a layout.
    bounds = [0, *header_rows, n] if header_rows else [0, n]
    tables: list[pa.Table] = []
    seg_starts = sorted(set(bounds))
    for s_idx in range(len(seg_starts) - 1):
        lo, hi = seg_starts[s_idx], seg_starts[s_idx + 1]
        if is_header[lo]:
            unknown |= layouts.set_header(tokens[lo].as_py())
            lo += 1
        seg = np.arange(lo, hi)
        seg = seg[usable[seg] & ~is_header[seg]]
        if len(seg) == 0:
            continue
        for cnt in np.unique(counts[seg]):
            rows = seg[counts[seg] == cnt]
            layout = _layout_for_count(int(cnt), layouts)
            if layout is None:
                known = ", ".join(str(c) for c in schema.ALL_FIELDS_LAYOUTS)
                for i in rows:
                    bad.append(
                        BadLine(
                            path,
                            int(line_numbers[i]),
                            f"{cnt} fields and no header line or --log-format to say which; "
                            f"header-less records must have {known} fields",
                            "",
                            lines[int(i)].as_py().rstrip("\r\n")[:500],
                        )
                    )
                continue
            if len(layout) != cnt:
                source = "header" if layouts.header is not None else "log format"
                for i in rows:
                    bad.append(
                        BadLine(
                            path,
                            int(line_numbers[i]),
                            f"expected {len(layout)} fields (from the {source}), found {cnt}",
                            "",
                            lines[int(i)].as_py().rstrip("\r\n")[:500],
                        )
                    )
                continue
            table, seg_bad = _build(tokens, rows, layout, line_numbers, lines, path, defaults)
            bad.extend(seg_bad)
            if table.num_rows:
                tables.append(table)
    table = pa.concat_tables(tables) if tables else _empty_table()
    bad.sort(key=lambda b: b.line)
    return ParseResult(table, bad, unknown, skipped)
