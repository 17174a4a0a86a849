"""Reliability: hostile input, full disks, read-only and damaged stores, the SQL sandbox.

Each test reproduces one way to lose records, crash or read outside the store, and holds the
fix to it (docs/reliability.md lists the guarantees and which test holds each).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import vpcflow
from flowdata import HEADER, v2_lines, write_s3_layout
from vpcflow.cli import main
from vpcflow.errors import StoreDamaged, StoreWriteError

ENI = "eni-0a1b2c3d4e5f60718"


def record(i: int, start: int | str = None, eni: str = ENI) -> str:
    start = 1714521600 + i % 86400 if start is None else start
    return (
        f"2 123456789012 {eni} 10.0.{i % 256}.{i // 256 % 256} 10.1.0.1 {i % 65536} 443 6 "
        f"{i % 100 + 1} {1000000000 + i} {start} 1714521660 ACCEPT OK"
    )


def run(*args, input=None, env=None):
    """The CLI in-process (click's CliRunner): fast, and faults injected with monkeypatch
    reach it. ``run_proc`` runs the real entry point where a process of its own matters."""
    r = CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def run_proc(*args, input=None, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "vpcflow", *args],
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def count(store_dir) -> int:
    s = vpcflow.open_store(store_dir, create=False)
    try:
        return s.sql("SELECT count(*) AS n FROM vpc_flow_logs").column("n")[0].as_py()
    finally:
        s.close()


def one_line_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return errors[0]


# -- defect 1: a start/end beyond what a date partition holds --------------------------------


@pytest.mark.parametrize("start", ["999999999999999999", "1000000000000000", "253402300800000"])
def test_start_after_the_year_9999_is_a_bad_line_not_a_crash(tmp_path, start):
    log = tmp_path / "a.log"
    good = [record(i) for i in range(5)]
    log.write_text("\n".join([*good[:2], record(9, start=start), *good[2:]]) + "\n")
    r = run_proc("ingest", str(log), "--store", str(tmp_path / "s"), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert (rep["records"], rep["bad_lines"]) == (5, 1)
    assert rep["problems"][0]["line"] == 3 and rep["problems"][0]["field"] == "start"
    assert count(tmp_path / "s") == 5
    q = vpcflow.open_store(tmp_path / "s").quarantined()
    assert [b["line"] for b in q] == [3]


def test_parquet_rows_with_a_start_after_9999_are_reported(tmp_path):
    import pyarrow as pa

    t = pa.table(
        {
            "version": pa.array([2, 2, 2], pa.int32()),
            "srcaddr": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            "start": pa.array([1714521600, 10**15, 1714521601], pa.int64()),
        }
    )
    pq.write_table(t, tmp_path / "x.parquet")
    r = vpcflow.open_store(tmp_path / "s").ingest([str(tmp_path / "x.parquet")])
    assert (r.records, r.bad_lines) == (2, 1)
    assert r.problems[0]["line"] == 2


# -- defect 4: one line-length rule for every parser path ------------------------------------


def test_long_lines_are_rejected_with_or_without_other_bad_lines(tmp_path):
    long_eni = "eni-" + "a" * 20000
    clean = tmp_path / "clean.log"
    clean.write_text("\n".join(record(i, eni=long_eni) for i in range(2)) + "\n")
    mixed = tmp_path / "mixed.log"
    mixed.write_text(clean.read_text() + "garbage line\n")
    s = vpcflow.open_store(tmp_path / "s")
    a = s.ingest([str(clean)])
    b = s.ingest([str(mixed)])
    assert (a.records, a.bad_lines) == (0, 2)
    assert (b.records, b.bad_lines) == (0, 3)
    assert "longer than 16384" in a.problems[0]["reason"]
    # Exactly at the limit (not counting the line end, \n or \r\n) is stored by both paths.
    edge = "eni-" + "b" * (16384 - len(record(0)) + len(ENI) - 4)
    assert len(record(0, eni=edge)) == 16384
    for name, end in (("lf.log", "\n"), ("crlf.log", "\r\n")):
        p = tmp_path / name
        p.write_text(end.join(record(i, eni=edge) for i in range(2)) + end)
        assert s.ingest([str(p)]).records == 2
        p.write_text(p.read_text() + "junk" + end)
        r = s.ingest([str(p)])
        assert (r.records, r.bad_lines) == (2, 1)


# -- defects 2 and 3: bounded memory and 32-bit offsets --------------------------------------


def test_a_gzip_bomb_streams_in_bounded_memory(tmp_path):
    # 320 MB of valid records in a 1 MB gzip: the whole object used to be inflated in memory.
    block = "".join(record(i) + "\n" for i in range(256)).encode() * 2048
    member = gzip.compress(block, 9)
    bomb = tmp_path / "bomb.log.gz"
    bomb.write_bytes(member * 6)
    assert bomb.stat().st_size < 16 << 20  # the "small object" path, not the large-object one
    # The peak of the child's own memory (VmHWM), not its ru_maxrss: subprocess starts the
    # child by vfork, so that one starts at the RSS of the pytest worker it came from (660 MB
    # reported for a 480 MB ingest after the worker had run other tests).
    code = (
        "import sys, vpcflow\n"
        "r = vpcflow.open_store(sys.argv[2]).ingest([sys.argv[1]])\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(r.records, hwm.split()[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(bomb), str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env={**os.environ, "VPCFLOW_THREADS": "1"},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    records, peak_kb = map(int, out.stdout.split())
    assert records == 256 * 2048 * 6
    assert peak_kb < 600 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB for 320 MB inflated"


def test_read_object_hands_out_chunks_as_it_goes(tmp_path, monkeypatch):
    from vpcflow.sources.local import iter_local
    from vpcflow.store import parts

    monkeypatch.setattr(parts, "CHUNK_BYTES", 64 << 10)
    p = tmp_path / "a.log.gz"
    p.write_bytes(gzip.compress(("\n".join(record(i) for i in range(20000)) + "\n").encode()))
    (obj,) = iter_local(str(p))
    sizes = []
    res = parts.read_object(obj, None, lambda t: sizes.append(t.num_rows))
    assert res.records == sum(sizes) == 20000
    assert len(sizes) > 10 and max(sizes) < 20000


def test_large_data_is_parsed_in_bounded_pieces(monkeypatch):
    from vpcflow import parse

    data = ("\n".join([HEADER, *v2_lines(3000, seed=4)]) + "\nbad line\n").encode()
    whole = parse.parse_bytes(data)
    monkeypatch.setattr(parse, "MAX_CHUNK_BYTES", 20_000)
    pieces = parse.parse_bytes(data)
    assert pieces.table.equals(whole.table)
    assert [b.line for b in pieces.bad_lines] == [b.line for b in whole.bad_lines] == [3002]


def test_wide_records_flush_row_groups_by_bytes(tmp_path, monkeypatch):
    from vpcflow.store import parts

    monkeypatch.setattr(parts, "ROW_GROUP_BYTES", 1 << 20)
    monkeypatch.setattr(parts, "CHUNK_BYTES", 256 << 10)
    # distinct ids: the buffer holds each distinct string once (a dictionary)
    wide = ["eni-" + f"{i:05x}" + "c" * 16000 for i in range(400)]
    p = tmp_path / "wide.log"
    p.write_text("\n".join(record(i, eni=wide[i]) for i in range(400)) + "\n")
    s = vpcflow.open_store(tmp_path / "s")
    assert s.ingest([str(p)]).records == 400
    (f,) = s.files()
    assert pq.ParquetFile(f).num_row_groups >= 5  # 6.4 MB of records, 1 MB at a time


def test_native_tokenizer_declines_what_the_exact_parser_must_judge():
    from vpcflow.parse import fast as fastparse

    if fastparse._tokenize is None:
        pytest.skip("native tokenizer not built")
    from vpcflow.schema import ALL_FIELDS_LAYOUTS

    specs = tuple(fastparse._spec(f) for f in ALL_FIELDS_LAYOUTS[14])
    line = record(1).encode() + b"\n"
    assert fastparse._tokenize(line, specs, 16384) is not None
    assert fastparse._tokenize(line, specs, len(line) - 2) is None  # longer than allowed
    assert fastparse._tokenize(b"#" + line, specs, 16384) is None
    assert fastparse._tokenize(b"  #" + line, specs, 16384) is None


# -- defect 5: a full disk -------------------------------------------------------------------


def _fail_writes_after(monkeypatch, n: int):
    """Make the n+1-th Parquet row-group write fail with ENOSPC (as a full disk does)."""
    import pyarrow.parquet as pqm

    real = pqm.ParquetWriter.write_table
    calls = {"n": 0}

    def write_table(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] > n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **kw)

    monkeypatch.setattr(pqm.ParquetWriter, "write_table", write_table)
    return calls


def test_a_full_disk_rolls_the_batch_back_and_exits_non_zero(tmp_path, monkeypatch):
    big = tmp_path / "big.log"
    big.write_text("\n".join([HEADER, *(record(i) for i in range(60000))]) + "\n")
    small = tmp_path / "small"
    total = write_s3_layout(small, files=4, per_file=500)
    store = tmp_path / "s"
    env = {"VPCFLOW_BATCH_ROWS": "10000", "VPCFLOW_THREADS": "1"}
    monkeypatch.setattr("vpcflow.store.ingest.SMALL_OBJECT", 1 << 20)  # big.log streams
    monkeypatch.setattr("vpcflow.store.ingest.CHUNK_BYTES", 256 << 10)
    from vpcflow.store.rollups import rollups_for

    # a data file and each of its rollups are one write each: fail after the sixth data file
    _fail_writes_after(monkeypatch, 6 * (1 + len(rollups_for("vpc_flow_logs"))))
    r = run("ingest", str(small), str(big), "--store", str(store), "--json", env=env)
    assert r.returncode == 1
    err = one_line_error(r.stderr)
    assert "no space left" in err and "rolled back" in err
    rep = json.loads(r.stdout)
    monkeypatch.undo()
    stored = count(store)
    assert rep["records"] == stored > 0  # the summary counts only what was committed
    # The journal holds whole lines only, and nothing of the failed batch is left in staging.
    for line in (store / "_vpcflow" / "manifest.jsonl").read_bytes().splitlines():
        json.loads(line)
    assert not any((store / "_vpcflow" / "staging").glob("*/*"))
    # big.log was not marked complete: a re-run on a disk with room stores every record once.
    r2 = run_proc("ingest", str(small), str(big), "--store", str(store), "--json", env=env)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["records"] == total + 60000 - stored
    s = vpcflow.open_store(store)
    n = s.sql(
        "SELECT count(*) AS n, count(DISTINCT (interface_id, srcport, start, srcaddr, bytes)) AS d "
        "FROM vpc_flow_logs"
    ).to_pylist()[0]
    assert n == {"n": total + 60000, "d": total + 60000}


def test_a_full_disk_before_anything_is_stored_is_one_error_line(tmp_path, monkeypatch):
    """Nothing committed: no "Ingested 0 records" summary above the error, which says it all."""
    logs = tmp_path / "logs"
    write_s3_layout(logs, files=2, per_file=300)
    _fail_writes_after(monkeypatch, 0)
    r = run("ingest", str(logs), "--store", str(tmp_path / "s"), env={"VPCFLOW_THREADS": "1"})
    assert r.returncode == 1
    assert "Ingested" not in r.stdout
    err = one_line_error(r.stderr)
    assert "no space left" in err and "rolled back" in err


def test_a_full_disk_in_a_worker_process_rolls_back_too(tmp_path, monkeypatch):
    import vpcflow.store.workers as iw
    from vpcflow.store import ingest

    total = write_s3_layout(tmp_path / "logs", files=12, per_file=500)
    monkeypatch.setattr(ingest, "PARALLEL_AFTER_BYTES", 1)
    monkeypatch.setenv("VPCFLOW_THREADS", "2")
    real_submit = iw.Workers.submit
    txns: list[str] = []

    def submit(self, seq, txn, obj):
        # The second transaction's worker writes fail (as on a full disk): a directory sits
        # where each worker's Parquet file goes.
        if txn not in txns:
            txns.append(txn)
        if len(txns) == 2 and txn == txns[1]:
            stage = tmp_path / "s" / "_vpcflow" / "staging" / txn
            for d in ("date=2024-03-01", "date=2024-03-02", "date=2024-03-03"):
                for w in range(2):
                    (stage / d / f"part-{txn}-w{w}.parquet").mkdir(parents=True, exist_ok=True)
        return real_submit(self, seq, txn, obj)

    def wait_until_booted(self):  # give the workers the objects, not the parent
        while not all(self.ready):
            self._poll_ready()
            time.sleep(0.01)
        return False

    monkeypatch.setattr(iw.Workers, "submit", submit)
    monkeypatch.setattr(iw.Workers, "booting", wait_until_booted)
    s = vpcflow.open_store(tmp_path / "s")
    with pytest.raises(StoreWriteError) as e:
        s.ingest([str(tmp_path / "logs")], batch_rows=1500)
    assert "Traceback" not in str(e.value)
    assert e.value.report.records == count(tmp_path / "s")
    monkeypatch.undo()
    r = vpcflow.open_store(tmp_path / "s").ingest([str(tmp_path / "logs")])
    assert count(tmp_path / "s") == total
    assert r.records == total - e.value.report.records


def test_a_failed_journal_append_leaves_no_torn_line(tmp_path, monkeypatch):
    from vpcflow.store import manifest as mmod

    log = tmp_path / "a.log"
    log.write_text("\n".join(record(i) for i in range(10)) + "\n")
    s = vpcflow.open_store(tmp_path / "s")
    s.ingest([str(log)])
    journal = tmp_path / "s" / "_vpcflow" / "manifest.jsonl"
    before = journal.read_bytes()
    real_write = os.write

    def short_write(fd, data):  # half the line reaches the disk, then the disk is full
        if data.startswith(b'{"op":"commit"'):
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(mmod.os, "write", short_write)
    log2 = tmp_path / "b.log"
    log2.write_text("\n".join(record(i + 100) for i in range(10)) + "\n")
    with pytest.raises(StoreWriteError, match="no space left"):
        s.ingest([str(log2)])
    monkeypatch.undo()
    assert journal.read_bytes() == before
    assert vpcflow.open_store(tmp_path / "s").ingest([str(log2)]).records == 10
    assert count(tmp_path / "s") == 20


def _can_unshare() -> bool:
    if not shutil.which("unshare") or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _can_unshare(), reason="needs user and mount namespaces (unshare -rm) to mount a tmpfs"
)


@needs_mounts
def test_a_real_full_tmpfs_loses_nothing(tmp_path):
    """The issue's reproduction, scaled down: a 1 MB tmpfs, a generated tree and a big file
    (together about 2 MB as stored)."""
    gen = run_proc("generate", str(tmp_path / "gen"), "--records", "60000", "--seed", "1")
    assert gen.returncode == 0, gen.stderr
    big = tmp_path / "big.log"
    big.write_text("\n".join([HEADER, *(record(i) for i in range(200000))]) + "\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {mnt} && "
        f"VPCFLOW_BATCH_ROWS=20000 {sys.executable} -m vpcflow ingest {tmp_path / 'gen'} {big} "
        f"--store {mnt / 's'} --json > {tmp_path / 'out.json'} 2> {tmp_path / 'err.txt'}; "
        f"echo $? > {tmp_path / 'rc'}; cp -a {mnt / 's'} {tmp_path / 'copy'}"
    )
    subprocess.run(["unshare", "-rm", "sh", "-c", script], check=True, timeout=300)
    assert (tmp_path / "rc").read_text().strip() == "1"
    err = one_line_error((tmp_path / "err.txt").read_text())
    assert "no space left" in err
    rep = json.loads((tmp_path / "out.json").read_text())
    assert rep["records"] == count(tmp_path / "copy")
    r = run("ingest", str(tmp_path / "gen"), str(big), "--store", str(tmp_path / "copy"))
    assert r.returncode == 0, r.stderr
    fresh = run("ingest", str(tmp_path / "gen"), str(big), "--store", str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    assert count(tmp_path / "copy") == count(tmp_path / "fresh")
    assert count(tmp_path / "fresh") >= 200000 + 60000 * 0.9


# -- defect 12: a read-only store ------------------------------------------------------------


@needs_mounts
def test_a_read_only_store_is_one_line_for_writers_and_queryable(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("\n".join(record(i) for i in range(10)) + "\n")
    assert run_proc("ingest", str(log), "--store", str(tmp_path / "s")).returncode == 0
    (tmp_path / "b.log").write_text(record(99) + "\n")
    py = sys.executable
    s = tmp_path / "s"
    script = (
        f"mount --bind {s} {s} && mount -o remount,bind,ro {s} && "
        f"for c in 'ingest {tmp_path / 'b.log'}' compact 'check --repair' 'sql \"SELECT count(*) "
        f"AS n FROM vpc_flow_logs\" --format csv'; do "
        f"eval {py} -m vpcflow $c --store {s}; echo rc=$?; done"
    )
    out = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stdout.count("rc=1") == 3 and "n\n10\nrc=0" in out.stdout, out.stdout
    assert out.stderr.count("read-only file system") == 3, out.stderr


# -- defect 6: damaged data files; vpcflow check [--repair] ----------------------------------


def _store_of_three_txns(tmp_path) -> tuple[Path, int, list[Path]]:
    src = tmp_path / "logs"
    total = write_s3_layout(src, files=6, per_file=300)
    store = tmp_path / "s"
    with vpcflow.open_store(store) as s:
        assert s.ingest([str(src)], batch_rows=600).records == total
    return store, total, sorted(store.glob("data/*/*.parquet"))


def test_a_damaged_page_in_a_file_of_the_right_size_is_named_with_the_fix(tmp_path):
    """DuckDB's error on a damaged page names no file ("Corrupted file?"); the checksums
    recorded at commit say which, and ``check --repair`` lets the query run again."""
    store, total, files = _store_of_three_txns(tmp_path)
    victim = files[-1]
    size = victim.stat().st_size
    with open(victim, "r+b") as fh:  # the column pages, not the footer
        fh.seek(4)
        fh.write(b"\xff" * (size // 2))
    assert victim.stat().st_size == size
    q = run("sql", "SELECT * FROM vpc_flow_logs", "--store", str(store), "--format", "csv")
    err = one_line_error(q.stderr)
    assert q.returncode == 1, q.stdout[-300:]
    assert str(victim) in err and "data file is damaged" in err and "check --repair" in err
    fixed = run("check", "--repair", "--store", str(store))
    assert fixed.returncode == 0 and "1 missing or damaged" in fixed.stdout
    q = run(
        "sql", "SELECT count(*) AS n FROM vpc_flow_logs", "--store", str(store), "--format", "csv"
    )
    assert q.returncode == 0 and 0 < int(q.stdout.split()[-1]) < total


def test_a_deleted_and_a_truncated_file_are_found_and_repaired(tmp_path):
    store, total, files = _store_of_three_txns(tmp_path)
    assert len(files) >= 3
    files[0].unlink()
    with open(files[-1], "r+b") as fh:
        fh.truncate(100)
    q = run("sql", "SELECT count(*) FROM vpc_flow_logs", "--store", str(store))
    err = one_line_error(q.stderr)
    assert q.returncode == 1 and str(files[0]) in err and "check --repair" in err
    info = json.loads(run("info", "--store", str(store), "--format", "json").stdout)[0]
    assert info["damaged_files"] == 2
    c = run("compact", "--store", str(store))
    assert c.returncode == 1 and "check --repair" in one_line_error(c.stderr)
    chk = run("check", "--store", str(store), "--json")
    assert chk.returncode == 1
    found = json.loads(chk.stdout)
    assert {d["path"] for d in found["damaged_files"]} == {
        files[0].relative_to(store).as_posix(),
        files[-1].relative_to(store).as_posix(),
    }
    rep = run("check", "--repair", "--store", str(store), "--json")
    assert rep.returncode == 0, rep.stderr
    fixed = json.loads(rep.stdout)
    assert fixed["repaired"] and fixed["objects_to_reingest"]
    left = count(store)
    assert left == total - fixed["records_dropped"]
    again = run("ingest", str(tmp_path / "logs"), "--store", str(store), "--json")
    assert json.loads(again.stdout)["records"] == fixed["records_dropped"]
    assert count(store) == total
    assert run("check", "--store", str(store)).returncode == 0
    assert run("compact", "--store", str(store)).returncode == 0
    assert count(store) == total


def test_a_flipped_byte_fails_the_checksum(tmp_path):
    store, total, files = _store_of_three_txns(tmp_path)
    data = bytearray(files[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    files[1].write_bytes(bytes(data))
    chk = run("check", "--store", str(store), "--json")
    assert chk.returncode == 1
    (bad,) = json.loads(chk.stdout)["damaged_files"]
    assert "checksum" in bad["reason"]
    assert run("check", "--repair", "--store", str(store)).returncode == 0
    run("ingest", str(tmp_path / "logs"), "--store", str(store))
    assert count(store) == total


def test_repair_after_compaction_re_ingests_every_object_of_the_merged_file(tmp_path):
    store, total, _ = _store_of_three_txns(tmp_path)
    assert run("compact", "--store", str(store)).returncode == 0
    merged = sorted(store.glob("data/*/*.parquet"))
    merged[0].unlink()
    rep = json.loads(run("check", "--repair", "--store", str(store), "--json").stdout)
    assert rep["files_dropped"] == 1
    run("ingest", str(tmp_path / "logs"), "--store", str(store))
    s = vpcflow.open_store(store)
    n = s.sql(
        "SELECT count(*) AS n, count(DISTINCT (interface_id, srcport, start, srcaddr)) AS d "
        "FROM vpc_flow_logs"
    ).to_pylist()[0]
    assert n == {"n": total, "d": total}


# -- defect 7: a damaged manifest ------------------------------------------------------------


def _damage(journal: Path, kind: str) -> None:
    lines = journal.read_bytes().split(b"\n")
    i = next(k for k, raw in enumerate(lines) if b'"commit"' in raw)
    if kind == "nul":
        lines[i] = lines[i][:40] + b"\0" + lines[i][41:]
    elif kind == "random":
        lines.insert(i + 1, bytes(range(128, 256)))
    elif kind == "list":
        lines.insert(i + 1, b"[1,2]")
    else:
        rec = json.loads(lines[i])
        if kind == "no-path":
            rec["files"][0].pop("path")
        elif kind == "escape":
            rec["files"][0]["path"] = "../../../etc/passwd"
        elif kind == "glob":
            rec["files"][0]["path"] = "data/*/*.parquet"
        lines[i] = json.dumps(rec).encode()
    journal.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("kind", ["nul", "random", "list", "no-path", "escape", "glob"])
def test_a_damaged_manifest_line_is_named_and_repaired(tmp_path, kind):
    store, total, _ = _store_of_three_txns(tmp_path)
    journal = store / "_vpcflow" / "manifest.jsonl"
    _damage(journal, kind)
    q = run("sql", "SELECT count(*) FROM vpc_flow_logs", "--store", str(store))
    assert q.returncode == 1
    err = one_line_error(q.stderr)
    assert "manifest.jsonl:" in err and "check --repair" in err
    with pytest.raises(StoreDamaged, match=r"manifest\.jsonl:\d+"):
        vpcflow.open_store(store).files()
    assert run("ingest", str(tmp_path / "logs"), "--store", str(store)).returncode == 1
    rep = run("check", "--repair", "--store", str(store), "--json")
    assert rep.returncode == 0, rep.stderr
    assert json.loads(rep.stdout)["manifest_damaged_lines"]
    assert list((store / "_vpcflow").glob("manifest.jsonl.damaged-*"))
    r = run("ingest", str(tmp_path / "logs"), "--store", str(store))
    assert r.returncode == 0, r.stderr
    s = vpcflow.open_store(store)
    n = s.sql(
        "SELECT count(*) AS n, count(DISTINCT (interface_id, srcport, start, srcaddr)) AS d "
        "FROM vpc_flow_logs"
    ).to_pylist()[0]
    assert n == {"n": total, "d": total}
    assert run("check", "--store", str(store)).returncode == 0


def test_only_a_torn_last_line_is_skipped_and_the_next_append_cuts_it(tmp_path):
    store, total, _ = _store_of_three_txns(tmp_path)
    journal = store / "_vpcflow" / "manifest.jsonl"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op":"commit","txn":"abc","objects":[{"uri":"x"')
    assert count(store) == total
    (tmp_path / "c.log").write_text(record(5) + "\n")
    assert vpcflow.open_store(store).ingest([str(tmp_path / "c.log")]).records == 1
    lines = journal.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(raw) for raw in lines[:-1])
    assert b'"txn":"abc"' not in journal.read_bytes()


# -- defect 9: DuckDB's temporary directory is no way out of the sandbox ---------------------


def test_nothing_outside_the_store_data_is_readable(tmp_path, monkeypatch):
    store, total, files = _store_of_three_txns(tmp_path)
    cwd = tmp_path / "cwd"
    (cwd / ".tmp").mkdir(parents=True)
    (cwd / ".tmp" / "leak.txt").write_text("secret\n")
    (cwd / "leak.txt").write_text("secret\n")
    targets = [
        ".tmp/leak.txt",
        str(cwd / ".tmp" / "leak.txt"),
        ".tmp/*",
        "**/leak.txt",
        "leak.txt",
        str(store / "_vpcflow" / "manifest.jsonl"),
        str(store / "data" / ".." / "_vpcflow" / "manifest.jsonl"),
        str(store / "_vpcflow" / "**"),
        "/etc/passwd",
    ]
    monkeypatch.chdir(cwd)
    s = vpcflow.open_store(store, create=False)
    for t in targets:
        for fn in ("read_text", "read_csv", "glob"):
            col = "*" if fn != "read_text" else "content"
            with pytest.raises(vpcflow.VpcflowError):
                rows = s.sql(f"SELECT {col} FROM {fn}('{t}')", dialect="duckdb").to_pylist()
                assert "secret" not in str(rows) and "root:" not in str(rows)
    s.close()
    q = run_proc("sql", "SELECT content FROM read_text('.tmp/leak.txt')", "--dialect", "duckdb",
                 "--store", str(store), cwd=cwd)  # fmt: skip
    assert q.returncode == 1 and "secret" not in q.stdout
    # The store's own data stays readable, and the engine leaves no temporary directory.
    ok = run_proc("sql", "SELECT count(*) AS n FROM vpc_flow_logs", "--store", str(store), cwd=cwd)
    assert ok.returncode == 0 and str(total) in ok.stdout
    assert not list((store / "_vpcflow").glob("tmp/*"))


# -- bad input that went unreported ----------------------------------------------------------


def test_comment_blank_and_header_lines_are_counted(tmp_path):
    p = tmp_path / "a.log"
    p.write_text(
        "\n".join(
            [
                HEADER,
                record(1),
                "",
                "   ",
                "# a comment",
                "#" + record(2),
                "# " + record(3),
                record(4),
            ]
        )
        + "\n"
    )
    r = run("ingest", str(p), "--store", str(tmp_path / "s"), "--json")
    rep = json.loads(r.stdout)
    assert rep["records"] == 2 and rep["bad_lines"] == 2
    assert rep["skipped_lines"] == {"header": 1, "blank": 2, "comment": 1}
    assert [q["line"] for q in vpcflow.open_store(tmp_path / "s").quarantined()] == [6, 7]
    text = run("ingest", str(p), "--store", str(tmp_path / "t"))
    assert "2 blank lines skipped" in text.stdout and "1 comment line skipped" in text.stdout


def test_files_left_out_of_a_directory_are_listed(tmp_path):
    write_s3_layout(tmp_path / "logs", files=2, per_file=10)
    (tmp_path / "logs" / "big.log").write_text("\n".join(record(i) for i in range(50)) + "\n")
    r = run("ingest", str(tmp_path / "logs"), "--store", str(tmp_path / "s"), "--json")
    rep = json.loads(r.stdout)
    assert rep["ignored_files"] == 1 and rep["ignored"] == [str(tmp_path / "logs" / "big.log")]
    t = run("ingest", str(tmp_path / "logs"), "--store", str(tmp_path / "t"))
    assert "big.log" in t.stderr and "left out" in t.stderr
    # Given as a SOURCE of its own, it is ingested.
    assert json.loads(
        run("ingest", str(tmp_path / "logs" / "big.log"), "--store", str(tmp_path / "s"), "--json").stdout
    )["records"] == 50  # fmt: skip


@pytest.mark.parametrize("damage", ["truncated", "bad-crc", "corrupt-middle", "trailing-junk"])
def test_damaged_gzip_keeps_what_precedes_the_damage(tmp_path, damage):
    lines = [record(i) for i in range(30000)]
    good = gzip.compress(("\n".join(lines) + "\n").encode(), 6)
    data = bytearray(good)
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "bad-crc":
        data[-8] ^= 0xFF
    elif damage == "corrupt-middle":
        mid = len(data) * 2 // 3
        data[mid : mid + 64] = os.urandom(64)
    else:
        data += b"this is not gzip"
    for name, payload in (("a.log.gz", bytes(data)),):
        p = tmp_path / name
        p.write_bytes(payload)
        r = vpcflow.open_store(tmp_path / f"s-{damage}").ingest([str(p)])
        assert r.failed_files == 1
        assert any("before the damage were stored" in p["reason"] for p in r.problems)
        if damage in ("bad-crc", "trailing-junk"):
            assert r.records == len(lines)
        elif damage == "truncated":
            assert len(lines) // 3 < r.records < len(lines)
            # What was stored is exactly the first records, whole.
            s = vpcflow.open_store(tmp_path / f"s-{damage}")
            got = s.sql("SELECT max(bytes) - 1000000000 AS last FROM vpc_flow_logs").to_pylist()
            assert got[0]["last"] == r.records - 1
        else:  # the records before the damage at least; what decodes into junk is quarantined
            assert r.records >= len(lines) // 2


def test_a_damaged_gzip_member_in_the_large_object_path_is_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr("vpcflow.store.ingest.SMALL_OBJECT", 1 << 10)
    data = bytearray(gzip.compress(("\n".join(record(i) for i in range(30000)) + "\n").encode()))
    data[-8] ^= 0xFF
    p = tmp_path / "a.log.gz"
    p.write_bytes(bytes(data))
    r = vpcflow.open_store(tmp_path / "s").ingest([str(p)])
    assert (r.records, r.failed_files) == (30000, 1)


def test_gzip_stream_reports_zlib_errors_after_the_readable_part():
    import io

    from vpcflow.sources.local import GzipStream

    raw = ("\n".join(record(i) for i in range(5000)) + "\n").encode()
    bad = bytearray(gzip.compress(raw))
    bad[-8] ^= 1
    s = GzipStream(io.BytesIO(bytes(bad)))
    assert s.read(len(raw) + 10) == raw
    with pytest.raises(zlib.error, match="CRC"):
        s.read(10)


def test_standard_input_twice_is_stored_once(tmp_path):
    data = "\n".join(record(i) for i in range(20)) + "\n"
    store = str(tmp_path / "s")
    a = json.loads(run_proc("ingest", "-", "--store", store, "--json", input=data).stdout)
    b = json.loads(run_proc("ingest", "-", "--store", store, "--json", input=data).stdout)
    assert (a["records"], b["records"], b["skipped_files"]) == (20, 0, 1)
    other = data.replace("ACCEPT", "REJECT")
    c = json.loads(run("ingest", "-", "--store", store, "--json", input=other).stdout)
    assert c["records"] == 20
    assert count(store) == 40
    # gzip on standard input streams too
    gz = subprocess.run(
        [sys.executable, "-m", "vpcflow", "ingest", "-", "--store", str(tmp_path / "g"), "--json"],
        input=gzip.compress(data.encode()),
        capture_output=True,
    )
    assert json.loads(gz.stdout)["records"] == 20
