"""Create and list VPC flow logs, with the permissions AWS documents for each destination.

``create_flow_log`` works in two steps so that ``--dry-run`` shows exactly what would happen:

1. read the current state (account, bucket policy, IAM role, log group) with read-only calls;
2. :func:`plan` turns options + state into a list of :class:`ApiCall` (pure, no AWS access),
   which is either printed (dry run) or executed in order.

For a CloudWatch Logs destination the plan creates the log group and an IAM role trusted by
``vpc-flow-logs.amazonaws.com`` with the documented delivery permissions, when missing. For an
S3 destination it adds the documented ``delivery.logs.amazonaws.com`` statements to the bucket
policy when missing, keeping every existing statement.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from .. import aws, schema
from ..errors import ConfigError, SourceError, VpcflowError

log = logging.getLogger("vpcflow.aws")

__all__ = [
    "ApiCall",
    "Destination",
    "FlowLogSpec",
    "State",
    "plan",
    "create_flow_log",
    "list_flow_logs",
    "parse_destination",
    "resolve_fields",
    "bucket_policy_statements",
    "cloudwatch_trust_policy",
    "cloudwatch_role_policy",
    "DEFAULT_ROLE_NAME",
]

DEFAULT_ROLE_NAME = "vpcflow-flow-logs-delivery"
ROLE_POLICY_NAME = "vpcflow-flow-logs-delivery"
_RESOURCE_TYPES = {"vpc-": "VPC", "subnet-": "Subnet", "eni-": "NetworkInterface"}
TRAFFIC_TYPES = ("ACCEPT", "REJECT", "ALL")
FILE_FORMATS = {"text": "plain-text", "parquet": "parquet"}


@dataclass(frozen=True)
class Destination:
    """Where a flow log publishes: ``s3`` (bucket + prefix) or ``cloud-watch-logs`` (group)."""

    type: str
    bucket: str = ""
    prefix: str = ""
    log_group: str = ""

    @property
    def uri(self) -> str:
        if self.type == "s3":
            return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"cloudwatch://{self.log_group}"


def parse_destination(uri: str) -> Destination:
    """``s3://bucket[/prefix]`` or ``cloudwatch://LOG_GROUP``."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[5:].partition("/")
        prefix = prefix.strip("/")
        if not bucket:
            raise ConfigError(f"no bucket in {uri!r}: use s3://BUCKET[/PREFIX]")
        if prefix.split("/")[0] == "AWSLogs":
            raise ConfigError(
                f"{uri!r}: AWS reserves 'AWSLogs' as a folder name; give the prefix above it"
            )
        return Destination("s3", bucket=bucket, prefix=prefix)
    if uri.startswith("cloudwatch://"):
        group = uri[len("cloudwatch://") :]
        if not group:
            raise ConfigError(f"no log group in {uri!r}: use cloudwatch://LOG_GROUP")
        return Destination("cloud-watch-logs", log_group=group)
    raise ConfigError(
        f"unknown destination {uri!r}: use s3://BUCKET[/PREFIX] or cloudwatch://LOG_GROUP"
    )


def resolve_fields(fields: str | None) -> str | None:
    """``default`` → None (AWS default format), ``all`` → every field, else a list of names
    (comma or space separated, AWS or column spelling, or a ``${...}`` format string)."""
    if fields is None or fields.strip().lower() in ("", "default"):
        return None
    if fields.strip().lower() == "all":
        return schema.format_string(schema.FIELDS)
    return schema.format_string(schema.parse_log_format(fields.replace(",", " ")))


def resource_type(resource_id: str) -> str:
    for prefix, kind in _RESOURCE_TYPES.items():
        if resource_id.startswith(prefix):
            return kind
    raise ConfigError(
        f"cannot tell the resource type of {resource_id!r}: give a vpc-..., subnet-... or eni-... ID"
    )


