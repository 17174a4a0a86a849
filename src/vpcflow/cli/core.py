"""Core commands: schema, ingest, sql, compact, info, quarantine."""

from __future__ import annotations

import json
import os
import sys

import click

from .. import schema, settings
from ..errors import StoreWriteError
from .options import (
    engine_choice,
    engine_options,
    limit_option,
    open_existing,
    run_and_emit,
    since_option,
    store_option,
    time_window,
    timeout_option,
    until_option,
)
from .output import emit, output_options


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``, ``1,000 records``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@click.command("schema")
@output_options
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
def schema_cmd(fmt: str, output, max_version: int | None, table: str) -> None:
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
    emit(rows, fmt, output=output)


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
@engine_options
@click.option(
    "--log-format",
    default=None,
    help="Field order of header-less records: '${version} ${account-id} ...'.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a progress line, then a summary; json: one JSON object with the counts.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--account",
    multiple=True,
    metavar="ID",
    help="S3: only keys of this account id (repeatable; from the key, before download).",
)
@click.option(
    "--key-region",
    "region",
    multiple=True,
    metavar="REGION",
    help="S3: only keys of this region (repeatable; from the key, before download). "
    "The region of the API calls is --aws-region.",
)
@click.option(
    "--since",
    default=None,
    help="S3/CloudWatch: only logs from this time (ISO-8601 or e.g. 24h, 7d).",
)
@click.option("--until", default=None, help="S3/CloudWatch: only logs before this time.")
@click.option("--profile", default=None, help="AWS profile for s3:// and cloudwatch:// sources.")
@click.option("--aws-region", default=None, help="AWS region for the API calls.")
def ingest_cmd(
    sources,
    store_path,
    log_format,
    fmt,
    as_json,
    account,
    region,
    since,
    until,
    profile,
    aws_region,
):
    """Ingest flow logs from files, directories, globs, - (stdin), s3://… or cloudwatch://….

    Already-ingested objects are skipped; bad lines are counted, reported and quarantined.
    """
    as_json = as_json or fmt == "json"
    from ..api import open_store

    store = open_store(store_path, create=True)  # the engine options choose the ingest job
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
    failure = None
    choice = engine_choice()
    engine = {"engine": choice.get("engine"), "spark_master": choice.get("spark_master")}
    from ..engines import ingest_job
    from ..store.nopandas import pandas_hidden

    if choice.get("spark_conf"):
        from ..engines.spark import parse_conf

        engine["spark_conf"] = parse_conf(choice["spark_conf"])
    try:
        # the native ingest: see hide_pandas
        with pandas_hidden(ingest_job(engine["engine"]) is None):
            if as_json or not sys.stderr.isatty():
                report = store.ingest(list(sources), log_format=log_format, **engine, **options)
            else:
                with _Progress() as progress:
                    report = store.ingest(
                        list(sources), log_format=log_format, progress=progress, **engine, **options
                    )
    except StoreWriteError as exc:
        if exc.report is None:
            raise
        failure, report = exc, exc.report  # print what was committed, then the error
    d = report.as_dict()
    if failure is not None:
        d["error"] = str(failure)
    if as_json:
        click.echo(json.dumps(d, indent=2))
    else:
        rate = f" ({d['records_per_second']:,} records/s)" if d["records_per_second"] else ""
        skipped = "".join(
            f", {plural(n, why + ' line')} skipped" for why, n in sorted(d["skipped_lines"].items())
        )
        if failure is None or d["records"] or d["files"]:  # else the error says it all
            click.echo(
                f"Ingested {plural(d['records'], 'record')} from {plural(d['files'], 'file')} "
                f"in {d['seconds']:.1f} s{rate}; {d['skipped_files']:,} already ingested, "
                f"{plural(d['bad_lines'], 'bad line')}, "
                f"{plural(d['failed_files'], 'unreadable file')}{skipped}."
            )
        if d["tgw_records"]:
            click.echo(
                f"  of the records, {d['tgw_records']:,} are Transit Gateway flow logs (tgw_flow_logs)."
            )
        for note in d.get("notes", []):
            click.echo(f"  {note}", err=True)
        if d["ignored_files"]:
            shown = ", ".join(d["ignored"][:5]) + (", …" if d["ignored_files"] > 5 else "")
            click.echo(
                f"  {plural(d['ignored_files'], 'file')} left out as not AWS flow-log objects "
                f"(they sit beside files named as AWS names them; give them as SOURCE to "
                f"ingest them): {shown}",
                err=True,
            )
        for p in d["problems"][:20]:
            where = p["path"] + (f":{p['line']}" if p.get("line") else "")
            fld = f" field {p['field']!r}:" if p.get("field") else ""
            click.echo(f"  {where}:{fld} {p['reason']}", err=True)
        if len(d["problems"]) > 20:
            click.echo(f"  … and more; see 'vpcflow quarantine --store {store.path}'", err=True)
    if failure is not None:
        click.echo(f"Error: {failure}", err=True)
        sys.exit(1)
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
@engine_options
@click.option(
    "--dialect",
    type=click.Choice(["athena", "trino", "duckdb"]),
    default="athena",
    show_default=True,
    help="SQL dialect of QUERY: Athena (Trino) as in the AWS docs, or DuckDB passed through.",
)
@since_option
@until_option
@output_options
@limit_option
@timeout_option
@click.option(
    "--explain", is_flag=True, help="Print the SQL the engine runs instead of running it."
)
def sql_cmd(query, store_path, dialect, since, until, fmt, output, limit, timeout, explain):
    """Run SQL over the table vpc_flow_logs (Athena dialect by default; '-' reads stdin).

    \b
    vpcflow sql "SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY 1" --since 24h
    vpcflow sql "SHOW PARTITIONS vpc_flow_logs"
    """
    if query == "-":
        query = sys.stdin.read()
    window = time_window(since, until)
    store = open_existing(store_path)
    if explain:
        from ..engines.dialects import to_engine_sql

        click.echo(to_engine_sql(query, dialect, store.engine.dialect, window))
        return
    run_and_emit(store, query, dialect, fmt, limit, timeout, output, window)


