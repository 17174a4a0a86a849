"""Sweeps split in ways a single-source, single-port count misses: bots of one /24 each given
a few hosts and trying SSH on one and RDP on the next, and one of our instances sweeping our
own addresses (lateral movement), through the CLI."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner

from flowdata import ingest_lines
from vpcflow.cli import main

T0 = 1714521600  # 2024-05-01T00:00:00Z
WEB = [f"10.0.10.{h}" for h in range(11, 51)]


def rec(src, dst, sport, dport, start, action="REJECT", packets=1, nbytes=44, eni="eni-0a1"):
    return (
        f"2 123456789012 {eni} {src} {dst} {sport} {dport} 6 {packets} {nbytes} {start} "
        f"{start + 5} {action} OK\n"
    )


def _detect(tmp_path, lines, *args):
    ingest_lines(tmp_path, lines, store="s")
    r = CliRunner().invoke(
        main, ["detect", "--store", str(tmp_path / "s"), "--format", "json", *args]
    )
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _noise(rnd, n=300):
    """One-off internet noise: addresses of many /24s probing once each."""
    out = []
    for _ in range(n):
        src = f"{rnd.randint(11, 200)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.9"
        out.append(
            rec(src, rnd.choice(WEB), 51000, rnd.choice((22, 3389)), T0 + rnd.randrange(7200))
        )
    return out


def test_a_slash24_whose_bots_split_ssh_and_rdp_is_one_sweep(tmp_path):
    """30 addresses of 45.155.205.0/24, four web servers each, SSH or RDP at random per server:
    about two destinations per address on each port, four on both together."""
    rnd = random.Random(5)
    lines = _noise(rnd)
    for i in range(30):
        src = f"45.155.205.{10 + i}"
        for dst in rnd.sample(WEB, 4):
            port = rnd.choice((22, 3389))
            lines.append(rec(src, dst, 40000 + i, port, T0 + 1800 + rnd.randrange(1200)))
    found = _detect(tmp_path, lines, "--detector", "host-sweep")
    assert [(f["source"], f["ports"]) for f in found] == [("45.155.205.0/24", [22, 3389])]
    assert len(found[0]["details"]["sources"]) == 30
    assert found[0]["severity"] == "low"


def test_bots_probing_one_host_each_stay_noise(tmp_path):
    """The same /24, but each address probes one server on each of the two ports: one
    destination per address, a scanning farm's pattern, not a sweep."""
    rnd = random.Random(6)
    lines = _noise(rnd)
    for i in range(30):
        dst = rnd.choice(WEB)
        for port in (22, 3389):
            lines.append(rec(f"45.155.205.{10 + i}", dst, 40000 + i, port, T0 + 1800 + i * 30))
    assert _detect(tmp_path, lines, "--detector", "host-sweep") == []


def test_an_instance_sweeping_our_own_addresses_is_named_as_ours(tmp_path):
    """10.0.20.4 sends SYNs to 445 of 120 internal addresses; its own interface accepts them,
    the few existing targets reject them."""
    lines = []
    for k in range(120):
        dst = f"10.0.{30 + k % 4}.{10 + k}"
        t = T0 + 600 + 3 * k
        lines.append(rec("10.0.20.4", dst, 50000 + k, 445, t, "ACCEPT", eni="eni-0src"))
        if k % 10 == 0:
            lines.append(rec("10.0.20.4", dst, 50000 + k, 445, t, "REJECT", eni=f"eni-0t{k}"))
    found = _detect(tmp_path, lines, "--detector", "host-sweep")
    assert [(f["source"], f["severity"], f["direction"]) for f in found] == [
        ("10.0.20.4", "high", "internal")
    ]
    assert found[0]["summary"].startswith("Our instance 10.0.20.4 probed port 445 on 120 of our")
    assert "compromised" in found[0]["summary"]
