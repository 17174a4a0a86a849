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
from .parquet import iter_parquet, parse_parquet

__all__ = [
    "BadLine",
    "ParseResult",
    "Layouts",
    "MAX_LINE_BYTES",
    "parse_bytes",
    "parse_lines",
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
