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

import numpy as np

from ..schema import Field
from .core import MAX_LINE_BYTES, BadLine, Layouts, ParseResult, _empty_table
from .exact import parse_exact
from .fast import fast_paths
from .parquet import _concat, iter_parquet, parse_parquet

# parse_lines splits larger data into pieces of whole lines (Arrow's string offsets, and the
# native tokenizer's, are 32-bit).
MAX_CHUNK_BYTES = 256 << 20

__all__ = [
    "BadLine",
    "ParseResult",
    "Layouts",
    "MAX_LINE_BYTES",
    "parse_bytes",
    "parse_lines",
    "parse_json_lines",
    "parse_parquet",
    "iter_parquet",
    "iter_text_chunks",
    "looks_like_json",
]


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
    if len(data) > MAX_CHUNK_BYTES and line_numbers is None:
        parts = []
        for piece, line in iter_text_chunks(io.BytesIO(data), MAX_CHUNK_BYTES // 2, first_line):
            parts.append(
                parse_lines(piece, path=path, layouts=layouts, first_line=line, defaults=defaults)
            )
        return _concat(parts)
    if line_numbers is None:
        # Clean chunks take a fast path; anything odd goes to the exact per-line parser, which
        # is the authority on what is stored and what is reported.
        fast = fast_paths(data, layouts, defaults, first_line)
        if fast is not None:
            return fast
    return parse_exact(
        data,
        path=path,
        layouts=layouts,
        first_line=first_line,
        defaults=defaults,
        line_numbers=line_numbers,
    )


def _unwrap_json(
    data: bytes, path: str, first_line: int
) -> tuple[bytes, np.ndarray, list[BadLine], dict[str, int]]:
    """JSON lines carrying records in ``message`` (CloudWatch Logs exports, Firehose) or in
    ``logEvents[].message`` (CloudWatch Logs subscription payloads)."""
    out: list[str] = []
    numbers: list[int] = []
    bad: list[BadLine] = []
    skipped: dict[str, int] = {}
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()  # the end of the last line, not an empty line
    for offset, raw in enumerate(parts):
        lineno = first_line + offset
        text = raw.strip()
        if not text:
            skipped["blank"] = skipped.get("blank", 0) + 1
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
                skipped["control message"] = skipped.get("control message", 0) + 1
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
    return payload, np.array(numbers, dtype=np.int64), bad, skipped


def parse_json_lines(
    data: bytes,
    *,
    path: str = "<input>",
    layouts: Layouts | None = None,
    first_line: int = 1,
    defaults: dict[str, str] | None = None,
) -> ParseResult:
    """Parse a chunk of JSON lines (whole lines) whose messages are flow-log records."""
    payload, numbers, bad, skipped = _unwrap_json(data, path, first_line)
    res = parse_lines(
        payload, path=path, layouts=layouts or Layouts(), defaults=defaults, line_numbers=numbers
    )
    res.bad_lines = sorted(bad + res.bad_lines, key=lambda b: b.line)
    for k, v in skipped.items():
        res.skipped[k] = res.skipped.get(k, 0) + v
    return res


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
        return parse_json_lines(data, path=path, layouts=layouts, defaults=defaults)
    return parse_lines(data, path=path, layouts=layouts, defaults=defaults)


def iter_text_chunks(
    stream, chunk_size: int = 8 << 20, first_line: int = 1
) -> Iterator[tuple[bytes, int]]:
    """Yield (whole lines, first line number) from a binary stream, ``chunk_size`` at a time."""
    carry = b""
    line = first_line
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