@dataclass(frozen=True)
class FlowLogSpec:
    """What the user asked for (the options of ``vpcflow aws create-flow-log``)."""

    resource_id: str
    destination: str
    traffic_type: str = "ALL"
    fields: str | None = "default"
    file_format: str = "text"
    hive_partitions: bool = False
    per_hour: bool = False
    max_aggregation_interval: int = 600
    role_name: str = DEFAULT_ROLE_NAME

    def validate(self) -> Destination:
        resource_type(self.resource_id)
        if self.traffic_type.upper() not in TRAFFIC_TYPES:
            raise ConfigError(f"traffic type must be one of {', '.join(TRAFFIC_TYPES)}")
        if self.max_aggregation_interval not in (60, 600):
            raise ConfigError("max aggregation interval must be 60 or 600 (seconds)")
        if self.file_format not in FILE_FORMATS:
            raise ConfigError("file format must be text or parquet")
        dest = parse_destination(self.destination)
        s3_only = self.file_format != "text" or self.hive_partitions or self.per_hour
        if dest.type != "s3" and s3_only:
            raise ConfigError(
                "--file-format parquet, --hive-partitions and --per-hour apply to S3 "
                "destinations only"
            )
        resolve_fields(self.fields)  # raises FormatError on an unknown field
        return dest


@dataclass
class State:
    """What exists already; ``None`` policy means the bucket has none."""

    account: str
    partition: str
    region: str
    bucket_policy: dict | None = None
    role_arn: str | None = None
    log_group_exists: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call: ``service``, ``operation`` (API name) and boto3 ``params``.

    Policy documents stay dicts here and become JSON strings only when the call is made.
    """

    service: str
    operation: str
    params: dict[str, Any]

    @property
    def method(self) -> str:
        import re

        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.operation).lower()

    def wire_params(self) -> dict[str, Any]:
        return {
            k: json.dumps(v) if k.endswith("PolicyDocument") or k == "Policy" else v
            for k, v in self.params.items()
        }

    def describe(self) -> str:
        return f"{self.service} {self.operation}\n{json.dumps(self.params, indent=2)}"


# --- the documented policy documents --------------------------------------------------------


def cloudwatch_trust_policy(account: str, region: str, partition: str = "aws") -> dict:
    """Trust policy of the delivery role: only the flow-logs service of this account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"
                    },
                },
            }
        ],
    }


