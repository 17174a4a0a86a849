"""The flow-log schema catalogue: the one place that lists flow-log fields.

Everything that needs to know the fields — the parser, the Parquet schema of the store, the
``vpc_flow_logs`` and ``tgw_flow_logs`` views, Athena DDL, the Insights field names, the docs,
``vpcflow schema`` — is generated from ``FIELDS`` (VPC flow logs) and ``TGW_FIELDS`` (Transit
Gateway flow logs). Adding a flow-log version is adding rows here.

Sources:
- VPC: the "Available fields" table of the AWS VPC user guide
  (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html#flow-logs-fields:
  field, version, Parquet type) and the Athena column types of the AWS Athena documentation for
  VPC flow logs (https://docs.aws.amazon.com/athena/latest/ug/vpc-flow-logs.html).
  Versions 9-11 as that table lists them in 2026: 9 ``resource-id``; 10 ``encryption-status``
  (VPC Encryption Controls: values 0-3 as described with the launch, AWS News Blog
  "Introducing VPC encryption controls", Parquet INT_32); 11 the tag fields (``instance-tag``,
  ``interface-tag``, ``asg-tag`` and their ``-2``, filled from the flow log's
  TagFieldSpecifications) and the next-hop fields (``interface-type``, ``next-hop-*``; AWS
  What's New, June 2026, "Amazon VPC Flow Logs adds EC2 resource tags and next-hop
  metadata"), all STRING.
- Transit Gateway: "Transit Gateway Flow Log records"
  (https://docs.aws.amazon.com/vpc/latest/tgw/tgw-flow-logs.html#flow-log-records): the
  default format is every field in this order; Athena types as for the VPC fields of the same
  name, ``packets-lost-*`` bigint.

Columns beyond the fields: ``extra_fields`` (``map<string,string>``) keeps every field a record
names that this catalogue does not know, so nothing is dropped; ``aws_account_id`` and
``aws_region`` hold the account and region of the S3 key (AWS's Hive-compatible layout names
them ``aws-account-id``/``aws-region``), never mixed into the record's own fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    "EXTRA_COLUMN",
    "KEY_COLUMNS",
    "Table",
    "VPC",
    "TGW",
    "TABLES",
    "TGW_FIELDS",
    "unknown_field",
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

# The Arrow types are built on first use: a query (DuckDB reads the files itself) and the help
# never import pyarrow for them.
_ATHENA_TO_ARROW_NAMES = {"int": "int32", "bigint": "int64", "string": "string"}


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
    # False for a name the catalogue does not know: kept as a string in ``extra_fields``.
    known: bool = True

    @property
    def column(self) -> str:
        return self.name.replace("-", "_")

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return getattr(pa, _ATHENA_TO_ARROW_NAMES[self.athena_type])()

    @property
    def placeholder(self) -> str:
        return "${" + self.name + "}"

    @property
    def insights_name(self) -> str:
        """The name Logs Insights gives the field (camelCase: ``srcAddr``, ``logStatus``,
        ``startTime``, ``pktSrcAddr``, ``tgwAttachmentId``)."""
        if self.name in _INSIGHTS_SPECIAL:
            return _INSIGHTS_SPECIAL[self.name]
        parts = [_INSIGHTS_WORDS.get(p, p) for p in self.name.split("-")]
        return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


# Logs Insights' names for the default fields: srcaddr -> srcAddr, start -> startTime.
_INSIGHTS_WORDS = {
    "srcaddr": "srcAddr",
    "dstaddr": "dstAddr",
    "srcport": "srcPort",
    "dstport": "dstPort",
}
_INSIGHTS_SPECIAL = {"start": "startTime", "end": "endTime"}


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
    # --- version 9 ---
    _f("resource-id", "string", 9, "ID of the resource the flow went through when it has no interface of its own, e.g. a regional NAT gateway (interface-id is '-' then).", ID),
    # --- version 10: VPC Encryption Controls ---
    _f("encryption-status", "int", 10, "Whether the flow was encrypted in transit: 0 not encrypted, 1 by the Nitro hardware, 2 at the application layer (TLS), 3 both; '-' when unknown.", INT, min_value=0, max_value=3),
    # --- version 11: EC2 resource tags and next-hop metadata (June 2026) ---
    _f("instance-tag", "string", 11, "Value of the first instance tag key named in the flow log's TagFieldSpecifications (UTF-8, percent-encoded).", TEXT),
    _f("instance-tag-2", "string", 11, "Value of the second instance tag key of the TagFieldSpecifications.", TEXT),
    _f("interface-tag", "string", 11, "Value of the first network-interface tag key of the TagFieldSpecifications.", TEXT),
    _f("interface-tag-2", "string", 11, "Value of the second network-interface tag key of the TagFieldSpecifications.", TEXT),
    _f("asg-tag", "string", 11, "Value of the first Auto Scaling group tag key of the TagFieldSpecifications.", TEXT),
    _f("asg-tag-2", "string", 11, "Value of the second Auto Scaling group tag key of the TagFieldSpecifications.", TEXT),
    _f("interface-type", "string", 11, "Type of the interface that captured the flow: nat_gateway, network_load_balancer, regional_nat_gateway, transit_gateway, vpc_endpoint, ...", ID),
    _f("next-hop-interface-id", "string", 11, "ID of the next-hop interface: the receiving interface for egress traffic, the sending one for ingress.", ID),
    _f("next-hop-subnet-id", "string", 11, "Subnet of the next-hop interface.", ID, prefix="subnet-"),
    _f("next-hop-az-id", "string", 11, "Availability Zone ID of the next-hop interface.", ID),
    _f("next-hop-vpc-id", "string", 11, "VPC of the next-hop interface.", ID, prefix="vpc-"),
    _f("next-hop-interface-type", "string", 11, "Type of the next-hop interface (same values as interface-type).", ID),
)

# Transit Gateway flow logs: their own field set (resource types TransitGateway and
# TransitGatewayAttachment); the default format is all of them, in this order.
TGW_FIELDS: tuple[Field, ...] = (
    _f("version", "int", 6, "Flow log version (6 for Transit Gateway flow logs; early records say 3).", INT, min_value=2, max_value=99),
    _f("resource-type", "string", 6, "TransitGateway or TransitGatewayAttachment: the resource the flow log is for.", ENUM, values=("TransitGateway", "TransitGatewayAttachment")),
    _f("account-id", "string", 6, "AWS account that owns the transit gateway.", ID),
    _f("tgw-id", "string", 6, "ID of the transit gateway.", ID, prefix="tgw-"),
    _f("tgw-attachment-id", "string", 6, "ID of the transit gateway attachment the traffic went through.", ID, prefix="tgw-attach-"),
    _f("tgw-src-vpc-account-id", "string", 6, "AWS account of the source VPC.", ID),
    _f("tgw-dst-vpc-account-id", "string", 6, "AWS account of the destination VPC.", ID),
    _f("tgw-src-vpc-id", "string", 6, "ID of the source VPC.", ID, prefix="vpc-"),
    _f("tgw-dst-vpc-id", "string", 6, "ID of the destination VPC.", ID, prefix="vpc-"),
    _f("tgw-src-subnet-id", "string", 6, "ID of the source subnet.", ID, prefix="subnet-"),
    _f("tgw-dst-subnet-id", "string", 6, "ID of the destination subnet.", ID, prefix="subnet-"),
    _f("tgw-src-eni", "string", 6, "ID of the transit gateway's network interface on the source side.", ID, prefix="eni-"),
    _f("tgw-dst-eni", "string", 6, "ID of the transit gateway's network interface on the destination side.", ID, prefix="eni-"),
    _f("tgw-src-az-id", "string", 6, "Availability Zone of the source side.", ID),
    _f("tgw-dst-az-id", "string", 6, "Availability Zone of the destination side.", ID),
    _f("tgw-pair-attachment-id", "string", 6, "The other attachment of the flow (egress attachment for ingress records and vice versa).", ID, prefix="tgw-attach-"),
    _f("srcaddr", "string", 6, "Source address of the traffic.", ADDR),
    _f("dstaddr", "string", 6, "Destination address of the traffic.", ADDR),
    _f("srcport", "int", 6, "Source port of the traffic.", INT, **_PORT),
    _f("dstport", "int", 6, "Destination port of the traffic.", INT, **_PORT),
    _f("protocol", "bigint", 6, "IANA protocol number.", INT, min_value=0, max_value=255),
    _f("packets", "bigint", 6, "Packets transferred during the flow.", INT, min_value=0),
    _f("bytes", "bigint", 6, "Bytes transferred during the flow.", INT, min_value=0),
    _f("start", "bigint", 6, "Unix seconds of the first packet of the flow in the aggregation interval.", INT, min_value=0),
    _f("end", "bigint", 6, "Unix seconds of the last packet of the flow in the aggregation interval.", INT, min_value=0),
    _f("log-status", "string", 6, "OK, NODATA or SKIPDATA.", ENUM, values=("OK", "NODATA", "SKIPDATA")),
    _f("type", "string", 6, "Type of traffic: IPv4, IPv6 or EFA.", ENUM, values=("IPv4", "IPv6", "EFA")),
    _f("packets-lost-no-route", "bigint", 6, "Packets dropped because the transit gateway route table had no route.", INT, min_value=0),
    _f("packets-lost-blackhole", "bigint", 6, "Packets dropped by a blackhole route.", INT, min_value=0),
    _f("packets-lost-mtu-exceeded", "bigint", 6, "Packets dropped for exceeding the MTU (8500 bytes; 1500 on VPN).", INT, min_value=0),
    _f("packets-lost-ttl-expired", "bigint", 6, "Packets dropped because their TTL expired.", INT, min_value=0),
    _f("tcp-flags", "int", 6, "Bitmask of TCP flags seen in the interval (OR-ed).", INT, min_value=0, max_value=255),
    _f("region", "string", 6, "Region of the transit gateway.", ID),
    _f("flow-direction", "string", 6, "Direction of the flow relative to the attachment: ingress or egress.", ENUM, values=("ingress", "egress")),
    _f("pkt-src-aws-service", "string", 6, "AWS service of the source address's IP range.", ID),
    _f("pkt-dst-aws-service", "string", 6, "AWS service of the destination address's IP range.", ID),
)
# fmt: on

PARTITION_COLUMN = "date"
# Every store file has a column for each field up to this version; a field of a later version
# may sit in the extra_fields of files written before the catalogue knew it.
STORED_COLUMNS_SINCE = 8
EXTRA_COLUMN = "extra_fields"
# EXTRA_TYPE, the Arrow type of extra_fields (map<string, string>): see __getattr__ below.
# (column, description): where the object came from, after the record's own fields.
KEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("aws_account_id", "Account of the object's S3 key or CloudWatch log group (aws-account-id)."),
    ("aws_region", "Region of the object's S3 key or CloudWatch log group (aws-region)."),
)

_ALIASES = {
    # flowlogs-reader and Panther/CloudWatch style spellings seen in the wild.
    "account_id": "account-id",
    "interface_id": "interface-id",
    "log_status": "log-status",
}


class Table:
    """One flow-log table: its fields, store directory and the schemas generated from them."""

    def __init__(self, name: str, fields: tuple[Field, ...], directory: str, default_version: int):
        self.name = name
        self.fields = fields
        self.directory = directory  # top-level directory of the store holding its partitions
        self.by_name: dict[str, Field] = {f.name: f for f in fields}
        self.by_column: dict[str, Field] = {f.column: f for f in fields}
        self.columns: tuple[str, ...] = tuple(f.column for f in fields)
        self.latest_version = max(f.version for f in fields)
        self.default_format = tuple(f for f in fields if f.version <= default_version)
        # Header-less lines are recognised by field count: the default layout and "all fields
        # of version N" in AWS's documented order (the lowest version keeps a count).
        self.layouts: dict[int, tuple[Field, ...]] = {}
        for v in sorted({f.version for f in fields}):
            layout = self.fields_of_version(v)
            self.layouts.setdefault(len(layout), layout)
        self._schema: dict[bool, pa.Schema] = {}

    def __repr__(self) -> str:
        return f"Table({self.name!r})"

    def fields_of_version(self, version: int) -> tuple[Field, ...]:
        """All fields introduced up to ``version``, in AWS's documented order."""
        return tuple(f for f in self.fields if f.version <= version)

    def arrow_schema(self, with_partition: bool = False) -> pa.Schema:
        """The Parquet schema of the store: the fields (Athena types), ``extra_fields``, the
        key's account and region; all nullable."""
        if with_partition not in self._schema:
            import pyarrow as pa

            self._schema[with_partition] = pa.schema(
                [pa.field(f.column, f.arrow_type) for f in self.fields]
                + [pa.field(EXTRA_COLUMN, pa.map_(pa.string(), pa.string()))]
                + [pa.field(c, pa.string()) for c, _ in KEY_COLUMNS]
                + ([pa.field(PARTITION_COLUMN, pa.date32())] if with_partition else [])
            )
        return self._schema[with_partition]

    def resolve(self, token: str) -> Field | None:
        """The field named by an AWS name (``log-status``), a column name (``log_status``) or a
        ``${...}`` placeholder; None when unknown."""
        t = token.strip()
        if t.startswith("${") and t.endswith("}"):
            t = t[2:-1]
        f = self.by_name.get(t) or self.by_name.get(t.replace("_", "-"))
        if f is None and t in _ALIASES:
            f = self.by_name.get(_ALIASES[t])
        return f


