"""The parser on every example record of the AWS page "Flow log record examples"
(https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-records-examples.html), with the
values the page documents, and on malformed input."""

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vpcflow.parse import parse_bytes

V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
TCP_FLAGS_FMT = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"
NAT_FMT = "instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr"
TGW_FMT = "version interface-id account-id vpc-id subnet-id instance-id srcaddr dstaddr srcport dstport protocol tcp-flags type pkt-srcaddr pkt-dstaddr action log-status"
V5_FMT = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status"


def one(line: str, fmt: str | None = None) -> dict:
    res = parse_bytes(line.encode() + b"\n", path="t", log_format=fmt)
    assert res.bad_lines == []
    assert res.table.num_rows == 1
    return res.table.to_pylist()[0]


def test_accepted_and_rejected_traffic():
    r = one(
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
    )
    assert (r["version"], r["account_id"], r["interface_id"]) == (
        2,
        "123456789010",
        "eni-1235b8ca123456789",
    )
    assert (r["srcaddr"], r["dstaddr"], r["srcport"], r["dstport"], r["protocol"]) == (
        "172.31.16.139",
        "172.31.16.21",
        20641,
        22,
        6,
    )
    assert (r["packets"], r["bytes"], r["start"], r["end"]) == (20, 4249, 1418530010, 1418530070)
    assert (r["action"], r["log_status"]) == ("ACCEPT", "OK")
    assert r["vpc_id"] is None and r["tcp_flags"] is None
    r = one(
        "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK"
    )
    assert (r["dstport"], r["action"]) == (3389, "REJECT")


@pytest.mark.parametrize("status", ["NODATA", "SKIPDATA"])
def test_no_data_and_skipped(status):
    r = one(f"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - {status}")
    assert r["log_status"] == status
    for col in (
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "action",
    ):
        assert r[col] is None, col
    assert (r["start"], r["end"]) == (1431280876, 1431280934)


def test_security_group_and_nacl_ping_pair():
    data = (
        "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n"
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK\n"
    )
    rows = parse_bytes(data.encode()).table.to_pylist()
    assert [(r["srcaddr"], r["protocol"], r["srcport"], r["action"]) for r in rows] == [
        ("203.0.113.12", 1, 0, "ACCEPT"),
        ("172.31.16.139", 1, 0, "REJECT"),
    ]


def test_ipv6():
    r = one(
        "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"
    )
    assert r["srcaddr"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"
    assert (r["dstport"], r["packets"], r["bytes"]) == (22, 54, 8855)


def test_tcp_flag_sequence_with_header_and_double_space():
    data = (
        "\n".join(
            [
                TCP_FLAGS_FMT,
                "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK",
                "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK",
                "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43638 5001 52.213.180.42 10.0.0.62 6 1260 17 1566933133 1566933193 ACCEPT 3 OK",
                "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43638  10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK",
            ]
        )
        + "\n"
    )
    res = parse_bytes(data.encode())
    assert res.bad_lines == []
    rows = res.table.to_pylist()
    assert [r["tcp_flags"] for r in rows] == [2, 18, 3, 19]
    # Note the field order: bytes before packets in this custom format.
    assert (rows[0]["bytes"], rows[0]["packets"]) == (568, 8)
    assert rows[3]["pkt_srcaddr"] == "10.0.0.62" and rows[3]["dstport"] == 43638
    assert {r["vpc_id"] for r in rows} == {"vpc-abcdefab012345678"}
    assert rows[0]["type"] == "IPv4" and rows[0]["instance_id"] == "i-01234567890123456"


def test_nat_gateway_custom_format():
    r = one("- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5", NAT_FMT)
    assert r["instance_id"] is None
    assert (r["srcaddr"], r["dstaddr"], r["pkt_srcaddr"], r["pkt_dstaddr"]) == (
        "10.0.1.5",
        "10.0.0.220",
        "10.0.1.5",
        "203.0.113.5",
    )
    assert r["version"] is None and r["start"] is None


def test_transit_gateway_format():
    r = one(
        "3 eni-11111111111111111 123456789010 vpc-abcdefab012345678 subnet-11111111aaaaaaaaa - 10.40.1.175 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK",
        "${" + "} ${".join(TGW_FMT.split()) + "}",
    )
    assert (
        r["instance_id"] is None
        and r["srcaddr"] == "10.40.1.175"
        and r["pkt_srcaddr"] == "10.20.33.164"
    )
    assert (r["srcport"], r["dstport"], r["tcp_flags"]) == (39812, 80, 3)


def test_service_name_traffic_path_flow_direction():
    data = (
        "\n".join(
            [
                V5_FMT,
                "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK",
                "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK",
            ]
        )
        + "\n"
    )
    rows = parse_bytes(data.encode()).table.to_pylist()
    assert [
        (r["flow_direction"], r["traffic_path"], r["pkt_src_aws_service"], r["pkt_dst_aws_service"])
        for r in rows
    ] == [
        ("ingress", None, "S3", None),
        ("egress", 8, None, "S3"),
    ]
    assert (
        rows[0]["region"] == "ap-southeast-2"
        and rows[0]["az_id"] == "apse2-az3"
        and rows[0]["sublocation_type"] is None
    )


def test_headerless_layouts_by_field_count():
    v2 = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
    v3 = v2.replace("2 ", "3 ", 1) + " vpc-01 subnet-01 i-01 19 IPv4 172.31.16.139 172.31.16.21"
    v5 = v3.replace("3 ", "5 ", 1) + " eu-west-1 euw1-az1 - - - S3 egress 8"
    v8 = v5.replace("5 ", "8 ", 1) + " " + " ".join(["-"] * 10) + " BPA"
    rows = parse_bytes("\n".join([v2, v3, v5, v8]).encode()).table.to_pylist()
    by_version = {r["version"]: r for r in rows}
    assert by_version[3]["tcp_flags"] == 19 and by_version[3]["pkt_dstaddr"] == "172.31.16.21"
    assert by_version[5]["traffic_path"] == 8 and by_version[5]["flow_direction"] == "egress"
    assert by_version[8]["reject_reason"] == "BPA" and by_version[8]["ecs_task_id"] is None


def test_headerless_file_in_another_order_is_reported_not_stored():
    # The TCP-flag example's 21 fields, header-less: 21 fields means "all v3 fields in AWS
    # order" to the parser, and the values do not fit that order.
    line = "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK"
    res = parse_bytes((line + "\n") * 3)
    assert res.table.num_rows == 0
    assert [b.line for b in res.bad_lines] == [1, 2, 3]
    assert res.bad_lines[0].field == "account_id"


def test_unknown_field_count_without_format_is_an_error_per_line():
    res = parse_bytes(b"2 123456789010 eni-1 1.2.3.4\n", path="x.log")
    assert res.table.num_rows == 0
    assert "4 fields and no header line or --log-format" in res.bad_lines[0].reason


def test_milliseconds_unknown_account_and_blank_lines():
    data = f"{V2}\n\n2 unknown eni-1235b8ca123456789 - - - - - - - 1512564058000 1512564118000 - NODATA\n"
    r = parse_bytes(data.encode()).table.to_pylist()[0]
    assert r["account_id"] == "unknown" and (r["start"], r["end"]) == (1512564058, 1512564118)


def test_json_message_wrapper_and_cloudwatch_subscription_payload():
    line = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
    data = (
        json.dumps({"message": line})
        + "\n"
        + json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "logEvents": [{"id": "1", "timestamp": 1, "message": line}],
            }
        )
        + "\n{broken\n"
    )
    res = parse_bytes(data.encode(), path="cw.json")
    assert res.table.num_rows == 2 and res.table.column("dstport").to_pylist() == [22, 22]
    assert [(b.line, b.reason.split(":")[0]) for b in res.bad_lines] == [(3, "not valid JSON")]


