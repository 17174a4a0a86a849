"""vpcflow against other projects' sample flow logs and their expected parse results.

The samples live in ../shared/conformance (licences forbid copying them here); this module is
skipped when that folder is absent. Where vpcflow deliberately differs, the test says so.
"""

import datetime as dt
import json
from pathlib import Path

import pytest

from vpcflow.parse import parse_bytes
from vpcflow.schema import FIELD_BY_NAME as FIELD_NAMES

ROOT = Path(__file__).resolve().parents[2] / "shared" / "conformance"
pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not ROOT.is_dir(), reason="../shared/conformance is not present"),
]

ELASTIC_21 = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"


def iso(ts):
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if ts is not None
        else None
    )


def ours(row: dict) -> dict:
    return {**row, "start": iso(row["start"]), "end": iso(row["end"])}


def same(expected: dict, got: dict, keys=None):
    for k, v in expected.items():
        if keys is not None and k not in keys:
            continue
        if k not in got or k == "tcp_flags_array":
            continue
        g = got[k]
        if isinstance(v, str) and isinstance(g, int):
            g = str(g)
        if isinstance(v, str) and v.endswith(".000Z"):
            v = v.replace(".000Z", "Z")
        assert g == v, f"{k}: expected {v!r}, vpcflow gave {g!r}"


def beats_cases():
    import yaml

    doc = yaml.safe_load(
        (ROOT / "elastic-beats/processor-aws_vpcflow/aws-vpc-flow-logs.yml").read_text()
    )
    return doc


@pytest.mark.parametrize("case", ["v5-fields-original", "v7-fields-original"])
def test_beats_processor_original_mode(case):
    spec = beats_cases()[case]
    golden = json.loads(
        (ROOT / f"elastic-beats/processor-aws_vpcflow/{case}.golden.json").read_text()
    )
    assert len(golden) == len(spec["samples"])
    for sample, want in zip(spec["samples"], golden, strict=True):
        res = parse_bytes(sample, log_format=spec["format"])
        assert res.bad_lines == [], res.bad_lines
        same(want["aws"]["vpcflow"], ours(res.table.to_pylist()[0]))


@pytest.mark.parametrize(
    "case",
    [
        "default-v2-format",
        "tcp-flag-sequence",
        "custom-nat-gateway",
        "transit-gateway",
        "service-name-path-direction",
    ],
)
def test_beats_processor_ecs_mode(case):
    spec = beats_cases()[case]
    golden = json.loads(
        (ROOT / f"elastic-beats/processor-aws_vpcflow/{case}.golden.json").read_text()
    )
    for sample, want in zip(spec["samples"], golden, strict=True):
        res = parse_bytes(sample, log_format=spec["format"])
        assert res.bad_lines == [], res.bad_lines
        r = ours(res.table.to_pylist()[0])
        same(want.get("aws", {}).get("vpcflow", {}), r)
        for side, addr, port in (
            ("source", "srcaddr", "srcport"),
            ("destination", "dstaddr", "dstport"),
        ):
            if "ip" in want.get(side, {}):
                assert r[addr] == want[side]["ip"]
            if "port" in want.get(side, {}):
                assert r[port] == want[side]["port"]
        if "iana_number" in want.get("network", {}):
            assert str(r["protocol"]) == want["network"]["iana_number"]
        if "start" in want.get("event", {}):
            assert r["start"] == want["event"]["start"].replace(".000Z", "Z")


@pytest.mark.parametrize(
    "name",
    [
        "test-extra-samples",
        "test-v5-all-fields",
        "test-ecs-samples",
        "test-v8-samples",
        "test-with-message-field",
    ],
)
def test_elastic_integration_headerless_by_field_count(name):
    data = (ROOT / f"elastic-integrations/{name}.log").read_bytes()
    expected = json.loads((ROOT / f"elastic-integrations/{name}.log-expected.json").read_text())[
        "expected"
    ]
    res = parse_bytes(data, path=name)
    assert res.bad_lines == [], res.bad_lines
    rows = res.table.to_pylist()
    assert len(rows) == len(expected)
    for r, want in zip(rows, expected, strict=True):
        r = ours(r)
        same(want["aws"]["vpcflow"], r)
        for side, addr, port in (
            ("source", "srcaddr", "srcport"),
            ("destination", "dstaddr", "dstport"),
        ):
            w = want.get(side, {})
            if "address" in w:
                assert r[addr] == w["address"]
            if "port" in w:
                assert r[port] == w["port"]
        if "bytes" in want.get("network", {}):
            assert r["bytes"] == want["network"]["bytes"]