VPC = Table("vpc_flow_logs", FIELDS, "data", default_version=2)
TGW = Table("tgw_flow_logs", TGW_FIELDS, "tgw", default_version=99)
TABLES: tuple[Table, ...] = (VPC, TGW)
TABLE_BY_NAME = {t.name: t for t in TABLES}
# Names only Transit Gateway records carry: a header or format naming one is a TGW flow log.
_TGW_ONLY = frozenset(TGW.by_name) - frozenset(VPC.by_name)

FIELD_BY_NAME: dict[str, Field] = VPC.by_name
FIELD_BY_COLUMN: dict[str, Field] = VPC.by_column
COLUMNS: tuple[str, ...] = VPC.columns
LATEST_VERSION = VPC.latest_version
DEFAULT_FORMAT: tuple[Field, ...] = VPC.default_format
ALL_FIELDS_LAYOUTS: dict[int, tuple[Field, ...]] = VPC.layouts


def fields_of_version(version: int) -> tuple[Field, ...]:
    """All VPC fields introduced up to ``version``, in AWS's documented order."""
    return VPC.fields_of_version(version)


def arrow_schema(with_partition: bool = False) -> pa.Schema:
    """The Parquet schema of the VPC table of the store."""
    return VPC.arrow_schema(with_partition)