def test_parquet_as_aws_delivers_it():
    t = pa.table(
        {
            "version": pa.array([2], pa.int32()),
            "account_id": ["123456789010"],
            "interface_id": ["eni-1"],
            "srcaddr": ["1.2.3.4"],
            "dstaddr": ["5.6.7.8"],
            "srcport": pa.array([443], pa.int32()),
            "dstport": pa.array([51000], pa.int32()),
            "protocol": pa.array([6], pa.int32()),
            "packets": pa.array([3], pa.int64()),
            "bytes": pa.array([1200], pa.int64()),
            "start": pa.array([1700000000], pa.int64()),
            "end": pa.array([1700000060], pa.int64()),
            "action": ["ACCEPT"],
            "log_status": ["OK"],
        }
    )
    buf = io.BytesIO()
    pq.write_table(t, buf)
    r = parse_bytes(buf.getvalue(), path="x.parquet").table.to_pylist()[0]
    assert (r["srcport"], r["protocol"], r["bytes"], r["vpc_id"]) == (443, 6, 1200, None)


def test_malformed_lines_are_reported_with_line_field_and_reason():
    good = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
    lines = [
        V2,
        good,
        good.replace(" 20641 ", " http "),  # non-numeric port
        good.replace(" 20641 ", " 70000 "),  # port out of range
        good.replace(" ACCEPT ", " MAYBE "),  # action outside its set
        good.replace("172.31.16.139", "172.31.16"),  # not an address
        good.rsplit(" ", 1)[0],  # a field short
        good,
    ]
    data = ("\n".join(lines) + "\n").encode() + b"\xff\xfe\x00junk\n" + b"2 " + b"x" * 20000 + b"\n"
    res = parse_bytes(data, path="mixed.log")
    assert res.table.num_rows == 2
    got = [(b.line, b.field) for b in res.bad_lines]
    assert got == [
        (3, "srcport"),
        (4, "srcport"),
        (5, "action"),
        (6, "srcaddr"),
        (7, ""),
        (9, ""),
        (10, ""),
    ]
    reasons = [b.reason for b in res.bad_lines]
    assert "'http' is not a whole number" in reasons[0]
    assert "70000 is out of range" in reasons[1]
    assert reasons[4] == "expected 14 fields (from the header), found 13"
    assert "not UTF-8" in reasons[5] and "longer than" in reasons[6]


def test_gzip_content_must_be_decompressed_by_the_caller():
    # parse_bytes takes decompressed bytes; gzip magic is not text and is rejected line by line.
    res = parse_bytes(gzip.compress(b"hello\n"))
    assert res.table.num_rows == 0 and res.bad_lines
