"""``vpcflow explain`` and ``vpcflow troubleshoot``: security group or network ACL?"""

from __future__ import annotations

import gzip
import sys

import click

from .. import troubleshoot as ts
from ..errors import ConfigError, SourceError
from ..timeparse import to_epoch
from .options import engine_options, open_existing, store_option
from .output import FORMATS, destination, emit, output_option, visible

_CONFIG_OPTIONS = (
    click.option(
        "--security-groups",
        "security_groups",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="JSON printed by 'aws ec2 describe-security-groups' (repeatable).",
    ),
    click.option(
        "--network-acls",
        "network_acls",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="JSON printed by 'aws ec2 describe-network-acls' (repeatable).",
    ),
    click.option(
        "--network-interfaces",
        "network_interfaces",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="JSON printed by 'aws ec2 describe-network-interfaces' (repeatable).",
    ),
    click.option(
        "--from-aws",
        "from_aws",
        is_flag=True,
        help="Fetch the interfaces seen in the records, their security groups and their subnets' "
        "network ACLs from EC2 (boto3) instead of files.",
    ),
    click.option("--profile", default=None, help="AWS profile for --from-aws."),
    click.option("--aws-region", default=None, help="AWS region for --from-aws."),
    click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table: a summary and one explanation per conversation; csv/json/jsonl: one row "
        "per conversation with every field.",
    ),
    output_option,
)


def _config_options(fn):
    for opt in reversed(_CONFIG_OPTIONS):
        fn = opt(fn)
    return fn


def _check_aws_options(files, from_aws, profile, aws_region) -> None:
    if from_aws and any(files):
        raise click.UsageError(
            "--from-aws fetches the configurations from EC2: drop --security-groups, "
            "--network-acls and --network-interfaces, or drop --from-aws"
        )
    if not from_aws and (profile or aws_region):
        raise click.UsageError("--profile and --aws-region apply only with --from-aws")


def _configs(security_groups, network_acls, network_interfaces) -> ts.Configs | None:
    if not (security_groups or network_acls or network_interfaces):
        return None
    return ts.load_configs(security_groups, network_acls, network_interfaces)


_SUMMARY = ("#", "interface_id", "direction", "protocol", "request", "verdict", "stage", "decided")


def _print(verdicts: list[ts.Verdict], fmt: str, title: str, output: str | None) -> None:
    if fmt != "table":
        emit(ts.verdicts_table(verdicts), fmt, output=output)
        return
    if not verdicts:
        click.echo("No conversations to report.", err=True)
        return
    with destination(output) as out:
        _print_table(verdicts, title, out)
    if output:
        click.echo(f"Wrote {len(verdicts):,} verdicts to {output}.", err=True)


def _print_table(verdicts: list[ts.Verdict], title: str, out) -> None:
    rows = []
    for i, v in enumerate(verdicts, 1):
        src = v.srcaddr if v.protocol not in (6, 17) else f"{v.srcaddr}:{v.srcport or '*'}"
        dst = v.dstaddr if v.protocol not in (6, 17) else f"{v.dstaddr}:{v.dstport}"
        rows.append(
            {
                "#": i,
                "interface_id": v.interface_id
                + (f" ({v.interface_name})" if v.interface_name else ""),
                "direction": v.direction,
                "protocol": ts.verdicts.proto_name(v.protocol),
                "request": f"{src} -> {dst}",
                "verdict": v.verdict,
                "stage": v.stage or "",
                "decided": _decided(v),
            }
            | ({"seen": v.occurrences} if title == "troubleshoot" else {})
        )
    emit(rows, "table", title=None, out=out)
    for i, v in enumerate(verdicts, 1):
        click.echo(f"\n{i}. {v.verdict}" + (f" at {v.stage}" if v.stage else "") + ":", file=out)
        click.echo(_indent(visible(v.explanation)), file=out)
        if v.fix:
            click.echo(_indent("Fix: " + visible(v.fix)), file=out)


def _decided(v: ts.Verdict) -> str:
    if v.network_acl_id and v.verdict == ts.NACL:
        number = "*" if v.rule_number == 32767 else v.rule_number
        return f"{v.network_acl_id} {'outbound' if v.egress else 'inbound'} rule {number}"
    if v.group_id and v.verdict == ts.SG:
        return f"no rule in {v.group_id}"
    return f"logs ({v.confidence} confidence)"


