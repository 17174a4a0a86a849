"""``vpcflow demo``: generate, ingest and report, end to end on a small day."""

from __future__ import annotations

from click.testing import CliRunner

from vpcflow.cli import main
from vpcflow.demo import run_demo


def test_demo_library_report_adds_up(tmp_path):
    res = run_demo(records=30_000, seed=3, keep_dir=tmp_path)
    assert res.records == 30_000 and res.files == 288
    actions = res.sections["Accepted vs rejected"]
    assert sum(r["records"] for r in actions) == 30_000
    assert {r["action"] for r in actions} >= {"ACCEPT", "REJECT", "NODATA"}
    hours = res.sections["Volume over the day"]
    assert [r["h"] for r in hours] == list(range(24))
    assert max(r["records"] for r in hours) > 1.5 * min(r["records"] for r in hours)
    # the misconfigured ACL's interfaces show up among the most rejected sources
    sources = {r["srcaddr"] for r in res.sections["Most rejected"][0]}
    assert sources & {"10.0.1.13", "10.0.1.14"}
    for title in ("Volume over the day", "Top talkers", "Most rejected", "Go on:"):
        assert title in res.text
    assert (tmp_path / "store").is_dir() and (tmp_path / "logs" / "labels.json").is_file()


def test_demo_cli_exits_zero_and_says_how_to_continue(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = CliRunner().invoke(main, ["demo", "--records", "20000"])
    assert result.exit_code == 0, result.output
    assert "20,000 records" in result.output
    assert "vpcflow sql" in result.output and "vpcflow insights" in result.output
    assert not list(tmp_path.glob("vpcflow-demo-*"))  # the temporary directory is removed
