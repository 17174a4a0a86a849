"""A NAT gateway's interface logs our instances' requests addressed to the gateway's private
address, then the same bytes leaving from that address (the AWS documentation's "Traffic
through a NAT gateway" records). The gateway's sum is not an upload of its own: each instance
is judged by itself, through the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from vpcflow import open_store
from vpcflow.cli import main

T0 = 1714521600  # 2024-05-01T00:00:00Z
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
)
NAT, NAT_ENI = "10.0.0.220", "eni-0nat"
APPS = ["10.0.1.5", "10.0.1.6", "10.0.1.7"]
SAAS = "34.120.15.77"


def rec(eni, src, dst, sport, dport, nbytes, start, packets=100):
    return (
        f"2 123456789012 {eni} {src} {dst} {sport} {dport} 6 {packets} {nbytes} {start} "
        f"{start + 55} ACCEPT OK\n"
    )


def via_nat(inst, dst, nbytes, start, sport, nat_sport):
    """One upload of ``nbytes`` from ``inst`` to ``dst`` on 443, as both interfaces log it."""
    eni = "eni-0" + inst.replace(".", "")
    return [
        rec(eni, inst, dst, sport, 443, nbytes, start),
        rec(eni, dst, inst, 443, sport, 20_000, start),
        rec(NAT_ENI, inst, NAT, sport, 443, nbytes, start),
        rec(NAT_ENI, NAT, dst, nat_sport, 443, nbytes, start),
        rec(NAT_ENI, dst, NAT, 443, nat_sport, 20_000, start),
        rec(NAT_ENI, NAT, inst, 443, sport, 20_000, start),
    ]


def _exfil(tmp_path, lines):
    logs = tmp_path / "flows.log"
    logs.write_text(HEADER + "".join(lines))
    store = open_store(tmp_path / "s")
    store.ingest([str(logs)])
    store.close()
    args = ["detect", "--store", str(tmp_path / "s"), "--format", "json"]
    r = CliRunner().invoke(main, [*args, "--detector", "data-exfiltration"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _shared_uploads():
    """Three app servers each send 48 MB an hour to one SaaS collector, 4 MB every 5 minutes
    for two hours: 144 MB an hour leave from the gateway's address."""
    lines = []
    for k in range(24):
        for i, app in enumerate(APPS):
            lines += via_nat(app, SAAS, 4_000_000, T0 + 300 * k + i, 40000 + k, 50000 + 3 * k + i)
    return lines


def test_a_gateway_carrying_small_uploads_of_several_instances_is_no_exfiltration(tmp_path):
    assert _exfil(tmp_path, _shared_uploads()) == []


def test_a_dump_through_the_gateway_is_reported_once_for_the_instance(tmp_path):
    lines = _shared_uploads()
    for k in range(6):  # 1.2 GB in half an hour to an address never sent to, through the NAT
        lines += via_nat(
            "10.0.1.9", "91.215.85.20", 200_000_000, T0 + 3600 + 300 * k, 45000 + k, 55000 + k
        )
    found = _exfil(tmp_path, lines)
    assert [(f["source"], f["targets"]) for f in found] == [("10.0.1.9", ["91.215.85.20"])]
    assert found[0]["bytes"] == 1_200_000_000
