"""The flow-log schema catalogue: the one place that lists VPC Flow Logs fields.

Everything that needs to know the fields — the parser, the Parquet schema of the store, the
``vpc_flow_logs`` view, Athena DDL, the docs, ``vpcflow schema`` — is generated from ``FIELDS``.
Adding a flow-log version is adding rows here.

Sources: the "Available fields" table of the AWS VPC user guide (field, version, Parquet type)
and the Athena column types of the AWS Athena documentation for VPC flow logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

__all__ = [
    "Field",
    "FIELDS",
    "FIELD_BY_NAME",
    "FIELD_BY_COLUMN",
    "COLUMNS",
    "PARTITION_COLUMN",
    "DEFAULT_FORMAT",
    "ALL_FIELDS_LAYOUTS",
    "LATEST_VERSION",
    "arrow_schema",
    "fields_of_version",
    "parse_log_format",
    "format_string",
    "resolve_field_name",
]

# Value kinds drive validation in the parser (numbers where numbers belong, enums from their sets).
INT = "int"
ADDR = "addr"
ENUM = "enum"
ID = "id"
TEXT = "text"

_ATHENA_TO_ARROW = {"int": pa.int32(), "bigint": pa.int64(), "string": pa.string()}


@dataclass(frozen=True)
class Field:
    """One flow-log field.

    ``name`` is the AWS name used in format strings and header lines (``log-status``);
    ``column`` is the Athena column name (``log_status``).
    """

    name: str
    athena_type: str
    version: int
    description: str
    kind: str = TEXT
    values: tuple[str, ...] = ()
    prefix: str = ""
    min_value: int | None = None
    max_value: int | None = None

    @property
    def column(self) -> str:
        return self.name.replace("-", "_")

    @property
    def arrow_type(self) -> pa.DataType:
        return _ATHENA_TO_ARROW[self.athena_type]

    @property
    def placeholder(self) -> str:
        return "${" + self.name + "}"


def _f(name, athena_type, version, description, kind=TEXT, **kw) -> Field:
    return Field(name, athena_type, version, description, kind, **kw)


_PORT = {"min_value": 0, "max_value": 65535}

# One field per line reads as the table it is.
# fmt: off
FIELDS: tuple[Field, ...] = (
    # --- version 2: the default format, in this order ---
    _f("version", "int", 2, "Flow log version: 2 for the default format, else the highest version among the fields.", INT, min_value=2, max_value=99),
    _f("account-id", "string", 2, "AWS account that owns the source network interface; 'unknown' for some AWS-managed interfaces.", ID),
    _f("interface-id", "string", 2, "ID of the network interface for which the traffic is recorded.", ID),
    _f("srcaddr", "string", 2, "Source address of incoming traffic, or the interface's address for outgoing traffic.", ADDR),
    _f("dstaddr", "string", 2, "Destination address of outgoing traffic, or the interface's address for incoming traffic.", ADDR),
    _f("srcport", "int", 2, "Source port of the traffic.", INT, **_PORT),
    _f("dstport", "int", 2, "Destination port of the traffic.", INT, **_PORT),
    _f("protocol", "bigint", 2, "IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).", INT, min_value=0, max_value=255),
    _f("packets", "bigint", 2, "Number of packets transferred during the flow.", INT, min_value=0),
    _f("bytes", "bigint", 2, "Number of bytes transferred during the flow.", INT, min_value=0),
    _f("start", "bigint", 2, "Unix seconds when the first packet of the flow was received in the aggregation interval.", INT, min_value=0),
    _f("end", "bigint", 2, "Unix seconds when the last packet of the flow was received in the aggregation interval.", INT, min_value=0),
    _f("action", "string", 2, "ACCEPT or REJECT: whether security groups and network ACLs allowed the traffic.", ENUM, values=("ACCEPT", "REJECT")),
    _f("log-status", "string", 2, "OK, NODATA (no traffic in the interval) or SKIPDATA (records skipped in the interval).", ENUM, values=("OK", "NODATA", "SKIPDATA")),
    # --- version 3 ---
    _f("vpc-id", "string", 3, "ID of the VPC that contains the network interface.", ID, prefix="vpc-"),
    _f("subnet-id", "string", 3, "ID of the subnet that contains the network interface.", ID, prefix="subnet-"),
    _f("instance-id", "string", 3, "ID of the instance of the interface, if you own it; '-' for requester-managed interfaces.", ID, prefix="i-"),
    _f("tcp-flags", "int", 3, "Bitmask of TCP flags seen in the interval: FIN 1, SYN 2, RST 4, SYN-ACK 18 (OR-ed).", INT, min_value=0, max_value=255),
    _f("type", "string", 3, "Type of traffic: IPv4, IPv6 or EFA.", ENUM, values=("IPv4", "IPv6", "EFA")),
    _f("pkt-srcaddr", "string", 3, "Packet-level (original) source address, e.g. behind a NAT gateway.", ADDR),
    _f("pkt-dstaddr", "string", 3, "Packet-level (original) destination address.", ADDR),
    # --- version 4 ---
    _f("region", "string", 4, "Region that contains the network interface.", ID),
    _f("az-id", "string", 4, "ID of the Availability Zone of the network interface.", ID),
    _f("sublocation-type", "string", 4, "Type of sublocation: wavelength, outpost or localzone.", ENUM, values=("wavelength", "outpost", "localzone")),
    _f("sublocation-id", "string", 4, "ID of the sublocation that contains the network interface.", ID),
    # --- version 5 ---
    _f("pkt-src-aws-service", "string", 5, "AWS service of pkt-srcaddr's IP range (S3, EC2, ROUTE53, ...).", ID),
    _f("pkt-dst-aws-service", "string", 5, "AWS service of pkt-dstaddr's IP range.", ID),
    _f("flow-direction", "string", 5, "Direction of the flow relative to the interface: ingress or egress.", ENUM, values=("ingress", "egress")),
    _f("traffic-path", "int", 5, "Path egress traffic takes: 1 same VPC, 2 IGW/gateway endpoint, 3 VGW, 4 intra-region peering, 5 inter-region peering, 6 local gateway, 7 gateway endpoint, 8 IGW.", INT, min_value=1, max_value=8),
    # --- version 7: Amazon ECS ---
    _f("ecs-cluster-arn", "string", 7, "ARN of the ECS cluster of the task.", ID),
    _f("ecs-cluster-name", "string", 7, "Name of the ECS cluster of the task.", ID),
    _f("ecs-container-instance-arn", "string", 7, "ARN of the ECS container instance (EC2 launch type).", ID),
    _f("ecs-container-instance-id", "string", 7, "ID of the ECS container instance (EC2 launch type).", ID),
    _f("ecs-container-id", "string", 7, "Docker runtime ID of the container (first container of the task).", ID),
    _f("ecs-second-container-id", "string", 7, "Docker runtime ID of the second container of the task.", ID),
    _f("ecs-service-name", "string", 7, "Name of the ECS service of the task.", ID),
    _f("ecs-task-definition-arn", "string", 7, "ARN of the ECS task definition.", ID),
    _f("ecs-task-arn", "string", 7, "ARN of the ECS task.", ID),
    _f("ecs-task-id", "string", 7, "ID of the ECS task.", ID),
    # --- version 8 ---
    _f("reject-reason", "string", 8, "Why traffic was rejected, e.g. BPA (VPC Block Public Access); '-' otherwise.", ID),
)
# fmt: on

FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
FIELD_BY_COLUMN: dict[str, Field] = {f.column: f for f in FIELDS}
COLUMNS: tuple[str, ...] = tuple(f.column for f in FIELDS)
PARTITION_COLUMN = "date"
LATEST_VERSION = max(f.version for f in FIELDS)


def fields_of_version(version: int) -> tuple[Field, ...]:
    """All fields introduced up to ``version``, in AWS's documented order."""
    return tuple(f for f in FIELDS if f.version <= version)


