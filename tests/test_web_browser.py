"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

The server runs on 127.0.0.1 (a free port) over a generated store; each test opens pages as a
user would, reads what the charts drew, clicks, and checks against the JSON twins and SQL.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

import vpcflow
from vpcflow.cli import main
from vpcflow.generate import generate
from webserver import get_json, running

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = "body[data-ready='1']"
FLOW_ORDER = (
    '"start" DESC, "end" DESC, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, '
    "packets, bytes, action"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    generate(base / "logs", records=30_000, seed=11, attacks="all")
    s = vpcflow.open_store(base / "store")
    s.ingest([str(base / "logs" / "AWSLogs")])
    yield s
    s.close()


@pytest.fixture(scope="module")
def base(store):
    with running(store) as (_, url):
        yield url


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run 'make install' (apt chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser):
    p = browser.new_page()
    p.set_default_timeout(120_000)  # a loaded machine: slow is not wrong
    p.errors = []
    p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    yield p
    p.close()


def open_page(page, url: str):
    resp = page.goto(url)
    page.wait_for_selector(READY, state="attached", timeout=120_000)
    return resp


def query_of(url: str) -> dict:
    return parse_qs(urlparse(url).query)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/rejected?range=all",
        "/findings?range=all",
        "/flows?range=all",
        "/console",
        "/ip/10.0.0.5?range=all",
        "/interface/{eni}?range=all",
    ],
)
def test_each_page_renders_with_no_console_error(page, base, store, path):
    eni = store.sql("SELECT interface_id FROM vpc_flow_logs LIMIT 1").column(0)[0].as_py()
    open_page(page, base + path.format(eni=eni))
    assert page.errors == []
    assert page.locator("#error").is_hidden()
    assert page.locator("main").inner_text().strip()


def _drawn(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(Object.entries(window.vpcflow.charts).map(([n, c]) => {
             const o = c.chart.getOption();
             return [n, o.series.map((s) => ({name: s.name, type: s.type,
                       data: (s.data || []).map((d) => (d && d.value !== undefined && !Array.isArray(d))
                                                    ? {name: d.name, value: d.value} : d),
                       links: s.links}))];
           }))"""
    )


def test_each_chart_draws_its_json_twin(page, base):
    url = "/?range=all&unit=packets"
    open_page(page, base + url)
    drawn = _drawn(page)
    assert set(drawn) == {
        "timeseries",
        "talkers",
        "ports",
        "protocols",
        "countries",
        "sankey",
        "sources",
        "destinations",
    }
    q = "range=all&unit=packets"
    for name, series in drawn.items():
        _, twin = get_json(f"{base}/panels/{name}.json?{q}")
        if name == "timeseries":
            bars = {s["name"]: s["data"] for s in series if s["type"] == "bar"}
            assert bars == {
                s["name"]: [[t * 1000, v] for t, v in s["data"]] for s in twin["series"]
            }
            line = next(s for s in series if s["name"] == "previous period")
            assert line["data"] == [[t * 1000, v] for t, v in twin["previous"]]
        elif name in ("talkers", "ports", "sources", "destinations"):
            want = [(i["label"], i["value"]) for i in twin["items"]]
            if twin["other"]:
                want.append(("Other", twin["other"]))
            got = [(d["name"], d["value"]) for d in series[0]["data"]]
            assert sorted(got) == sorted(want), name
        elif name == "protocols":
            want = [(i["label"], i["value"]) for i in twin["items"]]
            assert [(d["name"], d["value"]) for d in series[0]["data"]][: len(want)] == want
        elif name == "countries":
            want = {(i["country"], i["value"]) for i in twin["items"] if i["is_country"]}
            # ECharts lists every region of the map; those without data have no value.
            got = {(d["name"], d["value"]) for d in series[0]["data"] if d.get("value") is not None}
            assert got == want and want
        elif name == "sankey":
            assert [d["name"] for d in series[0]["data"]] == [n["name"] for n in twin["nodes"]]
            assert series[0]["links"] == twin["links"]


def _sql_rows(store, where: str, limit: int = 50) -> list[dict]:
    res = CliRunner().invoke(
        main,
        [
            "sql",
            f"SELECT * FROM vpc_flow_logs WHERE {where} ORDER BY {FLOW_ORDER} LIMIT {limit}",
            "--store",
            str(store.path),
            "--format",
            "json",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _table_rows(page) -> list[dict]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#flows tbody tr')].map((tr) =>
             Object.fromEntries([...tr.querySelectorAll('td')].map((td) =>
               [td.dataset.col, td.querySelector('.fv') ? td.querySelector('.fv').textContent
                                                        : td.textContent])))"""
    )


