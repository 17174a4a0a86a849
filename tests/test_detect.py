"""Detection through the CLI and the library on small hand-made stores."""

from __future__ import annotations

import ipaddress
import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.detect import detect, load_threat_list
from vpcflow.errors import ConfigError

T0 = 1714521600  # 2024-05-01T00:00:00Z
HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"


def _line(src, dst, sport, dport, start, action="REJECT", nbytes=44, eni="eni-0a1"):
    return f"2 123456789012 {eni} {src} {dst} {sport} {dport} 6 1 {nbytes} {start} {start} {action} OK\n"


@pytest.fixture
def scan_store(tmp_path):
    """A scanner probing 120 ports of one host in 10 minutes, plus a busy legitimate client."""
    lines = [
        _line(
            "203.0.113.9",
            "10.0.0.11",
            40000,
            p,
            T0 + p * 5,
            "ACCEPT" if p in (22, 443) else "REJECT",
        )
        for p in range(1, 121)
    ]
    lines += [
        _line("198.51.100.7", "10.0.0.11", 50000 + i, 443, T0 + i, "ACCEPT", 5000)
        for i in range(300)
    ]
    logs = tmp_path / "logs.log"
    logs.write_text(HEADER + "".join(lines))
    store = open_store(tmp_path / "store")
    store.ingest([str(logs)])
    return tmp_path / "store"


def test_port_scan_via_cli_json(scan_store):
    r = CliRunner().invoke(main, ["detect", "--store", str(scan_store), "--format", "json"])
    assert r.exit_code == 0, r.output
    findings = json.loads(r.stdout)
    scans = [f for f in findings if f["type"] == "port-scan"]
    assert len(scans) == 1
    f = scans[0]
    assert f["source"] == "203.0.113.9" and f["targets"] == ["10.0.0.11"]
    assert len(f["ports"]) == 120 and f["action"] == "mixed" and f["severity"] == "medium"
    assert f["first_seen"] == "2024-05-01T00:00:05Z"
    assert f["source_country"] == "documentation"
    assert not any(x["source"] == "198.51.100.7" for x in findings)


def test_known_bad_ip(scan_store, tmp_path):
    lst = tmp_path / "bad.txt"
    lst.write_text("# feed\n203.0.113.0/24  # scanners\n192.0.2.1\n")
    found = detect(
        open_store(scan_store, create=False), threat_lists=[lst], detectors=["known-bad-ip"]
    )
    assert [f.source for f in found] == ["203.0.113.9"]
    assert found[0].severity == "high" and "bad.txt line 2" in found[0].details["listed_in"]


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.lists(
        st.one_of(
            st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
                lambda t: ipaddress.ip_network((t[0], t[1]), strict=False)
            ),
            st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
                lambda t: ipaddress.ip_network((t[0], t[1]), strict=False)
            ),
        ),
        min_size=0,
        max_size=80,
    ),
    picks=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2**128 - 1)), max_size=20),
)
def test_threat_list_prefilter_lets_every_listed_address_through(blocks, picks):
    """The text test that narrows the addresses before the exact one: an address inside any
    block (as the store writes it) passes; one in no block may pass too, that is all."""
    import duckdb

    from vpcflow.detect import _text_prefilter
    from vpcflow.detect.threats import ThreatEntry

    entries = [ThreatEntry(n, "list.txt", i + 1) for i, n in enumerate(blocks)]
    inside = []
    for which, offset in picks:
        if blocks:
            net = blocks[which % len(blocks)]
            inside.append(str(net.network_address + offset % net.num_addresses))
    cond = _text_prefilter("a", entries)
    if not blocks:
        assert cond == "FALSE"
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT a FROM (SELECT unnest(?::VARCHAR[]) AS a) WHERE NOT {cond}", [inside]
    ).fetchall()
    assert rows == []


def test_known_bad_ip_with_ipv6_and_wide_blocks(tmp_path):
    """Listed addresses found through the CLI whatever the block: IPv6, a /4, a /32, a /12."""
    lines = [
        _line("2001:db8::7", "10.0.0.11", 40000, 22, T0),
        _line("20.34.56.78", "10.0.0.11", 40001, 22, T0 + 1),  # in 16.0.0.0/4
        _line("172.20.1.2", "10.0.0.11", 40002, 22, T0 + 2),  # in 172.16.0.0/12
        _line("10.0.0.11", "198.18.0.1", 40003, 443, T0 + 3, "ACCEPT"),  # the /32
        _line("100.1.2.3", "10.0.0.11", 40004, 22, T0 + 4),  # in no block
    ]
    (tmp_path / "logs.txt").write_text(HEADER + "".join(lines))
    store = open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "logs.txt")])
    for blocks, expect in (
        ("2001:db8::/32\n198.18.0.1\n", {"2001:db8::7", "198.18.0.1"}),
        ("16.0.0.0/4\n172.16.0.0/12\n", {"20.34.56.78", "172.20.1.2"}),
    ):
        lst = tmp_path / "bad.txt"
        lst.write_text(blocks)
        r = CliRunner().invoke(
            main,
            [
                "detect",
                "--store",
                str(tmp_path / "store"),
                "--threat-list",
                str(lst),
                "--detector",
                "known-bad-ip",
                "--format",
                "json",
            ],
        )
        assert r.exit_code == 0, r.output
        found = json.loads(r.stdout)
        assert {f["source"] for f in found} == expect  # (each listed address a finding)


def test_bad_threat_list_names_file_and_line(tmp_path, scan_store):
    lst = tmp_path / "bad.txt"
    lst.write_text("10.0.0.1\n# ok\nnot-an-ip\n")
    with pytest.raises(ConfigError, match=r"bad\.txt:3"):
        load_threat_list(lst)
    r = CliRunner().invoke(main, ["detect", "--store", str(scan_store), "--threat-list", str(lst)])
    assert r.exit_code == 1 and "bad.txt:3" in r.output
    r = CliRunner().invoke(
        main, ["detect", "--store", str(scan_store), "--threat-list", str(tmp_path / "missing.txt")]
    )
    assert r.exit_code == 1 and "missing.txt" in r.output


def test_empty_store_says_so(tmp_path):
    open_store(tmp_path / "empty")
    r = CliRunner().invoke(main, ["detect", "--store", str(tmp_path / "empty"), "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert "store is empty" in r.stderr


@pytest.mark.parametrize("records", [20_000, 30_000])
def test_small_generated_store_detects_without_errors(tmp_path, records):
    """Sums come back as DECIMAL on small stores (an upload dominating one instance's bytes):
    every detector must still word its findings."""
    from vpcflow.generate import THREAT_LIST_FILE, generate

    generate(tmp_path / "logs", records=records, seed=3, attacks="all")
    store = open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "logs" / "AWSLogs")])
    found = detect(store, threat_lists=[tmp_path / "logs" / THREAT_LIST_FILE], enrich=False)
    exfil = [f for f in found if f.type == "data-exfiltration"]
    assert exfil and "GB" in exfil[0].summary
    assert {f.type for f in found} >= {"port-scan", "brute-force", "known-bad-ip"}
