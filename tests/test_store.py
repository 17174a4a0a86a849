"""Store behaviour: incremental, atomic under SIGKILL, streaming resume, loud about bad input,
and a SQL surface that can only read the store."""

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vpcflow
from flowdata import HEADER, v2_lines, write_s3_layout
from vpcflow.errors import QueryError, QueryRefused, SourceError, StoreError
from vpcflow.store import ingest as store_mod


def exact_count(store) -> tuple[int, int]:
    """(rows, distinct rows) as the engine sees them: duplicates would show as a difference."""
    t = store.sql(
        "SELECT count(*) AS n, count(DISTINCT (interface_id, srcport, start, srcaddr)) AS d FROM vpc_flow_logs"
    ).to_pylist()[0]
    return t["n"], t["d"]


def test_ingest_twice_stores_every_record_once(tmp_path):
    total = write_s3_layout(tmp_path / "logs", files=6, per_file=500)
    s = vpcflow.open_store(tmp_path / "store")
    r1 = s.ingest([str(tmp_path / "logs")])
    assert (r1.files, r1.records, r1.skipped_files) == (6, total, 0)
    r2 = s.ingest([str(tmp_path / "logs")])
    assert (r2.files, r2.records, r2.skipped_files) == (0, 0, 6)
    assert exact_count(s) == (total, total)
    # v2 records have no region field: it stays NULL (as on Athena); the key's account and
    # region have their own columns. The date comes from start.
    got = s.sql(
        "SELECT DISTINCT region, account_id, aws_region, aws_account_id FROM vpc_flow_logs"
    ).to_pylist()
    assert got == [
        {
            "region": None,
            "account_id": "123456789012",
            "aws_region": "eu-west-1",
            "aws_account_id": "123456789012",
        }
    ]
    dates = (
        s.sql("SELECT DISTINCT CAST(date AS varchar) d FROM vpc_flow_logs ORDER BY 1")
        .column("d")
        .to_pylist()
    )
    assert dates == ["2024-03-01", "2024-03-02", "2024-03-03"]
    # A new object later: only it is read.
    write_s3_layout(tmp_path / "more", files=1, per_file=100, seed=7)
    (tmp_path / "more").rename(tmp_path / "logs" / "more")
    r3 = s.ingest([str(tmp_path / "logs")])
    assert (r3.files, r3.records, r3.skipped_files) == (1, 100, 6)
    assert exact_count(s) == (total + 100, total + 100)


