"""Parsing describe-* JSON and evaluating security-group and network-ACL rules."""

from __future__ import annotations

import json

import pytest

from vpcflow.errors import ConfigError
from vpcflow.troubleshoot.configs import (
    Configs,
    parse_network_acls,
    parse_network_interfaces,
    parse_security_groups,
)
from vpcflow.troubleshoot.rules import evaluate_acl, evaluate_security_groups


def acl(*entries, acl_id="acl-0123456789abcdef0"):
    return parse_network_acls(
        {"NetworkAcls": [{"NetworkAclId": acl_id, "VpcId": "vpc-1", "Entries": list(entries)}]}
    )[acl_id]


def entry(n, action, egress=False, proto="6", cidr="0.0.0.0/0", ports=None, icmp=None):
    e = {"RuleNumber": n, "RuleAction": action, "Egress": egress, "Protocol": proto}
    e["Ipv6CidrBlock" if ":" in cidr else "CidrBlock"] = cidr
    if ports:
        e["PortRange"] = {"From": ports[0], "To": ports[1]}
    if icmp:
        e["IcmpTypeCode"] = {"Type": icmp[0], "Code": icmp[1]}
    return e


STAR = [entry(32767, "deny", proto="-1"), entry(32767, "deny", proto="-1", cidr="::/0")]


def test_acl_first_match_in_rule_number_order_not_file_order():
    a = acl(
        entry(200, "allow", ports=(22, 22)),
        entry(100, "deny", cidr="203.0.113.0/24", ports=(0, 65535)),
        *STAR,
    )
    r = evaluate_acl(a, False, 6, "203.0.113.5", 22)
    assert (r.allowed, r.entry.rule_number) == (False, 100)
    r = evaluate_acl(a, False, 6, "198.51.100.5", 22)
    assert (r.allowed, r.entry.rule_number) == (True, 200)
    r = evaluate_acl(a, False, 6, "198.51.100.5", 23)
    assert (r.allowed, r.entry.rule_number) == (False, 32767)


def test_acl_directions_and_ip_versions_are_separate():
    a = acl(entry(100, "allow", egress=True, proto="-1"), *STAR)
    assert not evaluate_acl(a, False, 6, "192.0.2.1", 80).allowed  # ingress has only *
    assert evaluate_acl(a, True, 6, "192.0.2.1", 80).allowed
    r = evaluate_acl(a, True, 6, "2001:db8::1", 80)  # the IPv4 allow does not cover IPv6
    assert (r.allowed, r.entry.rule_number, str(r.entry.cidr)) == (False, 32767, "::/0")


def test_acl_without_star_entry_still_denies_by_default():
    a = acl(entry(100, "allow", ports=(443, 443)))
    r = evaluate_acl(a, False, 6, "192.0.2.1", 80)
    assert (r.allowed, r.entry.rule_number, r.implicit) == (False, 32767, True)


def test_acl_icmp_type_and_udp_ports():
    a = acl(
        entry(100, "allow", proto="1", icmp=(8, -1)),  # echo request only
        entry(110, "allow", proto="17", ports=(1024, 65535)),
        *STAR,
    )
    assert evaluate_acl(a, False, 1, "192.0.2.1", 0).allowed  # a ping request
    assert not evaluate_acl(a, False, 1, "192.0.2.1", 0, response=True).allowed  # echo reply
    assert evaluate_acl(a, False, 17, "192.0.2.1", 40000).allowed
    assert not evaluate_acl(a, False, 17, "192.0.2.1", 53).allowed
    assert not evaluate_acl(a, False, 6, "192.0.2.1", 40000).allowed  # TCP is not UDP


def group(gid, ingress=(), egress=()):
    return {
        "GroupId": gid,
        "GroupName": gid,
        "VpcId": "vpc-1",
        "IpPermissions": list(ingress),
        "IpPermissionsEgress": list(egress),
    }


def perm(proto, ports=None, cidrs=(), v6=(), groups=(), prefix_lists=()):
    p = {
        "IpProtocol": proto,
        "IpRanges": [{"CidrIp": c} for c in cidrs],
        "Ipv6Ranges": [{"CidrIpv6": c} for c in v6],
        "UserIdGroupPairs": [{"GroupId": g, "UserId": "111122223333"} for g in groups],
        "PrefixListIds": [{"PrefixListId": p} for p in prefix_lists],
    }
    if ports:
        p["FromPort"], p["ToPort"] = ports
    return p


def configs(groups, enis=()):
    return Configs(
        security_groups=parse_security_groups({"SecurityGroups": list(groups)}),
        interfaces=parse_network_interfaces({"NetworkInterfaces": list(enis)}),
    )


def test_security_groups_union_of_all_groups_protocols_and_ranges():
    c = configs(
        [
            group("sg-a", ingress=[perm("tcp", (8000, 8100), cidrs=["10.0.0.0/8"])]),
            group("sg-b", ingress=[perm("17", (53, 53), v6=["2001:db8::/32"])]),
            group("sg-c", ingress=[perm("-1", cidrs=["192.0.2.7/32"])]),
        ]
    )
    gids = ("sg-a", "sg-b", "sg-c")
    r = evaluate_security_groups(c, gids, True, 6, "10.9.9.9", 8050)
    assert (r.allowed, r.group_id) == (True, "sg-a")
    assert evaluate_security_groups(c, gids, True, 6, "10.9.9.9", 8101).allowed is False
    r = evaluate_security_groups(c, gids, True, 17, "2001:db8::53", 53)
    assert (r.allowed, r.group_id) == (True, "sg-b")
    assert evaluate_security_groups(c, gids, True, 17, "203.0.113.1", 53).allowed is False
    r = evaluate_security_groups(c, gids, True, 47, "192.0.2.7", None)  # GRE, all protocols
    assert (r.allowed, r.group_id) == (True, "sg-c")
    assert evaluate_security_groups(c, gids, False, 6, "192.0.2.7", 80).allowed is False


