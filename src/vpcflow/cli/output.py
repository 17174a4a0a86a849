"""Printing results: table, csv, json (one array of objects), jsonl — streamed, in bounded memory.

Every command that prints rows goes through here, so every one has the same ``--format`` and
``-o FILE`` and the same safety: text from the records (free-text fields such as ``region`` or
``reject_reason`` can hold anything) never reaches the terminal as markup or control sequences.

* ``table`` prints pages of ``TABLE_PAGE`` rows as they arrive, each page sized to the terminal:
  cells too wide are cut with an ellipsis (headers stay whole); when even that does not fit,
  the page folds into one block per record, like ``psql``'s expanded display.
* ``csv``, ``json`` and ``jsonl`` are written batch by batch: memory does not grow with the
  result.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

FORMATS = ("table", "csv", "json", "jsonl")
TABLE_PAGE = 500  # rows per printed table page
_MIN_CELL = 6  # a cell is never cut narrower than this (or its header)

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format. json prints one array of objects keyed by column name; csv and "
    "jsonl stream any number of rows.",
)

output_option = click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the result to this file instead of standard output (replaced when complete).",
)


def output_options(fn):
    """``--format`` and ``-o/--output``, the options of every command that prints rows."""
    return format_option(output_option(fn))


# -- values --------------------------------------------------------------------------------------


def _jsonable(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


# C0 and C1 control characters, DEL, and the invisible format characters that reorder or hide
# text (bidirectional overrides, zero-width characters, the byte-order mark).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


def _escape_char(m: re.Match) -> str:
    c = m.group(0)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if c in named:
        return named[c]
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def visible(s: str) -> str:
    """``s`` with control and invisible characters shown as escapes (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape_char, s)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        v = ", ".join("" if x is None else str(x) for x in v)
    elif isinstance(v, dict):
        v = json.dumps(v, default=str)
    return visible(str(v))


def _csv_field(v) -> str:
    if v is None:
        return ""
    if isinstance(v, list | dict):
        v = json.dumps(v, default=str)
    s = str(v)
    if s and (any(c in s for c in ',"\r\n') or _UNSAFE.search(s) or s != s.strip()):
        return '"' + s.replace('"', '""') + '"'
    return s


# -- writers -------------------------------------------------------------------------------------


class _Writer:
    """Writes chunks given as one list of values per column; ``tick()`` after each piece of work
    lets the caller stop a command that has run out of time."""

    def __init__(self, out, columns: list[str], tick=None):
        self.out = out
        self.columns = columns
        self.count = 0
        self.tick = tick or (lambda: None)

    def write(self, cols: list[list]) -> None:
        self.count += len(cols[0]) if cols else 0

    def _dicts(self, cols: list[list]) -> list[dict]:
        names = self.columns
        return [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]

    def close(self) -> None:
        pass


class _Jsonl(_Writer):
    def write(self, cols):
        super().write(cols)
        self.out.write("".join(json.dumps(r, default=str) + "\n" for r in self._dicts(cols)))


class _Json(_Writer):
    def __init__(self, out, columns, tick=None):
        super().__init__(out, columns, tick)
        out.write("[")

    def write(self, cols):
        rows = self._dicts(cols)
        if not rows:
            return
        sep = ",\n  " if self.count else "\n  "
        self.out.write(sep + ",\n  ".join(json.dumps(r, default=str) for r in rows))
        super().write(cols)

    def close(self):
        self.out.write("\n]\n" if self.count else "]\n")


class _Csv(_Writer):
    def __init__(self, out, columns, tick=None):
        super().__init__(out, columns, tick)
        out.write(",".join(_csv_field(c) for c in columns) + "\n")

    def write(self, cols):
        super().write(cols)
        fields = [[_csv_field(v) for v in col] for col in cols]
        self.out.write("".join(",".join(r) + "\n" for r in zip(*fields, strict=True)))