def test_elastic_21_token_layout_is_not_guessed():
    # Elastic reads 21 header-less tokens in the TCP-flag example's order; AWS's documented
    # "all version 3 fields" order is different, so vpcflow reports the lines instead of
    # guessing, and parses them exactly once the format is given.
    data = (ROOT / "elastic-integrations/test-tcp-flag-sequence.log").read_bytes()
    guessed = parse_bytes(data)
    assert guessed.table.num_rows == 0 and len(guessed.bad_lines) == 3
    expected = json.loads(
        (ROOT / "elastic-integrations/test-tcp-flag-sequence.log-expected.json").read_text()
    )["expected"]
    res = parse_bytes(data, log_format=ELASTIC_21)
    assert res.bad_lines == []
    for r, want in zip(res.table.to_pylist(), expected, strict=True):
        same(want["aws"]["vpcflow"], ours(r))


def test_elastic_mixed_formats_in_one_object():
    # 7 default-format lines, one ECS (39 fields) and one transit-gateway line (36 fields, the
    # Transit Gateway default format): each parses by its count, the TGW line into its table.
    res = parse_bytes(
        (ROOT / "elastic-integrations/system-test/test-extra-samples.log").read_bytes()
    )
    assert res.table.num_rows == 8 and res.bad_lines == []
    assert res.tgw.num_rows == 1 and res.tgw.column("tgw_id").to_pylist()[0].startswith("tgw-")


@pytest.mark.parametrize(
    "name",
    [
        "accept-reject-traffic",
        "ipv6",
        "no-data-skip-data",
        "tcp-flag-sequence",
        "tcp-flag-sequence-skip-data",
        "custom-nat-gateway",
        "custom-transit-gateway",
    ],
)
def test_filebeat_module_files_with_headers(name):
    res = parse_bytes((ROOT / f"elastic-beats/{name}.log").read_bytes(), path=name)
    assert res.bad_lines == [], res.bad_lines
    expected = json.loads((ROOT / f"elastic-beats/{name}.log-expected.json").read_text())
    expected = expected["expected"] if isinstance(expected, dict) else expected
    assert res.table.num_rows == len(expected)
    for r, want in zip(res.table.to_pylist(), expected, strict=True):
        flat = {
            k.split("aws.vpcflow.", 1)[1]: v
            for k, v in want.items()
            if k.startswith("aws.vpcflow.")
        }
        same(flat, ours(r))
        if "source.ip" in want:
            assert r["srcaddr"] == want["source.ip"]
        if "destination.port" in want:
            assert r["dstport"] == want["destination.port"]


def test_filebeat_bad_file_is_reported():
    res = parse_bytes((ROOT / "elastic-beats/bad.log").read_bytes(), path="bad.log")
    assert res.table.num_rows == 0 and res.bad_lines


@pytest.mark.parametrize("name,records", [("V3_FILE", 2), ("V4_FILE", 2), ("V5_FILE", 2)])
def test_flowlogs_reader_alphabetical_headers(name, records):
    res = parse_bytes((ROOT / f"flowlogs-reader/{name}.log").read_bytes(), path=name)
    assert res.table.num_rows == records
    if name == "V5_FILE":  # its trailing 'bogus line' is reported, not stored
        assert [b.text for b in res.bad_lines] == ["bogus line"]
    rows = res.table.to_pylist()
    # The header is in alphabetical order, not AWS's: values must still land in their columns.
    assert rows[0]["vpc_id"].startswith("vpc-") and rows[0]["subnet_id"].startswith("subnet-")
    assert rows[0]["account_id"] in ("000000000000", "999999999999")
    assert rows[0]["tcp_flags"] == 19 and rows[0]["type"] == "IPv4" and rows[0]["protocol"] == 6


def test_flowlogs_reader_parquet():
    res = parse_bytes((ROOT / "flowlogs-reader/flows.parquet").read_bytes(), path="flows.parquet")
    assert res.table.num_rows == 3
    # Row 3 carries protocol 8080 on purpose in flowlogs-reader's data: kept as delivered.
    assert res.table.column("protocol").to_pylist()[2] == 8080


def test_vector_exact_cases():
    d = json.loads((ROOT / "vector-vrl/parse_aws_vpc_flow_log.rs.extracted.json").read_text())
    for case in d["exact_cases"]["cases"]:
        res = parse_bytes(case["value"], log_format=case["format"])
        assert res.bad_lines == []
        got = res.table.to_pylist()[0]
        assert {k: v for k, v in got.items() if v is not None} == case["want"]


def test_vector_records_parse_without_error():
    d = json.loads((ROOT / "vector-vrl/parse_aws_vpc_flow_log.rs.extracted.json").read_text())
    for group in d["must_parse_ok"]["groups"]:
        fmt = group["format"]
        if fmt and not all(f.replace("_", "-") in FIELD_NAMES for f in fmt.split()):
            continue  # fields of later versions than the catalogue holds (v9-v11)
        res = parse_bytes("\n".join(group["records"]) + "\n", log_format=fmt)
        assert res.bad_lines == [] and res.table.num_rows == len(group["records"])
