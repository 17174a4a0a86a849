"""The troubleshooter follows the kind of interface that rejected a flow.

NAT gateways, Transit Gateway attachments and Gateway Load Balancer endpoints have no security
groups: a rejected request there can only be the subnet's network ACL. Every other kind keeps
the logs-only "security group or network ACL", worded for what is behind the interface.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import vpcflow
from vpcflow.cli import main
from vpcflow.store.inventory import sync

ENIS = Path(__file__).parent / "data" / "inventory" / "describe-network-interfaces.json"

# (interface, its address, expected verdict, what "never saw it")
CASES = [
    ("eni-0c0000000000000a1", "10.0.0.10", "network-acl", "the NAT gateway"),
    ("eni-0c0000000000000a7", "10.0.4.5", "network-acl", "the transit gateway"),
    ("eni-0c0000000000000a6", "10.0.3.5", "network-acl", "the endpoint"),
    ("eni-0c0000000000000a3", "10.0.0.21", "network-acl", "the load balancer"),  # NLB, no groups
    ("eni-0c0000000000000a2", "10.0.0.20", "security-group-or-network-acl", "the load balancer"),
    ("eni-0c0000000000000a4", "10.0.20.5", "security-group-or-network-acl", "the database"),
    ("eni-0c0000000000000a8", "10.0.10.77", "security-group-or-network-acl", "the Lambda function"),
    ("eni-0b21a3c4d5e6f7081", "10.0.1.14", "security-group-or-network-acl", "the instance"),
]
NO_SG = {"network-acl"}


def rejected_request(eni: str, addr: str) -> str:
    return f"2 111122223333 {eni} 10.0.10.21 {addr} 41000 443 6 3 180 1714550000 1714550060 REJECT OK\n"


def explain(tmp_path, records: str, *flags) -> list[dict]:
    path = tmp_path / "records.log"
    path.write_text(records)
    res = CliRunner().invoke(
        main, ["explain", str(path), *map(str, flags), "--format", "json"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize(("eni", "addr", "verdict", "thing"), CASES)
def test_logs_and_the_interface_alone(tmp_path, eni, addr, verdict, thing):
    [v] = explain(tmp_path, rejected_request(eni, addr), "--network-interfaces", ENIS)
    assert (v["verdict"], v["stage"]) == (verdict, "request inbound")
    assert f"so {thing} never saw it" in v["explanation"]
    assert "not in the configurations given" not in v["explanation"]
    if verdict in NO_SG:
        assert "has no security groups" in v["explanation"]
        assert "security group" not in v["fix"]
        assert "subnet-0a" in v["fix"]  # the interface's own subnet


@pytest.mark.parametrize(("eni", "addr", "verdict", "thing"), CASES[:3])
def test_a_security_group_file_does_not_turn_a_nat_gateway_into_a_security_group(
    tmp_path, eni, addr, verdict, thing
):
    groups = tmp_path / "sg.json"
    groups.write_text(json.dumps({"SecurityGroups": [{"GroupId": "sg-0bb", "IpPermissions": []}]}))
    [v] = explain(
        tmp_path,
        rejected_request(eni, addr),
        "--network-interfaces",
        ENIS,
        "--security-groups",
        groups,
    )
    assert v["verdict"] == "network-acl"
    assert "None of the security groups" not in v["explanation"]
    assert "((none))" not in v["explanation"]
    assert "is not in the configurations given" not in v["explanation"]
    assert "never saw it" in v["explanation"] and "the instance" not in v["explanation"]


def _acl(subnet: str, deny_cidr: str) -> dict:
    return {
        "NetworkAcls": [
            {
                "NetworkAclId": "acl-0feed",
                "VpcId": "vpc-0111",
                "Associations": [{"SubnetId": subnet}],
                "Entries": [
                    {"RuleNumber": 90, "Protocol": "6", "RuleAction": "deny", "Egress": False,
                     "CidrBlock": deny_cidr, "PortRange": {"From": 443, "To": 443}},
                    {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": False,
                     "CidrBlock": "0.0.0.0/0"},
                ],
            }
        ]
    }  # fmt: skip


def test_with_the_network_acl_the_rule_is_named(tmp_path):
    acls = tmp_path / "acl.json"
    acls.write_text(json.dumps(_acl("subnet-0a0", "10.0.10.0/24")))
    [v] = explain(
        tmp_path,
        rejected_request("eni-0c0000000000000a1", "10.0.0.10"),
        "--network-interfaces",
        ENIS,
        "--network-acls",
        acls,
    )
    assert (v["verdict"], v["network_acl_id"], v["rule_number"], v["decided_by"]) == (
        "network-acl",
        "acl-0feed",
        90,
        "configurations",
    )
    assert v["interface_kind"] == "nat-gateway"
    assert "has no security groups" in v["explanation"]
    assert "below 90" in v["fix"]


def test_an_alb_with_a_group_that_allows_nothing_is_the_security_group(tmp_path):
    groups = tmp_path / "sg.json"
    groups.write_text(json.dumps({"SecurityGroups": [{"GroupId": "sg-0bb", "IpPermissions": []}]}))
    acls = tmp_path / "acl.json"
    acls.write_text(json.dumps(_acl("subnet-0a0", "192.0.2.0/24")))
    [v] = explain(
        tmp_path,
        rejected_request("eni-0c0000000000000a2", "10.0.0.20"),
        "--network-interfaces",
        ENIS,
        "--security-groups",
        groups,
        "--network-acls",
        acls,
    )
    assert (v["verdict"], v["group_id"]) == ("security-group", "sg-0bb")
    assert v["interface_name"] == "ALB app/shop-prod"


def test_troubleshoot_takes_kinds_and_names_from_the_store_inventory(tmp_path):
    records = "".join(rejected_request(eni, addr) for eni, addr, _, _ in CASES)
    path = tmp_path / "records.log"
    path.write_text(records)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(path)])
    sync(store, file=ENIS)
    store.close()
    res = CliRunner().invoke(
        main,
        ["troubleshoot", "--store", str(tmp_path / "store"), "--format", "json"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    got = {v["interface_id"]: (v["verdict"], v["interface_name"]) for v in json.loads(res.stdout)}
    assert got["eni-0c0000000000000a1"] == ("network-acl", "NAT gateway nat-0a8b0e0d28266841f")
    assert got["eni-0b21a3c4d5e6f7081"] == (
        "security-group-or-network-acl",
        "web-4, i-0abc1234def567890",
    )
    assert {eni: v for eni, (v, _) in got.items()} == {eni: v for eni, _, v, _ in CASES}
    res = CliRunner().invoke(main, ["troubleshoot", "--store", str(tmp_path / "store")])
    assert "10.0.10.21:41000 tried to reach 10.0.0.10:443 (TCP port 443) on" in res.output.replace(
        "\n   ", " "
    )
    assert "eni-0c0000000000000a1 (NAT gateway nat-0a8b0e0d28266841f)" in res.output.replace(
        "\n   ", " "
    )


CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


@pytest.mark.conformance
@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance is not present")
def test_the_aws_transit_gateway_example_rejected_is_the_network_acl(tmp_path):
    # The AWS documentation's "Traffic through a transit gateway" records, with the request on
    # the transit gateway's interface turned into a REJECT.
    doc = (CONFORMANCE / "aws-docs" / "flow-logs-records-examples.md").read_text()
    section = doc[doc.index('<a name="flow-log-example-tgw">') :]
    fmt = next(line for line in section.splitlines() if line.startswith("version interface-id"))
    record = next(
        line for line in section.splitlines() if line.startswith("3 eni-11111111111111111")
    )
    assert record.endswith(" ACCEPT OK")
    logs = tmp_path / "tgw.log"
    logs.write_text(fmt + "\n" + record.replace(" ACCEPT OK", " REJECT OK") + "\n")
    enis = tmp_path / "enis.json"
    enis.write_text(
        json.dumps(
            {
                "NetworkInterfaces": [
                    {
                        "NetworkInterfaceId": "eni-11111111111111111",
                        "Description": "Network Interface for Transit Gateway Attachment "
                        "tgw-attach-0123456789abcdef0",
                        "InterfaceType": "transit_gateway",
                        "RequesterManaged": True,
                        "Groups": [],
                        "PrivateIpAddress": "10.40.1.175",
                        "SubnetId": "subnet-11111111aaaaaaaaa",
                        "VpcId": "vpc-abcdefab012345678",
                    }
                ]
            }
        )
    )
    res = CliRunner().invoke(
        main,
        ["explain", str(logs), "--network-interfaces", str(enis), "--format", "json"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    [v] = json.loads(res.stdout)
    assert (v["verdict"], v["stage"], v["interface_kind"]) == (
        "network-acl",
        "request outbound",
        "transit-gateway-attachment",
    )
    assert "outbound rules of the subnet's network ACL" in v["explanation"]
    assert "subnet-11111111aaaaaaaaa" in v["fix"] and "to 10.40.2.236/32" in v["fix"]


def test_reject_reason_bpa_is_block_public_access_on_any_kind(tmp_path):
    header = (
        "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
        "action log-status reject-reason\n"
    )
    rows = "".join(
        f"8 {eni} 203.0.113.50 {addr} 40000 443 6 1 60 1714550000 1714550060 REJECT OK BPA\n"
        for eni, addr in (
            ("eni-0c0000000000000a1", "10.0.0.10"),
            ("eni-0b21a3c4d5e6f7081", "10.0.1.14"),
        )
    )
    got = explain(tmp_path, header + rows, "--network-interfaces", ENIS)
    assert [v["verdict"] for v in got] == ["block-public-access"] * 2
    assert all("reject-reason is BPA" in v["explanation"] for v in got)
    assert all("Block Public Access exclusion" in v["fix"] for v in got)


def test_a_service_interface_listed_without_groups_has_none(tmp_path):
    # A kind vpcflow does not know (a new AWS service), managed by AWS, with no groups listed.
    enis = tmp_path / "enis.json"
    enis.write_text(
        json.dumps(
            {
                "NetworkInterfaces": [
                    {
                        "NetworkInterfaceId": "eni-0c0000000000000b1",
                        "InterfaceType": "some_future_service",
                        "RequesterManaged": True,
                        "Groups": [],
                        "PrivateIpAddress": "10.0.9.9",
                        "SubnetId": "subnet-0a9",
                    }
                ]
            }
        )
    )
    groups = tmp_path / "sg.json"
    groups.write_text(json.dumps({"SecurityGroups": [{"GroupId": "sg-0bb", "IpPermissions": []}]}))
    [v] = explain(
        tmp_path,
        rejected_request("eni-0c0000000000000b1", "10.0.9.9"),
        "--network-interfaces",
        enis,
        "--security-groups",
        groups,
    )
    assert v["verdict"] == "network-acl"
    assert "(none)" not in v["explanation"]


def test_troubleshoot_names_the_client_that_held_the_address_then(tmp_path):
    import datetime as dt

    t1 = dt.datetime(2024, 5, 1, 0, 0, tzinfo=dt.UTC)
    t2 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    morning, afternoon = int(t1.timestamp()) + 3600, int(t2.timestamp()) + 3600
    records = "".join(
        f"2 111122223333 eni-0c0000000000000a1 10.0.10.21 10.0.0.10 {port} {dport} 6 3 180 {t} {t + 60} REJECT OK\n"
        for port, dport, t in ((41000, 443, morning), (42000, 8443, afternoon))
    )
    path = tmp_path / "records.log"
    path.write_text(records)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(path)])
    base = json.loads(ENIS.read_text())["NetworkInterfaces"]
    for when, eni, name in (
        (t1, "eni-0c0000000000000c1", "old-worker"),
        (t2, "eni-0c0000000000000c2", "new-worker"),
    ):
        doc = {"NetworkInterfaces": base + [{
            "NetworkInterfaceId": eni, "PrivateIpAddress": "10.0.10.21", "SubnetId": "subnet-0a3",
            "VpcId": "vpc-0111", "Groups": [{"GroupId": "sg-1"}], "TagSet": [{"Key": "Name", "Value": name}],
        }]}  # fmt: skip
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(doc))
        sync(store, file=f, taken_at=when)
    verdicts = sorted(store.troubleshoot(), key=lambda v: v.first_seen)
    assert len(verdicts) == 2
    assert "10.0.10.21:41000 (old-worker) tried" in verdicts[0].explanation
    assert "10.0.10.21:42000 (new-worker) tried" in verdicts[1].explanation


def test_the_dashboards_rejections_name_each_interface(tmp_path):
    from webserver import get_json, running

    records = "".join(rejected_request(eni, addr) for eni, addr, _, _ in CASES[:2])
    path = tmp_path / "records.log"
    path.write_text(records)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(path)])
    sync(store, file=ENIS)
    with running(store) as (_, base):
        status, body = get_json(f"{base}/rejected.json?range=all")
    store.close()
    assert status == 200
    assert {g["interface_id"]: g["interface_name"] for g in body["groups"]} == {
        "eni-0c0000000000000a1": "NAT gateway nat-0a8b0e0d28266841f",
        "eni-0c0000000000000a7": "transit gateway attachment tgw-attach-0b2c3d4e5f6a7b8c9",
    }
