"""Parse flow-log records into Arrow tables with the store's schema.

Text records are split on runs of whitespace and ``-`` becomes NULL. The field order comes from,
in this order of precedence: a header line in the data (any line made of field names; it applies
to the lines after it), an explicit ``log_format``, or — header-less — the field count: 14 fields
is the default version-2 layout, and 21/25/29/39/40 are "all fields of version N" in AWS's
documented order (``schema.ALL_FIELDS_LAYOUTS``). Every value is checked against its field
(numbers where numbers belong, enumerations from their value sets, address shapes, ID prefixes),
so a file in some other order is reported line by line, never stored shifted.

The work is vectorised with Arrow compute kernels: Python touches only the rare bad lines.
Malformed lines never raise; they come back as ``BadLine`` with path, line number, field and reason.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import schema
from .errors import FormatError
from .schema import ADDR, ENUM, INT, Field

__all__ = ["BadLine", "ParseResult", "parse_bytes", "parse_parquet", "iter_text_chunks", "Layouts"]

MAX_LINE_BYTES = 16 * 1024
# start/end above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000

_IPV4 = r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"
_IPV6 = r"^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}(:[0-9.]{7,15})?$"
_DIGITS = r"^[0-9]{1,18}$"  # int64 holds 18 digits; a longer value is refused, not overflowed
_ACCOUNT = r"^([0-9]+|unknown)$"
_HEADER_CANDIDATE = r"^[a-z][a-z0-9_-]*(\s+[a-z][a-z0-9_-]*)*$"


@dataclass(frozen=True)
class BadLine:
    """One line that was not stored, and why."""

    path: str
    line: int
    reason: str
    field: str = ""
    text: str = ""

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "text": self.text,
        }

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        if self.field:
            where += f": field {self.field!r}"
        return f"{where}: {self.reason}"


@dataclass
class ParseResult:
    """Records parsed from one chunk: ``table`` (VPC flow logs) has exactly
    ``schema.VPC.arrow_schema()``, ``tgw`` (Transit Gateway flow logs, None when there were
    none) ``schema.TGW.arrow_schema()``. ``unknown_fields`` names the fields the catalogue does
    not know (their values are in the ``extra_fields`` column)."""

    table: pa.Table
    bad_lines: list[BadLine] = field(default_factory=list)
    unknown_fields: set[str] = field(default_factory=set)
    tgw: pa.Table | None = None

    @property
    def records(self) -> int:
        return self.table.num_rows + (self.tgw.num_rows if self.tgw is not None else 0)

    @property
    def tables(self) -> list[pa.Table]:
        """The non-empty tables (VPC and/or Transit Gateway records)."""
        return [t for t in (self.table, self.tgw) if t is not None and t.num_rows]


def layout_table(layout) -> schema.Table:
    """The table whose fields ``layout`` lists (placeholders of unknown fields aside)."""
    for f in layout:
        if f is not None and f.known:
            return schema.TGW if schema.TGW.by_name.get(f.name) is f else schema.VPC
    return schema.VPC


def _result(tables: list[pa.Table], bad: list[BadLine], unknown: set[str]) -> ParseResult:
    """One ParseResult from tables of either kind."""
    vpc = [t for t in tables if t.schema.equals(schema.VPC.arrow_schema())]
    tgw = [t for t in tables if not t.schema.equals(schema.VPC.arrow_schema())]
    return ParseResult(
        pa.concat_tables(vpc) if vpc else _empty_table(),
        bad,
        unknown,
        pa.concat_tables(tgw) if tgw else None,
    )


class Layouts:
    """The field order in force while reading one object: header lines found so far win,
    then the explicit log format, then inference by field count."""

    def __init__(self, log_format: str | tuple[Field, ...] | None = None):
        if isinstance(log_format, str):
            log_format = schema.parse_log_format(log_format)
        self.explicit: tuple[Field, ...] | None = log_format or None
        self.header: tuple[Field | None, ...] | None = None

    def explicit_unknown(self) -> set[str]:
        """Unknown fields of the explicit log format, while no header overrides it."""
        if self.explicit is None or self.header is not None:
            return set()
        return {f.name for f in self.explicit if not f.known}

    def set_header(self, tokens: list[str]) -> set[str]:
        """Take the field order from a header line; return the names the catalogue does not
        know (kept in ``extra_fields``)."""
        table = schema.table_for(tokens)
        fields = tuple(table.resolve(t) or schema.unknown_field(t) for t in tokens)
        self.header = fields
        return {f.name for f in fields if not f.known}


def extra_map(extras: dict[str, pa.Array], n: int) -> pa.Array:
    """The ``extra_fields`` column: per record, every unknown field's name and value."""
    if not extras:
        return pa.nulls(n, schema.EXTRA_TYPE)
    names = list(extras)
    k = len(names)
    values = pa.concat_arrays(
        [pc.cast(extras[name], pa.string()) for name in names]
    )  # field-major: value j of record i at j*n + i
    order = (
        np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n, dtype=np.int64)[:, None]
    ).ravel()
    items = values.take(pa.array(order))
    keys = pa.array(np.tile(np.array(names, dtype=object), n), pa.string())
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, keys, items, type=schema.EXTRA_TYPE)


