"""The ``vpcflow`` command line: a thin shell over the library.

Each command opens a library object, calls one method and prints the result. Library errors
(``VpcflowError``) become one line on stderr and exit code 1; usage errors exit 2.

Commands live in one module per area (``core``, ``aws``, ``insights``, ``troubleshoot``,
``detect``, ``generate``, ``web``); each exposes ``register(main)``. A module is imported only
when one of its commands runs (``COMMANDS`` says which module holds which command).
"""

from __future__ import annotations

import importlib
import os
import sys
import time

import click

from .. import __version__
from ..errors import VpcflowError

_COMMAND_MODULES = (
    "core",
    "generate",
    "aws",
    "insights",
    "troubleshoot",
    "detect",
    "interfaces",
    "web",
    "spark",
)


# What an interrupted command keeps, by command; every other command changes nothing.
_INTERRUPTED = {
    "ingest": "Interrupted. What was committed is kept; an ingest run again picks up from there.",
    "compact": "Interrupted. The store is as it was, or compacted up to the last merged partition.",
    "generate": "Interrupted. Nothing was written to the output directory.",
    "enrich": "Interrupted. The AWS IP ranges file in use is unchanged.",
}


def _one_line(exc: BaseException) -> str:
    # Errors are one line; a multi-line message (a query with a caret under the error) keeps
    # its first line, which says where and what.
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _quiet_stdout() -> None:
    # The reader went away (`vpcflow ... | head -1`): drop whatever is still buffered so that
    # the interpreter's final flush cannot fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# Every command: (module of cli/, one-line help as `vpcflow --help` lists it). Commands load on
# use, so `vpcflow --help` and each command import only what they need (no pyarrow, DuckDB or
# boto3 for the help). tests/test_cli_startup.py checks this table against the commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "athena-ddl": (
        "insights",
        "Print the Athena CREATE EXTERNAL TABLE for flow logs on S3 (with partition projection).",
    ),
    "aws": ("aws", "Set up and inspect VPC flow logs in an AWS account."),
    "check": (
        "core",
        "Verify every data file against the manifest (presence, size, checksum) and every line "
        "of the manifest. Exits 1 if anything is damaged and was not repaired.",
    ),
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
    "interfaces": (
        "interfaces",
        "The interface inventory: which instance, load balancer, database, NAT gateway or "
        "endpoint is behind each ENI (used by sql, insights, detect, troubleshoot and the demo).",
    ),
    "quarantine": (
        "core",
        "List the lines ingest could not store: file, line, field and reason.",
    ),
    "queries": ("insights", "List the named queries with their parameters (-p NAME=VALUE)."),
    "query": (
        "insights",
        "Run the named query NAME (see 'vpcflow queries' for the names and parameters).",
    ),
    "rollup": (
        "core",
        "The store's rollups: per-file summaries that ingest keeps and detect reads "
        "(status, rebuild), and the dashboard's day summaries (summarise).",
    ),
    "schema": (
        "core",
        "Print every column of a table: the flow-log fields (AWS name, column, Athena type, "
        "version, Logs Insights name, description), then the columns vpcflow adds.",
    ),
    "serve": (
        "web",
        "Serve the web dashboard over the store (http://127.0.0.1:8000/ by default).",
    ),
    "settings": (
        "core",
        "List the settings: environment variable, value in force, default, meaning.",
    ),
    "spark-job": (
        "spark",
        "Write what a cluster needs to run 'vpcflow ingest --engine spark' and print the command.",
    ),
    "sql": (
        "core",
        "Run SQL over the table vpc_flow_logs (Athena dialect by default; '-' reads stdin).",
    ),
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
            result = super().invoke(ctx)
            sys.stdout.flush()
            return result
        except VpcflowError as exc:
            click.echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `vpcflow sql ... | head`
            _quiet_stdout()
            sys.exit(0)
        except KeyboardInterrupt:
            self._interrupted(ctx)
        except Exception as exc:
            # DuckDB reports Ctrl-C during a query as its own exception, not KeyboardInterrupt.
            if type(exc).__name__ == "InterruptException" or str(exc).startswith(
                "Query interrupted"
            ):
                self._interrupted(ctx)
            if isinstance(exc, OSError) and exc.errno == 32:  # EPIPE through another layer
                _quiet_stdout()
                sys.exit(0)
            raise

    @staticmethod
    def _interrupted(ctx) -> None:
        name = ctx.invoked_subcommand or ""
        msg = _INTERRUPTED.get(name, "Interrupted. Nothing was changed.")
        try:
            click.echo(msg, err=True)
        except OSError:
            pass
        sys.exit(130)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpcflow")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """vpcflow: turn AWS VPC Flow Logs into answers.

    Ingest flow logs (files, S3, CloudWatch Logs) into a Parquet store, query them with
    Athena SQL or Logs Insights, detect scans and find out why traffic was rejected.
    """
    ctx.meta["vpcflow.started"] = time.monotonic()  # the commands' time limits count from here
    import logging  # here, not at the top: `vpcflow --help` (handled before this) needs none

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


main._loaded = set()
