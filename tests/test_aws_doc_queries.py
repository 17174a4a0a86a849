"""Queries pasted from the AWS documentation and the Athena console run unchanged, through the
command line, and give the answers that a plain Python computation over the same records gives.

Athena: "Create a table for Amazon VPC flow logs and query it", section "Example queries for the
vpc_flow_logs table" (Amazon Athena User Guide), verbatim, plus what the Athena console writes
itself (qualified table names, SHOW statements) and the Trino functions AWS's own query
collections use (``to_iso8601(from_unixtime(...))``, ``contains(cidr, CAST(addr AS IPADDRESS))``).
Logs Insights: the "Sample queries" of the CloudWatch Logs User Guide (Amazon VPC Flow Logs),
verbatim.

The expected answers are computed here from the record tuples, never by vpcflow. Every test
runs on the DuckDB engine and on Spark.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
from collections import Counter, defaultdict

import pytest
from click.testing import CliRunner

from vpcflow.cli import main

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
FIELDS = HEADER.replace("-", "_").split()

_TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
RECENT = int((_TODAY - dt.timedelta(days=2)).timestamp()) + 3600  # two days ago, 01:00 UTC
OLD = int(dt.datetime(2020, 5, 4, 8, 0, tzinfo=dt.UTC).timestamp())  # the docs' 2020-05-04
OLDER = int(dt.datetime(2020, 5, 3, 23, 59, tzinfo=dt.UTC).timestamp())


def _records() -> list[tuple]:
    """Records on 2020-05-04 (the date the Athena example names), one the day before, and a
    batch from two days ago (for "the last week")."""
    out = []
    srcs = ["10.0.1.5", "10.0.1.6", "10.0.2.9", "203.0.113.12", "198.51.100.7", "2001:db8::5"]
    dsts = ["10.0.1.20", "10.0.1.21", "10.0.3.30", "192.0.2.44"]
    n = 0
    for base in (OLD, RECENT):
        for i in range(60):
            src = srcs[i % len(srcs)]
            dst = dsts[(i * 7) % len(dsts)] if ":" not in src else "2001:db8::9"
            dport = [443, 22, 3389, 80, 443][i % 5]
            proto = 6 if i % 4 else 17
            action = "REJECT" if i % 3 == 0 else "ACCEPT"
            packets = 1 + (i * 13) % 40
            start = base + 60 * i
            out.append(
                (2, "123456789012", f"eni-{i % 3:017x}", src, dst, 40000 + i, dport, proto,
                 packets, packets * 120, start, start + 55, action, "OK")
            )  # fmt: skip
            n += 1
    out.append(
        (2, "123456789012", "eni-00000000000000009", "10.0.1.5", "10.0.1.20", 40999, 443, 6,
         9, 999, OLDER, OLDER + 30, "REJECT", "OK")
    )  # fmt: skip
    out.append(
        (2, "123456789012", "eni-00000000000000009", None, None, None, None, None, None, None,
         OLD + 7200, OLD + 7260, None, "NODATA")
    )  # fmt: skip
    return out


@pytest.fixture(
    autouse=True,
    params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)],
)
def engine(request, monkeypatch):
    """Every pasted query on both engines (``VPCFLOW_ENGINE``, as a user would set it)."""
    if request.param == "spark":
        request.getfixturevalue("spark")  # the process's one local session
    monkeypatch.setenv("VPCFLOW_ENGINE", request.param)
    return request.param


RECORDS = _records()
ROWS = [dict(zip(FIELDS, r, strict=True)) for r in RECORDS]


def _day(r) -> dt.date:
    return dt.datetime.fromtimestamp(r["start"], dt.UTC).date()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("awsdocs")
    lines = [" ".join("-" if v is None else str(v) for v in r) for r in RECORDS]
    (d / "flows.log").write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    res = CliRunner().invoke(main, ["ingest", str(d / "flows.log"), "--store", str(d / "s")])
    assert res.exit_code == 0, res.output
    return str(d / "s")


def sql(store, query, *args):
    res = CliRunner().invoke(main, ["sql", query, "--store", store, "--format", "json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def insights(store, query):
    res = CliRunner().invoke(main, ["insights", query, "--store", store, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# -- Amazon Athena User Guide: example queries for the vpc_flow_logs table ---------------------


def test_athena_doc_100_flow_logs_of_a_date(store):
    got = sql(
        store,
        """SELECT *
