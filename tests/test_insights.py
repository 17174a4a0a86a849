"""Logs Insights queries give the same answers as hand-written SQL over the same records.

The sample queries are AWS's own: the "Sample queries" page of the CloudWatch Logs user guide
(Amazon VPC flow logs section) and the console's "Queries" panel (VPC Flow Logs samples).
"""

from __future__ import annotations

import pytest

from test_insights_data import LINES, connect
from vpcflow.errors import QueryError
from vpcflow.insights import InsightsSyntaxError, translate


@pytest.fixture(scope="module")
def con():
    c = connect()
    yield c
    c.close()


def run(con, query, **kw):
    t = translate(query, **kw)
    rel = con.sql(t.sql)
    assert rel.columns == t.columns
    return rel.columns, rel.fetchall()


def rows(con, sql):
    return con.sql(sql).fetchall()


def _key(row):
    return tuple((v is None, str(v)) for v in row)


def same(a, b):
    assert sorted(a, key=_key) == sorted(b, key=_key)


# -- CloudWatch Logs user guide, "Sample queries", Amazon VPC flow logs -------------------------


def test_doc_top_15_packet_transfers(con):
    cols, got = run(
        con,
        "stats sum(packets) as packetsTransferred by srcAddr, dstAddr\n"
        "    | sort packetsTransferred  desc\n    | limit 15",
    )
    assert cols == ["srcAddr", "dstAddr", "packetsTransferred"]
    want = rows(
        con,
        "SELECT srcaddr, dstaddr, sum(packets) AS p FROM vpc_flow_logs GROUP BY 1, 2 "
        "ORDER BY p DESC NULLS LAST LIMIT 15",
    )
    same(got, want)
    assert [r[2] for r in got] == [r[2] for r in want]  # the order, too


def test_doc_top_15_bytes_for_subnet(con):
    cols, got = run(
        con,
        'filter isIpv4InSubnet(srcAddr, "192.0.2.0/24")\n'
        "    | stats sum(bytes) as bytesTransferred by dstAddr\n"
        "    | sort bytesTransferred desc\n    | limit 15",
    )
    assert cols == ["dstAddr", "bytesTransferred"]
    want = rows(
        con,
        "SELECT dstaddr, sum(bytes) FROM vpc_flow_logs WHERE srcaddr LIKE '192.0.2.%' "
        "GROUP BY 1 ORDER BY 2 DESC",
    )
    assert got == want and len(got) == 3


def test_doc_top_15_bytes_for_host_older_revision(con):
    # The 2019 revision of the page compared srcAddr with a CIDR string: it matches nothing.
    _, got = run(
        con,
        'filter srcAddr= "192.0.2.0/24" | stats sum(bytes) as bytesTransferred by dstAddr'
        " | sort bytesTransferred  desc | limit 15",
    )
    assert got == rows(
        con,
        "SELECT dstaddr, sum(bytes) FROM vpc_flow_logs WHERE srcaddr = '192.0.2.0/24' GROUP BY 1",
    )


def test_doc_udp_sources(con):
    cols, got = run(con, "filter protocol=17 | stats count(*) by srcAddr")
    assert cols == ["srcAddr", "count(*)"]
    same(
        got, rows(con, "SELECT srcaddr, count(*) FROM vpc_flow_logs WHERE protocol = 17 GROUP BY 1")
    )
    assert len(got) == 2


def test_doc_skipdata_per_hour(con):
    cols, got = run(
        con, 'filter logStatus="SKIPDATA"\n    | stats count(*) by bin(1h) as t\n    | sort t'
    )
    assert cols == ["t", "count(*)"]
    want = rows(
        con,
        "SELECT make_timestamp((start // 3600) * 3600 * 1000000) AS t, count(*) FROM vpc_flow_logs "
        "WHERE log_status = 'SKIPDATA' GROUP BY 1 ORDER BY 1",
    )
    assert got == want and len(got) == 2


