"""`vpcflow explain/troubleshoot --from-aws` against moto's EC2 on 127.0.0.1.

The scenario (built with boto3 over HTTP, before any vpcflow code runs):

    VPC 10.0.0.0/16
      web subnet 10.0.1.0/24, its own network ACL:
        inbound   80 deny  TCP 8080      from 10.0.2.0/24   (the app tier is not allowed in)
                 100 allow all           from 0.0.0.0/0
        outbound  90 deny  TCP 32768-65535 to 198.51.100.0/24 (a partner's replies blocked)
                 100 allow TCP 1024-65535  to 0.0.0.0/0      (no ICMP: ping replies hit *)
      app subnet 10.0.2.0/24 (the VPC's default ACL)
    sg "web": inbound TCP 443 from 0.0.0.0/0, ICMP from 203.0.113.0/24, TCP 8080 from sg "app"
    sg "app": no inbound rules
    ENI web 10.0.1.10 [web] in the web subnet; ENI app 10.0.2.20 [app] in the app subnet

Records are all on the web ENI; the app ENI is found only as a member of the referenced group.
"""

from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner

from vpcflow.cli import main
from vpcflow.troubleshoot import fetch_configs, load_configs

ACCOUNT = "123456789012"  # moto's


@pytest.fixture
def ec2_scenario(moto_endpoint):
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    web_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    app_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]

    app_sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    web_sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "203.0.113.0/24"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": app_sg}],
            },
        ],
    )

    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    entries = [  # (number, egress, protocol, action, cidr, ports)
        (80, False, "6", "deny", "10.0.2.0/24", (8080, 8080)),
        (100, False, "-1", "allow", "0.0.0.0/0", None),
        (90, True, "6", "deny", "198.51.100.0/24", (32768, 65535)),
        (100, True, "6", "allow", "0.0.0.0/0", (1024, 65535)),
    ]
    for number, egress, proto, action, cidr, ports in entries:
        kw = {"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=number,
            Egress=egress,
            Protocol=proto,
            RuleAction=action,
            CidrBlock=cidr,
            **kw,
        )
    current = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [web_subnet]}]
    )["NetworkAcls"][0]
    assoc = next(a for a in current["Associations"] if a["SubnetId"] == web_subnet)
    ec2.replace_network_acl_association(
        AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=acl
    )

    web_eni = ec2.create_network_interface(
        SubnetId=web_subnet, PrivateIpAddress="10.0.1.10", Groups=[web_sg]
    )["NetworkInterface"]["NetworkInterfaceId"]
    app_eni = ec2.create_network_interface(
        SubnetId=app_subnet, PrivateIpAddress="10.0.2.20", Groups=[app_sg]
    )["NetworkInterface"]["NetworkInterfaceId"]
    return {
        "vpc": vpc,
        "web_subnet": web_subnet,
        "acl": acl,
        "web_sg": web_sg,
        "app_sg": app_sg,
        "web_eni": web_eni,
        "app_eni": app_eni,
    }


def records(eni: str) -> str:
    """Default-format records on ``eni`` (10.0.1.10)."""
    rows = [
        # ping from outside (the AWS documentation's example): request in ACCEPT, reply REJECT
        ("203.0.113.12", "10.0.1.10", 0, 0, 1, 1717400100, "ACCEPT"),
        ("10.0.1.10", "203.0.113.12", 0, 0, 1, 1717400100, "REJECT"),
        # HTTPS from the partner: accepted in, the reply to an ephemeral port rejected
        ("198.51.100.7", "10.0.1.10", 50123, 443, 6, 1717400200, "ACCEPT"),
        ("10.0.1.10", "198.51.100.7", 443, 50123, 6, 1717400200, "REJECT"),
        # SSH from the internet: rejected on the way in
        ("203.0.113.50", "10.0.1.10", 40000, 22, 6, 1717400300, "REJECT"),
        # the app server calling the web server's 8080: rejected on the way in
        ("10.0.2.20", "10.0.1.10", 41000, 8080, 6, 1717400400, "REJECT"),
    ]
    return "".join(
        f"2 {ACCOUNT} {eni} {src} {dst} {sp} {dp} {proto} 4 336 {t} {t + 58} {action} OK\n"
        for src, dst, sp, dp, proto, t, action in rows
    )