def _indent(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=100, initial_indent="   ", subsequent_indent="   ")


@click.command("explain")
@click.argument("records", required=False, default="-", metavar="[FILE|-]")
@click.option(
    "--log-format",
    default=None,
    help="The flow log's format ('${version} ${srcaddr} ...') when the file has no header line.",
)
@_config_options
def explain_cmd(
    records,
    log_format,
    security_groups,
    network_acls,
    network_interfaces,
    from_aws,
    profile,
    aws_region,
    fmt,
    output,
):
    """Say why flow-log records were rejected: security group or network ACL.

    Paste or pipe records (header-less default-format lines, or a file with a header line);
    records on one interface are paired into conversations (request and response) and each
    gets a verdict: allowed, network-acl, security-group or security-group-or-network-acl.
    With the JSON of 'aws ec2 describe-security-groups', 'describe-network-acls' and
    'describe-network-interfaces', the real rules decide and name the rule to change.
    """
    from ..parse import parse_bytes

    files = (security_groups, network_acls, network_interfaces)
    _check_aws_options(files, from_aws, profile, aws_region)
    configs = _configs(*files)
    if records == "-":
        if sys.stdin.isatty():
            click.echo("Paste flow-log records, then press Ctrl-D:", err=True)
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(records, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise SourceError(f"{records}: cannot read: {exc.strerror or exc}") from None
        name = records
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    result = parse_bytes(data, path=name, log_format=log_format)
    if result.table.num_rows == 0:
        why = f" (first bad line: {result.bad_lines[0]})" if result.bad_lines else ""
        more = len(result.bad_lines) - 1
        why += f" and {more} more bad line{'s' if more != 1 else ''}" if more > 0 else ""
        raise ConfigError(f"{name}: no flow-log records to explain{why}")
    for bad in result.bad_lines[:5]:
        click.echo(f"skipped {bad}", err=True)
    if len(result.bad_lines) > 5:
        click.echo(f"skipped {len(result.bad_lines) - 5} more malformed lines", err=True)
    if from_aws:
        ids = set(result.table.column("interface_id").drop_null().to_pylist())
        configs = ts.fetch_configs(ids, profile=profile, region=aws_region)
    _print(ts.explain(result.table, configs), fmt, "explain", output)


@click.command("troubleshoot")
@store_option
@engine_options
@click.option("--interface-id", default=None, help="Only this network interface (eni-...).")
@click.option("--since", default=None, help="Only records from this time (ISO-8601, 2h, 7d).")
@click.option("--until", default=None, help="Only records before this time.")
@click.option("--all", "include_allowed", is_flag=True, help="Also list allowed conversations.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Most rows (0: all)."
)
@_config_options
def troubleshoot_cmd(
    store_path,
    interface_id,
    since,
    until,
    include_allowed,
    limit,
    security_groups,
    network_acls,
    network_interfaces,
    from_aws,
    profile,
    aws_region,
    fmt,
    output,
):
    """Rank the blocked conversations in the store and say what blocked each.

    Conversations that differ only in the client's ephemeral port are counted together
    ('seen' / occurrences), most frequent first.
    """

    files = (security_groups, network_acls, network_interfaces)
    _check_aws_options(files, from_aws, profile, aws_region)
    configs = _configs(*files)
    store = open_existing(store_path)
    if from_aws:
        ids = ts.store_interface_ids(
            store,
            interface_id,
            to_epoch(since, name="since"),
            to_epoch(until, name="until"),
            only_rejected=not include_allowed,
        )
        # No interface with a REJECT: nothing to explain, so nothing to fetch.
        configs = ts.fetch_configs(ids, profile=profile, region=aws_region) if ids else None
    from .progress import Activity

    with Activity("troubleshooting") as act:
        verdicts = ts.troubleshoot(
            store,
            interface_id=interface_id,
            since=since,
            until=until,
            configs=configs,
            include_allowed=include_allowed,
        )
        act.done(f"{len(verdicts):,} conversation{'s' if len(verdicts) != 1 else ''}")
    if limit and len(verdicts) > limit:
        click.echo(f"(showing the top {limit} of {len(verdicts):,}: raise --limit)", err=True)
        verdicts = verdicts[:limit]
    _print(verdicts, fmt, "troubleshoot", output)


def register(main: click.Group) -> None:
    main.add_command(explain_cmd)
    main.add_command(troubleshoot_cmd)