DEDUP_QUERY = """fields @timestamp, srcAddr, dstAddr, srcPort, dstPort, protocol, bytes
| filter {stream} = '{value}' and interfaceId = 'eni-0123456789abcdef0'
| filter (srcAddr = '192.0.2.1' and dstAddr = '192.0.2.2') or (srcAddr = '192.0.2.2' and dstAddr = '192.0.2.1')
| dedup srcAddr, dstAddr, srcPort, dstPort, protocol"""


def test_doc_single_record_per_connection(con):
    # As published: `logStream` (no @) is not a flow-log field, so like Logs Insights it is
    # empty and nothing matches; translate() says so in a warning.
    t = translate(DEDUP_QUERY.format(stream="logStream", value="vpc-flow-logs"))
    assert any("logStream" in w for w in t.warnings)
    assert con.sql(t.sql).fetchall() == []
    # With the log stream of the interface (one stream per ENI) it keeps one record per
    # connection, the latest.
    cols, got = run(con, DEDUP_QUERY.format(stream="@logStream", value="eni-0123456789abcdef0"))
    assert cols == ["@timestamp", "srcAddr", "dstAddr", "srcPort", "dstPort", "protocol", "bytes"]
    want = rows(
        con,
        "SELECT make_timestamp(max(start) * 1000000), srcaddr, dstaddr, srcport, dstport, protocol, "
        "arg_max(bytes, start) FROM vpc_flow_logs WHERE interface_id = 'eni-0123456789abcdef0' "
        "AND srcaddr IN ('192.0.2.1', '192.0.2.2') AND dstaddr IN ('192.0.2.1', '192.0.2.2') "
        "GROUP BY ALL",
    )
    same(got, want)
    assert len(got) == 2


# -- the CloudWatch console's "Queries" panel, VPC Flow Logs samples -----------------------------


def test_console_avg_min_max_bytes(con):
    cols, got = run(con, "stats avg(bytes), min(bytes), max(bytes) by srcAddr, dstAddr")
    assert cols == ["srcAddr", "dstAddr", "avg(bytes)", "min(bytes)", "max(bytes)"]
    same(
        got,
        rows(
            con,
            "SELECT srcaddr, dstaddr, avg(bytes), min(bytes), max(bytes) FROM vpc_flow_logs GROUP BY 1, 2",
        ),
    )


def test_console_top_10_byte_transfers(con):
    cols, got = run(
        con,
        "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10",
    )
    assert cols == ["srcAddr", "dstAddr", "bytesTransferred"]
    want = rows(
        con,
        "SELECT srcaddr, dstaddr, sum(bytes) s FROM vpc_flow_logs GROUP BY 1, 2 ORDER BY s DESC NULLS LAST",
    )
    assert [r[2] for r in got] == [r[2] for r in want][:10]


def test_console_top_20_rejected_sources(con):
    cols, got = run(
        con,
        'filter action="REJECT" | stats count(*) as numRejections by srcAddr | sort numRejections desc | limit 20',
    )
    assert cols == ["srcAddr", "numRejections"]
    want = rows(
        con,
        "SELECT srcaddr, count(*) n FROM vpc_flow_logs WHERE action = 'REJECT' GROUP BY 1 ORDER BY n DESC",
    )
    same(got, want)
    assert got[0] == ("198.51.100.9", 2)


def test_console_udp_sources(con):
    _, got = run(con, "filter protocol=17 | stats count(*) by srcAddr")
    same(
        got, rows(con, "SELECT srcaddr, count(*) FROM vpc_flow_logs WHERE protocol = 17 GROUP BY 1")
    )


# -- general samples and AWS how-to queries ------------------------------------------------------


def test_most_recent_events_message_is_the_record(con):
    cols, got = run(con, "fields @timestamp, @message | sort @timestamp desc | limit 25")
    assert cols == ["@timestamp", "@message"]
    assert sorted(m for _, m in got) == sorted(LINES)  # the record line as AWS wrote it
    starts = [t for t, _ in got]
    assert starts == sorted(starts, reverse=True)


