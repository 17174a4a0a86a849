"""Printing results: table, csv, json (one array of objects), jsonl."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys

import click
import pyarrow as pa

FORMATS = ("table", "csv", "json", "jsonl")

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format. json prints one array of objects keyed by column name.",
)


def _jsonable(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):  # DuckDB's sum() of BIGINT is a HUGEINT
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


def rows(table: pa.Table) -> list[dict]:
    # A MAP (extra_fields) comes out of Arrow as (key, value) pairs: print it as an object.
    maps = {f.name for f in table.schema if pa.types.is_map(f.type)}
    out = [{k: _jsonable(v) for k, v in r.items()} for r in table.to_pylist()]
    for r in out if maps else ():
        for c in maps:
            if r.get(c) is not None:
                r[c] = {k: v for k, v in r[c]}
    return out


def emit(
    table: pa.Table | list[dict],
    fmt: str = "table",
    *,
    title: str | None = None,
    truncated: bool = False,
    out=None,
) -> None:
    """Print ``table`` (an Arrow table or a list of dicts) in ``fmt``."""
    out = out or sys.stdout
    data = rows(table) if isinstance(table, pa.Table) else [_jsonable(r) for r in table]
    columns = table.column_names if isinstance(table, pa.Table) else (list(data[0]) if data else [])
    if fmt == "json":
        json.dump(data, out, indent=2, default=str)
        out.write("\n")
    elif fmt == "jsonl":
        for r in data:
            out.write(json.dumps(r, default=str) + "\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for r in data:
            w.writerow([_csv_cell(r.get(c)) for c in columns])
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_lines=False, header_style="bold")
        for c in columns:
            t.add_column(str(c), overflow="fold")
        for r in data:
            t.add_row(*["" if r.get(c) is None else str(_fmt_cell(r.get(c))) for c in columns])
        console = Console(file=out, width=None if out.isatty() else 200)
        console.print(t)
        console.print(f"[dim]{len(data)} row{'s' if len(data) != 1 else ''}[/dim]")
    if truncated:
        click.echo(f"(output cut at {len(data)} rows: raise --limit, or 0 for no limit)", err=True)


def _fmt_cell(v):
    if isinstance(v, dict):
        return ", ".join(f"{k}={'-' if x is None else x}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return v


def _csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v
