"""Exfiltration judged as a mature tool judges unusual traffic volume: against the instance's
own history. Benign look-alikes of a busy day -- a steady all-day upload from one instance, six
instances sending to one shared collector (one of them only from noon) -- next to the real
thing: a burst to a new address, and a burst to the shared collector ten times one sender's
usual hour there. Seeded data of our own, through the real command line."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from flowdata import ingest_lines
from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.detect import detect

T0 = 1714521600  # 2024-05-01T00:00:00Z
H = 3600
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
)
UPLOADER = "10.0.1.16"  # uploads to S3 all day (no AWS ranges loaded)
THIEF = "10.0.1.15"  # sends 4 GB to a new address in two afternoon hours
SENDERS = [f"10.0.2.{i}" for i in range(1, 7)]  # six instances shipping logs to one collector
LATE = SENDERS[-1]  # ... one of them only from noon
LOUD = SENDERS[2]  # ... one of them dumps 5 GB there at 18:00
DROP = "203.0.113.77"


def upload(src, dst, nbytes, t, sport, eni):
    """One upload as the instance's interface logs it: the request and the acknowledgements."""
    pk = max(nbytes // 1400, 1)
    return [
        f"2 123456789012 {eni} {src} {dst} {sport} 443 6 {pk} {nbytes} {t} {t + 50} ACCEPT OK\n",
        f"2 123456789012 {eni} {dst} {src} 443 {sport} 6 {pk // 20 + 1} {nbytes // 50} {t} "
        f"{t + 50} ACCEPT OK\n",
    ]


def make_day(root):
    """The day's store under ``root``."""
    rnd = random.Random(13)
    lines = []
    for h in range(24):
        for k in range(4):  # about 1.2 GB an hour to S3's rotating addresses, all day
            s3 = f"52.216.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            size = rnd.randint(200_000_000, 400_000_000)
            lines += upload(UPLOADER, s3, size, T0 + h * H + 900 * k + 30, 41000 + k, "eni-0up")
        for i, src in enumerate(SENDERS):  # 150-300 MB an hour to the collector's addresses
            if src == LATE and h < 12:
                continue
            dst = f"34.120.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            size = rnd.randint(150_000_000, 300_000_000)
            lines += upload(src, dst, size, T0 + h * H + 120 + i, 42000 + h, f"eni-0s{i}")
        lines += upload(THIEF, "198.51.100.7", 2_000_000, T0 + h * H + 300, 43000 + h, "eni-0th")
    for h in (14, 15):  # the exfiltration: 2 GB an hour to a new address
        for k in range(4):
            lines += upload(THIEF, DROP, 500_000_000, T0 + h * H + 900 * k + 60, 44000, "eni-0th")
    for k in range(5):  # the dump: 5 GB to the collector in one hour
        dst = f"34.120.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        lines += upload(LOUD, dst, 1_000_000_000, T0 + 18 * H + 600 * k + 200, 45000, "eni-0s2")
    return ingest_lines(root, lines, "day.log")


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    return make_day(tmp_path_factory.mktemp("exfil-day"))


def _detect(store, *extra):
    args = ["detect", "--store", str(store), "--format", "json", "--detector"]
    r = CliRunner().invoke(main, [*args, "data-exfiltration", *extra])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_bursts_are_found_and_the_steady_and_shared_uploads_are_not(day):
    found = _detect(day)
    got = sorted((f["source"], f["details"]["destination"], f["details"]["judged"]) for f in found)
    # not the steady all-day S3 upload (its own baseline), not the six senders to the shared
    # collector, not the one that joined them at noon with their usual volume
    assert got == [(THIEF, "203.0.0.0/16", "new"), (LOUD, "34.120.0.0/16", "burst")]
    thief = next(f for f in found if f["source"] == THIEF)
    assert thief["targets"] == [DROP] and thief["bytes"] == 8 * 500_000_000
    assert thief["first_seen"].startswith("2024-05-01T14:") and thief["details"]["windows"] == 2
    loud = next(f for f in found if f["source"] == LOUD)
    assert loud["first_seen"].startswith("2024-05-01T18:") and loud["details"]["windows"] == 1
    assert loud["bytes"] > 5_000_000_000 and "a usual destination" in loud["summary"]
    factor = next(t for t in loud["thresholds"] if t["threshold"] == "factor")
    assert factor["value"] == 10.0 and factor["observed"] > 10
    # the findings are the same from the records as from the rollups
    store = open_store(day, create=False)
    a = detect(store, enrich=False, detectors=["data-exfiltration"], rollups=False)
    b = detect(store, enrich=False, detectors=["data-exfiltration"])
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b]


def test_shared_sources_is_a_setting(day, monkeypatch):
    """Seven senders make a destination shared: the collector's six no longer do, and the one
    that began at noon sent to a destination new to it."""
    found = _detect(day, "--threshold", "data-exfiltration.shared_sources=7")
    assert {(f["source"], f["details"]["judged"]) for f in found} >= {(LATE, "new")}
    assert LATE in {f["source"] for f in found}
    monkeypatch.setenv("VPCFLOW_EXFILTRATION_SHARED_SOURCES", "7")
    assert LATE in {f.source for f in detect(open_store(day, create=False), enrich=False)}


def test_a_burst_needs_history_a_transfer_at_the_start_of_the_data_does_not_hide_a_new_one(
    tmp_path,
):
    """A steady upload is the instance's baseline only when it lasts: a two-hour transfer to a
    new address at the very start of the data is still new."""
    lines = []
    for k in range(8):
        lines += upload(THIEF, DROP, 500_000_000, T0 + 900 * k + 60, 44000, "eni-0th")
    for h in range(12):
        lines += upload(THIEF, "198.51.100.7", 2_000_000, T0 + h * H + 300, 43000 + h, "eni-0th")
    logs = tmp_path / "start.log"
    logs.write_text(HEADER + "".join(lines))
    s = open_store(tmp_path / "store")
    s.ingest([str(logs)])
    found = detect(s, enrich=False, detectors=["data-exfiltration"])
    assert [(f.source, f.targets, f.details["judged"]) for f in found] == [(THIEF, [DROP], "new")]