def cloudwatch_role_policy() -> dict:
    """Permissions AWS documents for publishing flow logs to CloudWatch Logs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                ],
                "Resource": "*",
            }
        ],
    }


def bucket_policy_statements(
    bucket: str, prefix: str, account: str, region: str, *, hive: bool, partition: str = "aws"
) -> list[dict]:
    """The two statements AWS documents for ``delivery.logs.amazonaws.com``."""
    folder = f"{prefix}/" if prefix else ""
    acct_dir = f"aws-account-id={account}" if hive else account
    source = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{region}:{account}:*"},
    }
    write_cond = copy.deepcopy(source)
    write_cond["StringEquals"]["s3:x-amz-acl"] = "bucket-owner-full-control"
    return [
        {
            "Sid": "AWSLogDeliveryWrite",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:{partition}:s3:::{bucket}/{folder}AWSLogs/{acct_dir}/*",
            "Condition": write_cond,
        },
        {
            "Sid": "AWSLogDeliveryAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": f"arn:{partition}:s3:::{bucket}",
            "Condition": source,
        },
    ]


def _as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def _grants(existing: dict, wanted: dict) -> bool:
    """Does ``existing`` allow at least what ``wanted`` allows, to the same principal?"""
    if existing.get("Effect") != "Allow":
        return False
    if existing.get("Principal") != wanted["Principal"]:
        return False
    have_actions = set(_as_list(existing.get("Action", [])))
    if not set(_as_list(wanted["Action"])) <= have_actions and "s3:*" not in have_actions:
        return False
    return wanted["Resource"] in _as_list(existing.get("Resource", []))


def merged_bucket_policy(policy: dict | None, statements: list[dict]) -> dict | None:
    """``policy`` plus the statements it lacks; None when nothing is missing."""
    merged = copy.deepcopy(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    current = _as_list(merged.get("Statement", []))
    sids = {s.get("Sid") for s in current}
    added = False
    for st in statements:
        if any(_grants(have, st) for have in current):
            continue
        st = dict(st)
        base, n = st["Sid"], 2
        while st["Sid"] in sids:  # Sids must be unique within a policy
            st["Sid"], n = f"{base}{n}", n + 1
        sids.add(st["Sid"])
        current.append(st)
        added = True
    merged["Statement"] = current
    return merged if added else None


# --- plan and execute ------------------------------------------------------------------------


def plan(spec: FlowLogSpec, state: State) -> list[ApiCall]:
    """The API calls that create ``spec``'s flow log given ``state`` (no AWS access)."""
    dest = spec.validate()
    calls: list[ApiCall] = []
    params: dict[str, Any] = {
        "ResourceIds": [spec.resource_id],
        "ResourceType": resource_type(spec.resource_id),
        "TrafficType": spec.traffic_type.upper(),
        "MaxAggregationInterval": spec.max_aggregation_interval,
    }
    fmt = resolve_fields(spec.fields)
    if fmt:
        params["LogFormat"] = fmt
    if dest.type == "s3":
        statements = bucket_policy_statements(
            dest.bucket,
            dest.prefix,
            state.account,
            state.region,
            hive=spec.hive_partitions,
            partition=state.partition,
        )
        merged = merged_bucket_policy(state.bucket_policy, statements)
        if merged is not None:
            calls.append(
                ApiCall("s3", "PutBucketPolicy", {"Bucket": dest.bucket, "Policy": merged})
            )
        arn = f"arn:{state.partition}:s3:::{dest.bucket}"
        params |= {
            "LogDestinationType": "s3",
            "LogDestination": f"{arn}/{dest.prefix}/" if dest.prefix else arn,
            "DestinationOptions": {
                "FileFormat": FILE_FORMATS[spec.file_format],
                "HiveCompatiblePartitions": spec.hive_partitions,
                "PerHourPartition": spec.per_hour,
            },
        }
    else:
        if not state.log_group_exists:
            calls.append(ApiCall("logs", "CreateLogGroup", {"logGroupName": dest.log_group}))
        role_arn = state.role_arn
        if role_arn is None:
            role_arn = f"arn:{state.partition}:iam::{state.account}:role/{spec.role_name}"
            calls.append(
                ApiCall(
                    "iam",
                    "CreateRole",
                    {
                        "RoleName": spec.role_name,
                        "Description": "Lets VPC Flow Logs publish to CloudWatch Logs (vpcflow)",
                        "AssumeRolePolicyDocument": cloudwatch_trust_policy(
                            state.account, state.region, state.partition
                        ),
                    },
                )
            )
            calls.append(
                ApiCall(
                    "iam",
                    "PutRolePolicy",
                    {
                        "RoleName": spec.role_name,
                        "PolicyName": ROLE_POLICY_NAME,
                        "PolicyDocument": cloudwatch_role_policy(),
                    },
                )
            )
        params |= {
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": dest.log_group,
            "DeliverLogsPermissionArn": role_arn,
        }
    calls.append(ApiCall("ec2", "CreateFlowLogs", params))
    return calls


def _is_code(exc: BaseException, *codes: str) -> bool:
    resp = getattr(exc, "response", None) or {}
    return (resp.get("Error") or {}).get("Code") in codes


def read_state(spec: FlowLogSpec, sess, *, tolerate_errors: bool = False) -> State:
    """Read the account and what already exists, with read-only calls.

    With ``tolerate_errors`` (dry runs) a failed read is noted and the thing is assumed
    missing, so the plan shows every call that might be needed.
    """
    dest = spec.validate()
    region = sess.region_name or aws.DEFAULT_REGION
    state = State(account="<account-id>", partition=aws.partition(sess), region=region)

    def attempt(what, fn):
        try:
            fn()
        except VpcflowError as exc:
            if not tolerate_errors:
                raise
            state.notes.append(f"could not read {what}: {exc}")

    def read_account():
        state.account = aws.account_id(sess)

    attempt("the account", read_account)
    if dest.type == "s3":

        def read_policy():
            s3 = aws.client("s3", sess=sess)
            with aws.aws_errors(f"s3://{dest.bucket}"):
                try:
                    text = s3.get_bucket_policy(Bucket=dest.bucket)["Policy"]
                except Exception as exc:
                    if _is_code(exc, "NoSuchBucketPolicy"):
                        return
                    raise
            state.bucket_policy = json.loads(text)

        attempt(f"the policy of bucket {dest.bucket}", read_policy)
    else:

        def read_group():
            logs = aws.client("logs", sess=sess)
            with aws.aws_errors(f"log group {dest.log_group}"):
                pages = logs.get_paginator("describe_log_groups").paginate(
                    logGroupNamePrefix=dest.log_group
                )
                state.log_group_exists = any(
                    g["logGroupName"] == dest.log_group
                    for page in pages
                    for g in page.get("logGroups", [])
                )

        def read_role():
            iam = aws.client("iam", sess=sess)
            with aws.aws_errors(f"IAM role {spec.role_name}"):
                try:
                    state.role_arn = iam.get_role(RoleName=spec.role_name)["Role"]["Arn"]
                except Exception as exc:
                    if not _is_code(exc, "NoSuchEntity"):
                        raise

        attempt(f"log group {dest.log_group}", read_group)
        attempt(f"IAM role {spec.role_name}", read_role)
    return state


