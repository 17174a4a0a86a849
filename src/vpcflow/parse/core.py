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
    """Records parsed from one chunk: ``table`` has exactly ``schema.arrow_schema()``."""

    table: pa.Table
    bad_lines: list[BadLine] = field(default_factory=list)
    unknown_fields: set[str] = field(default_factory=set)
    # Lines that are neither records nor bad: reason ("header", "blank", "comment") -> count.
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return self.table.num_rows


class Layouts:
    """The field order in force while reading one object: header lines found so far win,
    then the explicit log format, then inference by field count."""

    def __init__(self, log_format: str | tuple[Field, ...] | None = None):
        if isinstance(log_format, str):
            log_format = schema.parse_log_format(log_format)
        self.explicit: tuple[Field, ...] | None = log_format or None
        self.header: tuple[Field | None, ...] | None = None

    def set_header(self, tokens: list[str]) -> set[str]:
        fields = tuple(schema.resolve_field_name(t) for t in tokens)
        self.header = fields
        return {t for t, f in zip(tokens, fields, strict=True) if f is None}


_SCHEMA_CACHE: tuple[int, int, pa.Schema] | None = None


def _store_schema() -> pa.Schema:
    """``schema.arrow_schema()``, built once per catalogue (it is asked for every object)."""
    global _SCHEMA_CACHE
    key = (id(schema.FIELDS), len(schema.FIELDS))
    if _SCHEMA_CACHE is None or _SCHEMA_CACHE[:2] != key:
        _SCHEMA_CACHE = (*key, schema.arrow_schema())
    return _SCHEMA_CACHE[2]


def assemble(columns: dict[str, pa.Array], n: int, defaults: dict[str, str]) -> pa.Table:
    """A table with the store's schema from parsed ``columns``: a column the records lack is
    filled from ``defaults`` (account and region from the S3 key), else NULL."""
    store_schema = _store_schema()
    arrays = []
    nulls: dict[pa.DataType, pa.Array] = {}  # one all-NULL array per type, shared (immutable)
    for fld in store_schema:
        if fld.name in columns:
            arrays.append(columns[fld.name])
        elif fld.name in defaults:
            arrays.append(pa.repeat(pa.scalar(defaults[fld.name], fld.type), n))
        else:
            if fld.type not in nulls:
                nulls[fld.type] = pa.nulls(n, fld.type)
            arrays.append(nulls[fld.type])
    return pa.Table.from_arrays(arrays, schema=store_schema)


def _empty_table(n: int = 0) -> pa.Table:
    return assemble({}, n, {})


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
    return schema.ALL_FIELDS_LAYOUTS.get(n)


def _is_header(tokens: list[str], at_object_start: bool) -> bool:
    known = sum(schema.resolve_field_name(t) is not None for t in tokens)
    return bool(tokens) and (known == len(tokens) or (at_object_start and known * 2 > len(tokens)))
