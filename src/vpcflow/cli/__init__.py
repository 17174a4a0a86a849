"""The ``vpcflow`` command line: a thin shell over the library.

Each command opens a library object, calls one method and prints the result. Library errors
(``VpcflowError``) become one line on stderr and exit code 1; usage errors exit 2.

Commands live in one module per area (``core``, ``aws``, ``insights``, ``troubleshoot``,
``detect``, ``generate``); each exposes ``register(main)``. A module is imported only when one
of its commands runs (``COMMANDS`` says which module holds which command).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from .. import __version__
from ..errors import VpcflowError

_COMMAND_MODULES = ("core", "generate", "aws", "insights", "troubleshoot", "detect")

# Every command: (module of cli/, one-line help as `vpcflow --help` lists it). Commands load on
# use, so `vpcflow --help` and each command import only what they need (no pyarrow, DuckDB or
# boto3 for the help). tests/test_cli_startup.py checks this table against the commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "athena-ddl": (
        "insights",
        "Print the Athena CREATE EXTERNAL TABLE for flow logs on S3 (with partition projection).",
    ),
    "aws": ("aws", "Set up and inspect VPC flow logs in an AWS account."),
    "compact": ("core", "Merge small Parquet files of each date partition."),
    "demo": (
        "generate",
        "Generate a day of a small VPC's flow logs, ingest them and print what they show.",
    ),
    "detect": (
        "detect",
        "Find scans, sweeps, brute force, exfiltration, listed addresses and reject spikes.",
    ),
    "enrich": ("detect", "Enrichment data: AWS IP ranges, address look-ups."),
    "explain": (
        "troubleshoot",
        "Say why flow-log records were rejected: security group or network ACL.",
    ),
    "generate": (
        "generate",
        "Write realistic synthetic VPC Flow Logs to OUT_DIR as AWS delivers them to S3.",
    ),
    "info": ("core", "Summarise the store: records, files, dates."),
    "ingest": (
        "core",
        "Ingest flow logs from files, directories, globs, - (stdin), s3://… or cloudwatch://….",
    ),
    "insights": (
        "insights",
        "Run a CloudWatch Logs Insights QUERY over the store ('-' reads it from stdin).",
    ),
    "quarantine": (
        "core",
        "List the lines ingest could not store: file, line, field and reason.",
    ),
    "queries": ("insights", "List the named queries, one line each."),
    "query": ("insights", "Run the named query NAME (see 'vpcflow queries')."),
    "schema": (
        "core",
        "Print every flow-log field: AWS name, column, Athena type, version, description.",
    ),
    "settings": (
        "core",
        "List the settings: environment variable, value in force, default, meaning.",
    ),
    "sql": ("core", "Run SQL over the table vpc_flow_logs (Athena dialect by default)."),
    "troubleshoot": (
        "troubleshoot",
        "Rank the blocked conversations in the store and say what blocked each.",
    ),
}


class _Main(click.Group):
    """The root group: commands load from their module on first use."""

    _loaded: set[str]

    def _load(self, module: str) -> None:
        if module in self._loaded:
            return
        self._loaded.add(module)
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:  # an area not built yet
            if exc.name != f"{__name__}.{module}":
                raise
            return
        mod.register(self)

    def load_all(self) -> None:
        for module in _COMMAND_MODULES:
            self._load(module)

    def list_commands(self, ctx):
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            if cmd_name in COMMANDS:
                self._load(COMMANDS[cmd_name][0])
            if cmd_name not in self.commands:  # a command missing from COMMANDS
                self.load_all()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx, formatter):
        # The listing comes from COMMANDS, so `vpcflow --help` imports no command module.
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in COMMANDS:
                text = COMMANDS[name][1]
                rows.append((name, click.Command(name, help=text).get_short_help_str(limit)))
            else:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VpcflowError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `vpcflow sql ... | head`
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo(
                "Interrupted. What was committed is kept; an ingest run again picks up from there.",
                err=True,
            )
            sys.exit(130)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpcflow")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def main(verbose: int) -> None:
    """vpcflow: turn AWS VPC Flow Logs into answers.

    Ingest flow logs (files, S3, CloudWatch Logs) into a Parquet store, query them with
    Athena SQL or Logs Insights, detect scans and find out why traffic was rejected.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


main._loaded = set()