def test_default_output_is_timestamp_and_message(con):
    cols, got = run(con, 'filter action = "REJECT"')
    assert cols == ["@timestamp", "@message"]
    assert len(got) == 5


def test_rejects_from_inside_vpc_regex(con):
    _, got = run(
        con,
        'filter action="REJECT" and srcAddr like /^172\\./ | stats count(*) as numRejections by srcAddr'
        " | sort numRejections desc",
    )
    same(
        got,
        rows(
            con,
            "SELECT srcaddr, count(*) FROM vpc_flow_logs WHERE action='REJECT' AND srcaddr LIKE '172.%' GROUP BY 1",
        ),
    )


def test_parse_glob_on_message(con):
    # The knowledge-center pattern: one * per field of the record.
    q = (
        '#Retrieve flow logs by parsing\nparse @message "* * * * * * * * * * * * * *" as v, acct, eni, src,'
        " dst, sport, dport, proto, pkts, nbytes, st, en, act, status\n"
        "| filter status = 'OK' and dport = 22\n| stats sum(nbytes) as total, count(*) as n by eni"
    )
    cols, got = run(con, q)
    assert cols == ["eni", "total", "n"]
    same(
        got,
        rows(
            con,
            "SELECT interface_id, sum(bytes), count(*) FROM vpc_flow_logs WHERE dstport = 22 GROUP BY 1",
        ),
    )


def test_parse_regex_named_groups(con):
    _, got = run(
        con,
        r"parse @message /eni-\w+ (?<src>\d+\.\d+\.\d+\.\d+) (?<dst>\S+)/ | stats count(*) by src",
    )
    same(
        got,
        rows(
            con,
            "SELECT CASE WHEN regexp_full_match(srcaddr, '[0-9.]+') THEN srcaddr END s, count(*) FROM vpc_flow_logs GROUP BY 1",
        ),
    )


def test_display_with_expression_like_parse_sample(con):
    cols, got = run(
        con,
        'fields @message | filter action in ["REJECT", "NOPE"] | display srcAddr, dstPort = 22 as isSsh, action',
    )
    assert cols == ["srcAddr", "isSsh", "action"]
    same(
        got,
        rows(
            con,
            "SELECT srcaddr, coalesce(dstport = 22, false), action FROM vpc_flow_logs WHERE action = 'REJECT'",
        ),
    )


