import pytest

from vpcflow import schema
from vpcflow.errors import FormatError

# The Athena columns of the AWS documentation, versions 2-5 (CREATE TABLE of the Athena VPC flow
# logs page) and the ECS (v7) and reject-reason (v8) fields.
ATHENA_V2_V5 = (
    "version int, account_id string, interface_id string, srcaddr string, dstaddr string, "
    "srcport int, dstport int, protocol bigint, packets bigint, bytes bigint, start bigint, "
    "end bigint, action string, log_status string, vpc_id string, subnet_id string, "
    "instance_id string, tcp_flags int, type string, pkt_srcaddr string, pkt_dstaddr string, "
    "region string, az_id string, sublocation_type string, sublocation_id string, "
    "pkt_src_aws_service string, pkt_dst_aws_service string, flow_direction string, traffic_path int"
)


def test_columns_and_types_match_the_athena_documentation():
    expected = [tuple(c.split()) for c in ATHENA_V2_V5.split(", ")]
    got = [(f.column, f.athena_type) for f in schema.FIELDS[: len(expected)]]
    assert got == expected


def test_later_versions_and_layout_sizes():
    assert [f.column for f in schema.FIELDS if f.version == 7][:2] == [
        "ecs_cluster_arn",
        "ecs_cluster_name",
    ]
    assert [f.column for f in schema.FIELDS if f.version == 8] == ["reject_reason"]
    assert [f.column for f in schema.FIELDS if f.version == 10] == ["encryption_status"]
    # "All fields of version N" header-less layouts, by field count.
    assert sorted(schema.ALL_FIELDS_LAYOUTS) == [14, 21, 25, 29, 39, 40, 41, 42, 54]
    # Transit Gateway flow logs: 36 fields by default, a count no VPC layout has.
    assert sorted(schema.TGW.layouts) == [36]
    assert schema.ALL_FIELDS_LAYOUTS[14] == schema.DEFAULT_FORMAT


def test_log_format_strings():
    fields = schema.parse_log_format("${version} ${vpc-id} ${tcp-flags}")
    assert [f.column for f in fields] == ["version", "vpc_id", "tcp_flags"]
    assert schema.format_string(fields) == "${version} ${vpc-id} ${tcp-flags}"
    assert [f.name for f in schema.parse_log_format("srcaddr dstaddr")] == ["srcaddr", "dstaddr"]
    # A well-formed name the catalogue does not know is kept (extra_fields), unless strict.
    kept = schema.parse_log_format("${version} ${nope}")
    assert [(f.name, f.known) for f in kept] == [("version", True), ("nope", False)]
    with pytest.raises(FormatError, match="unknown flow-log field 'nope'"):
        schema.parse_log_format("${version} ${nope}", strict=True)
    with pytest.raises(FormatError, match="not a flow-log field name"):
        schema.parse_log_format("${version} ${No Such}")
    with pytest.raises(FormatError, match="twice"):
        schema.parse_log_format("${srcaddr} ${srcaddr}")
    with pytest.raises(FormatError, match="outside"):
        schema.parse_log_format("${srcaddr}, ${dstaddr}")


def test_arrow_schema_is_generated_from_the_catalogue():
    s = schema.arrow_schema(with_partition=True)
    assert s.names == [*schema.COLUMNS, "extra_fields", "aws_account_id", "aws_region", "date"]
    assert str(s.field("bytes").type) == "int64" and str(s.field("srcport").type) == "int32"
