"""The command line's conventions, through the real entry point: output at any size and width,
escaped text, `| head`, Ctrl-C, bad settings, -o FILE, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from flowdata import HEADER, v2_lines, write_s3_layout
from vpcflow.api import open_store
from vpcflow.cli import main

VPCFLOW = [sys.executable, "-m", "vpcflow"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("conv")
    (d / "a.log").write_text(HEADER + "\n" + "\n".join(v2_lines(3000, seed=3)) + "\n")
    res = CliRunner().invoke(main, ["ingest", str(d / "a.log"), "--store", str(d / "s")])
    assert res.exit_code == 0, res.output
    return str(d / "s")


def cli(*args, env=None):
    return CliRunner(env=env).invoke(main, list(args))


def run(*args, env=None, timeout=120, **kw):
    e = {**os.environ, **(env or {})}
    return subprocess.run(
        [*VPCFLOW, *args], capture_output=True, text=True, env=e, timeout=timeout, **kw
    )


def reference(store, sql):
    """The same question answered by DuckDB over the store's Parquet files directly."""
    files = [str(p) for p in Path(store, "data").rglob("*.parquet")]
    return duckdb.sql(sql.format(t=f"read_parquet({files!r})")).fetchall()


# -- formats and -o ----------------------------------------------------------------------------


def test_csv_json_jsonl_and_table_give_the_same_rows(store, tmp_path):
    q = "SELECT srcaddr, dstport, sum(bytes) AS b FROM vpc_flow_logs GROUP BY 1, 2"
    want = sorted(
        (a, p, b)
        for a, p, b in reference(
            store, "SELECT srcaddr, dstport, sum(bytes) FROM {t} GROUP BY 1, 2"
        )
    )
    as_json = json.loads(cli("sql", q, "--store", store, "--format", "json", "--limit", "0").stdout)
    assert sorted((r["srcaddr"], r["dstport"], r["b"]) for r in as_json) == want
    lines = cli("sql", q, "--store", store, "--format", "jsonl", "--limit", "0").stdout.splitlines()
    assert sorted(tuple(json.loads(x).values()) for x in lines) == want
    res = cli(
        "sql", q, "--store", store, "--format", "csv", "--limit", "0", "-o", str(tmp_path / "r.csv")
    )
    assert res.exit_code == 0 and res.stdout == ""
    assert f"Wrote {len(want):,} rows to" in res.stderr
    rows = list(csv.DictReader(open(tmp_path / "r.csv", newline="")))
    assert sorted((r["srcaddr"], int(r["dstport"]), int(r["b"])) for r in rows) == want
    table = cli("sql", q, "--store", store, "--limit", "0").stdout
    assert f"{len(want):,} rows" in table and want[0][0] in table


def test_every_row_printing_command_takes_format_and_output(store, tmp_path):
    for args in (
        ["schema"],
        ["info", "--store", store],
        ["quarantine", "--store", store],
        ["settings"],
        ["queries"],
        ["detect", "--store", store],
        ["troubleshoot", "--store", store],
        ["enrich", "ip", "8.8.8.8"],
        ["query", "rejects-by-source", "--store", store],
        ["insights", "stats count(*) by action", "--store", store],
    ):
        out = tmp_path / f"{args[0]}.jsonl"
        res = cli(*args, "--format", "jsonl", "-o", str(out))
        assert res.exit_code == 0, (args, res.output)
        for line in out.read_text().splitlines():
            assert isinstance(json.loads(line), dict)
        res = cli(*args, "--format", "csv")
        assert res.exit_code == 0, (args, res.output)


def test_detect_lists_its_detectors_and_refuses_others(store):
    res = cli("detect", "--help")
    assert "port-scan" in res.stdout and "rejected-spike" in res.stdout
    res = cli("detect", "--detector", "nope", "--store", store)
    assert res.exit_code == 2 and "port-scan" in res.stderr


def test_every_option_has_help_text():
    import click

    def walk(cmd, path):
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                assert p.help, f"{' '.join(path)} {p.opts[0]} has no help text"
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(main, ["vpcflow"])


# -- large and wide results ----------------------------------------------------------------------


def test_wide_rows_fold_into_records_with_whole_headers(store):
    res = cli("sql", "SELECT * FROM vpc_flow_logs LIMIT 2", "--store", store, env={"COLUMNS": "80"})
    lines = res.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80
    assert lines[0].startswith("-[ RECORD 1 ]")
    names = [x.split("|")[0].strip() for x in lines if "|" in x]
    assert names[:3] == ["version", "account_id", "interface_id"] and "reject_reason" in names