DEFAULT_FORMAT: tuple[Field, ...] = fields_of_version(2)

# Header-less files are recognised by field count: the default layout and "all fields of
# version N" in AWS's documented order. Versions 6 has no VPC fields of its own, so 5 and 6 share
# a layout; the mapping keeps the lowest version for a count.
ALL_FIELDS_LAYOUTS: dict[int, tuple[Field, ...]] = {}
for _v in sorted({f.version for f in FIELDS}):
    ALL_FIELDS_LAYOUTS.setdefault(len(fields_of_version(_v)), fields_of_version(_v))


def arrow_schema(with_partition: bool = False) -> pa.Schema:
    """The Parquet schema of the store: every field, Athena types, all nullable."""
    cols = [pa.field(f.column, f.arrow_type, nullable=True) for f in FIELDS]
    if with_partition:
        cols.append(pa.field(PARTITION_COLUMN, pa.date32(), nullable=True))
    return pa.schema(cols)


_ALIASES = {
    # flowlogs-reader and Panther/CloudWatch style spellings seen in the wild.
    "account_id": "account-id",
    "interface_id": "interface-id",
    "log_status": "log-status",
}


def resolve_field_name(token: str) -> Field | None:
    """Map an AWS name (``log-status``), a column name (``log_status``) or a ``${...}``
    placeholder to its field; None when unknown."""
    t = token.strip()
    if t.startswith("${") and t.endswith("}"):
        t = t[2:-1]
    f = FIELD_BY_NAME.get(t)
    if f is None:
        f = FIELD_BY_NAME.get(t.replace("_", "-"))
    if f is None:
        alias = _ALIASES.get(t)
        f = FIELD_BY_NAME.get(alias) if alias else None
    return f


_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def parse_log_format(fmt: str) -> tuple[Field, ...]:
    """Parse an AWS ``LogFormat`` string (``${version} ${account-id} ...``) or a plain
    space-separated list of field names into fields.

    Raises ``FormatError`` naming the first unknown or duplicated field.
    """
    from .errors import FormatError

    text = fmt.strip()
    if not text:
        raise FormatError("empty log format: give fields like '${version} ${srcaddr} ...'")
    if "${" in text:
        leftover = _PLACEHOLDER.sub(" ", text).strip()
        if leftover:
            raise FormatError(f"log format has text outside ${{...}} placeholders: {leftover!r}")
        names = _PLACEHOLDER.findall(text)
    else:
        names = text.split()
    fields: list[Field] = []
    seen: set[str] = set()
    for name in names:
        f = resolve_field_name(name)
        if f is None:
            raise FormatError(
                f"unknown flow-log field {name!r} in log format; "
                "run 'vpcflow schema' for the list of fields"
            )
        if f.name in seen:
            raise FormatError(f"field {f.name!r} appears twice in log format")
        seen.add(f.name)
        fields.append(f)
    return tuple(fields)


def format_string(fields: tuple[Field, ...] | list[Field]) -> str:
    """The AWS ``LogFormat`` string for ``fields``."""
    return " ".join(f.placeholder for f in fields)
