"""Enrichment: country/ASN offline, AWS ranges from a file served on 127.0.0.1, names."""

from __future__ import annotations

import functools
import http.server
import ipaddress
import json
import shutil
import socket
import threading
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow import enrich
from vpcflow.engines.functions import register_enrichment
from vpcflow.enrich import aws_ranges, protocols, tcp_flags
from vpcflow.errors import SourceError

FIXTURE = Path(__file__).parent / "data" / "enrich" / "ip-ranges.json"


@pytest.fixture
def ranges_file(tmp_path, monkeypatch):
    target = tmp_path / "data" / "ip-ranges.json"
    monkeypatch.setenv("VPCFLOW_IP_RANGES_FILE", str(target))
    return target


@pytest.fixture
def served(tmp_path):
    """A local http.server serving the fixture directory; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(FIXTURE, root / "ip-ranges.json")
    (root / "broken.json").write_text("{not json")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def con():
    c = duckdb.connect()
    register_enrichment(c)
    yield c
    c.close()


def test_country_and_asn_offline(con):
    # Well-known anycast resolvers: Google in the US, Cloudflare registered in Australia/US.
    row = con.execute(
        "SELECT ip_country('8.8.8.8'), ip_asn('8.8.8.8'), ip_asn('1.1.1.1'), "
        "ip_country_name('8.8.8.8')"
    ).fetchone()
    assert row == ("US", "GOOGLE", "CLOUDFLARENET", "United States")


@pytest.mark.parametrize(
    "addr, expected",
    [
        ("10.0.1.5", "private"),
        ("172.31.77.31", "private"),
        ("192.168.0.1", "private"),
        ("100.64.3.2", "shared-address-space"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("192.0.2.7", "documentation"),
        ("198.51.100.20", "documentation"),
        ("203.0.113.99", "documentation"),
        ("224.0.0.251", "multicast"),
        ("2001:db8::1", "documentation"),
        ("fd00::1", "private"),
        ("8.8.4.4", "public"),
    ],
)
def test_special_ranges_are_named(con, addr, expected):
    scope, country, asn = con.execute(
        "SELECT ip_scope(?), ip_country(?), ip_asn(?)", [addr, addr, addr]
    ).fetchone()
    assert scope == expected
    if expected != "public":
        assert country == expected and asn == expected


def test_bad_and_null_addresses_give_null(con):
    rows = con.execute(
        "SELECT ip_country(a), ip_scope(a) FROM (VALUES ('not-an-ip'), ('300.1.1.1'), (NULL)) t(a)"
    ).fetchall()
    assert rows == [(None, None)] * 3


def test_ipv6_public_lookup(con):
    assert con.execute("SELECT ip_asn('2606:4700:4700::1111')").fetchone()[0] == "CLOUDFLARENET"


def test_protocol_and_flag_names(con):
    row = con.execute(
        "SELECT protocol_name(6), protocol_name(17), protocol_name(1), protocol_name(58), "
        "protocol_name(132), protocol_name(200), tcp_flag_names(18), tcp_flag_names(19), "
        "tcp_flag_names(2), tcp_flag_names(0), tcp_flag_names(NULL)"
    ).fetchone()
    assert row == (
        "TCP",
        "UDP",
        "ICMP",
        "IPv6-ICMP",
        "SCTP",
        "unassigned-200",
        "SYN,ACK",
        "FIN,SYN,ACK",
        "SYN",
        "",
        None,
    )
    assert tcp_flags.names(4) == "RST"
    assert protocols.number("gre") == 47


def test_protocol_table_agrees_with_etc_protocols():
    path = Path("/etc/protocols")
    if not path.exists():
        pytest.skip("no /etc/protocols")
    checked = 0
    for line in path.read_text().splitlines():
        fields = line.split("#")[0].split()
        if len(fields) >= 3 and fields[1].isdigit() and int(fields[1]) <= 146:
            # netbase names a few differently from IANA's keyword (0 ip/HOPOPT, 4 ipencap/IPv4)
            if int(fields[1]) in (0, 4, 124):
                continue
            known = {f.lower() for f in fields[:1] + fields[2:]}
            assert protocols.name(int(fields[1])).lower() in known, line
            checked += 1
    assert checked > 10


def test_aws_service_without_file_is_null(con, ranges_file):
    assert con.execute("SELECT aws_service('52.216.1.1')").fetchone()[0] is None


def test_update_downloads_from_local_server(con, served, ranges_file):
    report = aws_ranges.update(url=f"{served}/ip-ranges.json")
    assert Path(report.path) == ranges_file and ranges_file.exists()
    assert report.prefixes == 8 and report.create_date == "2023-11-14-22-13-20"
    rows = con.execute(
        "SELECT aws_service(a), aws_region(a) FROM (VALUES ('52.217.9.9'), ('3.5.17.1'), "
        "('3.5.1.1'), ('54.240.130.7'), ('2600:1f18:4000::5'), ('8.8.8.8')) t(a)"
    ).fetchall()
    assert rows == [
        ("S3", "us-east-1"),  # specific service beats AMAZON for the same prefix
        ("EC2", "eu-west-1"),  # longer specific prefix inside an AMAZON block
        ("AMAZON", "eu-west-1"),
        ("CLOUDFRONT", "GLOBAL"),
        ("EC2", "us-east-1"),
        (None, None),
    ]


def test_update_url_from_environment(served, ranges_file, monkeypatch):
    monkeypatch.setenv("VPCFLOW_IP_RANGES_URL", f"{served}/ip-ranges.json")
    assert aws_ranges.update().prefixes == 8
    assert json.loads(ranges_file.read_text())["syncToken"] == "1700000000"


def test_update_errors_keep_the_old_file(served, ranges_file):
    aws_ranges.update(url=f"{served}/ip-ranges.json")
    before = ranges_file.read_bytes()
    with pytest.raises(SourceError, match="not JSON"):
        aws_ranges.update(url=f"{served}/broken.json")
    with pytest.raises(SourceError, match="cannot download"):
        aws_ranges.update(url=f"{served}/missing.json")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError, match="cannot download"):
        aws_ranges.update(url=f"http://127.0.0.1:{port}/x.json", timeout=2)
    assert ranges_file.read_bytes() == before


def test_lookup_table():
    rows = enrich.lookup(["8.8.8.8", "10.0.0.1"]).to_pylist()
    assert rows[0]["country"] == "US" and rows[0]["scope"] == "public"
    assert rows[1]["country"] == "private"


@settings(max_examples=300, deadline=None)
@given(
    blocks=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32), st.integers(0, 9)),
        max_size=40,
    ),
    probes=st.lists(st.integers(0, 2**32 - 1), max_size=30),
    near=st.lists(st.tuples(st.integers(0, 39), st.integers(-2, 2), st.booleans()), max_size=30),
)
def test_prefix_table_is_the_longest_prefix_match(blocks, probes, near):
    """Every IPv4 lookup gives the value of the most specific block holding the address (the
    first entry of a block listed twice), -1 outside them all; the addresses at and around the
    blocks' ends, where the table's intervals meet, included."""
    from vpcflow.enrich.ipaddr import PrefixTable

    nets = [(ipaddress.ip_network((a, n), strict=False), v) for a, n, v in blocks]
    table = PrefixTable(nets)
    addrs = list(probes)
    for i, step, at_end in near:
        if nets:
            net = nets[i % len(nets)][0]
            edge = int(net.broadcast_address) if at_end else int(net.network_address)
            addrs.append(min(max(edge + step, 0), 2**32 - 1))
    for a in addrs:
        best = (-1, -1)  # (prefix length, value) of the longest match, the first listed
        for net, value in nets:
            if ipaddress.ip_address(a) in net and net.prefixlen > best[0]:
                best = (net.prefixlen, value)
        got = table.lookup([str(ipaddress.ip_address(a))])
        assert int(got[0]) == best[1], (str(ipaddress.ip_address(a)), blocks)
