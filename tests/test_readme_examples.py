"""The README's examples show real rows on the data the README itself makes.

The commands are taken from the README's text (a test fails when an example changes there and
not here), run in a directory holding the README's `./flows` and `./store`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()

GENERATE = "vpcflow generate ./flows --records 200000 --seed 7 --attacks all"
INGEST = "vpcflow ingest ./flows --store ./store"

# Examples that print rows; those without --store in the README get the README's ./store.
EXAMPLES = [
    "vpcflow query rejects-by-source --store ./store",
    "vpcflow query subnet-to-subnet -p a=10.0.0.0/24 -p b=10.0.10.0/24 --store ./store",
    "vpcflow query eni-traffic -p eni=eni-0b21a3c4d5e6f7081 --store ./store",
    "vpcflow sql \"SELECT * FROM vpc_flow_logs WHERE date > current_date - interval '7' day\" --format csv",
    'vpcflow sql \'SELECT * FROM "default"."vpc_flow_logs" LIMIT 1\'',
    'vpcflow sql "SHOW PARTITIONS vpc_flow_logs"',
    'vpcflow sql "SELECT count(*) FROM vpc_flow_logs USING SAMPLE 10%" --dialect duckdb',
]


def _joined(text: str) -> str:
    """README text with the shell's line continuations and the SQL examples' wraps undone."""
    return re.sub(r"\s*\n\s+", " ", text.replace("\\\n", " "))


@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    for cmd in (GENERATE, INGEST):
        res = _run(d, cmd)
        assert res.exit_code == 0, res.output
    return d


def _run(cwd: Path, command: str, extra=()):
    args = shlex.split(command)[1:]
    args = [str(cwd / a[2:]) if a.startswith("./") else a for a in args]
    if args[0] in ("sql", "query", "insights", "detect") and "--store" not in args:
        args += ["--store", str(cwd / "store")]
    return CliRunner().invoke(main, [*args, *extra])


def test_the_readme_makes_its_data_with_these_commands():
    assert GENERATE in README and INGEST in README


@pytest.mark.parametrize("command", EXAMPLES)
def test_readme_example_shows_rows(readme_dir, command):
    assert command in _joined(README), f"not in the README any more: {command}"
    fmt = "csv" if "--format csv" in command else "json"
    res = _run(readme_dir, command, () if fmt == "csv" else ("--format", "json"))
    assert res.exit_code == 0, res.output
    out = res.stdout
    rows = list(csv.DictReader(io.StringIO(out))) if fmt == "csv" else json.loads(out)
    assert len(rows) >= 1, command
    assert all(any(v not in (None, "") for v in r.values()) for r in rows)


def test_readme_top_example_and_the_day_of_week_query(readme_dir):
    text = _joined(README)
    q = (
        "SELECT day_of_week(date) AS day, date, interface_id, srcaddr, action, protocol "
        "FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6 LIMIT 100"
    )
    assert q in text
    rows = json.loads(_run(readme_dir, f'vpcflow sql "{q}"', ("--format", "json")).stdout)
    assert len(rows) == 100 and all(1 <= r["day"] <= 7 for r in rows)
    insights = (
        'filter action = "REJECT" | stats count(*) as rejects by srcAddr, dstPort '
        "| sort rejects desc | limit 3"
    )
    assert insights in text
    res = CliRunner().invoke(
        main, ["insights", insights, "--store", str(readme_dir / "store"), "--format", "json"]
    )
    assert len(json.loads(res.stdout)) == 3
