"""Rollups kept by ingest (``vpcflow.store.rollups``): written with each data file in the same
transaction, merged to what one GROUP BY over the records gives, rewritten by compaction,
checked and repaired by ``check``, rebuilt for files that lack them, and refused when written
with other parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from flowdata import HEADER, v2_lines, write_s3_layout
from vpcflow import open_store
from vpcflow.cli import main
from vpcflow.store import rollups
from vpcflow.store.manifest import rollup_paths

# These tests read every rollup; ingest keeps only the traffic rollup by default.
pytestmark = pytest.mark.usefixtures("every_rollup")


CONV = rollups.ROLLUPS["conversations"]


def _merged(store, where: str = "") -> dict:
    rows = store.sql(CONV.merge_sql("rollup_conversations", where), dialect="duckdb").to_pylist()
    keys = [k for k, _ in CONV.keys]
    return {tuple(r[k] for k in keys): r for r in rows}


def _rollup_files(store) -> set[str]:
    return {
        p.relative_to(store.path).as_posix()
        for p in (store.path / rollups.ROLLUP_DIR).rglob("*.parquet")
    }


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "store")
    for seed in (5, 6):  # two ingests: two files per day
        write_s3_layout(tmp_path / f"logs{seed}", files=6, per_file=400, seed=seed)
        s.ingest([str(tmp_path / f"logs{seed}")])
    return s


def test_every_data_file_has_its_rollup_in_the_same_commit(store):
    live = store.manifest.live_files()
    assert live and all("conversations" in f.get("rollups", {}) for f in live)
    assert _rollup_files(store) == {p for f in live for p in rollup_paths(f)}
    st = store.rollup_status("conversations")
    assert st["complete"] and st["files"] == len(live) and not st["missing"]


def test_merged_rollup_counts_what_the_records_say(store):
    """Independent of the definition's SQL: per (client, server, port) the records, bytes and
    rejected records counted straight from the view, with the request side decided by hand
    (these records have no TCP flags: the request is the one from the higher port)."""
    merged = _merged(store)
    assert sum(r["records"] for r in merged.values()) == store.count()
    by_conv: dict = {}
    for r in merged.values():
        k = (r["client"], r["server"], r["port"])
        agg = by_conv.setdefault(k, [0, 0, 0, 0])
        agg[0] += r["records"]
        agg[1] += r["bytes"]
        agg[2] += r["rejected"]
        agg[3] += r["requests"]
    raw = store.sql(
        "SELECT srcaddr, dstaddr, srcport, dstport, bytes, action FROM vpc_flow_logs",
        dialect="duckdb",
    ).to_pylist()
    expect: dict = {}
    for r in raw:
        req = r["srcport"] > r["dstport"]
        k = (
            (r["srcaddr"], r["dstaddr"], r["dstport"])
            if req
            else (r["dstaddr"], r["srcaddr"], r["srcport"])
        )
        agg = expect.setdefault(k, [0, 0, 0, 0])
        agg[0] += 1
        agg[1] += r["bytes"]
        agg[2] += r["action"] == "REJECT"
        agg[3] += req
    assert by_conv == expect


def test_rejected_rows_are_per_interface_and_ten_minutes(store):
    rows = store.sql(
        "SELECT eni, bucket, rejected, records FROM rollup_conversations", dialect="duckdb"
    ).to_pylist()
    rej = [r for r in rows if r["eni"] is not None]
    assert rej and all(r["rejected"] == r["records"] for r in rej)
    acc = [r for r in rows if r["eni"] is None]
    assert acc and all(r["bucket"] % 6 == 0 and r["rejected"] == 0 for r in acc)


def test_compaction_rewrites_rollups_and_removes_the_old_ones(store):
    before = _merged(store)
    old = _rollup_files(store)
    r = store.compact()
    assert r["files_merged"] > r["files_written"]
    new = _rollup_files(store)
    assert new and not (new & old)  # the old rollup files went with their data files
    assert store.rollup_status("conversations")["complete"]
    assert _merged(store) == before


def test_files_without_rollups_are_missing_until_rebuilt(tmp_path, monkeypatch):
    """A Spark ingest or an older vpcflow writes data files without rollups: the status says
    so (readers fall back) and ``vpcflow rollup rebuild`` writes them."""
    write_s3_layout(tmp_path / "logs", files=3, per_file=300, seed=2)
    monkeypatch.setenv("VPCFLOW_ROLLUPS", "0")
    s = open_store(tmp_path / "store")
    s.ingest([str(tmp_path / "logs")])
    st = s.rollup_status("conversations")
    assert not st["complete"] and len(st["missing"]) == st["files"] > 0
    monkeypatch.setenv("VPCFLOW_ROLLUPS", "all")
    runner = CliRunner()
    out = runner.invoke(main, ["rollup", "rebuild", "--store", str(s.path)])
    assert out.exit_code == 0, out.output
    assert f"for {st['files']} data files" in out.output
    s2 = open_store(s.path)
    assert s2.rollup_status("conversations")["complete"]
    assert sum(r["records"] for r in _merged(s2).values()) == 900
    out = runner.invoke(main, ["rollup", "status", "--store", str(s.path), "--format", "json"])
    [row] = [r for r in json.loads(out.output) if r["rollup"] == "conversations"]
    assert row["complete"] and row["missing"] == 0


def test_other_parameters_make_a_rollup_stale(store, monkeypatch):
    """A rollup bakes in what a probe is: with another probe size the files' rollups are not
    current, so no reader takes them for the new definition; rebuilding replaces them."""
    probes = sum(r["probes"] for r in _merged(store).values())
    monkeypatch.setenv("VPCFLOW_PROBE_BYTES", "100000")
    st = store.rollup_status("conversations")
    assert not st["complete"] and not st["current"]
    conv = f"{rollups.ROLLUP_DIR}/conversations/"
    old = {p for p in _rollup_files(store) if p.startswith(conv)}
    store.rebuild_rollups()
    assert store.rollup_status("conversations")["complete"]
    assert not (_rollup_files(store) & old)  # replaced, not kept beside
    assert sum(r["probes"] for r in _merged(store).values()) > probes


def test_time_ranges_select_partitions(store):
    st_all = store.rollup_status("conversations")
    day2 = 1_709_251_200 + 86400
    st = store.rollup_status("conversations", since=day2, until=day2 + 86400)
    assert 0 < st["files"] < st_all["files"]
    assert CONV.answers(day2, day2 + 7200) and not CONV.answers(day2 + 60, None)


def test_check_finds_and_repairs_a_damaged_rollup(store):
    f = store.manifest.live_files()[0]
    path = store.path / rollup_paths(f)[0]
    path.write_bytes(path.read_bytes()[:-10])
    stray = store.path / rollups.ROLLUP_DIR / "conversations" / "data" / "stray.parquet"
    stray.write_bytes(b"x")
    runner = CliRunner()
    out = runner.invoke(main, ["check", "--store", str(store.path)])
    assert out.exit_code == 1
    assert "rollup conversations" in out.output and "stray.parquet" in out.output
    out = runner.invoke(main, ["check", "--repair", "--store", str(store.path), "--json"])
    r = json.loads(out.output)
    assert r["repaired"] and r["rollups_rebuilt"] == 1 and r["files_dropped"] == 0
    assert not stray.exists()
    again = open_store(store.path).check()
    assert not again["damaged_rollups"] and not again["unreferenced_rollups"]
    assert open_store(store.path).rollup_status("conversations")["complete"]


def test_a_crash_after_the_commit_line_rolls_rollups_forward(tmp_path, monkeypatch):
    """The commit line names the data file and its rollup: a crash before the files are moved
    into place leaves both to the next open, which moves both."""
    from vpcflow.store import Store

    src = tmp_path / "a.log"
    src.write_text("\n".join([HEADER, *v2_lines(200, seed=1)]) + "\n")
    monkeypatch.setattr(Store, "_apply", lambda self, txn: None)
    s = open_store(tmp_path / "store")
    s.ingest([str(src)])
    assert not _rollup_files(s)  # committed, not applied
    monkeypatch.undo()
    s = open_store(tmp_path / "store")
    assert s.rollup_status("conversations")["complete"]
    assert _rollup_files(s) == {p for f in s.manifest.live_files() for p in rollup_paths(f)}


def test_rollups_off_writes_none(tmp_path):
    src = tmp_path / "a.log"
    src.write_text("\n".join([HEADER, *v2_lines(50)]) + "\n")
    os.environ["VPCFLOW_ROLLUPS"] = "false"
    try:
        s = open_store(tmp_path / "store")
        s.ingest([str(src)])
    finally:
        os.environ["VPCFLOW_ROLLUPS"] = "all"
    assert not any("rollups" in f for f in s.manifest.live_files())
    assert s.sql(
        "SELECT count(*) AS n FROM rollup_conversations", dialect="duckdb"
    ).to_pylist() == [{"n": 0}]


def test_the_default_set_is_traffic_and_a_list_names_them(tmp_path):
    """Without the setting ingest keeps only the small traffic rollup; a list keeps exactly the
    rollups named; an unknown name is one line naming the variable, through the CLI."""
    src = tmp_path / "a.log"
    src.write_text("\n".join([HEADER, *v2_lines(50)]) + "\n")
    kept = {}
    for value in (None, "traffic,sources", "none"):
        if value is None:
            os.environ.pop("VPCFLOW_ROLLUPS", None)
        else:
            os.environ["VPCFLOW_ROLLUPS"] = value
        try:
            s = open_store(tmp_path / f"store-{value}")
            s.ingest([str(src)])
        finally:
            os.environ["VPCFLOW_ROLLUPS"] = "all"
        (entry,) = s.manifest.live_files()
        kept[value] = sorted(entry.get("rollups", {}))
    assert kept == {None: ["traffic"], "traffic,sources": ["sources", "traffic"], "none": []}
    env = {**os.environ, "VPCFLOW_ROLLUPS": "traffic,nope"}
    r = subprocess.run(
        [sys.executable, "-m", "vpcflow", "ingest", str(src), "--store", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode != 0
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "VPCFLOW_ROLLUPS" in err[0] and "nope" in err[0], r.stderr


def test_spark_ingest_writes_the_same_rollups_as_native_ingest(tmp_path, spark):
    """The Spark ingest writes its files through the same PartWriter in the executors: its
    files carry the same rollups, current and merging to the same rows."""
    write_s3_layout(tmp_path / "logs", files=4, per_file=300, seed=9)
    runner = CliRunner()
    for name, extra in (("native", []), ("spark", ["--engine", "spark"])):
        out = runner.invoke(
            main, ["ingest", str(tmp_path / "logs"), "--store", str(tmp_path / name), *extra]
        )
        assert out.exit_code == 0, out.output
    native, sp = open_store(tmp_path / "native"), open_store(tmp_path / "spark")
    assert native.rollup_status("conversations")["complete"]
    assert sp.rollup_status("conversations")["complete"]
    assert _merged(sp) == _merged(native) and len(_merged(native)) > 100