FROM vpc_flow_logs
WHERE date = DATE('2020-05-04')
LIMIT 100;""",
    )
    want = [r for r in ROWS if _day(r) == dt.date(2020, 5, 4)]
    assert len(got) == len(want) == 61
    key = ("interface_id", "srcport", "start", "log_status")
    assert sorted(tuple(g[k] for k in key) for g in got) == sorted(
        tuple(w[k] for k in key) for w in want
    )
    assert {g["date"] for g in got} == {"2020-05-04"}
    assert set(got[0]) >= set(FIELDS)


def test_athena_doc_rejected_tcp_with_day_of_week(store):
    got = sql(
        store,
        """SELECT day_of_week(date) AS
  day,
  date,
  interface_id,
  srcaddr,
  action,
  protocol
FROM vpc_flow_logs
WHERE action = 'REJECT' AND protocol = 6
LIMIT 100;""",
    )
    want = [r for r in ROWS if r["action"] == "REJECT" and r["protocol"] == 6]
    assert list(got[0]) == ["day", "date", "interface_id", "srcaddr", "action", "protocol"]
    assert sorted((g["date"], g["day"], g["interface_id"], g["srcaddr"]) for g in got) == sorted(
        (_day(w).isoformat(), _day(w).isoweekday(), w["interface_id"], w["srcaddr"]) for w in want
    )
    assert {g["day"] for g in got if g["date"] == "2020-05-04"} == {1}  # a Monday, ISO 1


def test_athena_doc_https_top_servers_last_week(store):
    got = sql(
        store,
        """SELECT SUM(packets) AS
  packetcount,
  dstaddr