# -- operators and functions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("insights", "where"),
    [
        ("dstPort != 22 and protocol = 6", "dstport <> 22 AND protocol = 6"),
        ("bytes >= 4249 or packets < 2", "bytes >= 4249 OR packets < 2"),
        ("not (action = 'ACCEPT')", "NOT coalesce(action = 'ACCEPT', false)"),
        ("dstPort in [22, 3389]", "dstport IN (22, 3389)"),
        ("dstPort not in [22, 3389]", "dstport NOT IN (22, 3389)"),
        ('srcAddr like "192.0.2"', "srcaddr LIKE '%192.0.2%'"),
        ('srcAddr not like "192.0.2"', "srcaddr IS NULL OR srcaddr NOT LIKE '%192.0.2%'"),
        ("srcAddr =~ /^198\\.51/", "srcaddr LIKE '198.51%'"),
        ("bytes / packets > 300", "bytes / packets > 300"),
        ("bytes - 2 * packets + 1 = 4210", "bytes - 2 * packets + 1 = 4210"),
        ("bytes % 1000 = 249", "bytes % 1000 = 249"),
        ("2 ^ 3 = packets / 2.5", "8 = packets / 2.5"),
        ("-packets < -15", "packets > 15"),
        ("ispresent(srcAddr)", "srcaddr IS NOT NULL"),
        ("isempty(srcAddr)", "srcaddr IS NULL"),
        ("isblank(action)", "action IS NULL"),
        ("isValidIp(srcAddr)", "srcaddr IS NOT NULL"),
        ("isValidIpV4(srcAddr)", "srcaddr LIKE '%.%'"),
        ("isValidIpV6(dstAddr)", "dstaddr LIKE '%:%'"),
        ("isIpInSubnet(srcAddr, '2001:db8::/32')", "srcaddr LIKE '2001:db8:%'"),
        (
            "isIpv6InSubnet(dstAddr, '2001:db8:1234:a102::/64')",
            "dstaddr LIKE '2001:db8:1234:a102:%'",
        ),
        ("isIpInSubnet(dstAddr, '172.31.0.0/16')", "dstaddr LIKE '172.31.%'"),
        ("isIpv4InSubnet(srcAddr, '0.0.0.0/0')", "srcaddr LIKE '%.%'"),
        ("isIpv4InSubnet(srcAddr, '172.31.16.139/32')", "srcaddr = '172.31.16.139'"),
        ("strlen(srcAddr) = 9", "length(srcaddr) = 9"),
        ("toupper(action) = 'REJECT' and tolower(action) = 'reject'", "action = 'REJECT'"),
        (
            "substr(interfaceId, 0, 4) = 'eni-' and substr(srcAddr, 11) = '9'",
            "srcaddr = '198.51.100.9'",
        ),
        (
            "concat(srcAddr, ':', srcPort) = '192.0.2.1:40000'",
            "srcaddr = '192.0.2.1' AND srcport = 40000",
        ),
        ("replace(srcAddr, '.', '-') = '10-0-0-5'", "srcaddr = '10.0.0.5'"),
        ("strcontains(srcAddr, '198.51')", "srcaddr LIKE '%198.51%'"),
        ("trim(concat('  ', action, ' ')) = 'REJECT'", "action = 'REJECT'"),
        (
            "abs(srcPort - dstPort) = 39557 or ceil(bytes / 1000) = 9 or floor(bytes / 1000) = 4",
            "abs(srcport - dstport) = 39557 OR ceil(bytes / 1000) = 9 OR floor(bytes / 1000) = 4",
        ),
        ("coalesce(srcAddr, 'none') = 'none'", "srcaddr IS NULL"),
        ("toMillis(@timestamp) = 1700003700000", "start = 1700003700"),
        (
            "fromMillis(startTime * 1000) = @timestamp and endTime - startTime = 60",
            '"end" - start = 60',
        ),
        (
            "datefloor(@timestamp, 1d) = datefloor(fromMillis(1700000000000), 1d)",
            "start // 86400 = 1700000000 // 86400",
        ),
        (
            "dateceil(@timestamp, 1h) = fromMillis(1700006400000)",
            "start > 1700002800 AND start <= 1700006400",
        ),
        (
            "srcaddr = '10.0.0.5' and log_status = 'OK' and date > '2020-01-01'",
            "srcaddr = '10.0.0.5'",
        ),
    ],
)
def test_filter_expressions(con, insights, where):
    _, got = run(
        con, f"filter {insights} | display interfaceId, startTime, srcAddr, dstAddr, srcPort"
    )
    want = rows(
        con,
        f"SELECT interface_id, start, srcaddr, dstaddr, srcport FROM vpc_flow_logs WHERE {where}",
    )
    assert want, "a case that matches nothing proves little"
    same(got, want)


def test_aggregates(con):
    cols, got = run(
        con,
        "filter ispresent(bytes) | stats count(*), count(srcPort), count_distinct(srcAddr) as hosts, sum(bytes), "
        "avg(bytes), min(bytes), max(bytes), stddev(bytes), pct(bytes, 50) as p50, earliest(srcAddr) as first, "
        "latest(bytes) as last by action",
    )
    assert cols[:3] == ["action", "count(*)", "count(srcPort)"]
    want = rows(
        con,
        "SELECT action, count(*), count(srcport), count(DISTINCT srcaddr), sum(bytes), avg(bytes), min(bytes), "
        "max(bytes), stddev_samp(bytes), quantile_disc(bytes, 0.5), arg_min(srcaddr, start), arg_max(bytes, start) "
        "FROM vpc_flow_logs WHERE bytes IS NOT NULL GROUP BY 1",
    )
    # earliest/latest ties (same start) are not defined: compare the rest exactly.
    assert sorted(r[:10] for r in got) == sorted(r[:10] for r in want)


