"""Named queries and the insights CLI, through the real entry point on an ingested store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from test_insights_data import LINES
from vpcflow import queries as named_queries
from vpcflow.api import open_store
from vpcflow.cli import main
from vpcflow.errors import QueryError

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("insights")
    (d / "flows.log").write_text(HEADER + "\n" + "\n".join(LINES) + "\n")
    res = CliRunner().invoke(main, ["ingest", str(d / "flows.log"), "--store", str(d / "store")])
    assert res.exit_code == 0, res.output
    return str(d / "store")


def cli(*args):
    res = CliRunner().invoke(main, list(args))
    return res


def cli_json(*args):
    res = cli(*args, "--format", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def hand(store_dir, sql):
    return [
        dict(r) for r in open_store(store_dir, create=False).sql(sql, dialect="duckdb").to_pylist()
    ]


def test_every_named_query_is_documented_and_runs(store_dir):
    queries = named_queries.all_queries()
    assert {q.name for q in queries} >= {
        "athena-rejected-tcp",
        "athena-https-top-servers",
        "ci-top-talkers",
        "ci-https-destinations",
        "ci-rejected-tcp",
        "rejects-by-source",
        "scans-by-port",
        "eni-traffic",
        "subnet-to-subnet",
    }
    examples = {"eni": "eni-1235b8ca123456789", "a": "10.0.1.0/24", "b": "10.0.2.0/24"}
    for q in queries:
        assert q.description and q.source
        args = [a for p in q.params if p.required for a in ("-p", f"{p.name}={examples[p.name]}")]
        res = cli("query", q.name, *args, "--store", store_dir, "--format", "json")
        assert res.exit_code == 0, (q.name, res.output)


def test_a_missing_required_parameter_is_an_error(store_dir):
    res = cli("query", "eni-traffic", "--store", store_dir)
    assert res.exit_code == 1
    assert "needs parameter eni" in res.stderr and res.stdout == ""
    res = cli("query", "subnet-to-subnet", "-p", "a=10.0.1.0/24", "--store", store_dir)
    assert res.exit_code == 1 and "parameter b" in res.stderr and "parameter a" not in res.stderr
    with pytest.raises(QueryError, match="needs parameter eni"):
        named_queries.get("eni-traffic").render({})


def test_queries_lists_each_query_with_its_parameters():
    res = cli("queries")
    assert res.exit_code == 0
    lines = res.stdout.strip().splitlines()
    names = [ln.split()[0] for ln in lines if not ln.startswith(" ")]
    assert names == [q.name for q in named_queries.all_queries()]
    assert any(line.startswith("ci-top-talkers ") for line in lines)
    assert any("-p eni (string, required): the network interface ID" in ln for ln in lines)
    assert any("-p limit (int) = 10:" in ln for ln in lines)
    got = json.loads(cli("queries", "--format", "json").stdout)
    eni = next(q for q in got if q["name"] == "eni-traffic")
    assert eni["params"] == "eni (string, required); limit (int) = 100"


def test_ci_top_talkers(store_dir):
    got = cli_json("query", "ci-top-talkers", "--param", "limit=3", "--store", store_dir)
    want = hand(
        store_dir,
        "SELECT srcaddr, dstaddr, sum(bytes) AS bytes FROM vpc_flow_logs "
        "WHERE srcaddr IS NOT NULL GROUP BY ALL ORDER BY 3 DESC LIMIT 3",
    )
    assert [(r["srcaddr"], r["dstaddr"], r["bytes"]) for r in got] == [
        (r["srcaddr"], r["dstaddr"], int(r["bytes"])) for r in want
    ]


def test_ci_rejected_tcp_and_https(store_dir):
    got = cli_json("query", "ci-rejected-tcp", "--store", store_dir)
    want = hand(
        store_dir,
        "SELECT interface_id, srcaddr, count(*) n FROM vpc_flow_logs "
        "WHERE protocol = 6 AND action = 'REJECT' GROUP BY ALL",
    )
    assert sorted((r["interface_id"], r["srcaddr"], r["rejected"]) for r in got) == sorted(
        (r["interface_id"], r["srcaddr"], r["n"]) for r in want
    )
    got = cli_json("query", "ci-https-destinations", "--store", store_dir)
    assert [(r["dstaddr"], r["packets"]) for r in got] == [("192.0.2.2", 13)]


def test_rejects_scans_eni_subnets(store_dir):
    got = cli_json("query", "rejects-by-source", "--store", store_dir)
    assert [(r["srcaddr"], r["rejects"], r["ports"]) for r in got][0] == ("198.51.100.9", 2, 2)
    got = cli_json("query", "scans-by-port", "-p", "min_sources=1", "--store", store_dir)
    want = hand(
        store_dir,
        "SELECT dstport, count(DISTINCT srcaddr) s FROM vpc_flow_logs "
        "WHERE action = 'REJECT' AND dstport IS NOT NULL GROUP BY 1",
    )
    assert sorted((r["dstport"], r["sources"]) for r in got) == sorted(
        (r["dstport"], r["s"]) for r in want
    )
    got = cli_json("query", "eni-traffic", "-p", "eni=eni-1235b8ca123456789", "--store", store_dir)
    want = hand(
        store_dir,
        "SELECT sum(bytes) b, count(*) n FROM vpc_flow_logs "
        "WHERE interface_id = 'eni-1235b8ca123456789' AND log_status = 'OK'",
    )[0]
    assert sum(r["bytes"] for r in got) == want["b"] and sum(r["records"] for r in got) == want["n"]
    got = cli_json(
        "query",
        "subnet-to-subnet",
        "-p",
        "a=192.0.2.0/24",
        "-p",
        "b=198.51.100.0/24",
        "--store",
        store_dir,
    )
    want = hand(
        store_dir,
        "SELECT count(*) n FROM vpc_flow_logs WHERE "
        "(srcaddr LIKE '192.0.2.%' AND dstaddr LIKE '198.51.100.%') OR "
        "(srcaddr LIKE '198.51.100.%' AND dstaddr LIKE '192.0.2.%')",
    )[0]
    assert sum(r["records"] for r in got) == want["n"] == 4


def test_athena_rejected_tcp_day_of_week(store_dir):
    got = cli_json("query", "athena-rejected-tcp", "--store", store_dir)
    want = hand(
        store_dir,
        "SELECT isodow(date) d, srcaddr FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6",
    )
    assert sorted((r["day"], r["srcaddr"]) for r in got) == sorted(
        (r["d"], r["srcaddr"]) for r in want
    )


def test_bad_parameters():
    q = named_queries.get("eni-traffic")
    with pytest.raises(QueryError, match="whole number"):
        q.render({"eni": "eni-1", "limit": "1; DROP TABLE x"})
    with pytest.raises(QueryError, match="no parameter"):
        q.render({"eni": "eni-1", "nope": "1"})
    assert "'it''s'" in q.render({"eni": "it's"})  # strings are quoted literals
    with pytest.raises(QueryError, match="CIDR"):
        named_queries.get("subnet-to-subnet").render({"a": "10.0.0.0/99", "b": "10.0.2.0/24"})
    with pytest.raises(QueryError, match="no named query"):
        named_queries.get("nope")


def test_insights_cli(store_dir):
    got = cli_json(
        "insights",
        'filter action="REJECT" | stats count(*) as numRejections by srcAddr '
        "| sort numRejections desc | limit 20",
        "--store",
        store_dir,
    )
    assert got[0] == {"srcAddr": "198.51.100.9", "numRejections": 2}
    assert len(got) == 4  # 5 rejected records from 4 sources
    got = cli_json(
        "insights",
        "stats count(*) by bin(1h)",
        "--store",
        store_dir,
        "--since",
        "2023-11-14T22:00:00Z",
        "--until",
        "2023-11-15T02:00:00Z",
    )
    # starts 1700000000.. (22:13Z), 1700003700.. (23:15Z), 1700007300 (00:15Z)
    assert {r["bin(1h)"]: r["count(*)"] for r in got} == {
        "2023-11-14T22:00:00Z": 4,
        "2023-11-14T23:00:00Z": 4,
        "2023-11-15T00:00:00Z": 1,
    }
    res = cli("insights", "fields @message | limit 1", "--explain")
    assert res.exit_code == 0 and res.stdout.startswith("WITH ")


def test_insights_cli_errors(store_dir):
    res = cli("insights", "filter action = | limit 2", "--store", store_dir)
    assert res.exit_code == 1
    assert "line 1, column 17: expected" in res.output
    res = cli("insights", "fields @message | pattern @message", "--store", store_dir)
    assert res.exit_code == 1 and "'pattern' is not supported" in res.output