@dataclass
class CreateResult:
    calls: list[ApiCall]
    flow_log_ids: list[str]
    dry_run: bool
    notes: list[str]


def create_flow_log(
    spec: FlowLogSpec,
    *,
    dry_run: bool = False,
    profile: str | None = None,
    region: str | None = None,
) -> CreateResult:
    """Create the flow log ``spec`` describes, plus the log group/role or bucket policy it needs.

    With ``dry_run`` nothing is written: the result lists the calls that would be made.
    """
    spec.validate()
    sess = aws.session(profile, region)
    state = read_state(spec, sess, tolerate_errors=dry_run)
    calls = plan(spec, state)
    if dry_run:
        return CreateResult(calls, [], True, state.notes)
    ids: list[str] = []
    clients: dict[str, Any] = {}
    for call in calls:
        cl = clients.get(call.service) or clients.setdefault(
            call.service, aws.client(call.service, sess=sess)
        )
        log.info("calling %s %s", call.service, call.operation)
        with aws.aws_errors(f"{call.service} {call.operation}"):
            resp = getattr(cl, call.method)(**call.wire_params())
        if call.operation == "CreateRole":
            _wait_for_role(cl, call.params["RoleName"])
        if call.operation == "CreateFlowLogs":
            problems = [
                f"{u.get('ResourceId')}: {u.get('Error', {}).get('Message')}"
                for u in resp.get("Unsuccessful", [])
            ]
            if problems:
                raise SourceError("AWS did not create the flow log: " + "; ".join(problems))
            ids = list(resp.get("FlowLogIds", []))
    return CreateResult(calls, ids, False, state.notes)


def _wait_for_role(iam, name: str) -> None:
    """IAM is eventually consistent; wait until the new role is readable."""
    try:
        iam.get_waiter("role_exists").wait(
            RoleName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
    except Exception as exc:  # a slow IAM is not a reason to abort; CreateFlowLogs will tell
        log.warning("role %s not visible yet: %s", name, exc)


def _destination_uri(fl: dict) -> str:
    if fl.get("LogDestinationType") == "s3":
        arn = fl.get("LogDestination", "")
        return "s3://" + arn.split(":::", 1)[-1].rstrip("/")
    group = fl.get("LogGroupName") or fl.get("LogDestination", "").split(":log-group:")[-1]
    return f"cloudwatch://{group}"


def list_flow_logs(*, profile: str | None = None, region: str | None = None) -> list[dict]:
    """Existing flow logs: id, resource, traffic type, destination URI, format and options."""
    sess = aws.session(profile, region)
    ec2 = aws.client("ec2", sess=sess)
    rows = []
    with aws.aws_errors("ec2 DescribeFlowLogs"):
        for page in ec2.get_paginator("describe_flow_logs").paginate():
            for fl in page.get("FlowLogs", []):
                opts = fl.get("DestinationOptions") or {}
                is_s3 = fl.get("LogDestinationType") == "s3"
                rows.append(
                    {
                        "flow_log_id": fl.get("FlowLogId"),
                        "resource_id": fl.get("ResourceId"),
                        "traffic_type": fl.get("TrafficType"),
                        "destination": _destination_uri(fl),
                        "log_format": fl.get("LogFormat"),
                        "file_format": (
                            ("parquet" if opts.get("FileFormat") == "parquet" else "text")
                            if is_s3
                            else None
                        ),
                        "hive_partitions": bool(opts.get("HiveCompatiblePartitions"))
                        if is_s3
                        else None,
                        "per_hour": bool(opts.get("PerHourPartition")) if is_s3 else None,
                        "max_aggregation_interval": fl.get("MaxAggregationInterval"),
                        "status": fl.get("FlowLogStatus"),
                        "deliver_logs_status": fl.get("DeliverLogsStatus"),
                    }
                )
    return rows