def test_store_is_plain_hive_parquet(tmp_path):
    import duckdb

    total = write_s3_layout(tmp_path / "logs", files=3, per_file=200)
    s = vpcflow.open_store(tmp_path / "store")
    s.ingest([str(tmp_path / "logs")])
    # Another reader, knowing nothing of vpcflow, sees the same records.
    n = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/store/data/*/*.parquet', hive_partitioning=true)"
    ).fetchall()[0][0]
    assert n == total


def test_bad_input_never_aborts_and_is_quarantined(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    good = v2_lines(50, seed=1)
    mixed = [
        HEADER,
        *good[:20],
        "2 123456789012 eni-1 garbage",
        good[20].replace(" 6 ", " tcp ", 1),
        *good[21:],
    ]
    (logs / "mixed.log").write_text("\n".join(mixed) + "\n")
    whole = gzip.compress(("\n".join([HEADER, *v2_lines(3000, seed=2)]) + "\n").encode())
    (logs / "truncated.log.gz").write_bytes(whole[: len(whole) // 2])
    (logs / "empty.log").write_bytes(b"")
    (logs / "notgzip.log.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    s = vpcflow.open_store(tmp_path / "store")
    r = s.ingest([str(logs)])
    assert r.bad_lines == 2
    bad = {(p["path"].rsplit("/", 1)[-1], p["line"], p["field"]) for p in r.problems if p["line"]}
    assert bad == {("mixed.log", 22, ""), ("mixed.log", 23, "protocol")}
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in r.problems if not p["line"]}
    assert "truncated" in reasons["truncated.log.gz"]
    assert "empty" in reasons["empty.log"]
    assert "notgzip.log.gz" in reasons
    stored = s.count()
    assert stored - 0 > 48 and stored == exact_count(s)[0]
    trunc = s.sql(
        "SELECT count(*) n FROM vpc_flow_logs WHERE interface_id = 'eni-0a1b2c3d4e5f60718' AND start >= 1700000000 AND packets > 0"
    ).to_pylist()
    assert trunc[0]["n"] == stored  # every stored line is a real record
    assert stored > 48 + 100  # lines before the damage in the truncated gzip were kept
    q = list(s.quarantined())
    assert {(Path(x["path"]).name, x["line"]) for x in q} == {("mixed.log", 22), ("mixed.log", 23)}
    assert "garbage" in next(x["text"] for x in q if x["line"] == 22)


def test_missing_path_and_foreign_directory_are_errors(tmp_path):
    s = vpcflow.open_store(tmp_path / "store")
    with pytest.raises(SourceError, match="no such file or directory"):
        s.ingest([str(tmp_path / "nope")])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("hi")
    with pytest.raises(StoreError, match="not a vpcflow store"):
        vpcflow.open_store(tmp_path / "other")
    with pytest.raises(StoreError, match="no vpcflow store"):
        vpcflow.open_store(tmp_path / "absent", create=False)


def test_large_objects_stream_and_resume_after_a_crash(tmp_path, monkeypatch):
    lines = v2_lines(30_000, seed=3)
    (tmp_path / "big.log").write_text("\n".join([HEADER, *lines]) + "\n")
    monkeypatch.setattr(store_mod, "SMALL_OBJECT", 0)  # everything streams
    monkeypatch.setattr(store_mod, "CHUNK_BYTES", 64 * 1024)
    s = vpcflow.open_store(tmp_path / "store")
    calls = {"n": 0}

    def crash(ev):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        s.ingest([str(tmp_path / "big.log")], progress=crash, batch_rows=5_000)
    partial = s.count()
    assert 0 < partial < 30_000
    r = s.ingest([str(tmp_path / "big.log")], batch_rows=5_000)
    assert r.records == 30_000 - partial
    assert exact_count(s) == (30_000, 30_000)


def test_compact_merges_files_and_keeps_records(tmp_path):
    total = write_s3_layout(tmp_path / "logs", files=6, per_file=300)
    s = vpcflow.open_store(tmp_path / "store")
    for i in range(3):  # several ingests make several files per date
        sub = tmp_path / f"part{i}"
        write_s3_layout(sub, files=2, per_file=100, seed=10 + i)
        s.ingest([str(sub)])
    s.ingest([str(tmp_path / "logs")])
    before = len(s.files())
    r = s.compact()
    assert r["files_merged"] > r["files_written"] and len(s.files()) < before
    assert exact_count(s) == (total + 600, total + 600)


def test_sql_reads_only_the_store(tmp_path):
    write_s3_layout(tmp_path / "logs", files=1, per_file=10)
    s = vpcflow.open_store(tmp_path / "store")
    s.ingest([str(tmp_path / "logs")])
    for q in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
    ):
        with pytest.raises(QueryRefused):
            s.sql(q, dialect="duckdb")
    for q in (
        "COPY vpc_flow_logs TO '/tmp/x.csv'",
        "ATTACH '/tmp/x.db' AS x",
        "CREATE TABLE t AS SELECT 1",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SELECT 1; SELECT 2",
    ):
        with pytest.raises(QueryRefused):
            s.sql(q, dialect="duckdb")
    with pytest.raises(QueryError, match="syntax error|Parser Error"):
        s.sql("SELEC 1")


def test_time_limit_and_row_limit(tmp_path):
    write_s3_layout(tmp_path / "logs", files=1, per_file=50)
    s = vpcflow.open_store(tmp_path / "store")
    s.ingest([str(tmp_path / "logs")])
    res = s.query("SELECT * FROM vpc_flow_logs", limit=7)
    assert res.table.num_rows == 7 and res.truncated
    with pytest.raises(QueryError, match="time limit"):
        s.sql("SELECT count(*) FROM range(100000000000) a", dialect="duckdb", timeout=0.5)


def test_athena_documentation_queries_run_unchanged(tmp_path):
    write_s3_layout(tmp_path / "logs", files=3, per_file=100)
    s = vpcflow.open_store(tmp_path / "store")
    s.ingest([str(tmp_path / "logs")])
    # From the Athena user guide, "Query Amazon VPC flow logs" (example queries).
    got = s.sql(
        "SELECT day_of_week(date) AS day, date, interface_id, srcaddr, action, protocol "
        "FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6 LIMIT 100"
    ).to_pylist()
    want = s.sql(
        "SELECT isodow(date) AS day, date, interface_id, srcaddr, action, protocol FROM vpc_flow_logs "
        "WHERE action = 'REJECT' AND protocol = 6 LIMIT 100",
        dialect="duckdb",
    ).to_pylist()
    assert got == want and got and all(r["day"] in range(1, 8) for r in got)
    # 2024-03-01 was a Friday: Trino's day_of_week gives 5.
    fri = s.sql(
        "SELECT DISTINCT day_of_week(date) AS d FROM vpc_flow_logs WHERE date = DATE '2024-03-01'"
    )
    assert fri.column("d").to_pylist() == [5]
    top = s.sql(
        "SELECT SUM(packets) AS packetcount, srcaddr FROM vpc_flow_logs WHERE dstport = 443 "
        "AND date > current_date - interval '7' day GROUP BY srcaddr ORDER BY packetcount DESC LIMIT 10"
    )
    assert top.num_rows == 0  # the sample data is from 2024, so nothing in the last 7 days
    anyday = s.sql(
        "SELECT SUM(packets) AS packetcount, srcaddr FROM vpc_flow_logs WHERE dstport = 443 "
        "AND date > DATE '2024-02-20' - interval '7' day GROUP BY srcaddr ORDER BY packetcount DESC LIMIT 10"
    )
    assert anyday.num_rows > 0


def _run_cli(*args, env=None, **kw):
    return subprocess.run(
        [sys.executable, "-m", "vpcflow", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


@pytest.mark.slow
def test_sigkill_at_any_moment_keeps_the_store_whole(tmp_path):
    import random

    total = write_s3_layout(tmp_path / "logs", files=80, per_file=4_000)
    store = tmp_path / "store"
    manifest = store / "_vpcflow" / "manifest.jsonl"
    env = {**os.environ, "VPCFLOW_BATCH_ROWS": "6000", "VPCFLOW_THREADS": "2"}
    rnd = random.Random(5)
    kills = 0
    for _ in range(6):
        size = manifest.stat().st_size if manifest.exists() else 0
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vpcflow",
                "ingest",
                str(tmp_path / "logs"),
                "--store",
                str(store),
                "--json",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill a random moment after the run has committed something: mid-write, mid-commit,
        # mid-rename.
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            if manifest.exists() and manifest.stat().st_size > size:
                break
            time.sleep(0.005)
        time.sleep(rnd.uniform(0, 0.15))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        # Whatever the moment, the store opens and every committed file is whole.
        s = vpcflow.open_store(store)
        n, d = exact_count(s)
        assert n == d == s.count() <= total
        s.close()
    assert kills >= 3
    done = _run_cli("ingest", str(tmp_path / "logs"), "--store", str(store), "--json", env=env)
    assert done.returncode == 0, done.stderr
    s = vpcflow.open_store(store)
    assert exact_count(s) == (total, total)
    assert not any((store / "_vpcflow" / "staging").glob("*/*"))


