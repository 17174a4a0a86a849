"""Detection on a busy VPC that ``vpcflow generate`` did not make (``tests/busy_vpc.py``: its own
topology, clients of a 32-server fleet, health checks, scrapes, a resolver, backups, mirror
downloads and internet noise), through the real CLI: precision and recall of every detector
against the script's labels, and the findings of a benign-only capture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.detect_quality import KINDS, false_alarms, missed, score  # noqa: E402

import busy_vpc  # noqa: E402  (tests/ is on sys.path, as for flowdata)

VPCFLOW = [sys.executable, "-m", "vpcflow"]
TARGET = 0.95


def _detect(root: Path, *extra) -> list:
    subprocess.run(
        [*VPCFLOW, "ingest", str(root / "flows.log"), "--store", str(root / "store")],
        check=True,
        capture_output=True,
    )
    r = subprocess.run(
        [*VPCFLOW, "detect", "--store", str(root / "store"), "--format", "json", *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(r.stdout)


class _F:  # the scorer reads attributes, the CLI gives dicts
    def __init__(self, d):
        self.__dict__.update(d)


@pytest.fixture(scope="module", params=[(1, False), (4, True)], ids=["v2", "tcp-flags"])
def capture(request, tmp_path_factory):
    seed, flags = request.param
    root = tmp_path_factory.mktemp(f"busy{seed}")
    written = busy_vpc.write(root, seed=seed, flags=flags, scale=0.5)
    found = _detect(root, "--threat-list", str(root / "threat-list.txt"))
    return written["labels"], [_F(f) for f in found]


@pytest.mark.parametrize("kind", KINDS)
def test_precision_and_recall_on_a_busy_vpc(capture, kind):
    labels, findings = capture
    s = score(findings, labels)[kind]
    why = (
        f"{kind}: {s}; missed {[lab['id'] for lab in missed(findings, labels)]}; false alarms "
        f"{[(f.source, f.summary) for f in false_alarms(findings, labels) if f.type == kind][:5]}"
    )
    assert s["labels"] > 0 and s["recall"] >= TARGET and s["precision"] >= TARGET, why


def test_benign_busy_capture_raises_nothing(tmp_path):
    busy_vpc.write(tmp_path, seed=2, benign_only=True, scale=0.5)
    found = _detect(tmp_path)
    assert [(f["type"], f["source"], f["summary"]) for f in found] == []
