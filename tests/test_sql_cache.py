"""The SQL cache (a repeated query loads no translator) and the printing of plain results from
Python values (no pyarrow): same answers, same errors, same guard."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import vpcflow
from flowdata import write_s3_layout
from vpcflow import enrich
from vpcflow.cli import main
from vpcflow.cli.output import emit_stream
from vpcflow.engines import functions, sqlcache
from vpcflow.engines.dialects import to_engine_sql

TALKERS = (
    "SELECT srcaddr, dstaddr, sum(bytes) AS total FROM vpc_flow_logs "
    "GROUP BY srcaddr, dstaddr ORDER BY total DESC, srcaddr, dstaddr LIMIT 10"
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("VPCFLOW_CACHE_DIR", str(tmp_path / "cache"))  # this test's own cache
    write_s3_layout(tmp_path / "logs", files=2, per_file=200)
    path = tmp_path / "store"
    with vpcflow.open_store(path) as st:
        assert st.ingest([str(tmp_path / "logs")]).records == 400
    sqlcache.clear_memo()
    yield path
    sqlcache.clear_memo()


def _entries() -> list[Path]:
    return sorted(sqlcache.directory().glob("*/*.json"))


def _vpcflow(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`vpcflow ARGV` in a fresh interpreter; its stderr's last line lists its modules."""
    code = (
        "import sys, json\n"
        "from vpcflow.cli import main\n"
        "try:\n"
        f"    main({list(argv)!r}, prog_name='vpcflow')\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )


def _modules(r: subprocess.CompletedProcess) -> set[str]:
    return set(json.loads(r.stderr.strip().splitlines()[-1]))


def test_a_repeated_query_loads_neither_sqlglot_nor_pyarrow(store):
    argv = ("sql", TALKERS, "--store", str(store), "--format", "csv")
    first = _vpcflow(*argv)
    assert "sqlglot" in _modules(first)  # the first run translates
    assert len(_entries()) == 1
    again = _vpcflow(*argv)
    assert again.stdout == first.stdout and again.stdout.count("\n") == 11
    mods = {m.split(".")[0] for m in _modules(again)}
    assert "duckdb" in mods
    assert mods.isdisjoint({"sqlglot", "pyarrow", "numpy", "rich"}), sorted(mods)
    # the default table output loads rich, nothing else heavy
    table = _vpcflow("sql", TALKERS, "--store", str(store))
    assert "10 rows" in table.stdout
    assert {m.split(".")[0] for m in _modules(table)}.isdisjoint({"sqlglot", "pyarrow", "numpy"})


def test_insights_and_named_queries_repeated_load_no_translator(store):
    for argv in (
        ("insights", "stats sum(bytes) as b by srcAddr | sort b desc | limit 5"),
        ("query", "scans-by-port"),
    ):
        full = (*argv, "--store", str(store), "--format", "jsonl")
        first = _vpcflow(*full)
        assert first.stdout, first.stderr
        again = _vpcflow(*full)
        assert again.stdout == first.stdout
        assert "sqlglot" not in {m.split(".")[0] for m in _modules(again)}, argv


def test_the_cache_is_keyed_by_everything_the_translation_depends_on(monkeypatch):
    k = sqlcache.key("SELECT 1", "athena", "duckdb", None, ("vpc_flow_logs:a,b",))
    assert k == sqlcache.key("SELECT 1", "ATHENA", "duckdb", None, ("vpc_flow_logs:a,b",))
    others = {
        sqlcache.key("SELECT 2", "athena", "duckdb", None, ("vpc_flow_logs:a,b",)),
        sqlcache.key("SELECT 1", "duckdb", "duckdb", None, ("vpc_flow_logs:a,b",)),
        sqlcache.key("SELECT 1", "athena", "spark", None, ("vpc_flow_logs:a,b",)),
        sqlcache.key("SELECT 1", "athena", "duckdb", (1, None), ("vpc_flow_logs:a,b",)),
        sqlcache.key("SELECT 1", "athena", "duckdb", None, ("vpc_flow_logs:a,b,c",)),
    }
    assert k not in others and len(others) == 5
    # window bounds are not part of the key (they are bound after), which ends are set is
    assert sqlcache.key("q", "athena", "duckdb", (1, 2)) == sqlcache.key(
        "q", "athena", "duckdb", (3, 4)
    )
    # another vpcflow version: another key
    monkeypatch.setattr(sqlcache, "__version__", "999.0")
    monkeypatch.setattr(sqlcache, "_code", None)
    assert sqlcache.key("SELECT 1", "athena", "duckdb", None, ("vpc_flow_logs:a,b",)) != k


def test_the_window_bound_after_translation_is_the_window_translated(store):
    q = "SELECT count(*) AS n FROM vpc_flow_logs"
    for window in ((1_709_251_050, 1_709_251_320), (None, 1_709_251_300), (1_709_251_150, None)):
        cached = sqlcache.bind_window(
            to_engine_sql(q, "athena", "duckdb", sqlcache.placeholder_window(window)), window
        )
        assert cached == to_engine_sql(q, "athena", "duckdb", window)
    with vpcflow.open_store(store) as st:
        direct = st.sql(
            'SELECT count(*) AS n FROM vpc_flow_logs WHERE "start" >= 1709251050 '
            'AND "start" < 1709251320'
        )
        assert 0 < direct.column("n")[0].as_py() < 400
        for _ in range(2):  # translated, then from the cache
            assert st.sql(q, since=1_709_251_050, until=1_709_251_320).equals(direct)
        # another window: the same entry, other bounds
        later = st.sql(q, since=1_709_251_300, until=1_709_251_320).column("n")[0].as_py()
        assert 0 < later < direct.column("n")[0].as_py()


def test_a_change_of_the_store_columns_translates_again(store, monkeypatch):
    from vpcflow.engines import duckdb as duckdb_engine

    with vpcflow.open_store(store) as st:
        expected = st.sql(TALKERS)
        assert len(_entries()) == 1
        st.engine.refresh()
        assert st.sql(TALKERS).equals(expected) and len(_entries()) == 1
        # files without a column (written before the catalogue had the field): another key
        real = duckdb_engine._present_columns
        monkeypatch.setattr(
            duckdb_engine, "_present_columns", lambda con, files: real(con, files) - {"vpc_id"}
        )
        st.engine.refresh()
        assert st.sql(TALKERS).equals(expected)
        assert len(_entries()) == 2


def test_a_damaged_entry_is_ignored_and_replaced(store):
    argv = ["sql", TALKERS, "--store", str(store), "--format", "csv"]
    first = CliRunner().invoke(main, argv)
    assert first.exit_code == 0, first.output
    (entry,) = _entries()
    for damage in (b"{not json", b"\xff\xfe", b"[]", json.dumps({"format": 1}).encode(), b""):
        entry.write_bytes(damage)
        sqlcache.clear_memo()
        r = CliRunner().invoke(main, argv)
        assert r.exit_code == 0 and r.output == first.output, (damage, r.output)
        assert json.loads(entry.read_text())["query"] == TALKERS  # written again


@pytest.mark.parametrize(
    "planted",
    [
        "COPY (SELECT 1 AS x) TO '{out}'",
        "SELECT 1 AS x; COPY (SELECT 1 AS x) TO '{out}'",
        "CREATE TABLE planted AS SELECT 1 AS x",
        "ATTACH '{out}' AS planted",
        "PRAGMA version",
        "not sql at all",
    ],
)
def test_a_planted_entry_never_runs_what_the_guard_refuses(store, tmp_path, planted):
    out = tmp_path / "planted.csv"
    with vpcflow.open_store(store) as st:
        expected = st.sql(TALKERS)
        eng = st.engine
        (entry,) = _entries()
        key = sqlcache.key(TALKERS, "athena", eng.dialect, None, eng._columns)
        assert entry.name == f"{key}.json"
        doc = json.loads(entry.read_text())
        doc["sql"] = planted.format(out=out)
        entry.write_text(json.dumps(doc))
        sqlcache.clear_memo()
        assert st.sql(TALKERS).equals(expected)
        assert not out.exists()
        assert json.loads(entry.read_text())["sql"] != doc["sql"]  # replaced by the translation
    # and through the command line
    doc["sql"] = planted.format(out=out)
    entry.write_text(json.dumps(doc))
    sqlcache.clear_memo()
    r = CliRunner().invoke(main, ["sql", TALKERS, "--store", str(store), "--format", "csv"])
    assert r.exit_code == 0 and r.output.count("\n") == 11 and not out.exists()


def test_refused_queries_are_refused_every_time_and_never_stored(store):
    for q in ("DROP TABLE vpc_flow_logs", "SELECT 1; SELECT 2", "COPY vpc_flow_logs TO 'x.csv'"):
        for _ in range(2):
            r = CliRunner().invoke(main, ["sql", q, "--store", str(store)])
            assert r.exit_code == 1 and "Error:" in r.output, (q, r.output)
    assert _entries() == []


def test_the_cache_can_be_turned_off_and_moved(store, tmp_path, monkeypatch):
    monkeypatch.setenv("VPCFLOW_SQL_CACHE", "false")
    r = CliRunner().invoke(main, ["sql", TALKERS, "--store", str(store), "--format", "csv"])
    assert r.exit_code == 0 and _entries() == []
    monkeypatch.setenv("VPCFLOW_SQL_CACHE", "true")
    monkeypatch.setenv("VPCFLOW_CACHE_DIR", str(tmp_path / "mine"))
    r = CliRunner().invoke(main, ["sql", TALKERS, "--store", str(store), "--format", "csv"])
    assert r.exit_code == 0
    assert len(list((tmp_path / "mine" / "sql").glob("*/*.json"))) == 1


# -- the same output from Python values as from Arrow ---------------------------------------------

QUERIES = [
    TALKERS,
    "SELECT * FROM vpc_flow_logs ORDER BY start, srcport LIMIT 30",
    "SELECT action, count(*) AS n, avg(bytes) AS mean, sum(packets) AS p, "
    "max(bytes) > 1000 AS big FROM vpc_flow_logs GROUP BY action ORDER BY action",
    'SELECT "date", min(from_unixtime(start)) AS first, max(to_iso8601(from_unixtime("end"))) '
    'AS last FROM vpc_flow_logs GROUP BY "date" ORDER BY "date"',
    'SELECT 1 AS a, 1 AS a, \'x,"y"\' AS "b c", NULL AS n, CAST(0.1 AS REAL) AS f, '
    "CAST(2.5 AS DOUBLE) AS d, 'tab\tnew\nline\u202e' AS s, 7 / 2 AS q",
    "SELECT CAST(12 AS DECIMAL(10, 0)) AS d0, CAST(1.25 AS DECIMAL(10, 2)) AS d2",
    "SELECT srcaddr FROM vpc_flow_logs WHERE srcaddr = 'none'",
    "SELECT srcport FROM vpc_flow_logs ORDER BY srcport",  # cut at the limit
    "SELECT ip_scope(srcaddr) AS scope, protocol_name(protocol) AS p, count(*) AS n "
    "FROM vpc_flow_logs GROUP BY 1, 2 ORDER BY 3 DESC",
    "SELECT count(*) AS n FROM interfaces",
    "SELECT contains('10.0.0.0/8', CAST(srcaddr AS IPADDRESS)) AS internal, count(*) AS n "
    "FROM vpc_flow_logs GROUP BY 1 ORDER BY 1",
    "SELECT CAST(9223372036854775807 AS BIGINT) AS big, CAST(-3 AS TINYINT) AS t",
]


def _printed(st, q: str, fmt: str, python: bool) -> tuple[str, bool]:
    out = io.StringIO()
    with st.engine.stream(q, limit=250, python=python) as stream:
        emit_stream(stream, fmt, out=out)
        return out.getvalue(), stream.truncated


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "jsonl"])
def test_python_values_print_exactly_as_arrow_does(store, fmt, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    used = 0
    with vpcflow.open_store(store) as st:
        for q in QUERIES:
            arrow = _printed(st, q, fmt, python=False)
            plain = _printed(st, q, fmt, python=True)
            assert plain == arrow, q
            with st.engine.stream(q, limit=250, python=True) as s:
                used += s.python
    # all but SELECT * (extra_fields is a MAP) and DECIMAL(10, 2) took the Python path
    assert used == len(QUERIES) - 2


def test_bigint_overflow_is_the_same_error_on_both_paths(store):
    q = "SELECT sum(x) AS s FROM (VALUES (9223372036854775807), (1)) t(x)"
    errors = []
    with vpcflow.open_store(store) as st:
        for python in (False, True):
            with pytest.raises(vpcflow.QueryError) as exc:
                _printed(st, q, "csv", python)
            errors.append(str(exc.value))
    assert errors[0] == errors[1] and "bigint range" in errors[0]


def test_functions_registered_on_first_use_are_the_enrichment_functions():
    assert set(functions.GROUPS["enrichment"]) == set(enrich.ADDRESS_FUNCTIONS) | set(enrich.MACROS)


def test_a_plain_query_registers_no_python_function(store):
    with vpcflow.open_store(store) as st:
        st.sql(TALKERS)
        assert st.engine._lazy == set()
        st.sql("SELECT ip_country('8.8.8.8') AS c, vpcflow_is_ipv6('::1') AS v6")
        assert st.engine._lazy == {"enrichment", "ipv6"}
        assert st.sql("SELECT interface_name('eni-1') AS n").column("n").to_pylist() == [None]
        assert "inventory" in st.engine._lazy
        with pytest.raises(vpcflow.QueryError, match="function no_such_fn is not known"):
            st.sql("SELECT no_such_fn(1)")