def test_stats_expression_over_aggregates_and_second_stats(con):
    cols, got = run(
        con,
        "stats max(bytes) as hi, min(bytes) as lo, hi - lo as spread by interfaceId "
        "| filter spread > 0 | stats sum(spread) as total",
    )
    assert cols == ["total"]
    assert got == rows(
        con,
        "SELECT sum(s) FROM (SELECT max(bytes) - min(bytes) s FROM vpc_flow_logs GROUP BY interface_id) WHERE s > 0",
    )


def test_bin_5m_and_sort_limit(con):
    cols, got = run(con, "stats sum(bytes) as b by bin(5m) | sort b desc | limit 2")
    assert cols == ["bin(5m)", "b"]
    want = rows(
        con,
        "SELECT make_timestamp((start // 300) * 300 * 1000000), sum(bytes) b FROM vpc_flow_logs GROUP BY 1 "
        "ORDER BY b DESC NULLS LAST LIMIT 2",
    )
    assert got == want


def test_every_column_by_its_own_name_and_camel_names(con):
    cols, got = run(
        con,
        "filter log_status = 'OK' and interface_id = interfaceId and account_id = accountId "
        "| fields version, srcaddr, dstport, tcp_flags, startTime, endTime, date, @logStream | limit 100",
    )
    assert cols == [
        "version",
        "srcaddr",
        "dstport",
        "tcp_flags",
        "startTime",
        "endTime",
        "date",
        "@logStream",
    ]
    same(
        got,
        rows(
            con,
            "SELECT version, srcaddr, dstport, tcp_flags, start, \"end\", date, interface_id FROM vpc_flow_logs WHERE log_status = 'OK'",
        ),
    )


def test_time_range(con):
    _, got = run(con, "stats count(*) as n", since="2023-11-14T22:00:00Z", until="2023-11-15")
    assert got == rows(
        con, "SELECT count(*) FROM vpc_flow_logs WHERE start >= 1699999200 AND start < 1700006400"
    )


def test_comments_and_case_insensitive_commands(con):
    _, got = run(con, "# rejected\nFILTER action = 'REJECT' # inline\n| STATS count(*) AS n")
    assert got == [(5,)]


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "line", "column", "text"),
    [
        ("filter action = ", 1, 17, "expected a field, a number"),
        ("stats count(*) by", 1, 18, "expected an expression"),
        ("filter action = 'A' | | limit 1", 1, 23, "expected a command"),
        ("fields srcAddr\n| sort bytes desc x", 2, 19, "expected '|' before the next command"),
        ("limit ten", 1, 7, "expected a whole number"),
        ("filter dstPort in [22, 80", 1, 26, "expected ',' or ']'"),
        ("filter sum(bytes) > 1", 1, 8, "aggregate function"),
        ("stats nosuch(bytes)", 1, 7, "unknown or unsupported function nosuch()"),
        ("filter action = 'A", 1, 17, "unterminated string"),
        ("stats count(*) by bin(x)", 1, 23, "expected a time period"),
        ("parse @message '* *' as a", 1, 16, "expected 2 name(s)"),
        ("filter isIpv4InSubnet(srcAddr, '10.0.0.0/33')", 1, 32, "CIDR"),
    ],
)
def test_syntax_errors_point_at_the_position(query, line, column, text):
    with pytest.raises(InsightsSyntaxError) as info:
        translate(query)
    err = info.value
    assert isinstance(err, QueryError)
    assert (err.line, err.column) == (line, column), str(err)
    assert text in str(err)


@pytest.mark.parametrize("command", ["pattern", "unmask", "diff", "anomaly", "unnest", "lookup"])
def test_unsupported_commands_are_named(command):
    with pytest.raises(InsightsSyntaxError, match=f"'{command}' is not supported by vpcflow"):
        translate(f"fields @message | {command} @message")