def assemble(
    columns: dict[str, pa.Array],
    n: int,
    defaults: dict[str, str],
    table: schema.Table = schema.VPC,
    extras: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """A table of ``table``'s store schema from parsed ``columns``: a field the records lack is
    NULL; ``extras`` (unknown fields by AWS name) go to ``extra_fields``; the key columns
    (``aws_account_id``, ``aws_region``) come from ``defaults`` (the object's S3 key)."""
    arrays = []
    out_schema = table.arrow_schema()
    for fld in out_schema:
        if fld.name in columns:
            arrays.append(columns[fld.name])
        elif fld.name == schema.EXTRA_COLUMN:
            arrays.append(extra_map(extras or {}, n))
        elif fld.name in defaults:
            arrays.append(pa.array([defaults[fld.name]] * n, fld.type))
        else:
            arrays.append(pa.nulls(n, fld.type))
    return pa.Table.from_arrays(arrays, schema=out_schema)


def _empty_table(n: int = 0, table: schema.Table = schema.VPC) -> pa.Table:
    return assemble({}, n, {}, table)


def to_seconds(arr: pa.Array) -> pa.Array:
    """``start``/``end`` values given in milliseconds, as seconds."""
    return pc.if_else(pc.greater_equal(arr, _MS_THRESHOLD), pc.divide(arr, 1000), arr)


def _lines_array(data: bytes) -> pa.Array:
    """Split ``data`` into a string array of lines without copying (newline kept at the end)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)
    )


def _valid_utf8(lines: pa.Array) -> np.ndarray | None:
    """None if all lines are valid UTF-8, else a boolean mask of the valid ones."""
    try:
        lines.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    ok = np.ones(len(lines), dtype=bool)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[: len(lines) + 1]
    raw = lines.buffers()[2].to_pybytes()
    for i in range(len(lines)):
        try:
            raw[offsets[i] : offsets[i + 1]].decode("utf-8")
        except UnicodeDecodeError:
            ok[i] = False
    return ok


def _check(col: pa.Array, f: Field) -> pa.Array:
    """Boolean array: value acceptable for field ``f`` (NULL is acceptable)."""
    if f.kind == INT:
        ok = pc.match_substring_regex(col, _DIGITS)
    elif f.kind == ENUM:
        ok = pc.is_in(col, value_set=pa.array(f.values, col.type))
    elif f.kind == ADDR:
        ok = pc.or_(pc.match_substring_regex(col, _IPV4), pc.match_substring_regex(col, _IPV6))
    elif f.name == "account-id":
        ok = pc.match_substring_regex(col, _ACCOUNT)
    elif f.name == "interface-id":
        ok = pc.starts_with(col, "eni-")
    elif f.prefix:
        ok = pc.starts_with(col, f.prefix)
    else:
        return pa.array(np.ones(len(col), dtype=bool))
    return pc.or_kleene(pc.is_null(col), pc.fill_null(ok, False))


def _explain_value(value: str, f: Field) -> str:
    if f.kind == INT:
        if not value.isdigit():
            return f"{value!r} is not a whole number"
        if len(value) > 18:
            return f"{value} is too large"
        return f"{value} is out of range {f.min_value}..{f.max_value}"
    if f.kind == ENUM:
        return f"{value!r} is not one of {', '.join(f.values)}"
    if f.kind == ADDR:
        return f"{value!r} is not an IPv4 or IPv6 address"
    if f.name == "account-id":
        return f"{value!r} is not an account id (digits or 'unknown')"
    prefix = "eni-" if f.name == "interface-id" else f.prefix
    return f"{value!r} does not start with {prefix!r}"


def _convert(col: pa.Array, f: Field) -> tuple[pa.Array, pa.Array | None]:
    """Cast a checked string column to the field's type. Returns (values, range_ok or None)."""
    if f.kind != INT:
        return col, None
    as64 = pc.cast(col, pa.int64())
    if f.name in ("start", "end"):
        as64 = to_seconds(as64)
    ok = None
    if f.min_value is not None or f.max_value is not None:
        conds = []
        if f.min_value is not None:
            conds.append(pc.greater_equal(as64, f.min_value))
        if f.max_value is not None:
            conds.append(pc.less_equal(as64, f.max_value))
        ok = conds[0] if len(conds) == 1 else pc.and_(*conds)
        ok = pc.fill_null(ok, True)
    if f.arrow_type == pa.int32():
        as64 = pc.if_else(ok, as64, None) if ok is not None else as64
        return pc.cast(as64, pa.int32()), ok
    return as64, ok


def _layout_for_count(n: int, layouts: Layouts) -> tuple[Field | None, ...] | None:
    if layouts.header is not None:
        return layouts.header
    if layouts.explicit is not None:
        return layouts.explicit
    return schema.VPC.layouts.get(n) or schema.TGW.layouts.get(n)


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
    extras: dict[str, pa.Array] = {}
    dash = pa.scalar("-", flat.type)
    for j, f in enumerate(layout):
        col = flat.take(pa.array(base + j))
        col = pc.if_else(pc.equal(col, dash), pa.scalar(None, flat.type), col)
        if not f.known:  # a field the catalogue does not know: kept as a string
            extras[f.name] = pc.cast(col, pa.string())
            continue
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
        extras = {name: arr.filter(keep) for name, arr in extras.items()}
    return assemble(columns, int(good.sum()), defaults, layout_table(layout), extras), bad


def _is_header(tokens: list[str], at_object_start: bool) -> bool:
    """A line of field names: most of them known (the others are kept as unknown fields)."""
    table = schema.table_for(tokens)
    known = sum(table.resolve(t) is not None for t in tokens)
    if not tokens or known == 0:
        return False
    return known == len(tokens) or known * 2 > len(tokens)


def parse_lines(
    data: bytes,
    *,
    path: str = "<input>",
    layouts: Layouts | None = None,
    first_line: int = 1,
    defaults: dict[str, str] | None = None,
    line_numbers: np.ndarray | None = None,
) -> ParseResult:
    """Parse a chunk of text records (whole lines). ``layouts`` carries header state across
    chunks of one object; ``first_line`` is the line number of the chunk's first line."""
    layouts = layouts or Layouts()
    defaults = defaults or {}
    if not data:
        return ParseResult(_empty_table())
    if line_numbers is None:
        # Clean chunks take a fast path; anything odd goes to the exact per-line path below,
        # which is the authority on what is stored and what is reported. (Imported here: the
        # fast paths build on this module's checks.)
        from .fastparse import fast_paths

        fast = fast_paths(data, layouts, defaults, first_line)
        if fast is not None:
            fast.unknown_fields |= layouts.explicit_unknown()
            return fast
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
    lengths = np.asarray(pc.binary_length(lines))
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
    blank = np.asarray(pc.equal(pc.binary_length(trimmed), 0))
    comment = np.asarray(pc.fill_null(pc.starts_with(trimmed, "#"), False))
    usable &= ~blank & ~comment
    tokens = pc.utf8_split_whitespace(trimmed)
    counts = np.asarray(pc.list_value_length(tokens))

    # Header lines: made only of lower-case words, and naming known fields.
    cand = np.asarray(pc.fill_null(pc.match_substring_regex(trimmed, _HEADER_CANDIDATE), False))
    header_rows = []
    for i in np.flatnonzero(cand & usable):
        if _is_header(tokens[int(i)].as_py(), i == 0 and first_line == 1):
            header_rows.append(int(i))
    is_header = np.zeros(n, dtype=bool)
    is_header[header_rows] = True

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
                known = ", ".join(str(c) for c in schema.VPC.layouts)
                known += (
                    f" (VPC) or {', '.join(str(c) for c in schema.TGW.layouts)} (Transit Gateway)"
                )
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
    bad.sort(key=lambda b: b.line)
    return _result(tables, bad, unknown | layouts.explicit_unknown())


def _unwrap_json(
    data: bytes, path: str, first_line: int
) -> tuple[bytes, np.ndarray, list[BadLine]]:
    """JSON lines carrying records in ``message`` (CloudWatch Logs exports, Firehose) or in
    ``logEvents[].message`` (CloudWatch Logs subscription payloads)."""
    out: list[str] = []
    numbers: list[int] = []
    bad: list[BadLine] = []
    for offset, raw in enumerate(data.split(b"\n")):
        lineno = first_line + offset
        text = raw.strip()
        if not text:
            continue
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            bad.append(
                BadLine(
                    path,
                    lineno,
                    f"not valid JSON: {exc}",
                    "",
                    text[:500].decode("utf-8", "replace"),
                )
            )
            continue
        messages = []
        if isinstance(obj, dict) and isinstance(obj.get("message"), str):
            messages = [obj["message"]]
        elif isinstance(obj, dict) and isinstance(obj.get("logEvents"), list):
            if obj.get("messageType") == "CONTROL_MESSAGE":
                continue
            messages = [e.get("message") for e in obj["logEvents"] if isinstance(e, dict)]
        if not messages or not all(isinstance(m, str) for m in messages):
            bad.append(
                BadLine(
                    path,
                    lineno,
                    "JSON object has no 'message' string",
                    "message",
                    text[:500].decode("utf-8", "replace"),
                )
            )
            continue
        for m in messages:
            out.append(m.replace("\n", " "))
            numbers.append(lineno)
    payload = ("\n".join(out) + "\n").encode() if out else b""
    return payload, np.array(numbers, dtype=np.int64), bad


def looks_like_json(data: bytes) -> bool:
    return data.lstrip()[:1] == b"{"


def parse_bytes(
    data: bytes | str,
    *,
    path: str = "<input>",
    log_format: str | tuple[Field, ...] | None = None,
    defaults: dict[str, str] | None = None,
) -> ParseResult:
    """Parse a whole object held in memory: text with or without header, JSON lines, or
    Parquet (by magic bytes). Gzip must already be decompressed; ``str`` is encoded as UTF-8."""
    if isinstance(data, str):
        data = data.encode()
    if data[:4] == b"PAR1":
        return parse_parquet(io.BytesIO(data), path=path, defaults=defaults)
    layouts = Layouts(log_format)
    if looks_like_json(data):
        payload, numbers, bad = _unwrap_json(data, path, 1)
        res = parse_lines(
            payload, path=path, layouts=layouts, defaults=defaults, line_numbers=numbers
        )
        res.bad_lines = sorted(bad + res.bad_lines, key=lambda b: b.line)
        return res
    return parse_lines(data, path=path, layouts=layouts, defaults=defaults)


def iter_text_chunks(stream, chunk_size: int = 8 << 20) -> Iterator[tuple[bytes, int]]:
    """Yield (whole lines, first line number) from a binary stream, ``chunk_size`` at a time."""
    carry = b""
    line = 1
    while True:
        block = stream.read(chunk_size)
        if not block:
            break
        block = carry + block
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
            if len(carry) > 64 * MAX_LINE_BYTES:  # a huge line with no newline: pass it on
                yield carry, line
                line += carry.count(b"\n")
                carry = b""
            continue
        chunk, carry = block[: cut + 1], block[cut + 1 :]
        yield chunk, line
        line += chunk.count(b"\n")
    if carry:
        yield carry, line


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
    out = _result([t for r in results for t in r.tables], [], set())
    for r in results:
        out.bad_lines.extend(r.bad_lines)
        out.unknown_fields |= r.unknown_fields
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
    table = schema.table_for(pf.schema_arrow.names)
    for name in pf.schema_arrow.names:
        f = table.resolve(name)
        if f is None:
            unknown.add(name)
        else:
            mapping[name] = f
    if not mapping:
        raise FormatError(
            f"{path}: Parquet file has no flow-log columns ({', '.join(pf.schema_arrow.names)})"
        )
    for batch in pf.iter_batches(batch_size=batch_size, columns=list(mapping) + sorted(unknown)):
        extras = {}
        for name in sorted(unknown):  # kept, as strings, in extra_fields
            arr = batch.column(name)
            try:
                arr = pc.cast(arr, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise FormatError(
                    f"{path}: column {name!r} (not a known field) cannot be kept as text: {exc}"
                ) from exc
            missing = pc.is_in(arr, value_set=pa.array(["-"], pa.string()))
            extras[name.replace("_", "-")] = pc.if_else(missing, pa.scalar(None, pa.string()), arr)
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
        t = assemble(cols, batch.num_rows, defaults, table, extras)
        if table is schema.VPC:
            yield ParseResult(t, [], unknown)
        else:
            yield ParseResult(_empty_table(), [], unknown, t)
