"""``vpcflow generate`` and ``vpcflow demo``: synthetic flow logs and the tour of the tool."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from ..generate import ATTACK_TYPES, generate


@click.command("generate")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--records", "-n", type=click.IntRange(min=1), required=True, help="How many records."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--version",
    "version",
    type=click.Choice(["2", "3", "4", "5"]),
    default="2",
    show_default=True,
    help="2: default format; 3-5: all fields of that version.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "parquet"]),
    default="text",
    show_default=True,
    help="gzip text with a header line, or Parquet.",
)
@click.option(
    "--layout",
    type=click.Choice(["s3", "hive", "flat"]),
    default="s3",
    show_default=True,
    help="S3 key layout: AWSLogs/<account>/..., Hive-compatible, or flat.",
)
@click.option("--hourly", is_flag=True, help="Per-hour prefixes (HH/ or hour=HH/).")
@click.option(
    "--attacks",
    default=None,
    metavar="LIST",
    help=f"Inject labelled incidents: 'all' or a comma list of {', '.join(ATTACK_TYPES)}; "
    "ground truth goes to OUT_DIR/labels.json.",
)
@click.option(
    "--lookalikes",
    is_flag=True,
    help="Add benign traffic shaped like attacks (load-balanced clients, health checks, "
    "scrapes, an authorised scanner, backups, NAT fan-out, DNS...), labelled benign.",
)
@click.option(
    "--benign-only",
    is_flag=True,
    help="A day without any incident: the background and the look-alikes only.",
)
@click.option(
    "--start",
    default=None,
    help="First record (UTC): ISO-8601 or Unix seconds [default: yesterday 00:00 UTC, so that "
    "queries over recent days find the data; give it for the same bytes on any day].",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=24.0,
    show_default=True,
    help="Time span the records cover (one file per 5 minutes).",
)
@click.option("--force", is_flag=True, help="Replace the contents of OUT_DIR if it is not empty.")
@click.option(
    "--report",
    "report_fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print what was written (--format is the log file format).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --report json.")
def generate_cmd(
    out_dir,
    records,
    seed,
    version,
    fmt,
    layout,
    hourly,
    attacks,
    lookalikes,
    benign_only,
    start,
    hours,
    force,
    report_fmt,
    as_json,
):
    """Write realistic synthetic VPC Flow Logs to OUT_DIR as AWS delivers them to S3.

    OUT_DIR must be new or empty (or --force); the logs appear there only when complete.
    """
    from pathlib import Path

    from ..errors import ConfigError
    from .progress import Counter

    out = Path(out_dir)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(
            f"{out}: not empty; generate into a new or empty directory, or add --force to "
            "replace its contents"
        )
    if start is None:
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = (today - dt.timedelta(days=1)).isoformat()
    with Counter("generating") as progress:
        report = generate(
            out_dir,
            records=records,
            seed=seed,
            version=int(version),
            fmt=fmt,
            layout=layout,
            hourly=hourly,
            attacks=attacks,
            start=start,
            hours=hours,
            progress=progress,
            force=force,
            lookalikes=lookalikes,
            benign_only=benign_only,
        )
    d = report.to_dict()
    if as_json or report_fmt == "json":
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(
        f"Wrote {d['records']:,} records in {d['files']:,} files ({d['bytes'] / 1e6:,.1f} MB) "
        f"to {out_dir}, {d['start']} to {d['end']}, in {d['seconds']:.1f} s "
        f"({d['records_per_second']:,} records/s)."
    )
    if report.labels:
        click.echo(f"{len(report.incidents)} labelled incidents: {report.labels}")


@click.command("demo")
@click.option(
    "--records",
    "-n",
    type=click.IntRange(min=1000),
    default=1_000_000,
    show_default=True,
    help="How many records to generate.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of the generated VPC (same seed, same data).",
)
@click.option(
    "--keep",
    "keep_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the generated logs and the store in this directory.",
)
@click.option(
    "--serve",
    "serve",
    is_flag=True,
    help="Then serve the dashboard on the demo's store (kept until the server stops).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port of the dashboard with --serve (0: any free one).",
)
@click.option("--open", "open_browser", is_flag=True, help="With --serve: open it in a browser.")
def demo_cmd(records, seed, keep_dir, serve, port, open_browser):
    """Generate a day of a small VPC's flow logs, ingest them and print what they show.

    With --serve, the dashboard on the demo's store follows (Ctrl+C stops it)."""
    if serve:
        import shutil
        import tempfile
        from pathlib import Path

        from ..api import open_store
        from .web import start

        base = keep_dir or tempfile.mkdtemp(prefix="vpcflow-demo-")
        try:
            _demo(records, seed, base)
            store = open_store(Path(base) / "store", create=False)
            start(store, "127.0.0.1", port, None, open_browser)
        finally:
            if keep_dir is None:
                shutil.rmtree(base, ignore_errors=True)
        return
    _demo(records, seed, keep_dir)


def _demo(records, seed, keep_dir):
    from ..demo import run_demo

    progress = None
    if sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
        )
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        with bar:
            result = run_demo(records=records, seed=seed, keep_dir=keep_dir, progress=progress)
    else:
        result = run_demo(records=records, seed=seed, keep_dir=keep_dir, progress=_plain_progress)
    click.echo(result.text)


_reported: set[str] = set()


def _plain_progress(stage: str, done: int, total: int) -> None:
    if done >= total and stage not in _reported:
        _reported.add(stage)
        click.echo(f"{stage}: {done:,} records", err=True)


def register(main: click.Group) -> None:
    main.add_command(generate_cmd)
    main.add_command(demo_cmd)