def _epoch(s: str) -> int:
    import datetime as dt

    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())


def test_clicking_a_bar_filters_the_flows_to_what_vpcflow_sql_returns(page, base, store):
    open_page(page, base + "/?range=all&unit=records")
    _, ports = get_json(f"{base}/panels/ports.json?range=all&unit=records")
    item = ports["items"][2]  # a port with a few hundred records, not the busiest
    x, y = page.evaluate(
        """([label, value]) => {
             const c = window.vpcflow.charts.ports.chart;
             const box = c.getDom().getBoundingClientRect();
             const [px, py] = c.convertToPixel({seriesIndex: 0}, [value / 2, label]);
             return [box.left + px, box.top + py];
           }""",
        [item["label"], item["value"]],
    )
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"f=dstport"), timeout=120_000)
    page.wait_for_selector(READY, state="attached")
    assert query_of(page.url)["f"] == item["filters"]
    assert page.locator("[data-chip]").count() == 2
    page.click("nav a[data-nav=flows]")
    page.wait_for_url(re.compile(r"/flows\?"))
    page.wait_for_selector(READY, state="attached")
    _, view = get_json(f"{base}/panels/kpis.json?range=all")
    t0, t1 = _epoch(view["view"]["from"]), _epoch(view["view"]["to"])
    where = (
        f'"start" >= {t0} AND "start" < {t1} AND dstport = {item["dstport"]} '
        f"AND protocol = {item['protocol']}"
    )
    expect = _sql_rows(store, where)
    got = _table_rows(page)
    assert len(got) == len(expect) > 0
    for g, e in zip(got, expect, strict=True):
        assert (g["srcaddr"], g["dstaddr"], g["srcport"], g["dstport"], g["bytes"]) == (
            e["srcaddr"],
            e["dstaddr"],
            str(e["srcport"]),
            str(e["dstport"]),
            str(e["bytes"]),
        )
    n = store.sql(f"SELECT count(*) FROM vpc_flow_logs WHERE {where}").column(0)[0].as_py()
    assert f"{n:,} records" in page.locator("#pageinfo").inner_text()
    assert page.errors == []


def test_a_table_value_adds_a_chip_and_links_to_its_entity_page(page, base, store):
    open_page(page, base + "/?range=all")
    cell = page.locator("#rejected-sources tbody tr").first.locator("td[data-col=srcaddr] .fv")
    addr = cell.inner_text()
    cell.click()
    page.wait_for_url(re.compile(r"f=srcaddr"))
    page.wait_for_selector(READY, state="attached")
    assert page.locator(f"[data-chip='srcaddr={addr}']").count() == 1
    page.locator(f"#rejected-sources [data-entity='{addr}']").first.click()
    page.wait_for_url(re.compile(r"/ip/"))
    page.wait_for_selector(READY, state="attached")
    assert urlparse(page.url).path == f"/ip/{addr}"
    n = (
        store.sql(
            f"SELECT count(*) FROM vpc_flow_logs WHERE (srcaddr = '{addr}' OR dstaddr = '{addr}') "
            f"AND srcaddr = '{addr}'"
        )
        .column(0)[0]
        .as_py()
    )
    assert page.locator("[data-kpi=records] .v").inner_text() in (str(n), f"{n / 1000:.1f}K")
    assert page.errors == []


def test_the_url_holds_the_whole_view_and_back_and_forward_work(page, base):
    url = (
        "/flows?from=2024-05-01T10%3A00%3A00Z&to=2024-05-01T11%3A00%3A00Z&unit=packets"
        "&f=action%3DREJECT&f=dstport%21%3D22"
    )
    open_page(page, base + url)
    assert page.locator("#range").input_value() == "custom"
    assert page.locator("#from").input_value().startswith("2024-05-01T10:00")
    assert page.locator("[data-unit=packets]").get_attribute("class") == "on"
    assert sorted(
        page.locator("[data-chip]").evaluate_all("es => es.map(e => e.dataset.chip)")
    ) == [
        "action=REJECT",
        "dstport!=22",
    ]
    twin = page.locator("#twin").get_attribute("href")
    assert query_of(twin)["f"] == ["action=REJECT", "dstport!=22"]
    assert query_of(twin)["from"] == ["2024-05-01T10:00:00Z"]
    first_rows = _table_rows(page)
    # A reload of the same URL shows the same rows.
    open_page(page, page.url)
    assert _table_rows(page) == first_rows
    page.click("[data-unit=records]")
    page.wait_for_url(re.compile(r"unit=records"))
    page.wait_for_selector(READY, state="attached")
    page.click("[aria-label='remove action=REJECT']")
    page.wait_for_selector(READY, state="attached")
    assert query_of(page.url)["f"] == ["dstport!=22"]
    page.go_back()
    page.wait_for_selector(READY, state="attached")
    assert query_of(page.url)["f"] == ["action=REJECT", "dstport!=22"]
    assert query_of(page.url)["unit"] == ["records"]
    page.go_back()
    page.wait_for_selector(READY, state="attached")
    assert query_of(page.url)["unit"] == ["packets"]
    assert page.locator("[data-unit=packets]").get_attribute("class") == "on"
    assert _table_rows(page) == first_rows
    page.go_forward()
    page.wait_for_selector(READY, state="attached")
    assert query_of(page.url)["unit"] == ["records"]
    assert page.errors == []


