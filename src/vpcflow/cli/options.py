"""Options and steps several commands share: the store, query limits, running and printing."""

from __future__ import annotations

import click

from .. import settings
from .output import emit

store_option = click.option(
    "--store",
    "store_path",
    envvar="VPCFLOW_STORE",
    default=None,
    help=f"Store directory [env VPCFLOW_STORE; default {settings.get('store')}].",
)
limit_option = click.option(
    "--limit",
    type=int,
    default=None,
    help=f"Most rows to print (0: all) [default {settings.get('row_limit')}].",
)
timeout_option = click.option(
    "--timeout",
    type=float,
    default=None,
    help=f"Seconds before the query is cancelled (0: none) [default {settings.get('time_limit')}].",
)


def open_existing(store_path: str | None, create: bool = False):
    from ..api import open_store  # here, so that a command's --help does not load the store

    return open_store(store_path, create=create)


def run_and_emit(store, sql: str, dialect: str, fmt: str, limit, timeout) -> None:
    """Run ``sql`` with the CLI's row and time limits and print the rows."""
    limit = settings.get("row_limit") if limit is None else limit
    timeout = settings.get("time_limit") if timeout is None else timeout
    res = store.query(sql, dialect, limit=limit or None, timeout=timeout or None)
    emit(res.table, fmt, truncated=res.truncated)
