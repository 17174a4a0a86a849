"""One behavioural suite on both engines: the same store, the same queries, the same answers.

Every case runs on DuckDB and on Spark (local mode, one shared session) over one store holding
the AWS documentation's example records, the troubleshooting scenarios and generated traffic
with labelled attacks (flow-log version 5). Results must match row for row, with the same column
names and types (``date`` a DATE on both). Cases with an ORDER BY that fixes the order compare
in order; the others compare as sorted lists.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from test_insights_data import LINES
from vpcflow import open_store
from vpcflow import queries as named_queries
from vpcflow.cli import main
from vpcflow.errors import ConfigError, QueryError, QueryRefused

DATA = Path(__file__).parent / "data" / "troubleshoot"
HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("engines")
    (d / "docs.log").write_text(HEADER + "\n" + "\n".join(LINES) + "\n")
    gen = CliRunner().invoke(
        main,
        ["generate", str(d / "gen"), "--records", "12000", "--seed", "7", "--version", "5"]
        + ["--attacks", "port-scan,host-sweep,brute-force", "--hours", "6"],
    )
    assert gen.exit_code == 0, gen.output
    store = d / "store"
    res = CliRunner().invoke(
        main,
        ["ingest", str(d / "docs.log"), str(DATA / "scenarios.log"), str(d / "gen")]
        + ["--store", str(store), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["records"] > 12000
    return store


@pytest.fixture(scope="module")
def stores(store_dir, spark):
    """The same store opened twice: once per engine."""
    duck = open_store(store_dir, create=False)
    duck.use_engine("duckdb")
    sp = open_store(store_dir, create=False)
    sp.use_engine("spark")
    yield {"duckdb": duck, "spark": sp}
    duck.close()
    sp.close()


def _value(v):
    if isinstance(v, float) and not math.isnan(v):
        return round(v, 9)
    return v


def _rows(table: pa.Table) -> list[tuple]:
    return [tuple(_value(v) for v in r.values()) for r in table.to_pylist()]


def _key(row):
    return tuple((v is None, str(v)) for v in row)


def same_answers(stores, run, ordered: bool):
    duck, spark = run(stores["duckdb"]), run(stores["spark"])
    assert spark.schema.names == duck.schema.names
    assert [f.type for f in spark.schema] == [f.type for f in duck.schema], (
        spark.schema,
        duck.schema,
    )
    a, b = _rows(duck), _rows(spark)
    if not ordered:
        a, b = sorted(a, key=_key), sorted(b, key=_key)
    assert b == a
    return duck


# -- Athena SQL ------------------------------------------------------------------------------

ATHENA = [
    # (query, ordered)
    ("SELECT action, count(*) AS n, sum(bytes) AS b FROM vpc_flow_logs GROUP BY action", False),
    (
        "SELECT date, day_of_week(date) AS dow, count(*) AS n FROM vpc_flow_logs "
        "GROUP BY date ORDER BY date",
        True,
    ),
    (
        "SELECT date_trunc('hour', from_unixtime(start)) AS hour, sum(packets) AS p "
        "FROM vpc_flow_logs WHERE date = (SELECT max(date) FROM vpc_flow_logs) GROUP BY 1 ORDER BY 1",
        True,
    ),
    (
        "SELECT srcaddr, dstport, count(DISTINCT dstaddr) AS hosts FROM vpc_flow_logs "
        "WHERE action = 'REJECT' AND dstport IN (22, 23, 3389, 445) GROUP BY 1, 2 "
        "HAVING count(*) > 1",
        False,
    ),
    (
        "SELECT interface_id, srcaddr, bytes, row_number() OVER (PARTITION BY interface_id "
        "ORDER BY bytes DESC, srcaddr, start) AS rk FROM vpc_flow_logs WHERE bytes IS NOT NULL",
        False,
    ),
    (
        "SELECT CAST(srcport AS varchar) || ':' || CAST(dstport AS varchar) AS ports, "
        "coalesce(flow_direction, 'unknown') AS dir, "
        "CASE WHEN protocol = 6 THEN 'tcp' WHEN protocol = 17 THEN 'udp' ELSE 'other' END AS p "
        "FROM vpc_flow_logs WHERE srcaddr LIKE '10.%' AND regexp_like(dstaddr, '^10\\.0\\.[0-9]+')",
        False,
    ),
    (
        'SELECT avg(bytes) AS mean, min(start) AS first, max("end") AS last, '
        "sum(CASE WHEN action = 'ACCEPT' THEN 1 ELSE 0 END) AS accepted FROM vpc_flow_logs",
        True,
    ),
    (
        "SELECT split_part(srcaddr, '.', 1) AS octet, count(*) AS n FROM vpc_flow_logs "
        "WHERE type = 'IPv4' GROUP BY 1",
        False,
    ),
    (
        "SELECT date_diff('second', from_unixtime(start), from_unixtime(\"end\")) AS secs, "
        "count(*) AS n FROM vpc_flow_logs WHERE start IS NOT NULL GROUP BY 1",
        False,
    ),
    (
        "WITH r AS (SELECT srcaddr, count(*) AS n FROM vpc_flow_logs WHERE action = 'REJECT' "
        "GROUP BY 1) SELECT srcaddr, n FROM r WHERE n >= 3 ORDER BY n DESC, srcaddr",
        True,
    ),
    (
        "SELECT ip_country(srcaddr) AS c, aws_service(dstaddr) AS s, ip_scope(srcaddr) AS sc, "
        "protocol_name(protocol) AS pn, tcp_flag_names(tcp_flags) AS f, count(*) AS n "
        "FROM vpc_flow_logs GROUP BY 1, 2, 3, 4, 5",
        False,
    ),
    (
        "SELECT pkt_src_aws_service, traffic_path, sublocation_type, count(*) AS n "
        "FROM vpc_flow_logs WHERE version = 5 GROUP BY 1, 2, 3",
        False,
    ),
    ("SELECT * FROM vpc_flow_logs WHERE dstport = 3389", False),
    (
        # Trino's integer division, cardinality of a map, format_datetime's Joda letters
        "SELECT bytes / packets AS per_packet, sum(bytes) / count(*) AS mean, "
        "cardinality(map(ARRAY['a'], ARRAY[1])) AS n, "
        "format_datetime(from_unixtime(start), 'yyyy-MM-dd HH:mm') AS t "
        "FROM vpc_flow_logs WHERE packets > 0 GROUP BY 1, 3, 4",
        False,
    ),
    (
        # Trino's date_format (MySQL letters) and to_iso8601, with literal letters in the format
        "SELECT date_format(from_unixtime(start), '%Y-%m-%dT%H:%i:%s at %W') AS t, "
        'to_iso8601(from_unixtime("end")) AS iso, count(*) AS n FROM vpc_flow_logs '
        "WHERE start IS NOT NULL GROUP BY 1, 2",
        False,
    ),
]


def test_strftime_formats_become_java_patterns():
    from vpcflow.engines.dialects import strftime_to_java

    assert strftime_to_java("%Y-%m-%dT%H:%M:%S.%gZ") == "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    assert strftime_to_java("it's %-d/%-m %I%p 100%%") == "'it''s' d/M hha 100'%'"
    assert strftime_to_java("%Q") is None  # no Java letter: the query is left to Spark as it is


@pytest.mark.parametrize("query,ordered", ATHENA, ids=[f"athena-{i}" for i in range(len(ATHENA))])
def test_athena_sql(stores, query, ordered):
    out = same_answers(stores, lambda s: s.sql(query), ordered)
    assert out.num_rows > 0  # every case has something to compare


def test_date_is_a_date_on_both(stores):
    for store in stores.values():
        t = store.sql("SELECT date FROM vpc_flow_logs WHERE date IS NOT NULL LIMIT 1")
        assert t.schema.field("date").type == pa.date32()
        assert isinstance(t.column(0)[0].as_py(), dt.date)


# -- named queries ---------------------------------------------------------------------------

NAMED_PARAMS = {
    "athena-https-top-servers": {"days": "100000", "limit": "100000"},
    "athena-rejected-tcp": {"limit": "100000"},
    "eni-traffic": {"eni": "eni-0123456789abcdef0"},
    "subnet-to-subnet": {"a": "10.0.1.0/24", "b": "10.0.2.0/24"},
    "scans-by-port": {"min_sources": "1"},
}
ORDERED = {"ci-https-destinations", "ci-rejected-tcp", "ci-top-talkers", "rejects-by-source"}


@pytest.mark.parametrize("name", [q.name for q in named_queries.all_queries()])
def test_named_query(stores, name):
    params = NAMED_PARAMS.get(name, {})
    same_answers(stores, lambda s: s.named_query(name, params), name in ORDERED)


# -- Logs Insights ---------------------------------------------------------------------------

INSIGHTS = [
    # (query, ordered): ordered when the sort fixes the order of every row
    (
        "stats sum(packets) as packetsTransferred by srcAddr, dstAddr "
        "| sort packetsTransferred desc",
        False,
    ),
    (
        "filter isIpv4InSubnet(srcAddr, '192.0.2.0/24') | stats sum(bytes) as bytesTransferred "
        "by dstAddr | sort bytesTransferred desc, dstAddr",
        True,
    ),
    ("filter protocol = 17 | stats count(*) by srcAddr", False),
    ("filter logStatus = 'SKIPDATA' | stats count(*) by bin(1h) as t | sort t", True),
    ("stats count(*) by srcAddr, dstAddr, srcPort, dstPort", False),
    ("stats avg(bytes), min(bytes), max(bytes) by dstPort", False),
    (
        "filter action = 'REJECT' | stats count(*) as numRejections by srcAddr "
        "| sort numRejections desc, srcAddr",
        True,
    ),
    ("filter srcAddr like /^10\\./ and action = 'REJECT' | stats count(*) by interfaceId", False),
    ("filter isIpv6InSubnet(srcAddr, '2001:db8::/32') | fields srcAddr, dstAddr, bytes", False),
    ("fields @timestamp, srcAddr, dstPort | filter dstPort in [22, 3389]", False),
    ("stats count(*) as n by bin(5m) as t | sort t", True),
]


@pytest.mark.parametrize(
    "query,ordered", INSIGHTS, ids=[f"insights-{i}" for i in range(len(INSIGHTS))]
)
def test_insights(stores, query, ordered):
    out = same_answers(stores, lambda s: s.insights(query), ordered)
    assert out.num_rows > 0


# -- detect and troubleshoot ------------------------------------------------------------------


def test_detect_same_findings(stores):
    found = {}
    for name, store in stores.items():
        found[name] = [f.as_dict() if hasattr(f, "as_dict") else vars(f) for f in store.detect()]
    assert found["spark"] == found["duckdb"]
    # the generated incidents are there to be found
    assert {f["type"] for f in found["duckdb"]} >= {"port-scan", "host-sweep"}


def test_troubleshoot_same_verdicts(stores):
    out = {}
    for name, store in stores.items():
        out[name] = [vars(v) for v in store.troubleshoot(include_allowed=True)]
    assert out["spark"] == out["duckdb"]
    assert any(v["verdict"] == "network-acl" for v in out["duckdb"])
    # the blocked ones only: the probes and replies folded in SQL (flows_rejected.sql)
    blocked = {name: [vars(v) for v in store.troubleshoot()] for name, store in stores.items()}
    assert blocked["spark"] == blocked["duckdb"]
    assert any(v["occurrences"] > 1 for v in blocked["duckdb"])


# -- the read-only guard -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM parquet.`/etc/passwd`",
        "SELECT reflect('java.lang.System', 'getenv', 'HOME')",
        "SELECT java_method('java.lang.Runtime', 'getRuntime')",
        "DROP TABLE vpc_flow_logs",
        "INSERT INTO vpc_flow_logs SELECT * FROM vpc_flow_logs",
        "SELECT 1; SELECT 2",
    ],
)
def test_spark_refuses_what_leaves_the_store(stores, query):
    with pytest.raises(QueryRefused):
        stores["spark"].sql(query, dialect="spark" if "`" in query else "athena")


def test_spark_query_errors_are_query_errors(stores):
    with pytest.raises(QueryError, match="SQL run"):
        stores["spark"].sql("SELECT no_such_column FROM vpc_flow_logs")


# -- the command line, on both engines -------------------------------------------------------


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_cli_commands_take_the_engine(store_dir, spark, engine):
    def run(*args):
        res = CliRunner().invoke(
            main, [*args, "--store", str(store_dir), "--engine", engine, "--format", "json"]
        )
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    got = run("sql", "SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY 1 ORDER BY 1")
    assert [r["action"] for r in got] == [None, "ACCEPT", "REJECT"] or [
        r["action"] for r in got
    ] == ["ACCEPT", "REJECT", None]
    assert sum(r["n"] for r in got) > 12000
    got = run("query", "ci-https-destinations", "-p", "limit=1")
    assert len(got) == 1 and got[0]["packets"] > 0
    got = run("insights", "filter dstPort = 3389 | stats count(*) as n")
    assert got[0]["n"] > 0
    got = run("detect")
    assert any(f["type"] == "port-scan" for f in got)
    got = run("troubleshoot")
    assert any(v["verdict"] == "network-acl" for v in got)


def test_cli_engine_from_the_environment(store_dir, spark, monkeypatch):
    monkeypatch.setenv("VPCFLOW_ENGINE", "spark")
    res = CliRunner().invoke(
        main, ["sql", "SELECT 1 AS one", "--store", str(store_dir), "--explain"]
    )
    assert res.exit_code == 0, res.output
    assert "one" in res.stdout
    res = CliRunner().invoke(main, ["settings", "--format", "json"])
    values = {r["env"]: r["value"] for r in json.loads(res.stdout)}
    assert values["VPCFLOW_ENGINE"] == "spark" and values["VPCFLOW_SPARK_MASTER"] == "local[*]"


def test_cli_bad_engine_settings(store_dir):
    res = CliRunner().invoke(
        main, ["sql", "SELECT 1", "--store", str(store_dir), "--engine", "spark"]
        + ["--spark-conf", "nonsense"]
    )  # fmt: skip
    assert res.exit_code == 1 and "expected KEY=VALUE" in res.output
    with pytest.raises(ConfigError, match="unknown engine"):
        open_store(store_dir, create=False).use_engine("presto")


def test_spark_timeout_cancels(stores):
    slow = (
        "SELECT count(*) AS n FROM vpc_flow_logs a CROSS JOIN vpc_flow_logs b "
        "CROSS JOIN vpc_flow_logs c WHERE a.bytes + b.bytes + c.bytes = -1"
    )
    with pytest.raises(QueryError, match="time limit"):
        stores["spark"].query(slow, timeout=2)