def test_dragging_on_the_time_chart_zooms_every_panel(page, base):
    open_page(page, base + "/?range=all&unit=records")
    box = page.locator("#chart-timeseries").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    page.wait_for_url(re.compile(r"from="), timeout=120_000)
    page.wait_for_selector(READY, state="attached")
    q = query_of(page.url)
    assert "range" not in q and q["from"] and q["to"]
    t0, t1 = _epoch(q["from"][0]), _epoch(q["to"][0])
    _, whole = get_json(f"{base}/panels/kpis.json?range=all")
    span = _epoch(whole["view"]["to"]) - _epoch(whole["view"]["from"])
    assert 0.05 * span < t1 - t0 < 0.2 * span  # about a tenth of the day was dragged over
    _, twin = get_json(f"{base}/panels/kpis.json?from={q['from'][0]}&to={q['to'][0]}")
    shown = page.locator("[data-kpi=records] .v").inner_text()
    n = twin["kpis"]["records"]
    assert shown in (str(n), f"{n / 1000:.1f}K")
    assert page.errors == []


def test_the_console_refuses_file_access_and_honours_the_limits(page, base, monkeypatch):
    open_page(page, base + "/console")
    page.fill("#q", "SELECT * FROM read_csv('/etc/passwd')")
    page.press("#q", "Control+Enter")
    page.wait_for_url(re.compile(r"q="))
    page.wait_for_selector(READY, state="attached")
    err = page.locator("#query-error").inner_text()
    assert "refused" in err and "root:" not in page.content()
    monkeypatch.setenv("VPCFLOW_ROW_LIMIT", "3")
    page.fill("#q", "SELECT srcaddr FROM vpc_flow_logs")
    page.click("#run")
    page.wait_for_url(re.compile(r"srcaddr"))
    page.wait_for_selector(READY, state="attached")
    assert "truncated at the row limit of 3" in page.locator("#query-info").inner_text()
    assert page.locator("#result tbody tr").count() == 3
    monkeypatch.delenv("VPCFLOW_ROW_LIMIT")
    page.click("[data-query=rejects-by-source]")
    page.wait_for_url(re.compile(r"q="))
    page.wait_for_selector(READY, state="attached")
    assert page.locator("#result tbody tr").count() > 0
    assert page.locator("#downloads a", has_text="CSV").count() == 1
    assert page.errors == [] or all("403" in e or "400" in e for e in page.errors)


def test_a_non_loopback_bind_without_the_token_gets_401(browser, store):
    with running(store, host="0.0.0.0") as (srv, url):
        p = browser.new_page()
        errors = []
        p.on("pageerror", lambda e: errors.append(str(e)))
        assert p.goto(url + "/").status == 401
        assert p.goto(url + "/overview.json").status == 401
        resp = p.goto(f"{url}/?token={srv.token}&range=all")
        assert resp.status == 200
        p.wait_for_selector(READY, state="attached", timeout=120_000)
        # The page's own requests (assets, JSON) carry the token in its cookie.
        assert p.locator("#error").is_hidden() and errors == []
        assert p.locator("[data-kpi=records]").count() == 1
        p.close()
    assert Path(CHROMIUM).exists()


def test_the_rejections_page_says_what_it_waits_for(page, base):
    """The troubleshooter's first answer on a busy day takes a minute: the page says so after a
    moment, then draws the answer as usual."""
    held = []
    page.route("**/rejected.json*", lambda route: held.append(route))
    page.goto(base + "/rejected?range=all")
    page.wait_for_selector("#loading:has-text('troubleshooter')", timeout=10_000)
    assert held and page.locator("#loading").inner_text().startswith("The troubleshooter")
    held[0].continue_()
    page.wait_for_selector(READY, state="attached", timeout=30_000)
    assert page.locator("#loading").count() == 0
    assert "Why traffic was rejected" in page.locator("main").inner_text()
    assert page.errors == []