def test_side_files_beside_aws_named_objects_are_not_records(tmp_path):
    total = write_s3_layout(tmp_path / "logs", files=2, per_file=30)
    (tmp_path / "logs" / "labels.json").write_text("[]\n")
    (tmp_path / "logs" / "threat-list.txt").write_text("# feed\n203.0.113.9\n")
    s = vpcflow.open_store(tmp_path / "store")
    r = s.ingest([str(tmp_path / "logs")])
    assert (r.files, r.records, r.bad_lines) == (2, total, 0)
    # A directory of plain files (no AWS names) is taken whole, JSON lines included.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.log").write_text("\n".join(v2_lines(3, seed=9)) + "\n")
    (plain / "b.json").write_text('{"message": "' + v2_lines(1, seed=8)[0] + '"}\n')
    r = s.ingest([str(plain)])
    assert (r.files, r.records) == (2, 4)


def test_a_killed_worker_is_one_clear_error_and_loses_nothing_committed(tmp_path, monkeypatch):
    from vpcflow.store import ingest

    write_s3_layout(tmp_path / "logs", files=30, per_file=2_000)
    monkeypatch.setattr(ingest, "PARALLEL_AFTER_BYTES", 1)
    monkeypatch.setenv("VPCFLOW_THREADS", "2")
    s = vpcflow.open_store(tmp_path / "store")
    real_submit = ingest.Workers.submit

    def submit_then_kill(self, seq, txn, obj):
        real_submit(self, seq, txn, obj)
        if seq == 3:
            self.procs[0].kill()

    def wait_until_booted(self):  # give the workers the objects, not the parent
        while not all(self.ready):
            self._poll_ready()
            time.sleep(0.01)
        return False

    monkeypatch.setattr(ingest.Workers, "submit", submit_then_kill)
    monkeypatch.setattr(ingest.Workers, "booting", wait_until_booted)
    with pytest.raises(vpcflow.VpcflowError, match="run the ingest again"):
        s.ingest([str(tmp_path / "logs")])
    monkeypatch.setattr(ingest.Workers, "submit", real_submit)
    r = s.ingest([str(tmp_path / "logs")])
    assert exact_count(s) == (60_000, 60_000) and r.records + r.skipped_files * 2_000 == 60_000


