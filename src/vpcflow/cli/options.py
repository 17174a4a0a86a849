"""Options and steps several commands share: the store, query limits, running and printing."""

from __future__ import annotations

import time

import click

from .. import settings
from ..errors import QueryTimeout
from .output import emit_stream

# Help texts show the defaults, not the environment's values: a malformed VPCFLOW_* value must
# not break `--help` (the commands that use it say what is wrong with it).
_DEFAULT = {name: s.default for name, s in settings.SETTINGS.items()}

store_option = click.option(
    "--store",
    "store_path",
    envvar="VPCFLOW_STORE",
    default=None,
    help=f"Store directory [env VPCFLOW_STORE; default {_DEFAULT['store']}].",
)
limit_option = click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help=f"Most rows to print (0: all) [env VPCFLOW_ROW_LIMIT; default {_DEFAULT['row_limit']}].",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds the whole command may take, printing included, before the query is "
    f"cancelled (0: none) [env VPCFLOW_TIME_LIMIT; default {_DEFAULT['time_limit']:g}].",
)
since_option = click.option(
    "--since",
    default=None,
    help="Only flows starting at or after: 2024-05-01[T12:00Z], Unix seconds, or 15m/24h/7d ago.",
)
until_option = click.option(
    "--until", default=None, help="Only flows starting before: same forms as --since."
)


def command_started() -> float:
    """When this command started (``time.monotonic()``), as the main group recorded it."""
    ctx = click.get_current_context(silent=True)
    started = ctx.meta.get("vpcflow.started") if ctx is not None else None
    return started if started is not None else time.monotonic()


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
    from ..api import open_store

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


def time_window(since, until) -> tuple[int | None, int | None] | None:
    """``--since``/``--until`` as Unix seconds (None when neither is given)."""
    if since is None and until is None:
        return None
    from ..timeparse import to_epoch

    return to_epoch(since, name="since"), to_epoch(until, name="until")


def run_and_emit(
    store, sql: str, dialect: str, fmt: str, limit, timeout, output=None, window=None
) -> None:
    """Run ``sql`` with the CLI's row and time limits and print the rows as they come."""
    limit = settings.get("row_limit") if limit is None else limit
    timeout = settings.get("time_limit") if timeout is None else timeout
    budget = timeout
    if timeout:
        # The limit covers the whole command: what opening the store took counts too.
        timeout = max(0.001, timeout - (time.monotonic() - command_started()))
    try:
        stream = store.engine.stream(
            sql,
            dialect=dialect,
            limit=limit or None,
            timeout=timeout or None,
            window=window,
            python=True,  # plain results print from Python values, without loading pyarrow
        )
        with stream:
            emit_stream(stream, fmt, output=output)
    except QueryTimeout:
        raise QueryTimeout(
            f"query cancelled after the {budget:g} s time limit (raise --timeout, 0 for none)"
        ) from None