def test_cells_too_wide_are_cut_headers_are_not(store):
    q = (
        "SELECT interface_id AS the_interface_identifier, repeat(srcaddr, 8) AS long_text, "
        "dstport FROM vpc_flow_logs LIMIT 3"
    )
    res = cli("sql", q, "--store", store, env={"COLUMNS": "70"})
    lines = res.stdout.splitlines()
    assert max(len(x) for x in lines) <= 70
    assert "the_interface_identifier" in lines[1] and "long_text" in lines[1]
    assert any("…" in x for x in lines[3:6])


def test_a_large_table_streams_to_head(tmp_path):
    # 60,000 rows printed as a table with no limit: the first lines arrive at once and the
    # command ends cleanly when `head` stops reading.
    root = tmp_path / "logs"
    write_s3_layout(root, files=20, per_file=3000)
    assert cli("ingest", str(root), "--store", str(tmp_path / "s")).exit_code == 0
    p = subprocess.Popen(
        [*VPCFLOW, "sql", "SELECT * FROM vpc_flow_logs", "--format", "table", "--limit", "0",
         "--store", str(tmp_path / "s")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first = [p.stdout.readline() for _ in range(2)]
    p.stdout.close()
    assert p.wait(timeout=120) == 0, p.stderr.read()
    assert first[0].strip() and first[1].strip()


@pytest.mark.parametrize(
    "args",
    [
        ["schema"],
        ["settings"],
        ["quarantine"],
        ["troubleshoot"],
        ["detect"],
        ["sql", "SELECT * FROM vpc_flow_logs", "--limit", "0"],
        ["sql", "SELECT * FROM vpc_flow_logs", "--limit", "0", "--format", "csv"],
        ["insights", "fields srcAddr | limit 3000"],
    ],
)
def test_head_1_exits_0(store, args):
    if args[0] not in ("schema", "settings"):
        args = [*args, "--store", store]
    cmd = " ".join(map(_sh, [*VPCFLOW, *args])) + " | head -1; exit ${PIPESTATUS[0]}"
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "Broken pipe" not in res.stderr


def _sh(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def test_time_limit_covers_printing(store):
    # The query itself is instant; turning 50M rows into JSON is what takes the time.
    res = run(
        "sql", "SELECT * FROM range(50000000)", "--dialect", "duckdb", "--limit", "0",
        "--format", "json", "--timeout", "2", "--store", store,
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "Error: query cancelled after the 2 s time limit (raise --timeout, 0 for none)"
    ]


# -- text from the records never drives the terminal -----------------------------------------


HOSTILE = (
    "SELECT '[bold]B[/bold]' AS markup, '[/x]' AS closing, "
    "chr(27) || ']0;PWNED' || chr(7) AS osc, 'a' || chr(10) || 'b' AS newline, "
    "chr(8238) || 'txt' AS bidi"
)


def test_table_shows_markup_and_control_characters_as_text(store):
    res = cli("sql", HOSTILE, "--store", store)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "[bold]B[/bold]" in out and "[/x]" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;PWNED\\x07" in out and "a\\nb" in out and "\\u202etxt" in out


def test_csv_quotes_control_characters(store):
    res = cli("sql", HOSTILE, "--store", store, "--format", "csv")
    row = next(csv.DictReader(io.StringIO(res.stdout)))
    assert row["osc"] == "\x1b]0;PWNED\x07" and row["newline"] == "a\nb"  # data kept exactly
    assert '"\x1b]0;PWNED\x07"' in res.stdout  # and quoted


def test_json_escapes_control_characters(store):
    res = cli("sql", HOSTILE, "--store", store, "--format", "jsonl")
    assert "\x1b" not in res.stdout and json.loads(res.stdout)["osc"] == "\x1b]0;PWNED\x07"


def test_record_fields_reach_the_table_escaped(tmp_path):
    # A free-text field of a record (here reject-reason, version 8) holding markup and ESC.
    fmt = "version srcaddr dstaddr action log-status reject-reason"
    line = "8 10.0.0.1 10.0.0.2 REJECT OK [red]x[/red]\x1b[2J"
    (tmp_path / "r.log").write_text(fmt + "\n" + line + "\n")
    res = cli("ingest", str(tmp_path / "r.log"), "--store", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    res = cli("sql", "SELECT reject_reason FROM vpc_flow_logs", "--store", str(tmp_path / "s"))
    got = open_store(str(tmp_path / "s")).sql("SELECT reject_reason FROM vpc_flow_logs")
    if got.column(0).to_pylist() == [None]:
        pytest.skip("the parser keeps no such value")  # nothing reaches the terminal at all
    assert "[red]x[/red]\\x1b[2J" in res.stdout and "\x1b" not in res.stdout


# -- interrupts ----------------------------------------------------------------------------------


def _live_ctrl_c() -> None:
    """In the child: Ctrl-C as a terminal's shell leaves it. A test process may have inherited
    SIGINT ignored or blocked (a CI runner's background job, another library in the same
    worker), and both pass on to every child it starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _interrupt(args, wait_for: str | None = None, delay: float = 2.0, **kw):
    p = subprocess.Popen(
        [*VPCFLOW, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_live_ctrl_c, **kw,
    )  # fmt: skip
    time.sleep(delay)
    os.killpg(p.pid, signal.SIGINT)  # as Ctrl-C does: the whole process group
    out, err = p.communicate(timeout=60)
    return p.returncode, out, err


def test_ctrl_c_during_a_query_is_one_line(store):
    rc, _, err = _interrupt(
        ["sql", "SELECT count(*) FROM range(100000000000) a", "--dialect", "duckdb",
         "--timeout", "0", "--store", store],
        delay=4,
    )  # fmt: skip
    assert rc == 130, err
    assert err.strip().splitlines() == ["Interrupted. Nothing was changed."]


def test_ctrl_c_during_ingest_is_one_line_and_keeps_what_was_committed(tmp_path):
    root = tmp_path / "logs"
    write_s3_layout(root, files=12, per_file=500)
    # Standard input stays open: the ingest waits there, its workers started, when Ctrl-C comes.
    rc, _, err = _interrupt(
        ["ingest", str(root), "-", "--store", str(tmp_path / "s")], delay=6,
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert rc == 130, err
    assert err.strip().splitlines() == [
        "Interrupted. What was committed is kept; an ingest run again picks up from there."
    ]
    res = cli("ingest", str(root), "--store", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    assert open_store(str(tmp_path / "s")).count() == 6000


# -- settings ------------------------------------------------------------------------------------


def test_a_bad_setting_does_not_break_help():
    res = run("--help", env={"VPCFLOW_ROW_LIMIT": "abc"})
    assert res.returncode == 0 and "Usage" in res.stdout


def test_a_bad_setting_fails_only_where_used(store):
    res = run("sql", "SELECT 1", "--store", store, env={"VPCFLOW_MEMORY_LIMIT": "lots"})
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "Error: VPCFLOW_MEMORY_LIMIT='lots' is not valid: expected a size like 2GB, 512MB or "
        "4GiB, or a percentage of RAM like 50%; unset it for the default (25%)"
    ]
    res = run("schema", "--format", "csv", env={"VPCFLOW_TIME_LIMIT": "x"})
    assert res.returncode == 0 and res.stderr == ""
    res = run("settings", "--format", "json", env={"VPCFLOW_TIME_LIMIT": "x"})
    assert res.returncode == 1
    rows = {r["env"]: r for r in json.loads(res.stdout)}
    assert rows["VPCFLOW_TIME_LIMIT"]["value"] == "x (invalid)"
    assert "VPCFLOW_TIME_LIMIT='x' is not valid: expected a number of seconds" in res.stderr
    res = run("sql", "SELECT 1", "--store", store, env={"VPCFLOW_ROW_LIMIT": "-5"})
    assert res.returncode == 1 and "VPCFLOW_ROW_LIMIT='-5'" in res.stderr


# -- one-line errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ("SELECT 'abc", "SQL syntax error"),
        # Trino comments do not nest (three statements); DuckDB's do (an unclosed comment).
        ("SELECT 1 /* /* */ ; x ; /* */", "SQL syntax error|one statement at a time"),
        ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "nested too deeply"),
        ("SELECT nope FROM vpc_flow_logs", "column nope does not exist"),
        ("SELECT * FROM other", "table other does not exist; the tables are vpc_flow_logs"),
        ("SELECT no_such_fn(1)", "function no_such_fn is not known"),
    ],
)
def test_bad_sql_is_one_line(store, query, expected):
    for dialect in ("athena", "duckdb"):
        res = cli("sql", query, "--store", store, "--dialect", dialect)
        assert res.exit_code == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and any(e in lines[0] for e in expected.split("|")), lines
        assert "SQL run" not in lines[0] and "Binder Error" not in lines[0]


def test_deeply_nested_insights_is_one_line(store):
    res = cli("insights", "filter " + "(" * 3000 + "1=1" + ")" * 3000, "--store", store)
    assert res.exit_code == 1 and res.stderr.strip().splitlines() == [
        "Error: Logs Insights query nested too deeply (hundreds of levels of parentheses); "
        "simplify it"
    ]


def test_explain_with_no_record_is_one_line():
    res = CliRunner().invoke(main, ["explain"], input="garbage line\n")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: <stdin>: no flow-log records to explain")
    assert "<stdin>:1: 2 fields" in lines[0]


def test_enrich_ip_refuses_what_is_not_an_address():
    res = cli("enrich", "ip", "not-an-ip", "8.8.8.8")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.strip() == "Error: not an IPv4 or IPv6 address: 'not-an-ip'"


def test_enrich_update_from_a_file_and_the_missing_file_warning_once(tmp_path, caplog):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "VPCFLOW_IP_RANGES_FILE": ""}
    first = run("enrich", "ip", "8.8.8.8", "--format", "csv", env=env)
    second = run("enrich", "ip", "8.8.8.8", "--format", "csv", env=env)
    assert "no AWS IP ranges file" in first.stderr and second.stderr == ""
    fixture = Path(__file__).parent / "data" / "enrich" / "ip-ranges.json"
    res = run("enrich", "update", "--file", str(fixture), env=env)
    assert res.returncode == 0 and "Saved 8 prefixes" in res.stdout
    saved = tmp_path / "xdg" / "vpcflow" / "ip-ranges.json"
    assert saved.read_bytes() == fixture.read_bytes()
    res = run("enrich", "update", "--file", str(tmp_path / "missing.json"), env=env)
    assert res.returncode == 1 and "cannot read" in res.stderr


def test_ingest_summary_counts_in_the_singular(tmp_path):
    (tmp_path / "one.log").write_text(HEADER + "\n" + v2_lines(1)[0] + "\n")
    res = cli("ingest", str(tmp_path / "one.log"), "--store", str(tmp_path / "s"))
    assert "Ingested 1 record from 1 file in" in res.stdout
    assert "0 bad lines, 0 unreadable files, 1 header line skipped." in res.stdout


# -- generate ------------------------------------------------------------------------------------


def test_generate_refuses_a_non_empty_directory_unless_forced(tmp_path):
    out = tmp_path / "flows"
    assert cli("generate", str(out), "-n", "20000", "--attacks", "all").exit_code == 0
    assert (out / "labels.json").exists()
    res = cli("generate", str(out), "-n", "500")
    assert res.exit_code == 1 and "--force" in res.stderr
    assert (out / "labels.json").exists()  # untouched
    res = cli("generate", str(out), "-n", "500", "--force", "--json")
    assert res.exit_code == 0, res.output
    assert not (out / "labels.json").exists()  # replaced, not mixed
    assert json.loads(res.stdout)["records"] == 500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows"]


def test_an_interrupted_generate_leaves_nothing(tmp_path):
    from vpcflow.generate import generate

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "flows", records=5000, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_generated_data_is_recent_by_default(tmp_path):
    out = tmp_path / "flows"
    assert cli("generate", str(out), "-n", "2000").exit_code == 0
    assert cli("ingest", str(out), "--store", str(tmp_path / "s")).exit_code == 0
    res = cli(
        "sql",
        "SELECT count(*) AS n FROM vpc_flow_logs WHERE date > current_date - interval '7' day",
        "--store", str(tmp_path / "s"), "--format", "json",
    )  # fmt: skip
    assert json.loads(res.stdout) == [{"n": 2000}]


def test_sums_are_bigint_through_the_api(store):
    t = open_store(store).sql("SELECT sum(bytes) AS b, count(*) AS n FROM vpc_flow_logs")
    assert str(t.schema.field("b").type) == "int64"
    files = [str(p) for p in Path(store, "data").rglob("*.parquet")]
    assert t.column("b")[0].as_py() == sum(
        pq.read_table(f, columns=["bytes"]).column(0).to_pylist()[i] or 0
        for f in files
        for i in range(pq.read_metadata(f).num_rows)
    )
