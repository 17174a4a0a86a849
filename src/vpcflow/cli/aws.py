"""``vpcflow aws ...``: create and list VPC flow logs."""

from __future__ import annotations

import json

import click

from .output import emit, output_options

_aws_options = [
    click.option(
        "--profile", default=None, help="AWS profile (default: the boto3 credential chain)."
    ),
    click.option(
        "--aws-region",
        "--region",
        "region",
        default=None,
        help="AWS region of the API calls (default: AWS_REGION or the profile's); --region is "
        "the same option, as in the AWS CLI.",
    ),
]


def _with_aws_options(fn):
    for opt in reversed(_aws_options):
        fn = opt(fn)
    return fn


@click.group("aws")
def aws_group() -> None:
    """Set up and inspect VPC flow logs in an AWS account."""


@aws_group.command("create-flow-log")
@click.option(
    "--resource-id", required=True, help="vpc-..., subnet-... or eni-... to capture traffic of."
)
@click.option(
    "--traffic-type",
    type=click.Choice(["ACCEPT", "REJECT", "ALL"], case_sensitive=False),
    default="ALL",
    show_default=True,
    help="Which traffic to log: accepted, rejected, or all.",
)
@click.option(
    "--destination", required=True, help="s3://BUCKET[/PREFIX] or cloudwatch://LOG_GROUP."
)
@click.option(
    "--fields",
    default="default",
    show_default=True,
    help="default, all, or a comma-separated list of fields (e.g. version,srcaddr,dstaddr).",
)
@click.option(
    "--file-format",
    type=click.Choice(["text", "parquet"]),
    default="text",
    show_default=True,
    help="Format of the log files AWS writes to S3 (S3 only).",
)
@click.option("--hive-partitions", is_flag=True, help="Hive-compatible S3 prefixes (S3 only).")
@click.option("--per-hour", is_flag=True, help="Partition S3 objects per hour (S3 only).")
@click.option(
    "--max-aggregation-interval",
    type=click.Choice(["60", "600"]),
    default="600",
    show_default=True,
    help="Seconds over which a flow is aggregated into one record.",
)
@click.option(
    "--role-name",
    default=None,
    help="IAM role for CloudWatch delivery (created if missing; default vpcflow-flow-logs-delivery).",
)
@click.option("--dry-run", is_flag=True, help="Print the API calls and policies; change nothing.")
@_with_aws_options
def create_flow_log(
    resource_id,
    traffic_type,
    destination,
    fields,
    file_format,
    hive_partitions,
    per_hour,
    max_aggregation_interval,
    role_name,
    dry_run,
    profile,
    region,
) -> None:
    """Create a flow log, plus the log group and IAM role (CloudWatch) or bucket policy (S3)
    it needs when they are missing."""
    from ..aws import flowlogs as sf

    spec = sf.FlowLogSpec(
        resource_id=resource_id,
        destination=destination,
        traffic_type=traffic_type.upper(),
        fields=fields,
        file_format=file_format,
        hive_partitions=hive_partitions,
        per_hour=per_hour,
        max_aggregation_interval=int(max_aggregation_interval),
        role_name=role_name or sf.DEFAULT_ROLE_NAME,
    )
    result = sf.create_flow_log(spec, dry_run=dry_run, profile=profile, region=region)
    for note in result.notes:
        click.echo(f"# {note}", err=True)
    if dry_run:
        click.echo(f"# dry run: {len(result.calls)} call(s) would be made")
        for i, call in enumerate(result.calls, 1):
            click.echo(f"# {i}. {call.service} {call.operation}")
            click.echo(json.dumps(call.params, indent=2))
        return
    for call in result.calls[:-1]:
        click.echo(f"done: {call.service} {call.operation}", err=True)
    click.echo(" ".join(result.flow_log_ids))


@aws_group.command("list-flow-logs")
@output_options
@_with_aws_options
def list_flow_logs(fmt, output, profile, region) -> None:
    """Show existing flow logs with their destination and record format."""
    from ..aws import flowlogs as sf

    rows = sf.list_flow_logs(profile=profile, region=region)
    if not rows and fmt == "table":
        click.echo("No flow logs in this account and region.", err=True)
        return
    cols = (
        "flow_log_id",
        "resource_id",
        "traffic_type",
        "destination",
        "file_format",
        "status",
        "log_format",
    )
    if fmt == "table":
        rows = [{c: r.get(c) for c in cols} for r in rows]
    emit(rows, fmt, output=output)


def register(main: click.Group) -> None:
    main.add_command(aws_group)
