"""The core commands through the real entry point (a subprocess of `python -m vpcflow`)."""

import json
import os
import subprocess
import sys

from flowdata import HEADER, v2_lines, write_s3_layout


def run(*args, input=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "vpcflow", *args],
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_ingest_json_then_sql_json_round_trip(tmp_path):
    total = write_s3_layout(tmp_path / "logs", files=2, per_file=40)
    store = str(tmp_path / "store")
    r = run("ingest", str(tmp_path / "logs"), "--store", store, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert {k: report[k] for k in ("files", "records", "bad_lines", "skipped_files")} == {
        "files": 2,
        "records": total,
        "bad_lines": 0,
        "skipped_files": 0,
    }
    r = run(
        "sql",
        "SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY action ORDER BY action",
        "--store",
        store,
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert sum(x["n"] for x in rows) == total and {x["action"] for x in rows} <= {
        "ACCEPT",
        "REJECT",
    }
    r = run(
        "sql",
        "SELECT from_unixtime(start) AS t FROM vpc_flow_logs ORDER BY start LIMIT 1",
        "--store",
        store,
        "--format",
        "json",
    )
    assert json.loads(r.stdout) == [{"t": "2024-03-01T00:00:00Z"}]
    r = run(
        "sql",
        "SELECT srcport, dstport FROM vpc_flow_logs ORDER BY start LIMIT 2",
        "--store",
        store,
        "--format",
        "csv",
    )
    assert r.stdout.splitlines()[0] == "srcport,dstport" and len(r.stdout.splitlines()) == 3
    r = run(
        "sql",
        "SELECT interface_id FROM vpc_flow_logs",
        "--store",
        store,
        "--format",
        "jsonl",
        "--limit",
        "3",
    )
    assert len(r.stdout.splitlines()) == 3 and "cut at 3 rows" in r.stderr


def test_stdin_and_explicit_log_format(tmp_path):
    store = str(tmp_path / "store")
    lines = "\n".join(v2_lines(5)) + "\n"
    r = run("ingest", "-", "--store", store, "--json", input=lines)
    assert json.loads(r.stdout)["records"] == 5
    custom = "10.0.0.1 10.0.0.2 443\n10.0.0.3 10.0.0.4 22\n"
    r = run(
        "ingest",
        "-",
        "--store",
        store,
        "--json",
        "--log-format",
        "${srcaddr} ${dstaddr} ${dstport}",
        input=custom,
    )
    assert json.loads(r.stdout)["records"] == 2
    r = run(
        "sql",
        "SELECT srcaddr, dstport FROM vpc_flow_logs WHERE version IS NULL ORDER BY dstport",
        "--store",
        store,
        "--format",
        "json",
    )
    assert json.loads(r.stdout) == [
        {"srcaddr": "10.0.0.3", "dstport": 22},
        {"srcaddr": "10.0.0.1", "dstport": 443},
    ]


def test_errors_are_one_line_with_nonzero_exit(tmp_path):
    r = run("ingest", str(tmp_path / "missing"), "--store", str(tmp_path / "s"))
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    r = run("sql", "SELECT 1", "--store", str(tmp_path / "nostore"))
    assert r.returncode == 1 and "no vpcflow store" in r.stderr
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "x").write_text("x")
    r = run("ingest", str(tmp_path), "--store", str(tmp_path / "s2"))
    assert r.returncode == 1 and "not a vpcflow store" in r.stderr
    r = run(
        "ingest", "-", "--store", str(tmp_path / "s3"), "--log-format", "${srcaddr x}", input="x\n"
    )
    assert r.returncode == 1 and "not a flow-log field name" in r.stderr
    store = str(tmp_path / "s4")
    run("ingest", "-", "--store", store, input="\n".join(v2_lines(1)) + "\n")
    r = run("sql", "SELECT * FROM read_csv('/etc/passwd')", "--store", store, "--dialect", "duckdb")
    assert r.returncode == 1 and "refused" in r.stderr and "Traceback" not in r.stderr


def test_mixed_good_and_bad_file_counts(tmp_path):
    good = v2_lines(30, seed=4)
    bad = ["2 123 eni-1 nonsense", "", "\x00\x01\x02"]
    (tmp_path / "f.log").write_text("\n".join([HEADER, *good[:10], *bad, *good[10:]]) + "\n")
    r = run("ingest", str(tmp_path / "f.log"), "--store", str(tmp_path / "s"), "--json")
    rep = json.loads(r.stdout)
    assert (rep["records"], rep["bad_lines"]) == (30, 2)
    assert sorted(p["line"] for p in rep["problems"]) == [12, 14]
    r = run("quarantine", "--store", str(tmp_path / "s"), "--format", "json")
    assert [q["line"] for q in json.loads(r.stdout)] == [12, 14]


def test_schema_command_lists_every_field():
    r = run("schema", "--format", "json")
    rows = json.loads(r.stdout)
    assert rows[0]["field"] == "version" and rows[-1]["column"] == "date"
    assert {"reject-reason", "ecs-task-id", "traffic-path"} <= {x["field"] for x in rows}
