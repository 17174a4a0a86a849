"""``vpcflow interfaces sync|list|show``: the interface inventory kept in the store."""

from __future__ import annotations

import json

import click

from .options import open_existing, store_option
from .output import emit, output_options

_TABLE_COLUMNS = (
    "interface_id",
    "kind",
    "label",
    "private_addresses",
    "public_addresses",
    "seen_from",
)
_LIST_COLUMNS = (
    "interface_id",
    "kind",
    "name",
    "label",
    "subnet_id",
    "private_addresses",
    "public_addresses",
    "security_groups",
    "seen_from",
    "seen_until",
)


@click.group("interfaces")
def interfaces_group():
    """The interface inventory: which instance, load balancer, database, NAT gateway or
    endpoint is behind each ENI (used by sql, insights, detect, troubleshoot and the demo)."""


@interfaces_group.command("sync")
@store_option
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="JSON printed by 'aws ec2 describe-network-interfaces' (repeatable: one snapshot).",
)
@click.option(
    "--from-aws",
    "from_aws",
    is_flag=True,
    help="Describe every interface of the account and region with boto3, named from "
    "instances' Name tags, load balancers, NAT gateways, VPC endpoints and RDS.",
)
@click.option(
    "--instances",
    "instances",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="With --file: JSON printed by 'aws ec2 describe-instances', for the instances' Name tags.",
)
@click.option("--profile", default=None, help="AWS profile for --from-aws.")
@click.option("--aws-region", default=None, help="AWS region for --from-aws.")
@click.option(
    "--taken-at",
    default=None,
    help="When the description was taken (default now): ISO-8601, Unix seconds or 2h.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def sync_cmd(store_path, files, from_aws, instances, profile, aws_region, taken_at, as_json):
    """Add a snapshot of the network interfaces to the store's inventory.

    Each sync is kept with the time it was taken; earlier ones are never rewritten, so an
    address that moved between interfaces is attributed by time.
    """
    from ..store.inventory import sync

    if bool(files) == bool(from_aws):
        raise click.UsageError("give --file FILE (repeatable) or --from-aws")
    if not from_aws and (profile or aws_region):
        raise click.UsageError("--profile and --aws-region apply only with --from-aws")
    if from_aws and instances:
        raise click.UsageError(
            "--instances goes with --file; --from-aws reads the instances itself"
        )
    store = open_existing(store_path, create=True)
    report = sync(
        store,
        file=list(files) or None,
        from_aws=from_aws,
        profile=profile,
        region=aws_region,
        taken_at=taken_at,
        instances=list(instances) or None,
    )
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    kinds = ", ".join(f"{n} {k}" for k, n in report["kinds"].items())
    click.echo(
        f"Synced {report['interfaces']} interfaces ({kinds}) from {report['source']} "
        f"at {report['taken_at']}: {report['new']} new, {report['changed']} changed, "
        f"{report['gone']} gone since the last sync."
    )


@interfaces_group.command("list")
@store_option
@click.option("--all", "history", is_flag=True, help="Every state of every interface (history).")
@output_options
def list_cmd(store_path, history, fmt, output):
    """The interfaces the inventory knows (current state; --all: with history)."""
    store = open_existing(store_path)
    inv = store.inventory
    if not inv:
        raise click.ClickException(
            "the inventory is empty: run 'vpcflow interfaces sync --file F' or '--from-aws'"
        )
    rows = inv.history() if history else list(inv.latest().values())
    rows = sorted(
        rows, key=lambda r: (r["kind"] != "instance", r["kind"], r["name"] or "", r["seen_from"])
    )
    out = []
    columns = (
        _LIST_COLUMNS if fmt != "table" else _TABLE_COLUMNS + (("seen_until",) if history else ())
    )
    for r in rows:
        d = {c: r.get(c) for c in columns}
        if fmt == "table":
            for c in ("private_addresses", "public_addresses"):
                d[c] = ", ".join(d[c] or ())
            d["seen_from"] = r["seen_from"].strftime("%Y-%m-%d %H:%M")
            if history and r["seen_until"] is not None:
                d["seen_until"] = r["seen_until"].strftime("%Y-%m-%d %H:%M")
        out.append(d)
    emit(out, fmt, output=output)


@interfaces_group.command("show")
@store_option
@click.argument("values", nargs=-1, required=True)
@click.option("--at", default=None, help="The time the values were seen (ISO-8601, Unix seconds).")
@output_options
def show_cmd(store_path, values, at, fmt, output):
    """What is behind VALUES (eni- ids and addresses), at --at (default: the latest)."""
    from ..store.inventory import names_for

    store = open_existing(store_path)
    names = names_for(store, values, at=at)
    emit([{"value": v, "is": names.get(v)} for v in values], fmt, output=output)


def register(main: click.Group) -> None:
    main.add_command(interfaces_group)
