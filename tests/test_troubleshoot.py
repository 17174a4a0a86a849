"""Security group vs network ACL: conversations, the decision table, rules, fixes.

Expected verdicts are worked out from the scenario (the records and the hand-written
describe-* JSON in tests/data/troubleshoot/), not taken from the code's output:

web-1  eni-...101 10.0.1.10 / 2600:1f18:4a3:6b01::10, groups web + ssh-office, ACL ...b1
app-1  eni-...102 10.0.2.20, group app, ACL ...b2
db-1   eni-...103 10.0.3.30, group db, no ACL association listed -> the VPC's default ACL ...b0
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vpcflow.parse import parse_bytes
from vpcflow.troubleshoot import (
    ALLOWED,
    NACL,
    SG,
    SG_OR_NACL,
    explain,
    load_configs,
)

DATA = Path(__file__).parent / "data" / "troubleshoot"
SGS = DATA / "security-groups.json"
ACLS = DATA / "network-acls.json"
ENIS = DATA / "network-interfaces.json"
WEB, APP, DB = "eni-0e1e1e1e1e1e1e101", "eni-0e1e1e1e1e1e1e102", "eni-0e1e1e1e1e1e1e103"
ACL_WEB, ACL_APP = "acl-0b0b0b0b0b0b0b0b1", "acl-0b0b0b0b0b0b0b0b2"
SG_WEB, SG_APP, SG_DB = "sg-0a11c0ffee0000001", "sg-0a11c0ffee0000003", "sg-0a11c0ffee0000004"

# The AWS documentation's ping example: inbound ICMP accepted, the reply rejected.
PING = """\
2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK
2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK
"""


def table(text: str, log_format: str | None = None):
    res = parse_bytes(text.encode(), path="<test>", log_format=log_format)
    assert not res.bad_lines, res.bad_lines
    return res.table


@pytest.fixture(scope="module")
def scenarios():
    return table((DATA / "scenarios.log").read_text())


@pytest.fixture(scope="module")
def configs():
    return load_configs(SGS, ACLS, ENIS)


def by_request(verdicts):
    return {(v.interface_id, v.srcaddr, v.dstaddr, v.dstport): v for v in verdicts}


# --- the AWS documentation examples -----------------------------------------------------------


def test_aws_ping_example_is_network_acl_on_the_reply():
    [v] = explain(table(PING))
    assert v.verdict == NACL
    assert v.stage == "response outbound"
    assert v.direction == "inbound"
    assert (v.srcaddr, v.dstaddr, v.protocol) == ("203.0.113.12", "172.31.16.139", 1)
    assert v.request_action == "ACCEPT" and v.response_action == "REJECT"
    assert "stateful" in v.explanation and "outbound" in v.fix
    assert v.records == 2 and v.packets == 8


def test_aws_ping_example_variants():
    both_accepted = PING.replace("REJECT", "ACCEPT")
    [v] = explain(table(both_accepted))
    assert v.verdict == ALLOWED and v.stage is None
    only_rejected_request = PING.splitlines()[0].replace("ACCEPT", "REJECT") + "\n"
    [v] = explain(table(only_rejected_request))
    assert v.verdict == SG_OR_NACL and v.stage == "request inbound"


def test_flow_direction_field_decides_direction():
    # AWS example: an instance calls S3; version 5 records with flow-direction.
    fmt = (
        "version srcaddr dstaddr srcport dstport protocol start end type packets bytes "
        "account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type "
        "sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service "
        "pkt-dst-aws-service traffic-path flow-direction log-status"
    )
    text = (
        fmt + "\n"
        "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK\n"
        "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK\n"
    )
    [v] = explain(table(text))
    assert v.verdict == ALLOWED
    assert v.direction == "outbound"
    assert (v.srcaddr, v.srcport, v.dstaddr, v.dstport) == ("10.0.0.71", 34210, "52.95.128.179", 80)
    assert v.confidence == "high"
    assert "flow-direction" in v.basis and "SYN" in v.basis


def test_tcp_flags_decide_initiator_even_with_a_high_server_port():
    # AWS TCP-flag example: a client connects to a server on port 5001 (SYN 2, SYN-ACK 18).
    fmt = (
        "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr "
        "srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action "
        "tcp-flags log-status"
    )
    rows = [
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43418 5001 52.213.180.42 10.0.0.62 6 100701 70 1566848875 1566848933 ACCEPT 2 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43418 10.0.0.62 52.213.180.42 6 632 12 1566848875 1566848933 ACCEPT 18 OK",
    ]
    # Reverse the record order: the initiator must not depend on which line comes first.
    verdicts = explain(table(fmt + "\n" + "\n".join(reversed(rows)) + "\n"))
    assert len(verdicts) == 2
    for v in verdicts:
        assert v.verdict == ALLOWED
        assert (v.srcaddr, v.dstaddr, v.dstport) == ("52.213.180.42", "10.0.0.62", 5001)
        assert v.srcport in (43416, 43418)
        assert v.direction == "inbound"
        assert "SYN" in v.basis


# --- pairing ----------------------------------------------------------------------------------


def test_same_tuple_far_apart_is_two_conversations_adjacent_is_one():
    line = "2 1 eni-0aaaaaaaaaaaaaaaa 10.1.0.5 10.1.0.9 40000 443 6 1 60 {s} {e} ACCEPT OK\n"
    back = "2 1 eni-0aaaaaaaaaaaaaaaa 10.1.0.9 10.1.0.5 443 40000 6 1 60 {s} {e} {a} OK\n"
    t0 = 1717400000
    text = (
        line.format(s=t0, e=t0 + 50)
        + back.format(s=t0, e=t0 + 50, a="ACCEPT")
        + line.format(s=t0 + 60, e=t0 + 110)  # the next aggregation interval: same conversation
        + line.format(s=t0 + 7200, e=t0 + 7250)  # two hours later: a new conversation
        + back.format(s=t0 + 7200, e=t0 + 7250, a="REJECT")
    )
    verdicts = explain(table(text))
    assert [v.verdict for v in verdicts] == [ALLOWED, NACL]
    assert verdicts[0].records == 3
    assert verdicts[1].first_seen == t0 + 7200


def test_ports_decide_initiator_when_both_directions_accepted():
    text = (
        "2 1 eni-0aaaaaaaaaaaaaaaa 10.1.0.9 10.1.0.5 5432 50123 6 1 60 1717400000 1717400050 ACCEPT OK\n"
        "2 1 eni-0aaaaaaaaaaaaaaaa 10.1.0.5 10.1.0.9 50123 5432 6 1 60 1717400000 1717400050 ACCEPT OK\n"
    )
    [v] = explain(table(text))
    assert (v.srcaddr, v.dstaddr, v.dstport) == ("10.1.0.5", "10.1.0.9", 5432)
    assert v.confidence != "high"  # the interface end is a tie between two private addresses


def test_interface_address_inferred_from_many_peers():
    # 10.2.0.7 talks to three peers on this interface: it is the interface. The rejected
    # UDP request to 8.8.8.8 therefore went out.
    text = (
        "2 1 eni-0bbbbbbbbbbbbbbbb 10.2.0.7 10.2.0.2 33333 53 17 1 70 1717400000 1717400050 ACCEPT OK\n"
        "2 1 eni-0bbbbbbbbbbbbbbbb 10.2.0.2 10.2.0.7 53 33333 17 1 90 1717400000 1717400050 ACCEPT OK\n"
        "2 1 eni-0bbbbbbbbbbbbbbbb 198.51.100.3 10.2.0.7 45000 22 6 3 180 1717400000 1717400050 ACCEPT OK\n"
        "2 1 eni-0bbbbbbbbbbbbbbbb 10.2.0.7 8.8.8.8 34444 53 17 1 70 1717400100 1717400150 REJECT OK\n"
    )
    v = by_request(explain(table(text)))[("eni-0bbbbbbbbbbbbbbbb", "10.2.0.7", "8.8.8.8", 53)]
    assert v.verdict == SG_OR_NACL
    assert v.direction == "outbound" and v.stage == "request outbound"
    assert v.confidence == "medium"


# --- the decision table from logs alone, over the scenario suite -------------------------------

LOGS_ONLY = {
    # (interface, client, server, server port): (direction, verdict, stage)
    (WEB, "203.0.113.7", "10.0.1.10", 443): ("inbound", ALLOWED, None),
    (WEB, "198.51.100.66", "10.0.1.10", 22): ("inbound", SG_OR_NACL, "request inbound"),
    (WEB, "203.0.113.99", "10.0.1.10", 8443): ("inbound", SG_OR_NACL, "request inbound"),
    (WEB, "10.0.2.20", "10.0.1.10", 0): ("inbound", NACL, "response outbound"),
    (WEB, "2001:db8:5::77", "2600:1f18:4a3:6b01::10", 443): ("inbound", NACL, "response outbound"),
    (APP, "10.0.1.10", "10.0.2.20", 8080): ("inbound", ALLOWED, None),
    (APP, "10.0.2.20", "10.0.0.2", 53): ("outbound", NACL, "response inbound"),
    (APP, "10.0.2.20", "1.1.1.1", 53): ("outbound", SG_OR_NACL, "request outbound"),
    (APP, "10.0.2.20", "192.0.2.44", 443): ("outbound", SG_OR_NACL, "request outbound"),
    (APP, "10.0.2.20", "10.0.3.30", 5432): ("outbound", ALLOWED, None),
    (APP, "10.0.1.10", "10.0.2.20", 8125): ("inbound", ALLOWED, None),
    (DB, "10.0.2.20", "10.0.3.30", 5432): ("inbound", ALLOWED, None),
    (DB, "10.0.1.10", "10.0.3.30", 5432): ("inbound", SG_OR_NACL, "request inbound"),
    (DB, "10.0.9.99", "10.0.3.30", 5432): ("inbound", SG_OR_NACL, "request inbound"),
    ("eni-0f9f9f9f9f9f9f9f9", "172.31.9.69", "172.31.9.12", 3389): (
        "inbound",
        SG_OR_NACL,
        "request inbound",
    ),
}


def test_scenarios_logs_only(scenarios):
    got = by_request(explain(scenarios))
    assert set(got) == set(LOGS_ONLY)
    for key, (direction, verdict, stage) in LOGS_ONLY.items():
        v = got[key]
        assert (v.direction, v.verdict, v.stage) == (direction, verdict, stage), key
        assert v.decided_by == "logs"
        assert v.group_id is None and v.network_acl_id is None
        assert v.explanation and (v.fix is None) == (verdict == ALLOWED)


def test_unanswered_request_is_allowed_and_says_so(scenarios):
    v = by_request(explain(scenarios))[(APP, "10.0.1.10", "10.0.2.20", 8125)]
    assert v.verdict == ALLOWED and v.response_action == "none"
    assert "no reply" in v.explanation


# --- with configurations ----------------------------------------------------------------------

WITH_CONFIGS = {
    # allowed stays allowed
    (WEB, "203.0.113.7", "10.0.1.10", 443): (ALLOWED, None, None, None, None, None),
    # ssh-office allows the office /24, but inbound rule 90 denies this one host before rule 120
    (WEB, "198.51.100.66", "10.0.1.10", 22): (NACL, "request inbound", None, ACL_WEB, 90, False),
    # the ACL opens 8443 (rule 115) but no group does
    (WEB, "203.0.113.99", "10.0.1.10", 8443): (SG, "request inbound", SG_WEB, None, None, None),
    # ping: ingress rule 140 lets it in; no outbound ICMP entry, so * denies the reply
    (WEB, "10.0.2.20", "10.0.1.10", 0): (NACL, "response outbound", None, ACL_WEB, 32767, True),
    # IPv6: ingress 101 allows 443 from ::/0; outbound has only IPv4 entries before *
    (WEB, "2001:db8:5::77", "2600:1f18:4a3:6b01::10", 443): (
        NACL,
        "response outbound",
        None,
        ACL_WEB,
        32767,
        True,
    ),
    # DNS reply (UDP from 53 to an ephemeral port): app ACL opens only TCP 1024-65535 inbound
    (APP, "10.0.2.20", "10.0.0.2", 53): (NACL, "response inbound", None, ACL_APP, 32767, False),
    # the app group allows UDP 53 only to the resolver; ACL egress rule 120 allows UDP 53 anywhere
    (APP, "10.0.2.20", "1.1.1.1", 53): (SG, "request outbound", SG_APP, None, None, None),
    # the app group allows 443 anywhere; ACL egress deny 105 comes before allow 110
    (APP, "10.0.2.20", "192.0.2.44", 443): (NACL, "request outbound", None, ACL_APP, 105, True),
    # db allows 5432 only from members of app; web-1 is not one; default ACL allows all
    (DB, "10.0.1.10", "10.0.3.30", 5432): (SG, "request inbound", SG_DB, None, None, None),
    # 10.0.9.99 is unknown: the reference cannot be checked, but the ACL allows it -> the group
    (DB, "10.0.9.99", "10.0.3.30", 5432): (SG, "request inbound", SG_DB, None, None, None),
    # not in the configurations: logs only
    ("eni-0f9f9f9f9f9f9f9f9", "172.31.9.69", "172.31.9.12", 3389): (
        SG_OR_NACL,
        "request inbound",
        None,
        None,
        None,
        None,
    ),
}


def test_scenarios_with_configs(scenarios, configs):
    got = by_request(explain(scenarios, configs))
    for key, (verdict, stage, group, acl, rule, egress) in WITH_CONFIGS.items():
        v = got[key]
        assert (v.verdict, v.stage) == (verdict, stage), key
        assert (v.group_id, v.network_acl_id, v.rule_number, v.egress) == (
            group,
            acl,
            rule,
            egress,
        ), key
    assert got[("eni-0f9f9f9f9f9f9f9f9", "172.31.9.69", "172.31.9.12", 3389)].decided_by == "logs"
    assert (
        "not in the configurations"
        in got[("eni-0f9f9f9f9f9f9f9f9", "172.31.9.69", "172.31.9.12", 3389)].explanation
    )


def test_fixes_name_the_rule_and_the_traffic(scenarios, configs):
    got = by_request(explain(scenarios, configs))
    fix = got[(WEB, "10.0.2.20", "10.0.1.10", 0)].fix
    assert f"outbound rule to {ACL_WEB}" in fix and "ICMP echo reply" in fix
    fix = got[(APP, "10.0.2.20", "10.0.0.2", 53)].fix
    assert f"inbound rule to {ACL_APP} allowing UDP 1024-65535 from 0.0.0.0/0" in fix
    fix = got[(WEB, "2001:db8:5::77", "2600:1f18:4a3:6b01::10", 443)].fix
    assert "TCP 1024-65535 to ::/0" in fix
    fix = got[(WEB, "198.51.100.66", "10.0.1.10", 22)].fix
    assert "TCP 22 from 198.51.100.66/32" in fix and "below 90" in fix
    fix = got[(APP, "10.0.2.20", "192.0.2.44", 443)].fix
    assert "below 105" in fix
    fix = got[(APP, "10.0.2.20", "1.1.1.1", 53)].fix
    assert f"outbound rule to {SG_APP} allowing UDP 53 to 1.1.1.1/32" in fix
    # all groups on the interface count: ssh-office (the second group) is named as allowing it
    assert "sg-0a11c0ffee0000002" in got[(WEB, "198.51.100.66", "10.0.1.10", 22)].explanation
    # the unresolved group reference is reported, not hidden
    assert "sg-0a11c0ffee0000003" in got[(DB, "10.0.9.99", "10.0.3.30", 5432)].explanation


def test_both_security_group_and_acl_deny(configs):
    # Telnet to web-1: no group allows 23, and no inbound ACL entry covers TCP 23 (rule 130's
    # 1024-65535 does not), so * denies it as well.
    text = "2 1 eni-0e1e1e1e1e1e1e101 203.0.113.50 10.0.1.10 51000 23 6 2 120 1717400000 1717400050 REJECT OK\n"
    [v] = explain(table(text), configs)
    assert v.verdict == SG and v.group_id == SG_WEB
    assert (v.network_acl_id, v.rule_number, v.egress) == (ACL_WEB, 32767, False)
    assert "too" in v.explanation and ACL_WEB in v.fix


def test_config_change_is_reported_when_rules_allow_a_rejected_request(configs):
    # HTTPS to web-1 is allowed by both the group and ACL rule 100, yet it was rejected.
    text = "2 1 eni-0e1e1e1e1e1e1e101 203.0.113.8 10.0.1.10 51000 443 6 2 120 1717400000 1717400050 REJECT OK\n"
    [v] = explain(table(text), configs)
    assert v.verdict == SG_OR_NACL and v.decided_by == "logs"
    assert "changed" in v.explanation


def test_icmpv6_and_protocol_numbers(configs):
    # ICMPv6 ping to web-1's IPv6 address: the web group allows ICMP (v4) only -> group.
    # The ACL's inbound IPv6 entries allow only TCP 443 -> the ACL denies it as well (*).
    text = "2 1 eni-0e1e1e1e1e1e1e101 2001:db8:5::9 2600:1f18:4a3:6b01::10 0 0 58 1 64 1717400000 1717400050 REJECT OK\n"
    [v] = explain(table(text), configs)
    assert v.verdict == SG and v.stage == "request inbound"
    assert (v.network_acl_id, v.rule_number) == (ACL_WEB, 32767)
    assert "ICMPv6" in v.fix


def test_several_conversations_in_one_input(scenarios):
    verdicts = explain(scenarios)
    assert len(verdicts) == len(LOGS_ONLY)
    assert sum(v.records for v in verdicts) == scenarios.num_rows


def test_folded_verdicts_keep_a_first_time_of_zero():
    """A record may start at 0 (the schema allows it): folding must not take 0 for unknown."""
    from vpcflow.troubleshoot import Verdict, fold

    def v(first, last):
        return Verdict("eni-a", 6, "203.0.113.7", "10.0.0.5", 40000, 22, "inbound",
                       "security-group-or-network-acl", "request inbound", "", None, "high", "",
                       "logs", "REJECT", "none", records=1, first_seen=first, last_seen=last)  # fmt: skip

    [g] = fold([v(0, 0), v(5, 9), v(None, None)])
    assert (g.first_seen, g.last_seen, g.occurrences) == (0, 9, 3)