def test_security_group_references_resolve_through_interfaces():
    enis = [
        {
            "NetworkInterfaceId": "eni-1",
            "PrivateIpAddress": "10.0.0.5",
            "Groups": [{"GroupId": "sg-app"}],
        },
        {
            "NetworkInterfaceId": "eni-2",
            "PrivateIpAddress": "10.0.0.6",
            "Groups": [{"GroupId": "sg-web"}],
        },
    ]
    c = configs([group("sg-db", ingress=[perm("tcp", (5432, 5432), groups=["sg-app"])])], enis)
    assert evaluate_security_groups(c, ("sg-db",), True, 6, "10.0.0.5", 5432).allowed is True
    assert evaluate_security_groups(c, ("sg-db",), True, 6, "10.0.0.6", 5432).allowed is False
    r = evaluate_security_groups(c, ("sg-db",), True, 6, "10.0.0.99", 5432)
    assert r.allowed is None and "10.0.0.99" in r.unresolved[0]


def test_prefix_lists_are_named_not_guessed():
    c = configs([group("sg-a", egress=[perm("tcp", (443, 443), prefix_lists=["pl-63a5400a"])])])
    r = evaluate_security_groups(c, ("sg-a",), False, 6, "52.216.1.1", 443)
    assert r.allowed is None and "pl-63a5400a" in r.unresolved[0]


def test_icmp_security_group_rule_types():
    c = configs([group("sg-a", ingress=[perm("icmp", (8, -1), cidrs=["0.0.0.0/0"])])])
    assert evaluate_security_groups(c, ("sg-a",), True, 1, "192.0.2.1", 0).allowed is True
    c = configs([group("sg-a", ingress=[perm("icmp", (3, 4), cidrs=["0.0.0.0/0"])])])
    assert evaluate_security_groups(c, ("sg-a",), True, 1, "192.0.2.1", 0).allowed is False
    c = configs([group("sg-a", ingress=[perm("icmpv6", (-1, -1), v6=["::/0"])])])
    assert evaluate_security_groups(c, ("sg-a",), True, 58, "2001:db8::1", 0).allowed is True


# --- bad configuration JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, fn, expected",
    [
        ("{not json", parse_security_groups, "sg.json: not valid JSON (line 1"),
        ({"NetworkAcls": []}, parse_security_groups, "describe-security-groups"),
        (
            {
                "SecurityGroups": [
                    group("sg-a", ingress=[perm("tcp", ("ssh", 22), cidrs=["0.0.0.0/0"])])
                ]
            },
            parse_security_groups,
            "sg.json: $.SecurityGroups[0].IpPermissions[0].FromPort: expected an integer, got 'ssh'",
        ),
        (
            {
                "SecurityGroups": [
                    group("sg-a", egress=[perm("tcp", (1, 2), cidrs=["10.0.0.0/33"])])
                ]
            },
            parse_security_groups,
            "$.SecurityGroups[0].IpPermissionsEgress[0].IpRanges[0].CidrIp: not an IPv4 CIDR block",
        ),
        (
            {"SecurityGroups": [group("sg-a", ingress=[perm("sctp", None)])]},
            parse_security_groups,
            "$.SecurityGroups[0].IpPermissions[0].IpProtocol",
        ),
        (
            {"SecurityGroups": [{"GroupName": "nameless"}]},
            parse_security_groups,
            "$.SecurityGroups[0].GroupId: missing",
        ),
        (
            {"NetworkAcls": [{"NetworkAclId": "acl-1", "Entries": [entry(100, "permit")]}]},
            parse_network_acls,
            "$.NetworkAcls[0].Entries[0].RuleAction: expected 'allow' or 'deny', got 'permit'",
        ),
        (
            {
                "NetworkAcls": [
                    {
                        "NetworkAclId": "acl-1",
                        "Entries": [
                            {
                                "RuleNumber": 1,
                                "RuleAction": "allow",
                                "Egress": False,
                                "Protocol": "6",
                                "PortRange": {"From": 1, "To": 2},
                            }
                        ],
                    }
                ]
            },
            parse_network_acls,
            "$.NetworkAcls[0].Entries[0]: missing CidrBlock or Ipv6CidrBlock",
        ),
        (
            {
                "NetworkAcls": [
                    {"NetworkAclId": "acl-1", "Entries": [entry(100, "allow", egress="yes")]}
                ]
            },
            parse_network_acls,
            "$.NetworkAcls[0].Entries[0].Egress: expected true or false",
        ),
        (
            {
                "NetworkInterfaces": [
                    {"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.300"}
                ]
            },
            parse_network_interfaces,
            "$.NetworkInterfaces[0].PrivateIpAddress: not an IP address",
        ),
    ],
)
def test_bad_configuration_names_file_and_json_path(doc, fn, expected):
    data = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(ConfigError) as exc:
        fn(data, "sg.json")
    assert expected in str(exc.value)
