"""The dashboard's JSON (``vpcflow serve``): every twin against SQL written here, the filters,
the console's sandbox and limits, the token, new ingests, the OpenAPI document."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

import vpcflow
from test_troubleshoot_aws import ec2_scenario  # noqa: F401 (a fixture)
from vpcflow.generate import generate
from webserver import get, get_json, running

DATA = Path(__file__).parent / "data" / "troubleshoot"
EXE = Path(sys.executable).parent / "vpcflow"

# Records from the AWS documentation's flow-log examples (VPC Flow Logs > Flow log record
# examples): SSH accepted, RDP rejected, NODATA, SKIPDATA, and the ping whose reply the NACL drops.
AWS_EXAMPLES = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK\n"
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n"
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA\n"
    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK\n"
)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    base = tmp_path_factory.mktemp("web")
    generate(base / "logs", records=30_000, seed=5, attacks="all")
    store = vpcflow.open_store(base / "store")
    store.ingest([str(base / "logs" / "AWSLogs")])
    yield store
    store.close()


@pytest.fixture(scope="module")
def server(demo_store):
    with running(demo_store) as (srv, base):
        yield base


@pytest.fixture(scope="module")
def aws_store(tmp_path_factory):
    base = tmp_path_factory.mktemp("aws-examples")
    (base / "examples.log").write_text(AWS_EXAMPLES)
    store = vpcflow.open_store(base / "store")
    store.ingest([str(base / "examples.log")])
    yield store
    store.close()


def q(**params) -> str:
    items = []
    for k, v in params.items():
        items += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
    return urlencode(items)


def test_kpis_of_the_aws_documentation_examples(aws_store):
    with running(aws_store) as (_, base):
        status, body = get_json(f"{base}/panels/kpis.json?range=all")
    assert status == 200
    k = body["kpis"]
    # Counted by hand from the six records above.
    assert (k["records"], k["bytes"], k["packets"]) == (6, 4249 + 4249 + 336 + 336, 48)
    assert (k["accepted"], k["rejected"], k["nodata"], k["skipdata"]) == (2, 2, 1, 1)
    assert (k["sources"], k["interfaces"]) == (3, 2)
    assert k["reject_share"] == pytest.approx(2 / 6, abs=1e-6)
    assert k["skipdata_share"] == pytest.approx(1 / 6, abs=1e-6)


def test_top_ports_and_other_of_the_aws_examples(aws_store):
    with running(aws_store) as (_, base):
        _, body = get_json(f"{base}/panels/ports.json?range=all&unit=records&n=2")
    labels = [(i["label"], i["value"]) for i in body["items"]]
    # 0/icmp twice; then 22/tcp, 3389/tcp and the two no-data rows (one each): ties by port.
    assert labels[0] == ("0/icmp", 2)
    assert body["total"] == 6 and body["other"] == 6 - sum(v for _, v in labels)
    assert body["items"][0]["filters"] == ["dstport=0", "protocol=1"]


def _window(base) -> tuple[int, int]:
    _, info = get_json(f"{base}/panels/kpis.json?range=all")
    t0 = int(time.mktime(time.strptime(info["view"]["from"], "%Y-%m-%dT%H:%M:%SZ")))
    t1 = int(time.mktime(time.strptime(info["view"]["to"], "%Y-%m-%dT%H:%M:%SZ")))
    return t0 - time.timezone, t1 - time.timezone


def test_panels_equal_sql_written_independently(server, demo_store):
    t0, t1 = _window(server)
    where = f'"start" >= {t0} AND "start" < {t1}'
    _, kp = get_json(f"{server}/panels/kpis.json?range=all")
    row = demo_store.sql(
        f"SELECT count(*) AS n, sum(bytes) AS b, count(DISTINCT srcaddr) AS s, "
        f"count_if(action = 'REJECT') AS r FROM vpc_flow_logs WHERE {where}"
    ).to_pylist()[0]
    k = kp["kpis"]
    assert (k["records"], k["bytes"], k["sources"], k["rejected"]) == (
        row["n"],
        row["b"],
        row["s"],
        row["r"],
    )
    assert k["records"] == demo_store.count()  # range=all covers the store

    _, talkers = get_json(f"{server}/panels/talkers.json?range=all&unit=packets")
    expect = demo_store.sql(
        f"SELECT srcaddr, dstaddr, sum(packets) AS p FROM vpc_flow_logs WHERE {where} "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10"
    ).to_pylist()
    assert [(i["srcaddr"], i["dstaddr"], i["value"]) for i in talkers["items"]] == [
        (r["srcaddr"], r["dstaddr"], r["p"]) for r in expect
    ]
    total = demo_store.sql(f"SELECT sum(packets) FROM vpc_flow_logs WHERE {where}").column(0)[0]
    assert talkers["other"] == total.as_py() - sum(r["p"] for r in expect)


def test_timeseries_sums_to_the_kpis_and_overlays_the_previous_period(server):
    _, ts = get_json(f"{server}/panels/timeseries.json?range=1h&unit=records")
    _, kp = get_json(f"{server}/panels/kpis.json?range=1h")
    assert sum(v for s in ts["series"] for _, v in s["data"]) == kp["kpis"]["records"]
    assert ts["bucket"] == 60
    _, prev = get_json(
        f"{server}/panels/kpis.json?" + q(**{"from": _shift(kp, -1), "to": _shift(kp, 0)})
    )
    assert sum(v for _, v in ts["previous"]) == prev["kpis"]["records"]
    # The previous hour is drawn on this hour's axis.
    t0 = _epoch(kp["view"]["from"])
    assert all(t0 - 60 <= t < t0 + 3600 for t, _ in ts["previous"])


def _epoch(s: str) -> int:
    import datetime as dt

    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())


def _shift(panel, k: int) -> str:
    t0, t1 = _epoch(panel["view"]["from"]), _epoch(panel["view"]["to"])
    return str(t0 + k * (t1 - t0))


def test_filters_or_within_a_field_and_across_fields(server, demo_store):
    t0, t1 = _window(server)
    params = q(range="all", unit="records", f=["dstport=22", "dstport=443", "action=REJECT"])
    _, body = get_json(f"{server}/panels/kpis.json?{params}")
    n = demo_store.sql(
        f'SELECT count(*) FROM vpc_flow_logs WHERE "start" >= {t0} AND "start" < {t1} '
        "AND dstport IN (22, 443) AND action = 'REJECT'"
    ).column(0)[0]
    assert body["kpis"]["records"] == n.as_py() > 0
    assert body["view"]["filters"] == ["dstport=22", "dstport=443", "action=REJECT"]


def test_negated_null_and_prefix_filters(server, demo_store):
    def records(*filters):
        _, body = get_json(f"{server}/panels/kpis.json?" + q(range="all", f=list(filters)))
        return body["kpis"]["records"]

    total = records()
    accepted = demo_store.sql("SELECT count(*) FROM vpc_flow_logs WHERE action = 'ACCEPT'")
    # action != ACCEPT keeps the NODATA/SKIPDATA rows, whose action is NULL.
    assert records("action!=ACCEPT") == total - accepted.column(0)[0].as_py()
    nulls = demo_store.sql("SELECT count(*) FROM vpc_flow_logs WHERE action IS NULL")
    assert records("action=-") == nulls.column(0)[0].as_py() > 0
    in_net = demo_store.sql("SELECT count(*) FROM vpc_flow_logs WHERE srcaddr LIKE '10.0.%'")
    assert records("srcaddr=10.0.0.0/16") == in_net.column(0)[0].as_py() > 0


@pytest.mark.parametrize(
    "params, message",
    [
        ("f=dstport=ssh", "filter dstport: 'ssh' is not a whole number"),
        ("f=colour=red", "unknown field 'colour'"),
        ("f=srcaddr=10.0.0.0/20", "only IPv4 /8, /16, /24 and /32"),
        ("f=justtext", "expected FIELD=VALUE"),
        ("unit=furlongs", "unit: 'furlongs'"),
        ("range=2y", "range: '2y'"),
        ("from=yesterday-ish", "from"),
        ("from=2024-05-02&to=2024-05-01", "must be after its start"),
    ],
)
def test_a_bad_url_is_a_400_with_one_line_naming_the_field(server, params, message):
    status, body = get_json(f"{server}/panels/kpis.json?{params}")
    assert status == 400
    assert message in body["error"] and "\n" not in body["error"]


def test_flows_pages_are_the_sql_rows_in_order(server, demo_store):
    params = q(range="all", f=["dstport=22"], size="7")
    _, first = get_json(f"{server}/flows.json?{params}")
    _, second = get_json(f"{server}/flows.json?{params}&page=2")
    rows = demo_store.sql(first["sql"], dialect="duckdb").to_pylist()  # the SQL it shows
    assert first["rows"] == json.loads(json.dumps(rows, default=str))
    expect = demo_store.sql(
        'SELECT "start", srcaddr, dstaddr FROM vpc_flow_logs WHERE dstport = 22 '
        'ORDER BY "start" DESC, "end" DESC, interface_id, srcaddr, dstaddr, srcport, dstport, '
        "protocol, packets, bytes, action LIMIT 14"
    ).to_pylist()
    got = [
        {k: r[k] for k in ("start", "srcaddr", "dstaddr")} for r in first["rows"] + second["rows"]
    ]
    assert got == expect
    n = demo_store.sql("SELECT count(*) FROM vpc_flow_logs WHERE dstport = 22").column(0)[0]
    assert first["total"] == n.as_py() and first["pages"] == -(-n.as_py() // 7)


def test_findings_link_to_their_records(server, demo_store):
    _, body = get_json(f"{server}/findings.json?range=all")
    direct = demo_store.detect(since=_epoch(body["view"]["from"]), until=_epoch(body["view"]["to"]))
    assert [(f["type"], f["source"]) for f in body["findings"]] == [
        (f.type, f.source) for f in direct
    ]
    scan = next(f for f in body["findings"] if f["type"] == "port-scan")
    path, _, query = scan["flows"].partition("?")
    assert path == "/flows"
    _, flows = get_json(f"{server}/flows.json?{query}")
    assert flows["total"] >= scan["records"] > 0
    assert {r["srcaddr"] for r in flows["rows"]} == {scan["source"]}


def test_rejected_groups_the_troubleshooter_verdicts(server, demo_store):
    _, body = get_json(f"{server}/rejected.json?range=all&n=1000")
    verdicts = demo_store.troubleshoot(
        since=_epoch(body["view"]["from"]), until=_epoch(body["view"]["to"])
    )
    totals: dict[str, int] = {}
    for v in verdicts:
        totals[v.verdict] = totals.get(v.verdict, 0) + v.occurrences
    assert body["totals"] == totals
    assert sum(len(g["verdicts"]) + g["more"] for g in body["groups"]) == len(verdicts)
    first = body["groups"][0]["verdicts"][0]
    same = next(v for v in verdicts if v.interface_id == first["interface_id"])
    assert (first["srcaddr"], first["dstaddr"], first["verdict"]) == (
        same.srcaddr,
        same.dstaddr,
        same.verdict,
    )
    assert not body["configurations"]


def test_findings_do_not_wait_for_the_troubleshooter(demo_store, monkeypatch):
    """Detect and troubleshoot each have a connection and a lock: findings asked for while the
    rejections are still being worked out answer at once."""
    import threading

    from starlette.datastructures import QueryParams

    from vpcflow.api import Store
    from vpcflow.web.dashboard import Dashboard

    started, release = threading.Event(), threading.Event()
    real = Store.troubleshoot

    def slow(self, *args, **kwargs):
        started.set()
        assert release.wait(60)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "troubleshoot", slow)
    dash = Dashboard(demo_store)
    view = dash.view(QueryParams("range=all"))
    worker = threading.Thread(target=dash.rejected, args=(view,))
    worker.start()
    try:
        assert started.wait(60)
        found = []
        asking = threading.Thread(target=lambda: found.append(dash.findings(view)))
        asking.start()
        asking.join(45)  # sharing the troubleshooter's lock, it would wait for the release
        assert found and found[0]["findings"] and not release.is_set()
    finally:
        release.set()
        worker.join(60)
        dash.close()
    assert dash.rejected(view)["totals"]  # the page, from the cache now


def test_uploaded_configurations_name_the_deciding_rule(tmp_path):
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(DATA / "scenarios.log")])
    with running(store) as (_, base):
        _, before = get_json(f"{base}/rejected.json?range=all&n=100")
        upload = {
            "security_groups": (DATA / "security-groups.json").read_text(),
            "network_acls": (DATA / "network-acls.json").read_text(),
            "network_interfaces": (DATA / "network-interfaces.json").read_text(),
        }
        status, res = get_json(
            f"{base}/configs.json",
            data=json.dumps(upload).encode(),
            headers={"content-type": "application/json"},
        )
        assert status == 200 and res["configurations"] and res["security_groups"] > 0
        _, after = get_json(f"{base}/rejected.json?range=all&n=100")
        bad = {"security_groups": '{"SecurityGroups": [{"GroupId": 5}]}'}
        status, err = get_json(f"{base}/configs.json", data=json.dumps(bad).encode())
    store.close()
    assert not before["configurations"] and after["configurations"]
    decided = [
        v for g in after["groups"] for v in g["verdicts"] if v["decided_by"] == "configurations"
    ]
    assert decided and all(v["group_id"] or v["network_acl_id"] for v in decided)
    assert any(v["fix"] for v in decided)
    # The subnet comes from the uploaded interfaces when the logs (version 2) lack it.
    assert any(g["subnet_id"] for g in after["groups"])
    assert status == 400 and "uploaded security-groups" in err["error"]


def test_entity_pages(server, demo_store):
    top = (
        demo_store.sql(
            "SELECT srcaddr FROM vpc_flow_logs WHERE action = 'REJECT' AND srcaddr NOT LIKE '10.%' "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        .column(0)[0]
        .as_py()
    )
    _, ip = get_json(f"{server}/ip/{top}.json?range=all")
    n = demo_store.sql(
        f"SELECT count(*) FROM vpc_flow_logs WHERE srcaddr = '{top}' OR dstaddr = '{top}'"
    ).column(0)[0]
    assert ip["panels"]["kpis"]["kpis"]["records"] == n.as_py()
    assert (
        ip["about"]["country"] == demo_store.sql(f"SELECT ip_country('{top}')").column(0)[0].as_py()
    )
    assert any(f["source"] == top for f in ip["findings"])
    eni = (
        demo_store.sql("SELECT interface_id FROM vpc_flow_logs WHERE log_status = 'OK' LIMIT 1")
        .column(0)[0]
        .as_py()
    )
    _, page = get_json(f"{server}/interface/{eni}.json?range=all")
    n = demo_store.sql(f"SELECT count(*) FROM vpc_flow_logs WHERE interface_id = '{eni}'")
    assert page["panels"]["kpis"]["kpis"]["records"] == n.column(0)[0].as_py()
    assert get(f"{server}/planet/earth.json")[0] == 404
    status, _, html = get(f"{server}/ip/{top}")
    assert status == 200 and b"app.js" in html


def test_console_runs_sql_and_insights_and_refuses_files(server, demo_store):
    sql = "SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY 1 ORDER BY 2 DESC"
    _, res = get_json(f"{server}/query.json?" + q(language="sql", q=sql))
    assert res["rows"] == demo_store.sql(sql).to_pylist() and not res["truncated"]
    ins = 'filter action = "REJECT" | stats count(*) as n by srcAddr | sort n desc | limit 3'
    status, res = get_json(
        f"{server}/query.json", data=json.dumps({"language": "insights", "q": ins}).encode()
    )
    assert status == 200 and len(res["rows"]) == 3 and res["columns"] == ["srcAddr", "n"]
    for evil in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/hostname'",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
    ):
        status, body = get_json(f"{server}/query.json?" + q(q=evil))
        assert status in (400, 403), evil
        assert "passwd" not in json.dumps(body.get("rows", []))
    status, body = get_json(f"{server}/query.json?" + q(q="SELECT * FROM read_csv('/etc/passwd')"))
    assert status == 403 and "refused" in body["error"]
    status, _, csv_body = get(f"{server}/query.csv?" + q(q=sql))
    expect = demo_store.sql(sql).to_pylist()
    lines = csv_body.decode().splitlines()
    assert status == 200 and lines[0] == "action,n" and len(lines) == 1 + len(expect)
    assert lines[1] == f"{expect[0]['action']},{expect[0]['n']}"


def test_an_unterminated_string_is_a_syntax_error_in_the_console_and_the_cli(server, demo_store):
    # Found by schemathesis: the SQL tokenizer's error escaped as a traceback.
    status, body = get_json(f"{server}/query.json?" + q(q="SELECT '] x"))
    assert status == 400 and body["error"].startswith("SQL syntax error")
    proc = subprocess.run(
        [str(EXE), "sql", "SELECT '] x", "--store", str(demo_store.path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and proc.stderr.startswith("Error: SQL syntax error")


def test_console_honours_the_row_and_time_limits(server, monkeypatch):
    monkeypatch.setenv("VPCFLOW_ROW_LIMIT", "5")
    _, res = get_json(f"{server}/query.json?" + q(q="SELECT * FROM vpc_flow_logs"))
    assert len(res["rows"]) == 5 and res["truncated"] and res["row_limit"] == 5
    monkeypatch.setenv("VPCFLOW_TIME_LIMIT", "0.2")
    slow = "SELECT count(*) FROM range(100000000000) a"
    t = time.perf_counter()
    status, body = get_json(f"{server}/query.json?" + q(q=slow, dialect="duckdb"))
    assert status == 400 and "time limit" in body["error"]
    assert time.perf_counter() - t < 30


def test_new_ingests_show_without_a_restart(tmp_path):
    generate(tmp_path / "a", records=5_000, seed=1)
    generate(tmp_path / "b", records=3_000, seed=2, start="2024-05-02T00:00:00Z")
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a" / "AWSLogs")])
    with running(store) as (_, base):
        _, before = get_json(f"{base}/panels/kpis.json?range=all")
        other = vpcflow.open_store(tmp_path / "store")  # another process would do the same
        other.ingest([str(tmp_path / "b" / "AWSLogs")])
        other.close()
        _, after = get_json(f"{base}/panels/kpis.json?range=all")
    store.close()
    assert before["kpis"]["records"] == 5_000
    assert after["kpis"]["records"] == 8_000


def test_loopback_refuses_foreign_host_headers(server):
    status, body = get_json(f"{server}/panels/kpis.json", headers={"Host": "attacker.example"})
    assert status == 403 and "127.0.0.1" in body["error"]


def test_a_non_loopback_bind_requires_the_token(demo_store):
    with running(demo_store, host="0.0.0.0") as (srv, base):
        assert srv.token and f"token={srv.token}" in srv.url
        assert get(f"{base}/")[0] == 401
        assert get(f"{base}/panels/kpis.json")[0] == 401
        assert get(f"{base}/static/app.js")[0] == 401
        assert get(f"{base}/panels/kpis.json?token=wrong")[0] == 401
        status, headers, _ = get(f"{base}/?token={quote(srv.token)}")
        assert status == 200 and "vpcflow_token=" in headers.get("set-cookie", "")
        cookie = headers["set-cookie"].split(";")[0]
        assert get(f"{base}/panels/kpis.json", headers={"Cookie": cookie})[0] == 200
        bearer = {"Authorization": f"Bearer {srv.token}"}
        assert get(f"{base}/panels/kpis.json", headers=bearer)[0] == 200


def test_every_response_carries_a_same_origin_content_security_policy(server):
    status, headers, html = get(f"{server}/")
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    # Every asset the page names is served from the package.
    for src in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
        assert get(server + src.decode())[0] == 200
    assert not re.search(rb"https?://", html)


def test_serve_cli_on_the_real_entry_point_with_a_generated_token(demo_store):
    proc = subprocess.Popen(
        [str(EXE), "serve", "--store", str(demo_store.path), "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://[^:]+:(\d+)/\?token=(\S+)", line)
        assert m, line
        port, token = m.groups()
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/overview.json")[0] == 401
        status, body = get_json(f"{base}/overview.json?range=all&token={token}")
        assert status == 200 and body["panels"]["kpis"]["kpis"]["records"] == demo_store.count()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def test_serve_cli_errors_are_one_line(tmp_path):
    proc = subprocess.run(
        [str(EXE), "serve", "--store", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and "no vpcflow store" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_demo_serve_opens_the_dashboard_on_the_demo_store(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [str(EXE), "demo", "--records", "20000", "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        out = []
        for line in proc.stdout:
            out.append(line)
            if "vpcflow dashboard on" in line:
                break
        text = "".join(out)
        assert "The dashboard" in text and "vpcflow serve --store" in text
        port = re.search(r"http://127\.0\.0\.1:(\d+)/", out[-1]).group(1)
        status, body = get_json(f"http://127.0.0.1:{port}/overview.json?range=all")
        assert status == 200 and body["panels"]["kpis"]["kpis"]["records"] == 20000
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert not list(tmp_path.glob("vpcflow-demo-*"))  # the temporary store is removed


def test_openapi_document_with_schemathesis(server):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    status, doc = get_json(f"{server}/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    failures = []
    for op in schema.get_all_operations():
        operation = op.ok()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            # A filter or time that the schema allows can still name no field or no time: a
            # 400 saying so is right, so schema-valid data may be refused.
            case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=300)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, not only the first
            inner = [repr(e)[:600] for e in getattr(exc, "exceptions", ())]
            failures.append(f"{operation.label}: {str(exc)[:300]} {inner}")
    assert not failures, "\n".join(failures)


def test_serve_from_aws_decides_the_rejections_with_the_fetched_rules(ec2_scenario, tmp_path):  # noqa: F811
    from test_troubleshoot_aws import records

    s = ec2_scenario
    (tmp_path / "web.log").write_text(records(s["web_eni"]))
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "web.log")])
    store.close()
    proc = subprocess.Popen(
        [str(EXE), "serve", "--store", str(tmp_path / "store"), "--port", "0", "--from-aws"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = re.search(r"127\.0\.0\.1:(\d+)/", proc.stdout.readline()).group(1)
        status, body = get_json(f"http://127.0.0.1:{port}/rejected.json?range=all")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert status == 200 and body["configurations"]
    verdicts = [v for g in body["groups"] for v in g["verdicts"]]
    https = next(v for v in verdicts if v["dstport"] == 443)
    assert (https["network_acl_id"], https["rule_number"], https["egress"]) == (s["acl"], 90, True)
    assert next(v for v in verdicts if v["dstport"] == 22)["verdict"] == "security-group"
    assert body["groups"][0]["subnet_id"] == s["web_subnet"]  # from the fetched interface


def test_named_queries_with_required_parameters_are_rendered_on_request(server, demo_store):
    _, listing = get_json(f"{server}/queries.json")
    eni_q = next(x for x in listing if any(p["required"] for p in x["params"]))
    assert eni_q["sql"] is None
    assert all(x["sql"] for x in listing if not any(p["required"] for p in x["params"]))
    par = next(p for p in eni_q["params"] if p["required"])
    status, err = get_json(f"{server}/queries.json?name={eni_q['name']}")
    assert status == 400 and par["name"] in err["error"]
    eni = (
        demo_store.sql("SELECT interface_id FROM vpc_flow_logs WHERE log_status = 'OK' LIMIT 1")
        .column(0)[0]
        .as_py()
    )
    status, one = get_json(
        f"{server}/queries.json?" + q(name=eni_q["name"], p=f"{par['name']}={eni}")
    )
    assert status == 200 and eni in one["sql"]
    status, res = get_json(f"{server}/query.json?" + q(q=one["sql"]))
    assert status == 200 and res["rows"]