@pytest.mark.parametrize("start", ["fork", "exec"])
def test_forked_and_fresh_workers_store_the_same_records(tmp_path, start):
    # 40 objects of 3 dates (past the few MB after which workers start) through two worker
    # processes started either way, from the CLI; the same bad line in the same place
    total = write_s3_layout(tmp_path / "logs", files=40, per_file=3000)
    bad = next((tmp_path / "logs").rglob("*.log.gz"))
    with gzip.open(bad, "rb") as fh:
        head = fh.read()
    with gzip.open(bad, "wb") as fh:
        fh.write(head + b"2 123456789012 eni-0 10.0.0.1 10.0.0.2 99999 80 6 1 40 1 2 ACCEPT OK\n")
    env = {
        "VPCFLOW_WORKER_START": start,
        "VPCFLOW_THREADS": "2",
        "VPCFLOW_BATCH_ROWS": "5000",
    }
    r = _run_cli(
        "ingest", str(tmp_path / "logs"), "--store", str(tmp_path / "s"), "--json", env=env
    )
    assert r.returncode == 0, r.stderr
    rep = __import__("json").loads(r.stdout)
    assert (rep["records"], rep["bad_lines"], rep["workers"]) == (total, 1, 2)
    assert rep["problems"][0]["field"] == "srcport" and rep["problems"][0]["line"] == 3002
    s = vpcflow.open_store(tmp_path / "s", create=False)
    assert exact_count(s) == (total, total)
    days = s.sql("SELECT count(DISTINCT date) AS d FROM vpc_flow_logs").to_pylist()[0]["d"]
    assert days == len({p.parent for p in (tmp_path / "logs").rglob("*.log.gz")})
    # nothing left running: a worker (forked: the ingest's command line; exec: the staging
    # path) would name this test's directory
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _names(int(p), tmp_path)]


def _names(pid: int, path: Path) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return str(path).encode() in fh.read()
    except OSError:
        return False


def test_a_bad_worker_start_setting_is_one_line(tmp_path):
    write_s3_layout(tmp_path / "logs", files=2, per_file=10)
    r = _run_cli(
        "ingest",
        str(tmp_path / "logs"),
        "--store",
        str(tmp_path / "s"),
        env={"VPCFLOW_WORKER_START": "spawn", "VPCFLOW_THREADS": "2"},
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "Error: VPCFLOW_WORKER_START='spawn' is not valid: expected auto, fork or exec; "
        "unset it for the default (auto)"
    ]


def test_workers_fork_only_a_process_without_other_threads(monkeypatch):
    import threading

    from vpcflow.store import workers

    monkeypatch.setattr(workers.sys, "platform", "linux")
    monkeypatch.delenv("VPCFLOW_WORKER_START", raising=False)
    with monkeypatch.context() as m:  # the suite's own threads (servers of other tests) aside
        m.setattr(workers.threading, "active_count", lambda: 1)
        m.setattr(workers, "_os_threads", lambda: workers._BASELINE_THREADS)
        assert workers.start_method() == "fork"
        # native threads started since the import (a DuckDB query's, Arrow's pool): a fork
        # would copy their held locks, and the child crashed (signal 11) in the suite
        m.setattr(workers, "_os_threads", lambda: workers._BASELINE_THREADS + 8)
        assert workers.start_method() == "exec"
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:  # a thread that may hold a lock at the fork (an S3 download pool): fresh interpreters
        assert workers.start_method() == "exec"
        monkeypatch.setenv("VPCFLOW_WORKER_START", "fork")  # unless asked for
        assert workers.start_method() == "fork"
    finally:
        stop.set()
        t.join()
    monkeypatch.setattr(workers.sys, "platform", "darwin")
    monkeypatch.delenv("VPCFLOW_WORKER_START")
    assert workers.start_method() == "exec"
