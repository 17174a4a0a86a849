"""`vpcflow explain` and `vpcflow troubleshoot` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli import main

DATA = Path(__file__).parent / "data" / "troubleshoot"
CONFIG_ARGS = [
    "--security-groups", str(DATA / "security-groups.json"),
    "--network-acls", str(DATA / "network-acls.json"),
    "--network-interfaces", str(DATA / "network-interfaces.json"),
]  # fmt: skip
REQUIRED = {
    "interface_id", "protocol", "srcaddr", "dstaddr", "srcport", "dstport", "direction",
    "verdict", "stage", "explanation", "fix", "group_id", "network_acl_id", "rule_number",
    "egress",
}  # fmt: skip
PING = (
    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK\n"
)


def run(*args, stdin=None):
    res = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return res


def test_explain_ping_from_stdin_as_json_in_a_subprocess():
    # The installed entry point, as a user would pipe records into it.
    exe = Path(sys.executable).parent / "vpcflow"
    proc = subprocess.run(
        [str(exe), "explain", "--format", "json"],
        input=PING,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    [obj] = json.loads(proc.stdout)
    assert set(obj) >= REQUIRED
    assert obj["verdict"] == "network-acl"
    assert obj["stage"] == "response outbound"
    assert obj["direction"] == "inbound"
    assert (obj["srcaddr"], obj["dstaddr"], obj["protocol"]) == ("203.0.113.12", "172.31.16.139", 1)
    assert obj["first_seen"] == "2015-05-29T16:30:27Z"


def test_explain_file_with_configs_json():
    res = run("explain", str(DATA / "scenarios.log"), *CONFIG_ARGS, "--format", "json")
    assert res.exit_code == 0, res.output
    objs = json.loads(res.stdout)
    assert len(objs) == 15
    banned = next(o for o in objs if o["srcaddr"] == "198.51.100.66")
    assert banned["verdict"] == "network-acl"
    assert (banned["network_acl_id"], banned["rule_number"], banned["egress"]) == (
        "acl-0b0b0b0b0b0b0b0b1", 90, False,
    )  # fmt: skip
    sg = next(o for o in objs if o["dstport"] == 8443)
    assert (sg["verdict"], sg["group_id"]) == ("security-group", "sg-0a11c0ffee0000001")


def test_explain_table_output_explains_and_fixes():
    res = run(
        "explain",
        *CONFIG_ARGS,
        stdin=PING.replace("eni-1235b8ca123456789", "eni-0e1e1e1e1e1e1e101"),
    )
    assert res.exit_code == 0, res.output
    # The interface is in the configurations (its addresses are not these, so direction comes
    # from the logs); the web subnet's ACL has no outbound ICMP entry, so * denies the reply.
    assert "network-acl" in res.output
    assert "Fix: Add an outbound rule to acl-0b0b0b0b0b0b0b0b1" in res.output


def test_explain_header_file_and_log_format(tmp_path):
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    f = tmp_path / "with-header.log"
    f.write_text(header + PING)
    res = run("explain", str(f), "--format", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["verdict"] == "network-acl"
    # A custom field order given with --log-format
    fmt = "${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${action}"
    lines = "".join(
        " ".join([p[2], p[3], p[4], p[5], p[6], p[7], p[10], p[11], p[12]]) + "\n"
        for p in (line.split() for line in PING.splitlines())
    )
    res = run("explain", "--log-format", fmt, "--format", "json", stdin=lines)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["stage"] == "response outbound"


def test_bad_configuration_is_a_one_line_error(tmp_path):
    bad = tmp_path / "acls.json"
    bad.write_text(json.dumps({"NetworkAcls": [{"NetworkAclId": "acl-1", "Entries": "none"}]}))
    res = CliRunner().invoke(main, ["explain", "--network-acls", str(bad)], input=PING)
    assert res.exit_code == 1
    assert f"{bad}: $.NetworkAcls[0].Entries: expected a list" in res.output
    res = CliRunner().invoke(
        main, ["explain", "--security-groups", str(tmp_path / "nope.json")], input=PING
    )
    assert res.exit_code == 1 and "cannot read" in res.output


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The scenarios plus repeated attempts, ingested into a store."""
    d = tmp_path_factory.mktemp("ts")
    extra = d / "repeats.log"
    lines = []
    for i in range(5):  # the banned laptop keeps retrying SSH from new ephemeral ports
        lines.append(
            f"2 111122223333 eni-0e1e1e1e1e1e1e101 198.51.100.66 10.0.1.10 {50100 + i} 22 6 3 180 "
            f"{1717403000 + 600 * i} {1717403058 + 600 * i} REJECT OK"
        )
    for i in range(2):
        lines.append(
            f"2 111122223333 eni-0e1e1e1e1e1e1e101 203.0.113.99 10.0.1.10 {40100 + i} 8443 6 2 120 "
            f"{1717403100 + 900 * i} {1717403158 + 900 * i} REJECT OK"
        )
    extra.write_text("\n".join(lines) + "\n")
    path = d / "store"
    for src in (DATA / "scenarios.log", extra):
        res = run("ingest", str(src), "--store", str(path))
        assert res.exit_code == 0, res.output
    return path


def test_troubleshoot_ranks_blocked_conversations(store):
    res = run("troubleshoot", "--store", str(store), *CONFIG_ARGS, "--format", "json")
    assert res.exit_code == 0, res.output
    objs = json.loads(res.stdout)
    assert all(o["verdict"] != "allowed" for o in objs)
    # 10 blocked conversations in the scenarios; the repeats fold into two of them
    assert len(objs) == 10
    first, second = objs[0], objs[1]
    assert (first["srcaddr"], first["dstport"], first["occurrences"]) == ("198.51.100.66", 22, 6)
    assert first["srcport"] is None  # several ephemeral ports were folded
    assert (first["network_acl_id"], first["rule_number"]) == ("acl-0b0b0b0b0b0b0b0b1", 90)
    assert (second["dstport"], second["occurrences"], second["verdict"]) == (
        8443, 3, "security-group",
    )  # fmt: skip
    assert all(o["occurrences"] == 1 for o in objs[2:])


def test_troubleshoot_filters(store):
    res = run(
        "troubleshoot", "--store", str(store), "--interface-id", "eni-0e1e1e1e1e1e1e103",
        "--all", "--format", "json",
    )  # fmt: skip
    objs = json.loads(res.stdout)
    assert {o["interface_id"] for o in objs} == {"eni-0e1e1e1e1e1e1e103"}
    assert sorted(o["verdict"] for o in objs) == [
        "allowed", "security-group-or-network-acl", "security-group-or-network-acl",
    ]  # fmt: skip
    # --since after the scenarios: only the repeats remain
    res = run(
        "troubleshoot", "--store", str(store), "--since", "2024-06-03T08:20:00Z", "--format", "json"
    )
    objs = json.loads(res.stdout)
    assert {(o["srcaddr"], o["dstport"]) for o in objs} == {
        ("198.51.100.66", 22), ("203.0.113.99", 8443),
    }  # fmt: skip
    res = run("troubleshoot", "--store", str(store), "--since", "yesterday-ish")
    assert res.exit_code == 1 and "cannot read since=" in res.output
