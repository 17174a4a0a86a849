"""What every parse path shares: the result types, the header state, and the vectorised
checks that decide whether a value belongs to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..schema import ADDR, ENUM, INT, Field

# The longest line stored, not counting its line end (every parsing path keeps to it).
MAX_LINE_BYTES = 16 * 1024
# The last second a DATE partition can name (9999-12-31T23:59:59Z): a later start/end is a bad
# value, not a date-column overflow that would abort the whole ingest.
MAX_EPOCH_SECONDS = 253_402_300_799
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
    # Lines that are neither records nor bad: reason ("header", "blank", "comment") -> count.
    skipped: dict[str, int] = field(default_factory=dict)
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


def _result(
    tables: list[pa.Table],
    bad: list[BadLine],
    unknown: set[str],
    skipped: dict[str, int] | None = None,
) -> ParseResult:
    """One ParseResult from tables of either kind."""
    vpc = [t for t in tables if t.schema.equals(schema.VPC.arrow_schema())]
    tgw = [t for t in tables if not t.schema.equals(schema.VPC.arrow_schema())]
    return ParseResult(
        pa.concat_tables(vpc) if vpc else _empty_table(),
        bad,
        unknown,
        skipped or {},
        tgw=pa.concat_tables(tgw) if tgw else None,
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
    # One all-NULL array per type serves every field the records lack (most of the catalogue).
    nulls: dict[pa.DataType, pa.Array] = {}
    for fld in out_schema:
        if fld.name in columns:
            arrays.append(columns[fld.name])
        elif fld.name == schema.EXTRA_COLUMN:
            arrays.append(extra_map(extras or {}, n))
        elif fld.name in defaults:
            arrays.append(pa.repeat(pa.scalar(defaults[fld.name], fld.type), n))
        else:
            if fld.type not in nulls:
                nulls[fld.type] = pa.nulls(n, fld.type)
            arrays.append(nulls[fld.type])
    return pa.Table.from_arrays(arrays, schema=out_schema)


def _empty_table(n: int = 0, table: schema.Table = schema.VPC) -> pa.Table:
    return assemble({}, n, {}, table)


def to_seconds(arr: pa.Array) -> pa.Array:
    """``start``/``end`` values given in milliseconds, as seconds."""
    top = pc.max(arr).as_py()
    if top is None or top < _MS_THRESHOLD:  # all in seconds (the usual case): nothing to do
        return arr
    return pc.if_else(pc.greater_equal(arr, _MS_THRESHOLD), pc.divide(arr, 1000), arr)


def epoch_in_range(seconds: pa.Array) -> pa.Array:
    """Boolean array: a ``start``/``end`` (in seconds) that a date partition can hold."""
    return pc.fill_null(pc.less_equal(seconds, MAX_EPOCH_SECONDS), True)


def epochs_in_range(seconds: pa.Array) -> bool:
    """True if every ``start``/``end`` value (in seconds) can be stored (the fast paths ask)."""
    top = pc.max(seconds).as_py()
    return top is None or top <= MAX_EPOCH_SECONDS


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
        if f.name in ("start", "end") and int(value) >= 0:
            return f"{value} is after the year 9999 (as Unix seconds or milliseconds)"
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
    if f.name in ("start", "end"):
        ok = epoch_in_range(as64) if ok is None else pc.and_(ok, epoch_in_range(as64))
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


def _is_header(tokens: list[str], at_object_start: bool) -> bool:
    """A line of field names: most of them known (the others are kept as unknown fields)."""
    table = schema.table_for(tokens)
    known = sum(table.resolve(t) is not None for t in tokens)
    if not tokens or known == 0:
        return False
    return known == len(tokens) or known * 2 > len(tokens)
