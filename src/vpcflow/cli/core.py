"""Core commands: schema, ingest, sql, compact, info, quarantine."""

from __future__ import annotations

import json
import sys

import click

from .. import schema, settings
from .options import limit_option, open_existing, run_and_emit, store_option, timeout_option
from .output import emit, format_option


@click.command("schema")
@format_option
@click.option(
    "--version", "max_version", type=int, default=None, help="Only fields up to this version."
)
@click.option(
    "--table",
    type=click.Choice([t.name for t in schema.TABLES]),
    default=schema.VPC.name,
    show_default=True,
    help="VPC flow logs, or Transit Gateway flow logs.",
)
def schema_cmd(fmt: str, max_version: int | None, table: str) -> None:
    """Print every column of a table: the flow-log fields (AWS name, column, Athena type,
    version, Logs Insights name, description), then the columns vpcflow adds."""
    tbl = schema.TABLE_BY_NAME[table]
    fields = tbl.fields if max_version is None else tbl.fields_of_version(max_version)
    rows = [
        {
            "field": f.name,
            "column": f.column,
            "type": f.athena_type,
            "version": f.version,
            "insights": f.insights_name,
            "description": f.description,
        }
        for f in fields
    ]
    added = [
        (
            schema.EXTRA_COLUMN,
            "map<string,string>",
            "Fields the catalogue does not know, by AWS name: extra_fields['name'].",
        ),
        *((c, "string", d) for c, d in schema.KEY_COLUMNS),
        (schema.PARTITION_COLUMN, "date", "UTC day of start; the store's partition column."),
    ]
    for column, typ, description in added:
        rows.append(
            {
                "field": "(added)",
                "column": column,
                "type": typ,
                "version": None,
                "insights": column,
                "description": description,
            }
        )
    emit(rows, fmt)


class _Progress:
    """A rich progress line: files, records, MB/s."""

    def __init__(self):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.p = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            transient=False,
            console=None,
        )
        self.task = None
        self.t0 = None

    def __enter__(self):
        import time

        self.t0 = time.perf_counter()
        self.p.__enter__()
        self.task = self.p.add_task("starting", total=None)
        return self

    def __call__(self, ev: dict) -> None:
        import time

        secs = max(time.perf_counter() - self.t0, 1e-6)
        self.p.update(
            self.task,
            description=(
                f"{ev['files']:,} files  {ev['records']:,} records  "
                f"{ev['bytes'] / 1e6 / secs:,.1f} MB/s  {ev['bad_lines']:,} bad lines  "
                f"{ev['skipped_files']:,} skipped"
            ),
        )

    def __exit__(self, *exc):
        self.p.__exit__(*exc)