def __getattr__(name: str):
    if name == "EXTRA_TYPE":
        import pyarrow as pa

        value = pa.map_(pa.string(), pa.string())
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")


def unknown_field(name: str) -> Field:
    """A placeholder for a field name the catalogue does not know (kept in ``extra_fields``)."""
    return Field(name, "string", 0, "not in the catalogue: kept in extra_fields", known=False)


def table_for(names) -> Table:
    """The table of records whose fields are ``names`` (AWS names or placeholders)."""
    for n in names:
        t = n.strip()
        if t.startswith("${") and t.endswith("}"):
            t = t[2:-1]
        if t in _TGW_ONLY or t.replace("_", "-") in _TGW_ONLY:
            return TGW
    return VPC


def resolve_field_name(token: str, table: Table | None = None) -> Field | None:
    """Map an AWS name (``log-status``), a column name (``log_status``) or a ``${...}``
    placeholder to its field of ``table`` (default: VPC, then Transit Gateway); None when
    unknown."""
    if table is not None:
        return table.resolve(token)
    return VPC.resolve(token) or TGW.resolve(token)


def looks_like_field_name(token: str) -> bool:
    """A token that could be a field AWS adds later: lower-case words joined by hyphens."""
    return bool(_NAME.match(token))


_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def parse_log_format(fmt: str, *, strict: bool = False) -> tuple[Field, ...]:
    """Parse an AWS ``LogFormat`` string (``${version} ${account-id} ...``) or a plain
    space-separated list of field names into fields (of the VPC or the Transit Gateway table:
    a field only Transit Gateway records have decides). A well-formed name the catalogue does
    not know becomes a placeholder (``Field.known`` False) whose values go to ``extra_fields``.

    ``strict`` refuses unknown names too (for formats vpcflow asks AWS to write).
    Raises ``FormatError`` naming the first malformed, duplicated (or, strict, unknown) field.
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
    table = table_for(names)
    fields: list[Field] = []
    seen: set[str] = set()
    for name in names:
        f = table.resolve(name)
        if f is None:
            if not looks_like_field_name(name.strip()):
                raise FormatError(
                    f"{name!r} in log format is not a flow-log field name; "
                    "run 'vpcflow schema' for the list of fields"
                )
            if strict:
                raise FormatError(
                    f"unknown flow-log field {name!r} in log format; "
                    "run 'vpcflow schema' for the list of fields"
                )
            f = unknown_field(name.strip())
        if f.name in seen:
            raise FormatError(f"field {f.name!r} appears twice in log format")
        seen.add(f.name)
        fields.append(f)
    return tuple(fields)


def format_string(fields: tuple[Field, ...] | list[Field]) -> str:
    """The AWS ``LogFormat`` string for ``fields``."""
    return " ".join(f.placeholder for f in fields)
