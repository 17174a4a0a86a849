"""One finding per incident, and the benign look-alikes of scans, brute force and exfiltration
that a busy VPC has: grouped sweeps, reject spikes an allow-list can silence, exfiltration
judged against earlier history and named after the instance, configuration management and
pollers that are not brute force, and the severity of a slow scan. Seeded data of our own."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from flowdata import ingest_lines
from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.detect import detect, load_allow_lists
from vpcflow.errors import ConfigError

T0 = 1714521600  # 2024-05-01T00:00:00Z
H = 3600
SCANNER = "198.51.100.20"
HOSTS = [f"10.0.3.{h}" for h in range(1, 7)]


def rec(src, dst, sport, dport, start, action="ACCEPT", packets=1, nbytes=44, eni="eni-0a1"):
    return (
        f"2 123456789012 {eni} {src} {dst} {sport} {dport} 6 {packets} {nbytes} {start} "
        f"{start + 5} {action} OK\n"
    )


def _store(tmp_path, lines, name="s"):
    return ingest_lines(tmp_path, lines, f"{name}.log", name)


def _json(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def scan_store(tmp_path_factory):
    """Three hours of background rejects on six hosts' interfaces (one every 10 minutes from a
    different internet address), then one outside scanner probing 110 ports of each host in
    ten minutes, every probe rejected. Ten of the ports are above the scanner's source port,
    so version-2 records of them read as answers."""
    rnd = random.Random(7)
    lines = []
    for i, host in enumerate(HOSTS):
        eni = f"eni-0c{i}"
        for k in range(18):
            noise = f"{rnd.randint(11, 200)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.7"
            lines.append(rec(noise, host, 51000, 23, T0 + k * 600 + 30, "REJECT", eni=eni))
        ports = list(range(1, 101)) + list(range(40001, 40011))
        for j, p in enumerate(ports):
            lines.append(
                rec(SCANNER, host, 30000, p, T0 + 3 * H + i * 60 + j, "REJECT", eni=f"eni-0c{i}")
            )
    return _store(tmp_path_factory.mktemp("scan"), lines)


def test_a_scanner_is_one_sweep_and_one_scan_with_samples(scan_store):
    found = _json(["detect", "--store", str(scan_store), "--format", "json"])
    by = {}
    for f in found:
        by.setdefault(f["type"], []).append(f)
    assert len(by["host-sweep"]) == 1 and len(by["port-scan"]) == 1
    sweep, scan = by["host-sweep"][0], by["port-scan"][0]
    assert sweep["source"] == scan["source"] == SCANNER
    assert len(sweep["ports"]) >= 50 and sorted(sweep["targets"]) == HOSTS
    assert sorted(scan["targets"]) == HOSTS and scan["details"]["hosts_scanned"] == 6
    assert "on 6 of our addresses" in sweep["summary"]
    for f in (sweep, scan):
        assert "all were rejected" in f["summary"]
        assert f["samples"] and {s["action"] for s in f["samples"]} == {"REJECT"}
    assert all(f["samples"] for f in found)
    # the reject spikes it set off on the six interfaces are part of it, not six more findings
    assert "rejected-spike" not in by
    folded = scan["details"]["reject_spikes"]
    assert sorted(s["interface"] for s in folded) == [f"eni-0c{i}" for i in range(6)]
    assert "reject spikes on 6 interfaces" in scan["summary"]
    # alone, one spike per interface, its sender the scanner, its target the interface's host
    spikes = _json(
        ["detect", "--store", str(scan_store), "--format", "json", "--detector", "rejected-spike"]
    )
    assert len(spikes) == 6
    for s in spikes:
        assert s["details"]["sources"] == [SCANNER] and s["details"]["n_sources"] == 1
        assert s["details"]["top_source"] == SCANNER
        assert len(s["targets"]) == 1 and s["targets"][0] in HOSTS


@pytest.mark.parametrize("rule", [SCANNER, f"* {SCANNER}", "198.51.100.0/24", f"*  {SCANNER}  #"])
def test_an_allow_list_rule_for_the_scanner_silences_its_spikes_too(scan_store, tmp_path, rule):
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# authorised scanner\n{rule}\n")
    found = _json(
        ["detect", "--store", str(scan_store), "--format", "json", "--allow-list", str(allow)]
    )
    assert found == []
    # a rule for the spikes alone leaves the scans
    allow.write_text(f"rejected-spike {SCANNER}\n")
    found = _json(
        ["detect", "--store", str(scan_store), "--format", "json", "--allow-list", str(allow)]
    )
    assert sorted(f["type"] for f in found) == ["host-sweep", "port-scan"]


def test_a_spike_other_sources_make_by_themselves_stays(tmp_path):
    lines = [rec("203.0.113.5", "10.0.4.1", 51000, 23, T0 + k * 600, "REJECT") for k in range(18)]
    lines += [rec(SCANNER, "10.0.4.1", 40000, p, T0 + 3 * H + p, "REJECT") for p in range(1, 151)]
    lines += [
        rec("192.0.2.66", "10.0.4.1", 40000 + k, 445, T0 + 3 * H + 200 + k, "REJECT")
        for k in range(150)
    ]
    store = _store(tmp_path, lines)
    allow = tmp_path / "allow.txt"
    allow.write_text(f"{SCANNER}\n")
    found = detect(open_store(store, create=False), enrich=False, allow=[allow])
    spikes = [f for f in found if f.type == "rejected-spike"]
    assert len(spikes) == 1 and set(spikes[0].details["sources"]) == {SCANNER, "192.0.2.66"}
    assert spikes[0].details["source_rejects"] == [150, 150]


@pytest.mark.parametrize(
    "text, message",
    [
        ("10.0.0.1\nhost-swep 10.0.0.1\n", "allow.txt line 2: 'host-swep' is not a detector"),
        ("10.0.0.1 10.0.0.2\n", "allow.txt line 1: '10.0.0.1 10.0.0.2': one SOURCE expected"),
        ("10.0.0.1 -> 10.0.0.2 10.0.0.3\n", "allow.txt line 1: write SOURCE -> DESTINATION"),
        ("* *\n", "allow.txt line 1: the rule would allow everything"),
    ],
)
def test_allow_list_errors_say_what_is_wrong(tmp_path, text, message):
    allow = tmp_path / "allow.txt"
    allow.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_allow_lists([allow])


def test_any_detector_star_reads_as_documented(tmp_path):
    allow = tmp_path / "allow.txt"
    allow.write_text("* 10.1.70.5\n* -> 10.0.20.31 port 5432\n")
    rules = load_allow_lists([allow]).rules
    assert rules[0].detector is None and str(rules[0].sources[0]) == "10.1.70.5/32"
    assert rules[1].sources == () and str(rules[1].targets[0]) == "10.0.20.31/32"


INSTANCE, NAT, NAT_ENI = "10.0.1.15", "10.0.0.5", "eni-0nat"
UPLOADER = "10.0.1.16"


def _via_nat(t, inst, remote, nbytes, inst_eni, sport):
    """An upload through the NAT gateway as flow logs record it: on the instance's interface
    (instance -> remote) and on the gateway's (instance -> gateway, gateway -> remote)."""
    pk = max(nbytes // 1400, 1)
    return [
        rec(inst, remote, sport, 443, t, packets=pk, nbytes=nbytes, eni=inst_eni),
        rec(inst, NAT, sport, 443, t, packets=pk, nbytes=nbytes, eni=NAT_ENI),
        rec(NAT, remote, sport + 1, 443, t, packets=pk, nbytes=nbytes, eni=NAT_ENI),
        rec(remote, inst, 443, sport, t, packets=pk // 20 + 1, nbytes=nbytes // 50, eni=inst_eni),
    ]


@pytest.fixture(scope="module")
def exfil_store(tmp_path_factory):
    """Twelve hours: both instances make small hourly uploads through the NAT gateway (1 MB to
    one of several API addresses, and the uploader 1 MB to rotating 52.216.x.y addresses).
    Hours 6-8: the instance sends 600 MB an hour to a new address 203.0.113.77. Hours 9-10:
    the uploader sends 500 MB an hour to rotating 52.216.x.y addresses (a dump to the network
    it uploads to every hour). Hour 11: the uploader sends 400 MB to a new 192.0.2.44."""
    rnd = random.Random(11)
    lines = []
    apis = [f"198.51.100.{i}" for i in range(30, 36)]
    for h in range(12):
        t = T0 + h * H + 60
        lines += _via_nat(t, INSTANCE, rnd.choice(apis), 1_000_000, "eni-0i15", 40000 + h)
        s3 = f"52.216.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        lines += _via_nat(t + 5, UPLOADER, s3, 1_000_000, "eni-0i16", 41000 + h)
    for h in (6, 7, 8):
        for k in range(6):
            t = T0 + h * H + 600 * k + 100
            lines += _via_nat(t, INSTANCE, "203.0.113.77", 100_000_000, "eni-0i15", 42000 + k)
    for h in (9, 10):
        for k in range(10):
            s3 = f"52.216.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            t = T0 + h * H + 300 * k + 100
            lines += _via_nat(t, UPLOADER, s3, 50_000_000, "eni-0i16", 43000 + k)
    for k in range(4):
        lines += _via_nat(
            T0 + 11 * H + 600 * k + 100, UPLOADER, "192.0.2.44", 100_000_000, "eni-0i16", 44000 + k
        )
    return _store(tmp_path_factory.mktemp("exfil"), lines)


def test_exfiltration_is_one_finding_per_episode_named_after_the_instance(exfil_store):
    found = _json(
        [
            "detect",
            "--store",
            str(exfil_store),
            "--format",
            "json",
            "--detector",
            "data-exfiltration",
        ]
    )
    got = sorted((f["source"], f["details"]["destination"], f["details"]["judged"]) for f in found)
    # the three-hour transfer is one finding (it did not make its destination usual), named
    # after the instance, not the NAT gateway; the dump to the network the uploader sends 1 MB
    # an hour to is a burst (501 times its usual hour there); the new unrelated destination is
    # one
    assert got == [
        (INSTANCE, "203.0.0.0/16", "new"),
        (UPLOADER, "192.0.0.0/16", "new"),
        (UPLOADER, "52.216.0.0/16", "burst"),
    ]
    dump = next(f for f in found if f["details"]["judged"] == "burst")
    assert dump["first_seen"].startswith("2024-05-01T09:") and dump["details"]["windows"] == 2
    # the dump's hours, the hourly megabyte to that network included
    assert dump["bytes"] == 20 * 50_000_000 + 2 * 1_000_000 and len(dump["targets"]) == 22
    assert "a usual destination" in dump["summary"] and "its usual window to it" in dump["summary"]
    factor = next(t for t in dump["thresholds"] if t["threshold"] == "factor")
    assert factor["observed"] == 501.0  # its busiest hour, 501 MB, over its usual 1 MB
    exf = next(f for f in found if f["source"] == INSTANCE)
    assert exf["first_seen"].startswith("2024-05-01T06:") and exf["last_seen"] >= "2024-05-01T08:"
    assert exf["bytes"] == 18 * 100_000_000 and exf["details"]["windows"] == 3
    assert exf["details"]["peak_bytes"] == 600_000_000
    assert "1.8 GB" in exf["summary"] and exf["samples"]
    # the rollup path gives the same findings as the records
    store = open_store(exfil_store, create=False)
    a = detect(store, enrich=False, rollups=False)
    b = detect(store, enrich=False)
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b]


def test_management_fan_out_and_pollers_are_not_brute_force_a_burst_is(tmp_path):
    rnd = random.Random(5)
    lines = []
    workers = [f"10.0.5.{i}" for i in range(1, 9)]
    for w in workers:  # Ansible without ControlPersist: 60 SSH sessions to each worker
        for k in range(60):
            t = T0 + 4 * H + k * 15 + rnd.randint(0, 5)
            lines.append(rec("10.0.7.9", w, 50000 + k, 22, t, packets=30, nbytes=6000))
    bastion = "10.0.0.20"
    for m in range(0, 12 * H, 90):  # a partner's SFTP pickup every 90 s for 12 hours
        lines.append(
            rec(
                "198.18.40.7",
                bastion,
                40000 + m % 20000,
                22,
                T0 + m,
                packets=20,
                nbytes=rnd.randint(3500, 6000),
            )
        )
    for i in range(300):  # password guessing: 300 short sessions in 45 minutes
        lines.append(
            rec(
                "193.32.162.88",
                bastion,
                30000 + i,
                22,
                T0 + 14 * H + i * 9,
                packets=18,
                nbytes=rnd.randint(2500, 5200),
            )
        )
    store = _store(tmp_path, lines)
    found = _json(
        ["detect", "--store", str(store), "--format", "json", "--detector", "brute-force"]
    )
    assert [(f["source"], f["targets"]) for f in found] == [("193.32.162.88", [bastion])]
    # both exemptions are thresholds a user can turn off
    found = _json(
        [
            "detect",
            "--store",
            str(store),
            "--format",
            "json",
            "--detector",
            "brute-force",
            "--threshold",
            "brute-force.fanout_hosts=1000",
            "--threshold",
            "brute-force.poller_hours=1000",
        ]
    )
    assert {f["source"] for f in found} == {"193.32.162.88", "10.0.7.9", "198.18.40.7"}


def test_a_slow_rejected_scan_is_medium_a_fast_one_low(tmp_path):
    slow = [
        rec("185.220.101.47", "10.0.0.25", 40000, p, T0 + 60 * p, "REJECT") for p in range(1, 121)
    ]
    fast = [rec("203.0.113.9", "10.0.0.26", 40000, p, T0 + p, "REJECT") for p in range(1, 121)]
    store = _store(tmp_path, slow + fast)
    found = detect(open_store(store, create=False), enrich=False, detectors=["port-scan"])
    sev = {f.source: f.severity for f in found}
    assert sev == {"185.220.101.47": "medium", "203.0.113.9": "low"}
    slow_f = next(f for f in found if f.source == "185.220.101.47")
    assert "went on for" in slow_f.summary and slow_f.details["lasted_seconds"] >= 1800


def test_uploads_to_one_aws_service_are_one_destination(tmp_path, monkeypatch):
    """An instance uploads every hour to S3 at rotating addresses of 52.217.x.y, then dumps
    300 MB an hour to 52.216.x.y: without the AWS ranges, 52.216.0.0/16 is a network it never
    sent to; with them, both are S3 in us-east-1, a usual destination, and the dump a burst over
    the instance's hourly megabyte there. A steady upload to S3 is no finding."""
    from pathlib import Path

    rnd = random.Random(3)
    lines = []
    for h in range(8):
        s3 = f"52.217.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        lines += _via_nat(T0 + h * H + 60, UPLOADER, s3, 1_000_000, "eni-0i16", 41000 + h)
    for h in (8, 9):
        for k in range(6):
            s3 = f"52.216.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            lines += _via_nat(
                T0 + h * H + 600 * k + 100, UPLOADER, s3, 50_000_000, "eni-0i16", 43000 + k
            )
    store = _store(tmp_path, lines)
    args = ["detect", "--store", str(store), "--format", "json", "--detector", "data-exfiltration"]
    found = _json(args)
    assert [(f["source"], f["details"]["destination"]) for f in found] == [
        (UPLOADER, "52.216.0.0/16")
    ]
    assert len(found[0]["targets"]) == 12 and found[0]["details"]["windows"] == 2
    ranges = Path(__file__).parent / "data" / "enrich" / "ip-ranges.json"
    # downloaded into this test's own data directory: the next test in this process must not
    # find the ranges loaded
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    r = CliRunner().invoke(main, ["enrich", "update", "--file", str(ranges)])
    assert r.exit_code == 0, r.output
    found = _json(args)
    assert [(f["details"]["destination"], f["details"]["judged"]) for f in found] == [
        ("AWS S3 us-east-1", "burst")
    ]
    assert len(found[0]["targets"]) == 12 and found[0]["details"]["ratio"] == 300.0


def test_a_steady_upload_from_the_start_of_the_data_is_usual(tmp_path):
    """An hourly S3 upload all day, 150 MB in the first five hours of the data and 60 MB in the
    others: the first hours have too little past to judge by, so the hours after them count, and
    the destination is usual. The same volume to a new address late in the day is still found."""
    rnd = random.Random(9)
    lines = []
    for h in range(12):
        for k in range(3):
            s3 = f"52.216.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            t = T0 + h * H + 1200 * k + 60
            size = 50_000_000 if h < 5 else 20_000_000
            lines += _via_nat(t, UPLOADER, s3, size, "eni-0i16", 41000 + k)
    lines += _via_nat(T0 + 10 * H + 100, UPLOADER, "192.0.2.44", 150_000_000, "eni-0i16", 45000)
    store = _store(tmp_path, lines)
    found = detect(open_store(store, create=False), enrich=False, detectors=["data-exfiltration"])
    assert [(f.source, f.targets) for f in found] == [(UPLOADER, ["192.0.2.44"])]
