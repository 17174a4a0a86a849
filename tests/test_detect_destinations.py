"""Where an upload goes, through the CLI. A NAT gateway's interface logs our instances'
requests addressed to the gateway's private address, then the same bytes leaving from that
address (the AWS documentation's "Traffic through a NAT gateway" records): the gateway's sum is
not an upload of its own, each instance is judged by itself. Records that carry
pkt-dst-aws-service name the AWS service of a destination: S3's rotating addresses are one."""

from __future__ import annotations

import json
import random

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


def _exfil(tmp_path, lines, header=HEADER):
    logs = tmp_path / "flows.log"
    logs.write_text(header + "".join(lines))
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


V5 = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status pkt-dst-aws-service\n"
)


def _s3_day(tmp_path, service: str, hourly: int = 1_000_000) -> list[dict]:
    """An instance uploads ``hourly`` bytes (1 MB) every hour to S3 at rotating 52.217.x.y
    addresses, then 300 MB an hour for two hours to 52.216.x.y: S3 too, when the records say
    so."""
    rnd = random.Random(3)
    lines = []
    for h in range(10):
        n = 1 if h < 8 else 6
        for k in range(n):
            net = "52.217" if h < 8 else "52.216"
            dst = f"{net}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            size = hourly if h < 8 else 50_000_000
            t = T0 + h * 3600 + 600 * k + 60
            lines.append(
                f"5 123456789012 eni-0up 10.0.1.16 {dst} {41000 + h * 10 + k} 443 6 900 {size} "
                f"{t} {t + 55} ACCEPT OK {service}\n"
            )
    tmp_path.mkdir(parents=True, exist_ok=True)
    return _exfil(tmp_path, lines, header=V5)


def test_the_records_own_aws_service_name_makes_s3_one_destination(tmp_path):
    # one destination: the 300 MB hours are a burst over the instance's 1 MB hours to S3
    found = _s3_day(tmp_path / "burst", "S3")
    assert [(f["details"]["destination"], f["details"]["judged"]) for f in found] == [
        ("AWS S3", "burst")
    ]
    assert found[0]["details"]["ratio"] == 300.0
    # a steady 300 MB an hour to S3, whichever addresses it rotates through, is no finding
    assert _s3_day(tmp_path / "steady", "S3", hourly=300_000_000) == []


def test_without_a_service_name_a_new_network_is_new(tmp_path):
    found = _s3_day(tmp_path, "-")
    assert [(f["source"], f["details"]["destination"]) for f in found] == [
        ("10.0.1.16", "52.216.0.0/16")
    ]


def test_an_open_range_is_no_service(tmp_path):
    """EC2 addresses are anyone's: a dump to a new EC2 network is still new."""
    found = _s3_day(tmp_path, "EC2")
    assert [f["details"]["destination"] for f in found] == ["52.216.0.0/16"]


def _shipper(tmp_path, start_minute: int, burst_hour: int | None = None) -> list[dict]:
    """A two-hour capture: web traffic all along, and a log shipper uploading 80 MB a minute
    to rotating 52.218.x.y addresses from ``start_minute`` to the end (four times that in
    ``burst_hour``), no AWS ranges, no service names."""
    rnd = random.Random(4)
    lines = []
    for m in range(120):
        t = T0 + 60 * m
        lines.append(rec("eni-0web", "198.51.100.7", "10.0.2.10", 40000 + m, 443, 9000, t))
        lines.append(rec("eni-0web", "10.0.2.10", "198.51.100.7", 443, 40000 + m, 90000, t))
        if m >= start_minute:
            size = 80_000_000 * (4 if burst_hour is not None and m // 60 == burst_hour else 1)
            dst = f"52.218.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            lines.append(rec("eni-0ship", "10.0.4.30", dst, 41000 + m, 443, size, t))
    return _exfil(tmp_path, lines)


def test_a_steady_upload_over_the_whole_capture_is_its_baseline(tmp_path):
    assert _shipper(tmp_path, 0) == []


def test_an_upload_that_begins_within_the_capture_is_new(tmp_path):
    found = _shipper(tmp_path, 40)
    assert [(f["source"], f["details"]["destination"]) for f in found] == [
        ("10.0.4.30", "52.218.0.0/16")
    ]


def test_a_whole_capture_upload_that_quadruples_is_no_baseline(tmp_path):
    found = _shipper(tmp_path, 0, burst_hour=1)
    assert [f["source"] for f in found] == ["10.0.4.30"]