@click.command("compact")
@store_option
def compact_cmd(store_path):
    """Merge small Parquet files of each date partition."""
    from .progress import Activity

    store = open_existing(store_path)
    with Activity("compacting") as act:
        r = store.compact()
        act.done(f"{plural(r['files_merged'], 'file')} merged")
    click.echo(
        f"Merged {plural(r['files_merged'], 'file')} into {plural(r['files_written'], 'file')}."
    )


@click.command("check")
@store_option
@click.option(
    "--repair",
    is_flag=True,
    help="Set damaged manifest lines aside, drop missing or damaged files from the manifest "
    "and mark the objects they came from for re-ingest.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a summary and one line per problem; json: one JSON object.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def check_cmd(store_path, repair, fmt, as_json):
    """Verify every data file against the manifest (presence, size, checksum) and every line
    of the manifest. Exits 1 if anything is damaged and was not repaired."""
    as_json = as_json or fmt == "json"
    store = open_existing(store_path)
    r = store.check(repair=repair)
    bad = (
        r["damaged_files"]
        or r["manifest_damaged_lines"]
        or r["unreferenced_files"]
        or r["damaged_rollups"]
        or r["unreferenced_rollups"]
    )
    if as_json:
        click.echo(json.dumps(r, indent=2))
    else:
        click.echo(
            f"Checked {r['files_checked']:,} data files: {r['files_ok']:,} intact, "
            f"{len(r['damaged_files']):,} missing or damaged, "
            f"{len(r['manifest_damaged_lines']):,} damaged manifest lines, "
            f"{len(r['unreferenced_files']):,} files not in the manifest."
        )
        for m in r["manifest_damaged_lines"][:20]:
            click.echo(f"  manifest line {m['line']}: {m['reason']}", err=True)
        for f in r["damaged_files"][:20]:
            click.echo(f"  {f['path']}: {f['reason']} ({f['rows']:,} records)", err=True)
        for f in r["unreferenced_files"][:20]:
            click.echo(f"  {f}: not in the manifest", err=True)
        if r["rollups_checked"] or r["unreferenced_rollups"]:
            click.echo(
                f"Checked {r['rollups_checked']:,} rollup files: "
                f"{len(r['damaged_rollups']):,} missing or damaged, "
                f"{len(r['unreferenced_rollups']):,} not in the manifest."
            )
        for f in r["damaged_rollups"][:20]:
            click.echo(f"  {f['path']}: {f['reason']} (rollup {f['rollup']})", err=True)
        for f in r["unreferenced_rollups"][:20]:
            click.echo(f"  {f}: not in the manifest", err=True)
        if r["repaired"]:
            click.echo(
                f"Repaired: {r['files_dropped']:,} files ({r['records_dropped']:,} records) "
                f"dropped from the manifest, {len(r['objects_to_reingest']):,} objects marked "
                "for re-ingest (run the same 'vpcflow ingest SOURCE' again)"
                + (f"; files moved to {r['set_aside']}" if r["set_aside"] else "")
                + "."
            )
            if r["damaged_rollups"] or r["unreferenced_rollups"]:
                click.echo(
                    f"Rollups: {r['rollups_rebuilt']:,} written again from their data files, "
                    f"{len(r['unreferenced_rollups']):,} stray files deleted."
                )
            for uri in r["objects_to_reingest"][:20]:
                click.echo(f"  re-ingest: {uri}", err=True)
            if len(r["objects_to_reingest"]) > 20:
                more = len(r["objects_to_reingest"]) - 20
                click.echo(f"  … and {more:,} more (--format json lists them all)", err=True)
        elif bad:
            click.echo(f"Run 'vpcflow check --repair --store {store.path}' to repair.", err=True)
    if bad and not r["repaired"]:
        sys.exit(1)


@click.group("rollup")
def rollup_group():
    """The store's rollups: per-file summaries that ingest keeps and detect reads (status, rebuild),
    and the dashboard's day summaries (summarise)."""


@rollup_group.command("status")
@store_option
@output_options
def rollup_status_cmd(store_path, fmt, output):
    """How many data files have each rollup, current with today's settings."""
    from ..store import rollups

    store = open_existing(store_path)
    rows = []
    for name, r in rollups.ROLLUPS.items():
        st = store.rollup_status(name)
        rows.append(
            {
                "rollup": name,
                "table": r.table,
                "files": st["files"],
                "current": len(st["current"]),
                "missing": len(st["missing"]),
                "complete": st["complete"],
                "description": r.description,
            }
        )
    emit(rows, fmt, output=output)


@rollup_group.command("rebuild")
@store_option
@click.argument("names", nargs=-1)
def rollup_rebuild_cmd(store_path, names):
    """Write the rollups NAMES (default: those VPCFLOW_ROLLUPS names) for every data file that
    lacks a current one:
    files of an older vpcflow or a Spark ingest, or written with other detection settings."""
    from .progress import Activity

    store = open_existing(store_path)
    with Activity("writing rollups") as act:
        r = store.rebuild_rollups(names or None)
        act.done(f"{plural(r['files'], 'file')} summarised")
    click.echo(
        f"Wrote {plural(r['rollups_written'], 'rollup')} for {plural(r['files'], 'data file')}."
    )


@rollup_group.command("summarise")
@store_option
@click.argument("names", nargs=-1)
def rollup_summarise_cmd(store_path, names):
    """Write the day summaries NAMES (default: all of talkers, ports, sources, destinations)
    that are missing or stale: per day, the heaviest keys exactly and a bound on the others,
    from which the dashboard's top-N lists are answered exactly ('vpcflow serve' keeps them
    current in the background)."""
    from .progress import Activity

    store = open_existing(store_path)
    with Activity("writing day summaries") as act:
        r = store.build_summaries(names or None)
        act.done(f"{r['written']:,} written")
    click.echo(f"Wrote {r['written']:,} day summaries; {r['current']:,} were current.")


@click.command("info")
@store_option
@output_options
def info_cmd(store_path, fmt, output):
    """Summarise the store: records, files, dates."""
    store = open_existing(store_path)
    emit([store.info()], fmt, output=output)


@click.command("quarantine")
@store_option
@output_options
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Most lines to print (0: all).",
)
def quarantine_cmd(store_path, fmt, output, limit):
    """List the lines ingest could not store: file, line, field and reason."""
    store = open_existing(store_path)
    out = []
    for i, q in enumerate(store.quarantined()):
        if limit and i >= limit:
            break
        out.append(q)
    emit(out, fmt, output=output)


@click.command("settings")
@output_options
def settings_cmd(fmt, output):
    """List the settings: environment variable, value in force, default, meaning."""
    from ..errors import SettingError

    rows, bad = [], []
    for s in settings.SETTINGS.values():
        try:
            value = s.get()
        except SettingError as exc:
            value = f"{os.environ.get(s.env)} (invalid)"
            bad.append(str(exc))
        rows.append(
            {"setting": s.name, "env": s.env, "value": value, "default": s.default, "help": s.help}
        )
    emit(rows, fmt, output=output)
    for msg in bad:
        click.echo(f"Error: {msg}", err=True)
    if bad:
        sys.exit(1)


def register(main: click.Group) -> None:
    for cmd in (
        schema_cmd,
        ingest_cmd,
        sql_cmd,
        compact_cmd,
        check_cmd,
        rollup_group,
        info_cmd,
        quarantine_cmd,
        settings_cmd,
    ):
        main.add_command(cmd)
