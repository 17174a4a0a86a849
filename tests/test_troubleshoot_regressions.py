"""Regressions found while wiring the troubleshooter into the demo and EC2."""

import json
from pathlib import Path

import vpcflow
from vpcflow.troubleshoot import load_configs, troubleshoot

DATA = Path(__file__).parent / "data" / "troubleshoot"
PING = (
    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK\n"
)


def test_since_and_until_together(tmp_path):
    (tmp_path / "ping.log").write_text(PING)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "ping.log")])
    inside = troubleshoot(store, since="2015-05-29T00:00:00Z", until="2015-05-30T00:00:00Z")
    assert [v.verdict for v in inside] == ["network-acl"]
    outside = troubleshoot(store, since="2016-01-01", until="2016-02-01")
    assert outside == []


def test_empty_optional_strings_as_ec2_prints_them(tmp_path):
    enis = json.loads((DATA / "network-interfaces.json").read_text())
    for eni in enis["NetworkInterfaces"]:
        eni["Description"] = ""
    (tmp_path / "enis.json").write_text(json.dumps(enis))
    configs = load_configs(network_interfaces=tmp_path / "enis.json")
    assert configs is not None