def run(*args, stdin=None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def _by(objs, **kw):
    [o] = [o for o in objs if all(o[k] == v for k, v in kw.items())]
    return o


def test_explain_from_aws_decides_with_the_fetched_rules(ec2_scenario, tmp_path):
    s = ec2_scenario
    log = tmp_path / "web.log"
    log.write_text(records(s["web_eni"]))
    res = run("explain", str(log), "--from-aws", "--format", "json")
    assert res.exit_code == 0, res.output
    objs = json.loads(res.stdout)
    assert len(objs) == 4

    # The ping reply goes out: no outbound ICMP entry, so "*" denies it.
    ping = _by(objs, protocol=1)
    assert (ping["verdict"], ping["stage"]) == ("network-acl", "response outbound")
    assert (ping["network_acl_id"], ping["rule_number"], ping["egress"]) == (s["acl"], 32767, True)
    assert ping["direction"] == "inbound" and ping["srcaddr"] == "203.0.113.12"

    # The HTTPS reply to 198.51.100.7:50123 matches outbound rule 90 before 100.
    https = _by(objs, dstport=443)
    assert (https["verdict"], https["stage"]) == ("network-acl", "response outbound")
    assert (https["network_acl_id"], https["rule_number"], https["egress"]) == (s["acl"], 90, True)

    # SSH: the ACL lets everything in (rule 100), the web group has no rule for port 22.
    ssh = _by(objs, dstport=22)
    assert (ssh["verdict"], ssh["group_id"]) == ("security-group", s["web_sg"])
    assert ssh["decided_by"] == "configurations"

    # 8080 from the app server: the web group allows members of "app" (10.0.2.20 is one, found
    # through the reference), so inbound ACL rule 80 is what denied it.
    app = _by(objs, dstport=8080)
    assert (app["verdict"], app["network_acl_id"], app["rule_number"], app["egress"]) == (
        "network-acl", s["acl"], 80, False,
    )  # fmt: skip
    assert f"Security group {s['web_sg']} (web) allows it" in app["explanation"]


def test_explain_without_configs_cannot_tell_the_requests_apart(ec2_scenario, tmp_path):
    # The control: the same records from the logs alone leave the rejected requests open.
    res = run("explain", "--format", "json", stdin=records(ec2_scenario["web_eni"]))
    objs = json.loads(res.stdout)
    assert _by(objs, dstport=22)["verdict"] == "security-group-or-network-acl"
    assert _by(objs, dstport=8080)["verdict"] == "security-group-or-network-acl"


def test_troubleshoot_from_aws_over_the_store(ec2_scenario, tmp_path):
    s = ec2_scenario
    log = tmp_path / "web.log"
    log.write_text(records(s["web_eni"]))
    store = tmp_path / "store"
    assert run("ingest", str(log), "--store", str(store)).exit_code == 0
    res = run("troubleshoot", "--store", str(store), "--from-aws", "--format", "json")
    assert res.exit_code == 0, res.output
    objs = json.loads(res.stdout)
    https = _by(objs, dstport=443)
    assert (https["network_acl_id"], https["rule_number"], https["egress"]) == (s["acl"], 90, True)
    assert _by(objs, dstport=22)["verdict"] == "security-group"


def test_fetch_configs_follows_references_and_matches_the_file_parser(ec2_scenario, tmp_path):
    s = ec2_scenario
    # Unknown ids in the same request (more than one filter's worth) are simply absent.
    ids = [s["web_eni"]] + [f"eni-{i:017x}" for i in range(450)]
    c = fetch_configs(ids, region="us-east-1")
    assert set(c.interfaces) == {s["web_eni"], s["app_eni"]}  # app: member of referenced "app"
    assert c.interfaces[s["app_eni"]].addresses == frozenset({"10.0.2.20"})
    assert {s["web_sg"], s["app_sg"]} <= set(c.security_groups)
    assert set(c.network_acls) == {s["acl"]}
    acl = c.network_acls[s["acl"]]
    assert s["web_subnet"] in acl.subnet_ids
    assert [(e.rule_number, e.allow) for e in acl.rules(egress=True)][:2] == [(90, False), (100, True)]  # fmt: skip

    # The same responses saved as the AWS CLI would print them parse to the same objects.
    ec2 = boto3.client("ec2")
    (tmp_path / "sg.json").write_text(
        json.dumps(ec2.describe_security_groups(GroupIds=[s["web_sg"]]), default=str)
    )
    (tmp_path / "acl.json").write_text(
        json.dumps(ec2.describe_network_acls(NetworkAclIds=[s["acl"]]), default=str)
    )
    files = load_configs(tmp_path / "sg.json", tmp_path / "acl.json")
    assert files.security_groups[s["web_sg"]] == c.security_groups[s["web_sg"]]
    assert files.network_acls[s["acl"]] == acl


def test_unknown_interface_is_one_clear_line(moto_endpoint):
    res = run("explain", "--from-aws", stdin=records("eni-0123456789abcdef0"))
    assert res.exit_code == 1
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("Error: none of the 1 network interface(s) in the records")
    assert "eni-0123456789abcdef0" in line and "us-east-1" in line and "--aws-region" in line


def test_no_credentials_is_one_clear_line(moto_endpoint, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    res = run("explain", "--from-aws", stdin=records("eni-0123456789abcdef0"))
    assert res.exit_code == 1
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("Error: no AWS credentials found")
    assert "DescribeNetworkInterfaces" in line and "--profile" in line


def test_from_aws_with_files_is_a_usage_error(tmp_path):
    f = tmp_path / "sg.json"
    f.write_text('{"SecurityGroups": []}')
    res = run("explain", "--from-aws", "--security-groups", str(f), stdin="")
    assert res.exit_code == 2
    assert "--from-aws" in res.stderr and "--security-groups" in res.stderr
    res = run("explain", "--aws-region", "eu-west-1", stdin="")
    assert res.exit_code == 2 and "only with --from-aws" in res.stderr