class _Table(_Writer):
    def __init__(self, out, columns, title=None, tick=None):
        super().__init__(out, columns, tick)
        from rich.console import Console

        self.title = title
        self.pending: list[dict] = []
        tty = hasattr(out, "isatty") and out.isatty()
        width = None if tty else _env_width()

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                # rich exits 1 here; the reader leaving (`| head`) is success, which the
                # command line's handler of BrokenPipeError reports.
                self.quiet = True
                raise BrokenPipeError

        self.console = _Console(
            file=out, width=width, highlight=False, emoji=False, markup=False, soft_wrap=False
        )

    def write(self, cols):
        super().write(cols)
        self.pending.extend(self._dicts(cols))
        while len(self.pending) >= TABLE_PAGE:
            page, self.pending = self.pending[:TABLE_PAGE], self.pending[TABLE_PAGE:]
            self._page(page, self.count - len(self.pending) - len(page))
            self.tick()

    def close(self):
        if self.pending or self.count == 0:
            self._page(self.pending, self.count - len(self.pending))
        self.console.print(f"{self.count:,} row{'s' if self.count != 1 else ''}", style="dim")

    def _page(self, rows: list[dict], first: int) -> None:
        from rich.table import Table
        from rich.text import Text

        headers = [visible(str(c)) for c in self.columns]
        cells = [[_cell(r.get(c)) for c in self.columns] for r in rows]
        widths = _fit(headers, cells, self.console.width)
        if widths is None:
            self._vertical(headers, cells, first)
            return
        t = Table(title=self.title if first == 0 else None, header_style="bold")
        for h, w in zip(headers, widths, strict=True):
            t.add_column(Text(h), min_width=w, max_width=w, no_wrap=True, overflow="ellipsis")
        for row in cells:
            t.add_row(*(Text(c) for c in row))
        self.console.print(t)

    def _vertical(self, headers: list[str], cells: list[list[str]], first: int) -> None:
        import textwrap

        label = max((len(h) for h in headers), default=0)
        width = self.console.width
        room = max(10, width - label - 3)
        pad = " " * label + " | "
        out: list[str] = []
        for i, row in enumerate(cells, first + 1):
            head = f"-[ RECORD {i} ]"
            out.append(head + "-" * max(0, min(width, 60) - len(head)))
            for h, c in zip(headers, row, strict=True):
                # A long value continues under itself, not under the labels.
                parts = textwrap.wrap(c, room, break_on_hyphens=False) if len(c) > room else [c]
                parts = parts or [""]
                out.append(f"{h:<{label}} | {parts[0]}")
                out.extend(pad + p for p in parts[1:])
        # Plain text (already escaped): one write per page, not one rich call per line.
        self.console.file.write("\n".join(out) + "\n")


def _env_width() -> int:
    try:
        return max(20, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 200


def _fit(headers: list[str], cells: list[list[str]], width: int) -> list[int] | None:
    """Column widths that fit ``width`` (cells cut, headers whole), or None: fold the page."""
    n = len(headers)
    if n == 0:
        return []
    natural = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    minimum = [min(nat, max(len(h), _MIN_CELL)) for nat, h in zip(natural, headers, strict=True)]
    room = width - (3 * n + 1)  # borders and padding of a rich table
    if sum(minimum) > room:
        return None
    widths = list(natural)
    excess = sum(widths) - room
    while excess > 0:
        # Take from the widest column that can still give, one step at a time.
        i = max((j for j in range(n) if widths[j] > minimum[j]), key=lambda j: widths[j])
        others = [widths[j] for j in range(n) if j != i and widths[j] > minimum[j]]
        step = max(1, min(excess, widths[i] - max(minimum[i], max(others, default=0))))
        widths[i] -= step
        excess -= step
    return widths


_WRITERS = {"jsonl": _Jsonl, "json": _Json, "csv": _Csv}


def _writer(fmt: str, out, columns: list[str], title: str | None = None, tick=None) -> _Writer:
    if fmt == "table":
        return _Table(out, columns, title, tick)
    return _WRITERS[fmt](out, columns, tick)


# -- destinations --------------------------------------------------------------------------------


@contextmanager
def destination(path: str | None) -> Iterator:
    """Standard output, or ``path`` written to a temporary file and renamed into place when the
    result is complete (an interrupted or failed command leaves any old file as it was)."""
    if not path:
        yield sys.stdout
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- entry points --------------------------------------------------------------------------------


def _plain(t) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    )


