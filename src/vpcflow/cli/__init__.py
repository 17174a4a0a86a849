"""The ``vpcflow`` command line: a thin shell over the library.

Each command opens a library object, calls one method and prints the result. Library errors
(``VpcflowError``) become one line on stderr and exit code 1; usage errors exit 2.

Commands live in one module per area (``core``, ``aws``, ``insights``, ``troubleshoot``,
``detect``, ``generate``, ``web``); each exposes ``register(main)``.
"""

from __future__ import annotations

import importlib
import logging
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


class _Main(click.Group):
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
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _name in _COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:  # an area not built yet
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _mod.register(main)
