"""The ``vpcflow`` command line: a thin shell over the library.

Each command opens a library object, calls one method and prints the result. Library errors
(``VpcflowError``) become one line on stderr and exit code 1; usage errors exit 2.

Commands live in one module per area (``core``, ``aws``, ``insights``, ``troubleshoot``,
``detect``, ``generate``); each exposes ``register(main)``.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from .. import __version__
from ..errors import VpcflowError

_COMMAND_MODULES = ("core", "generate", "aws", "insights", "troubleshoot", "detect", "spark")


class _Main(click.Group):
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


for _name in _COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:  # an area not built yet
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _mod.register(main)