def columns_of(table) -> list[list]:
    """An Arrow table or batch as one list of JSON-ready values per column (converted column by
    column: only timestamps, dates, decimals and nested values need Python-side work)."""
    import pyarrow as pa

    out = []
    for col in table.columns:
        values = col.to_pylist()
        if pa.types.is_map(col.type):  # e.g. extra_fields: Arrow gives (key, value) pairs
            values = [None if v is None else {k: _jsonable(x) for k, x in v} for v in values]
        elif not _plain(col.type):
            values = [None if v is None else _jsonable(v) for v in values]
        out.append(values)
    return out


_AS_IS = (str, int, float, bool)


def _python_columns(cols: list[list]) -> list[list]:
    """Columns of Python values made JSON-ready as ``columns_of`` makes Arrow's (dates and
    timestamps as ISO-8601 strings)."""
    out = []
    for values in cols:
        if any(v is not None and not isinstance(v, _AS_IS) for v in values):
            values = [None if v is None else _jsonable(v) for v in values]
        out.append(values)
    return out


def rows(table) -> list[dict]:
    """An Arrow table as a list of JSON-ready dicts (a MAP such as ``extra_fields`` as an object)."""
    names = list(table.schema.names)
    return [dict(zip(names, vals, strict=True)) for vals in zip(*columns_of(table), strict=True)]


def emit(
    table,
    fmt: str = "table",
    *,
    title: str | None = None,
    truncated: bool = False,
    out=None,
    output: str | None = None,
) -> None:
    """Print ``table`` (an Arrow table or a list of dicts) in ``fmt``."""
    import pyarrow as pa

    if isinstance(table, pa.Table):
        columns = list(table.column_names)
        batches: Iterable[list[list]] = (
            columns_of(b) for b in table.to_batches(max_chunksize=10_000)
        )
    else:
        data = [_jsonable(r) for r in table]
        columns = list(data[0]) if data else []
        for r in data[1:]:
            columns += [k for k in r if k not in columns]
        batches = [[[r.get(c) for r in data] for c in columns]] if data else []
    _write(columns, batches, fmt, title=title, truncated=truncated, out=out, output=output)


def emit_stream(stream, fmt: str = "table", *, out=None, output: str | None = None) -> None:
    """Print a query's result stream (``engine.stream``) batch by batch."""
    columns = list(getattr(stream, "names", None) or stream.schema.names)
    if getattr(stream, "python", False):  # already one list of Python values per column
        batches = (_python_columns(cols) for cols in stream)
    else:
        batches = (columns_of(b) for b in stream)
    _write(columns, batches, fmt, out=out, output=output, stream=stream)


def _write(
    columns, batches, fmt, *, title=None, truncated=False, out=None, output=None, stream=None
):
    # The stream's clock: a table page takes long to lay out; each one checks the time limit.
    tick = getattr(stream, "check_time", None)
    with destination(output) if out is None else _given(out) as fh:
        w = _writer(fmt, fh, columns, title, tick)
        for chunk in batches:
            w.write(chunk)
        w.close()
    if stream is not None:
        truncated = stream.truncated
    if truncated:
        click.echo(f"(output cut at {w.count:,} rows: raise --limit, or 0 for no limit)", err=True)
    if output:
        click.echo(f"Wrote {w.count:,} row{'s' if w.count != 1 else ''} to {output}.", err=True)


@contextmanager
def _given(out):
    yield out
