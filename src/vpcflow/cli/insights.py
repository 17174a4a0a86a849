"""Commands: insights (Logs Insights QL), queries / query (named queries), athena-ddl."""

from __future__ import annotations

import sys

import click

from .. import insights
from .. import queries as named_queries
from ..queries import athena
from .options import (
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

_explain_option = click.option(
    "--explain", is_flag=True, help="Print the SQL instead of running it."
)


@click.command("insights")
@click.argument("query")
@store_option
@engine_options
@since_option
@until_option
@output_options
@limit_option
@timeout_option
@_explain_option
def insights_cmd(query, store_path, since, until, fmt, output, limit, timeout, explain):
    """Run a CloudWatch Logs Insights QUERY over the store ('-' reads it from stdin).

    \b
    vpcflow insights 'filter action="REJECT" | stats count(*) as n by srcAddr | sort n desc'
    """
    if query == "-":
        query = sys.stdin.read()
    t = insights.translate(query, since=since, until=until)
    for w in t.warnings:
        click.echo(f"warning: {w}", err=True)
    if explain:
        click.echo(t.sql)
        return
    run_and_emit(open_existing(store_path), t.sql, "duckdb", fmt, limit, timeout, output)


def _param_text(p) -> str:
    if p.required:
        return f"{p.name} ({p.type}, required)"
    return f"{p.name} ({p.type}) = {p.default}"


@click.command("queries")
@output_options
def queries_cmd(fmt, output):
    """List the named queries with their parameters (-p NAME=VALUE)."""
    out = []
    for q in named_queries.all_queries():
        params = "; ".join(_param_text(p) for p in q.params)
        out.append({"name": q.name, "description": q.description, "params": params})
    if fmt == "table" and not output:
        width = max(len(r["name"]) for r in out)
        for q, r in zip(named_queries.all_queries(), out, strict=True):
            click.echo(f"{r['name']:<{width}}  {r['description']}")
            for p in q.params:
                click.echo(f"{'':<{width}}    -p {_param_text(p)}: {p.description}")
        return
    emit(out, fmt, output=output)


def _params(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"expected k=v, got {v!r}", param_hint="--param")
        k, _, val = v.partition("=")
        out[k.strip()] = val
    return out


@click.command("query")
@click.argument("name")
@click.option(
    "--param", "-p", "params", multiple=True, metavar="K=V", help="A parameter value (repeatable)."
)
@store_option
@engine_options
@since_option
@until_option
@output_options
@limit_option
@timeout_option
@_explain_option
def query_cmd(name, params, store_path, since, until, fmt, output, limit, timeout, explain):
    """Run the named query NAME (see 'vpcflow queries' for the names and parameters)."""
    q = named_queries.get(name)
    sql = q.render(_params(params))
    if explain:
        click.echo(f"-- {q.name}: {q.description}\n-- source: {q.source}\n{sql}")
        return
    window = time_window(since, until)
    run_and_emit(open_existing(store_path), sql, "athena", fmt, limit, timeout, output, window)


@click.command("athena-ddl")
@click.option("--location", default=None, help="s3://bucket/prefix the flow logs are delivered to.")
@click.option(
    "--store",
    "store_location",
    default=None,
    metavar="S3_URI",
    help="Instead: the s3:// location of a vpcflow store copied to S3.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["text", "parquet"]),
    default="text",
    show_default=True,
    help="File format the flow log delivers.",
)
@click.option("--hive", is_flag=True, help="The flow log uses Hive-compatible S3 prefixes.")
@click.option("--hourly", is_flag=True, help="The flow log uses hourly partitions.")
@click.option(
    "--projection/--no-projection",
    default=True,
    show_default=True,
    help="Partition projection: Athena finds partitions itself.",
)
@click.option(
    "--fields",
    default="default",
    show_default=True,
    help="default, all, or the flow log's format ('${version} ${srcaddr} ...' or names).",
)
@click.option("--table", default="vpc_flow_logs", show_default=True, help="Table name.")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="ID",
    help="Account ID of the S3 keys, to project (repeatable; none: injected).",
)
@click.option(
    "--key-region",
    "regions",
    multiple=True,
    metavar="REGION",
    help="Region of the S3 keys, to project (repeatable; none: injected).",
)
@click.option(
    "--start",
    "start_day",
    default="2020-01-01",
    show_default=True,
    help="First day the projection covers.",
)
def athena_ddl_cmd(
    location,
    store_location,
    file_format,
    hive,
    hourly,
    projection,
    fields,
    table,
    accounts,
    regions,
    start_day,
):
    """Print the Athena CREATE EXTERNAL TABLE for flow logs on S3 (with partition projection)."""
    if bool(location) == bool(store_location):
        raise click.UsageError(
            "give --location (flow logs as AWS delivers them) or --store (a vpcflow store on S3)"
        )
    day = start_day.replace("/", "-")
    if store_location:
        click.echo(
            athena.store_ddl(store_location, table=table, projection=projection, start_date=day),
            nl=False,
        )
        return
    ddl = athena.flow_log_ddl(
        location,
        table=table,
        file_format=file_format,
        hive=hive,
        hourly=hourly,
        projection=projection,
        fields=fields,
        accounts=accounts,
        regions=regions,
        start_day=day.replace("-", "/"),
    )
    click.echo(ddl, nl=False)


def register(main: click.Group) -> None:
    for cmd in (insights_cmd, queries_cmd, query_cmd, athena_ddl_cmd):
        main.add_command(cmd)