FROM vpc_flow_logs
WHERE dstport = 443 AND date > current_date - interval '7' day
GROUP BY dstaddr
ORDER BY packetcount DESC
LIMIT 10;""",
    )
    week = _TODAY.date() - dt.timedelta(days=7)
    sums: Counter = Counter()
    for r in ROWS:
        if r["dstport"] == 443 and _day(r) > week:
            sums[r["dstaddr"]] += r["packets"]
    assert got and sorted((g["dstaddr"], g["packetcount"]) for g in got) == sorted(sums.items())
    assert [g["packetcount"] for g in got] == sorted(sums.values(), reverse=True)
    assert all(isinstance(g["packetcount"], int) for g in got)  # bigint, not a decimal


# -- what the Athena console and AWS's query collections write ---------------------------------


def test_console_qualified_table_names(store):
    for table in ('"default"."vpc_flow_logs"', "awsdatacatalog.default.vpc_flow_logs"):
        got = sql(store, f"SELECT count(*) FROM {table} WHERE action = 'ACCEPT'")
        assert got == [{"_col0": sum(r["action"] == "ACCEPT" for r in ROWS)}]


def test_unnamed_columns_are_named_as_athena_names_them(store):
    got = sql(
        store,
        "SELECT action, count(*), sum(bytes) AS b, max(packets) FROM vpc_flow_logs GROUP BY action",
    )
    assert set(got[0]) == {"action", "_col1", "b", "_col3"}
    by = {g["action"]: g for g in got}
    accepted = [r for r in ROWS if r["action"] == "ACCEPT"]
    assert by["ACCEPT"]["_col1"] == len(accepted)
    assert by["ACCEPT"]["b"] == sum(r["bytes"] for r in accepted)


def test_to_iso8601_of_from_unixtime(store):
    got = sql(
        store,
        "SELECT to_iso8601(from_unixtime(start)) AS t FROM vpc_flow_logs "
        "WHERE log_status = 'NODATA'",
    )
    want = dt.datetime.fromtimestamp(OLD + 7200, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert got == [{"t": want}]


def test_contains_cidr_ipaddress(store):
    got = sql(
        store,
        "SELECT srcaddr, count(*) AS n FROM vpc_flow_logs "
        "WHERE contains('10.0.0.0/16', CAST(srcaddr AS IPADDRESS)) GROUP BY srcaddr",
    )
    net = ipaddress.ip_network("10.0.0.0/16")
    want = Counter(
        r["srcaddr"]
        for r in ROWS
        if r["srcaddr"] and ipaddress.ip_address(r["srcaddr"]) in net  # IPv6 never in a v4 net
    )
    assert {g["srcaddr"]: g["n"] for g in got} == dict(want)
    got6 = sql(
        store,
        "SELECT count(*) AS n FROM vpc_flow_logs "
        "WHERE contains('2001:db8::/32', CAST(srcaddr AS IPADDRESS))",
    )
    assert got6 == [{"n": sum(r["srcaddr"] == "2001:db8::5" for r in ROWS)}]


def test_show_statements(store):
    parts = sql(store, "SHOW PARTITIONS vpc_flow_logs")
    assert parts == [
        {"partition": f"date={d}"} for d in sorted({_day(r).isoformat() for r in ROWS})
    ]
    assert sql(store, "SHOW TABLES") == [{"tab_name": "vpc_flow_logs"}]
    cols = [c["field"] for c in sql(store, 'SHOW COLUMNS IN "default".vpc_flow_logs')]
    assert cols[: len(FIELDS)] == FIELDS and "date" in cols
    res = CliRunner().invoke(main, ["sql", "SHOW PARTITIONS other_table", "--store", store])
    assert res.exit_code == 1 and "table 'other_table' does not exist" in res.stderr


def test_since_until_on_sql_match_the_records(store):
    since = dt.datetime.fromtimestamp(RECENT, dt.UTC).isoformat()
    got = sql(store, "SELECT count(*) AS n FROM vpc_flow_logs", "--since", since)
    assert got == [{"n": sum(r["start"] >= RECENT for r in ROWS)}]
    got = sql(store, "SELECT count(*) AS n FROM vpc_flow_logs", "--until", "2020-05-04T00:00:00Z")
    assert got == [{"n": 1}]  # the one record of 2020-05-03


# -- CloudWatch Logs User Guide: sample queries, Amazon VPC Flow Logs ----------------------------


def test_insights_doc_top_15_packet_transfers(store):
    got = insights(
        store,
        "stats sum(packets) as packetsTransferred by srcAddr, dstAddr\n"
        "    | sort packetsTransferred  desc\n    | limit 15",
    )
    sums: dict = {}
    for r in ROWS:  # sum() of a group whose values are all missing is empty (NULL), sorted last
        k = (r["srcaddr"], r["dstaddr"])
        if r["packets"] is not None:
            sums[k] = (sums.get(k) or 0) + r["packets"]
        else:
            sums.setdefault(k, None)
    want = sorted(sums.values(), key=lambda v: (v is None, -(v or 0)))[:15]
    assert [g["packetsTransferred"] for g in got] == want
    for g in got:
        assert sums[(g["srcAddr"], g["dstAddr"])] == g["packetsTransferred"]


def test_insights_doc_top_15_bytes_for_a_subnet(store):
    got = insights(
        store,
        'filter isIpv4InSubnet(srcAddr, "10.0.1.0/24")\n'
        "    | stats sum(bytes) as bytesTransferred by dstAddr\n"
        "    | sort bytesTransferred desc\n    | limit 15",
    )
    net = ipaddress.ip_network("10.0.1.0/24")
    sums: Counter = Counter()
    for r in ROWS:
        if r["srcaddr"] and ":" not in r["srcaddr"] and ipaddress.ip_address(r["srcaddr"]) in net:
            sums[r["dstaddr"]] += r["bytes"]
    assert {g["dstAddr"]: g["bytesTransferred"] for g in got} == dict(sums)


def test_insights_doc_udp_transfers(store):
    got = insights(store, "filter protocol=17 | stats count(*) by srcAddr")
    assert {g["srcAddr"]: g["count(*)"] for g in got} == dict(
        Counter(r["srcaddr"] for r in ROWS if r["protocol"] == 17)
    )


def test_insights_console_rejected_sources_sorted_by_aggregate(store):
    # The console's sample, and the same with the aggregate written again in `sort`.
    for sort_key in ("numRejections", "count(*)"):
        alias = " as numRejections" if sort_key == "numRejections" else ""
        got = insights(
            store,
            f'filter action="REJECT" | stats count(*){alias} by srcAddr '
            f"| sort {sort_key} desc | limit 20",
        )
        col = "numRejections" if alias else "count(*)"
        want = Counter(r["srcaddr"] for r in ROWS if r["action"] == "REJECT")
        assert {g["srcAddr"]: g[col] for g in got} == dict(want)
        assert [g[col] for g in got] == sorted(want.values(), reverse=True)


def test_insights_skipdata_and_nodata_by_interface(store):
    got = insights(store, 'filter logStatus="NODATA" | stats count(*) as n by interfaceId')
    per: defaultdict = defaultdict(int)
    for r in ROWS:
        if r["log_status"] == "NODATA":
            per[r["interface_id"]] += 1
    assert {g["interfaceId"]: g["n"] for g in got} == dict(per)


# -- Trino meanings sqlglot does not keep (Athena's answers, computed here) ---------------------


def test_integer_division_is_integer_as_in_athena(store):
    rows = [r for r in ROWS if r["packets"]]
    per_packet = sorted({r["bytes"] // r["packets"] for r in rows if r["bytes"] >= 0})
    got = sql(
        store,
        "SELECT DISTINCT bytes / packets AS per_packet FROM vpc_flow_logs "
        "WHERE packets > 0 ORDER BY 1",
    )
    assert [g["per_packet"] for g in got] == per_packet
    assert sql(store, "SELECT 7 / 2 AS a, -7 / 2 AS b, 7.0 / 2 AS c") == [
        {"a": 3, "b": -3, "c": 3.5}
    ]
    # through WITH and a subquery: integer when the column is, not when it is a double
    total = sum(r["bytes"] for r in ROWS if r["bytes"] is not None)
    got = sql(
        store,
        "WITH t AS (SELECT sum(bytes) AS b, sum(bytes) * 1.0 AS f FROM vpc_flow_logs) "
        "SELECT b / 2 AS half, f / 2 AS exact FROM t",
    )
    assert got == [{"half": total // 2, "exact": total / 2}]


def test_cardinality_of_a_map_and_format_datetime(store):
    got = sql(
        store,
        "SELECT cardinality(map(ARRAY['a', 'b'], ARRAY[1, 2])) AS n, "
        "format_datetime(from_unixtime(start), 'yyyy-MM-dd HH:mm ''UTC''') AS t "
        "FROM vpc_flow_logs WHERE start IS NOT NULL ORDER BY start LIMIT 1",
    )
    first = min(r["start"] for r in ROWS if r["start"] is not None)
    expected = dt.datetime.fromtimestamp(first, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert got == [{"n": 2, "t": expected}]
    res = CliRunner().invoke(main, ["sql", "SELECT format_datetime(now(), 'QQ')", "--store", store])
    assert res.exit_code != 0 and "pattern letter 'Q'" in res.output


def _nearest_rank(values: list, p: float):
    """The smallest value with at least a share ``p`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def test_approx_distinct_and_approx_percentile_are_exact(store):
    """Exact answers are within every error bound Athena gives, and the same on every engine."""
    got = sql(
        store,
        "SELECT action, approx_distinct(srcaddr) AS srcs, approx_percentile(bytes, 0.5) AS med, "
        "approx_percentile(bytes, ARRAY[0.1, 0.9]) AS qs FROM vpc_flow_logs "
        "WHERE action IS NOT NULL GROUP BY action ORDER BY action",
    )
    want = []
    for action in sorted({r["action"] for r in ROWS if r["action"]}):
        rows = [r for r in ROWS if r["action"] == action]
        sizes = [r["bytes"] for r in rows]
        want.append(
            {
                "action": action,
                "srcs": len({r["srcaddr"] for r in rows}),
                "med": _nearest_rank(sizes, 0.5),
                "qs": [_nearest_rank(sizes, 0.1), _nearest_rank(sizes, 0.9)],
            }
        )
    assert got == want
    res = CliRunner().invoke(
        main,
        [
            "sql",
            "SELECT approx_percentile(bytes, packets, 0.5) FROM vpc_flow_logs",
            "--store",
            store,
        ],
    )
    assert res.exit_code == 1 and "approx_percentile with a weight" in res.output


def test_insights_pct_is_the_nearest_rank_percentile(store):
    got = insights(
        store, "filter action = 'ACCEPT' | stats pct(bytes, 90) as p90, pct(bytes, 50) as p50"
    )
    sizes = [r["bytes"] for r in ROWS if r["action"] == "ACCEPT"]
    assert got == [{"p90": _nearest_rank(sizes, 0.9), "p50": _nearest_rank(sizes, 0.5)}]