@click.command("ingest")
@click.argument("sources", nargs=-1, required=True)
@store_option
@click.option(
    "--log-format",
    default=None,
    help="Field order of header-less records: '${version} ${account-id} ...'.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object with the counts instead of a progress bar.",
)
@click.option("--account", multiple=True, help="S3: only these account ids (from the key).")
@click.option("--region", multiple=True, help="S3: only these regions (from the key).")
@click.option(
    "--since",
    default=None,
    help="S3/CloudWatch: only logs from this time (ISO-8601 or e.g. 24h, 7d).",
)
@click.option("--until", default=None, help="S3/CloudWatch: only logs before this time.")
@click.option("--profile", default=None, help="AWS profile for s3:// and cloudwatch:// sources.")
@click.option("--aws-region", default=None, help="AWS region for the API calls.")
def ingest_cmd(
    sources, store_path, log_format, as_json, account, region, since, until, profile, aws_region
):
    """Ingest flow logs from files, directories, globs, - (stdin), s3://… or cloudwatch://….

    Already-ingested objects are skipped; bad lines are counted, reported and quarantined.
    """
    store = open_existing(store_path, create=True)
    options = {
        k: v
        for k, v in {
            "account": list(account) or None,
            "region": list(region) or None,
            "since": since,
            "until": until,
            "profile": profile,
            "aws_region": aws_region,
        }.items()
        if v
    }
    if as_json or not sys.stderr.isatty():
        report = store.ingest(list(sources), log_format=log_format, **options)
    else:
        with _Progress() as progress:
            report = store.ingest(
                list(sources), log_format=log_format, progress=progress, **options
            )
    d = report.as_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2))
    else:
        rate = f" ({d['records_per_second']:,} records/s)" if d["records_per_second"] else ""
        click.echo(
            f"Ingested {d['records']:,} records from {d['files']:,} files in {d['seconds']:.1f} s{rate}; "
            f"{d['skipped_files']:,} already ingested, {d['bad_lines']:,} bad lines, "
            f"{d['failed_files']:,} unreadable files."
        )
        if d["tgw_records"]:
            click.echo(
                f"  of the records, {d['tgw_records']:,} are Transit Gateway flow logs (tgw_flow_logs)."
            )
        for p in d["problems"][:20]:
            where = p["path"] + (f":{p['line']}" if p.get("line") else "")
            fld = f" field {p['field']!r}:" if p.get("field") else ""
            click.echo(f"  {where}:{fld} {p['reason']}", err=True)
        if len(d["problems"]) > 20:
            click.echo(f"  … and more; see 'vpcflow quarantine --store {store.path}'", err=True)
    if (
        report.records == 0
        and report.files == 0
        and report.skipped_files == 0
        and report.failed_files
    ):
        sys.exit(1)


@click.command("sql")
@click.argument("query")
@store_option
@click.option(
    "--dialect",
    type=click.Choice(["athena", "trino", "duckdb"]),
    default="athena",
    show_default=True,
    help="SQL dialect of QUERY: Athena (Trino) as in the AWS docs, or DuckDB passed through.",
)
@format_option
@limit_option
@timeout_option
@click.option(
    "--explain", is_flag=True, help="Print the SQL the engine runs instead of running it."
)
def sql_cmd(query, store_path, dialect, fmt, limit, timeout, explain):
    """Run SQL over the table vpc_flow_logs (Athena dialect by default)."""
    if query == "-":
        query = sys.stdin.read()
    store = open_existing(store_path)
    if explain:
        from ..engines.dialects import to_engine_sql

        click.echo(to_engine_sql(query, dialect, store.engine.dialect))
        return
    run_and_emit(store, query, dialect, fmt, limit, timeout)


@click.command("compact")
@store_option
def compact_cmd(store_path):
    """Merge small Parquet files of each date partition."""
    store = open_existing(store_path)
    r = store.compact()
    click.echo(f"Merged {r['files_merged']} files into {r['files_written']}.")


@click.command("info")
@store_option
@format_option
def info_cmd(store_path, fmt):
    """Summarise the store: records, files, dates."""
    store = open_existing(store_path)
    emit([store.info()], fmt)


@click.command("quarantine")
@store_option
@format_option
@click.option("--limit", type=int, default=100, show_default=True)
def quarantine_cmd(store_path, fmt, limit):
    """List the lines ingest could not store: file, line, field and reason."""
    store = open_existing(store_path)
    out = []
    for i, q in enumerate(store.quarantined()):
        if limit and i >= limit:
            break
        out.append(q)
    emit(out, fmt)


@click.command("settings")
@format_option
def settings_cmd(fmt):
    """List the settings: environment variable, value in force, default, meaning."""
    rows = [
        {"setting": s.name, "env": s.env, "value": s.get(), "default": s.default, "help": s.help}
        for s in settings.SETTINGS.values()
    ]
    emit(rows, fmt)


def register(main: click.Group) -> None:
    for cmd in (
        schema_cmd,
        ingest_cmd,
        sql_cmd,
        compact_cmd,
        info_cmd,
        quarantine_cmd,
        settings_cmd,
    ):
        main.add_command(cmd)
