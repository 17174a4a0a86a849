"""What a security team needs to leave detection on: findings that explain themselves, settings,
allow-lists, ``--new`` for cron jobs and OCSF export, through the CLI and the library."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from flowdata import ingest_lines
from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.detect import detect, load_allow_lists
from vpcflow.errors import ConfigError

T0 = 1714521600  # 2024-05-01T00:00:00Z
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
)


def _line(src, dst, sport, dport, start, action="REJECT", packets=1, nbytes=44, eni="eni-0a1"):
    return (
        f"2 123456789012 {eni} {src} {dst} {sport} {dport} 6 {packets} {nbytes} {start} "
        f"{start + 1} {action} OK\n"
    )


@pytest.fixture
def store(tmp_path):
    """A scanner (80 ports of one host), an authorised scanner sweeping SSH on 12 hosts, and a
    web client with real conversations to 12 servers (no finding)."""
    lines = [_line("203.0.113.9", "10.0.0.11", 40000, p, T0 + p * 5) for p in range(1, 81)]
    lines += [
        _line("10.0.9.10", f"10.0.1.{h}", 41000 + h, 22, T0 + 600 + h, eni=f"eni-0b{h}")
        for h in range(1, 13)
    ]
    for h in range(1, 13):
        lines.append(
            _line("198.51.100.7", f"10.0.2.{h}", 50000 + h, 443, T0 + h, "ACCEPT", 12, 3000)
        )
        lines.append(
            _line(f"10.0.2.{h}", "198.51.100.7", 443, 50000 + h, T0 + h, "ACCEPT", 20, 24000)
        )
    return ingest_lines(tmp_path, lines, "logs.log")


def _json(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_findings_explain_themselves_and_their_query_lists_the_records(store):
    found = _json(["detect", "--store", str(store), "--format", "json"])
    assert {(f["type"], f["source"]) for f in found} == {
        ("port-scan", "203.0.113.9"),
        ("host-sweep", "10.0.9.10"),
    }
    scan = next(f for f in found if f["type"] == "port-scan")
    crossed = {t["threshold"]: t for t in scan["thresholds"]}
    assert crossed["min_ports"]["value"] == 50 and crossed["min_ports"]["observed"] == 80
    assert len(scan["samples"]) == 3 and scan["samples"][0]["srcaddr"] == "203.0.113.9"
    assert scan["samples"][0]["dstport"] == 1  # the first probe, in time order
    assert len(scan["id"]) == 16
    # the query behind it, run as a user would: exactly the 80 probes
    rows = _json(["sql", scan["query"], "--store", str(store), "--format", "json"])
    assert len(rows) == scan["records"] == 80
    assert {r["srcaddr"] for r in rows} == {"203.0.113.9"}


def test_web_client_of_many_servers_is_not_a_sweep(store):
    found = detect(open_store(store, create=False), enrich=False)
    assert not [f for f in found if f.source == "198.51.100.7"]


def test_threshold_setting_and_override(store, monkeypatch):
    monkeypatch.setenv("VPCFLOW_PORT_SCAN_MIN_PORTS", "100")
    found = _json(["detect", "--store", str(store), "--format", "json"])
    assert "port-scan" not in {f["type"] for f in found}
    found = _json(
        [
            "detect",
            "--store",
            str(store),
            "--format",
            "json",
            "--threshold",
            "port-scan.min_ports=60",
        ]
    )
    assert "port-scan" in {f["type"] for f in found}
    r = CliRunner().invoke(main, ["detect", "--store", str(store), "--threshold", "nope"])
    assert r.exit_code != 0 and "DETECTOR.NAME=VALUE" in r.output
    r = CliRunner().invoke(
        main, ["detect", "--store", str(store), "--threshold", "port-scan.min_prots=3"]
    )
    assert r.exit_code == 1 and "min_prots" in r.output and "min_ports" in r.output
    r = CliRunner().invoke(main, ["settings", "--format", "json"])
    assert "VPCFLOW_HOST_SWEEP_MIN_TARGETS" in r.output


def test_allow_list_silences_the_authorised_scanner(store, tmp_path):
    allow = tmp_path / "allow.txt"
    allow.write_text("# our scanner\n10.0.9.0/24 -> 10.0.0.0/8 port 22\n")
    found = _json(["detect", "--store", str(store), "--format", "json", "--allow-list", str(allow)])
    assert [f["type"] for f in found] == ["port-scan"]
    # a rule for another port or detector does not cover it
    allow.write_text("10.0.9.10 port 3389\nport-scan 10.0.9.10\n")
    found = _json(["detect", "--store", str(store), "--format", "json", "--allow-list", str(allow)])
    assert {f["type"] for f in found} == {"port-scan", "host-sweep"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("10.0.0.1\nnot-an-address\n", "allow.txt line 2: 'not-an-address' is not an address"),
        ("10.0.0.1 port http\n", "allow.txt line 1: port 'http' is not a number"),
        ("10.0.0.1 port 70000\n", "allow.txt line 1: port '70000' is outside"),
        ("* -> *\n", "allow.txt line 1: the rule would allow everything"),
        ("a b c\n", "allow.txt line 1: 'a' is not a detector"),
    ],
)
def test_bad_allow_list_names_file_and_line(tmp_path, store, text, message):
    allow = tmp_path / "allow.txt"
    allow.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_allow_lists([allow])
    r = CliRunner().invoke(main, ["detect", "--store", str(store), "--allow-list", str(allow)])
    assert r.exit_code == 1 and "allow.txt line" in r.output


def test_new_reports_each_incident_once(store, tmp_path):
    first = _json(["detect", "--store", str(store), "--format", "json", "--new"])
    assert len(first) == 2
    r = CliRunner().invoke(main, ["detect", "--store", str(store), "--format", "json", "--new"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert "nothing new" in r.stderr
    # without --new everything is reported again
    assert len(_json(["detect", "--store", str(store), "--format", "json"])) == 2
    # a new incident later on is new
    logs = tmp_path / "more.log"
    later = T0 + 6 * 3600
    logs.write_text(
        HEADER
        + "".join(_line("192.0.2.44", "10.0.0.12", 40000, p, later + p) for p in range(1, 61))
    )
    s = open_store(store)
    s.ingest([str(logs)])
    s.close()
    again = _json(["detect", "--store", str(store), "--format", "json", "--new"])
    assert [f["source"] for f in again] == ["192.0.2.44"]


def test_ocsf_detection_findings(store):
    r = CliRunner().invoke(main, ["detect", "--store", str(store), "--format", "ocsf"])
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(events) == 2
    required = (  # OCSF 1.1 base event and Detection Finding required attributes
        "activity_id",
        "category_uid",
        "class_uid",
        "finding_info",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    )
    for e in events:
        assert all(k in e for k in required)
        assert (e["class_uid"], e["category_uid"], e["type_uid"]) == (2004, 2, 200401)
        assert e["metadata"]["version"] and e["metadata"]["product"]["name"] == "vpcflow"
        assert e["finding_info"]["uid"] and e["finding_info"]["title"]
        assert e["severity_id"] in (2, 3, 4) and e["severity"] in ("Low", "Medium", "High")
        assert e["evidences"] and e["evidences"][0]["src_endpoint"]["ip"]
        assert e["unmapped"]["records_query"].startswith("SELECT")
    scan = next(e for e in events if e["finding_info"]["types"] == ["port-scan"])
    assert scan["start_time"] == (T0 + 5) * 1000 and scan["count"] == 80
    assert {"name": "src_endpoint.ip", "type_id": 2, "value": "203.0.113.9"} in scan["observables"]


def test_shared_pre_aggregation_and_inlined_give_the_same_findings(store):
    s = open_store(store, create=False)
    shared = [f.to_dict() for f in detect(s, enrich=False)]
    inlined = [f.to_dict() for f in detect(s, enrich=False, shared=False)]
    assert shared == inlined and shared


def test_windows_must_fit_the_pre_aggregation(store):
    r = CliRunner().invoke(
        main, ["detect", "--store", str(store), "--threshold", "host-sweep.window=1800"]
    )
    assert r.exit_code == 1 and "host-sweep.window: 1800 s is not a multiple of 3600 s" in r.output


def test_generate_benign_only_day_via_cli(tmp_path):
    out = tmp_path / "logs"
    r = CliRunner().invoke(main, ["generate", str(out), "--records", "60000", "--benign-only"])
    assert r.exit_code == 0, r.output
    labels = json.loads((out / "labels.json").read_text())
    assert labels and {lab["type"] for lab in labels} == {"benign"}
    assert "10.0.11.60" in (out / "allow-list.txt").read_text()
    r = CliRunner().invoke(
        main,
        [
            "generate",
            str(tmp_path / "x"),
            "--records",
            "60000",
            "--benign-only",
            "--attacks",
            "all",
        ],
    )
    assert r.exit_code == 1 and "drop --attacks" in r.output


def test_internal_networks_from_the_cli_and_the_setting(store, monkeypatch):
    """Which networks are ours decides what a scan is: with only 10.0.0.0/24 ours, the SSH sweep
    from 10.0.9.10 of 10.0.1.x is between two outside networks (nobody's business here); the
    scan of 10.0.0.11 stays."""
    base = ["detect", "--store", str(store), "--format", "json"]
    default = _json(base)
    assert {(f["type"], f["source"]) for f in default} >= {
        ("host-sweep", "10.0.9.10"),
        ("port-scan", "203.0.113.9"),
    }
    narrow = _json([*base, "--internal", "10.0.0.0/24"])
    assert {f["source"] for f in narrow} == {"203.0.113.9"}
    monkeypatch.setenv("VPCFLOW_INTERNAL_NETWORKS", "10.0.0.0/24")
    assert _json(base) == narrow
    assert _json([*base, "--internal", "10.0.0.0/8"]) == default  # the option wins


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--internal", "10.0.0/8x"], {}, "--internal"),
        ([], {"VPCFLOW_INTERNAL_NETWORKS": "10.0.0.0/8,bogus"}, "VPCFLOW_INTERNAL_NETWORKS"),
    ],
)
def test_a_bad_internal_network_is_one_line(store, args, env, message):
    r = CliRunner().invoke(main, ["detect", "--store", str(store), *args], env=env)
    assert r.exit_code == 1
    (line,) = [x for x in r.stderr.splitlines() if x.strip()]
    assert message in line and "is not a CIDR block" in line
