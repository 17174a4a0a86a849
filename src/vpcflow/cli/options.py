"""Options and steps several commands share: the store, query limits, running and printing."""

from __future__ import annotations

import click

from .. import settings
from ..api import open_store
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


_ENGINE_META = "vpcflow.engine"


def _remember(ctx: click.Context, param: click.Parameter, value):
    if value not in (None, ()):
        ctx.meta.setdefault(_ENGINE_META, {})[param.name] = value
    return value


def engine_options(fn):
    """``--engine``, ``--spark-master``, ``--spark-conf``: the engine ``open_existing`` sets up."""
    for opt in reversed(
        (
            click.option(
                "--engine",
                type=click.Choice(["duckdb", "spark"]),
                default=None,
                expose_value=False,
                callback=_remember,
                help=f"Query engine [env VPCFLOW_ENGINE; default {settings.get('engine')}].",
            ),
            click.option(
                "--spark-master",
                default=None,
                expose_value=False,
                callback=_remember,
                help="Spark master for --engine spark "
                f"[env VPCFLOW_SPARK_MASTER; default {settings.get('spark_master')}].",
            ),
            click.option(
                "--spark-conf",
                multiple=True,
                metavar="KEY=VALUE",
                expose_value=False,
                callback=_remember,
                help="A Spark setting for --engine spark (repeatable).",
            ),
        )
    ):
        fn = opt(fn)
    return fn


def engine_choice() -> dict:
    """What the current command's engine options said (empty: the settings decide)."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(_ENGINE_META, {})) if ctx is not None else {}


def open_existing(store_path: str | None, create: bool = False):
    store = open_store(store_path, create=create)
    choice = engine_choice()
    if choice:
        from ..engines.spark import parse_conf

        store.use_engine(
            choice.get("engine"),
            spark_master=choice.get("spark_master"),
            spark_conf=parse_conf(choice.get("spark_conf")),
        )
    return store


def run_and_emit(store, sql: str, dialect: str, fmt: str, limit, timeout) -> None:
    """Run ``sql`` with the CLI's row and time limits and print the rows."""
    limit = settings.get("row_limit") if limit is None else limit
    timeout = settings.get("time_limit") if timeout is None else timeout
    res = store.query(sql, dialect, limit=limit or None, timeout=timeout or None)
    emit(res.table, fmt, truncated=res.truncated)
