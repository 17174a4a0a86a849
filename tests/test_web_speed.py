"""Speed on large stores without changing an answer.

The top-N lists from the store's day summaries equal the records', with and without filter chips,
however few heavy keys a summary keeps; a list the summary cannot prove exact (a light key may
beat the N-th), a chip on a column it does not keep, or a day ingested since it was written read
the records instead. A restarted server answers from the answers saved by store version."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import vpcflow
from vpcflow.errors import StoreError
from vpcflow.generate import generate
from vpcflow.store import summaries
from vpcflow.web.answers import MISSING as MISSING_ANSWER
from vpcflow.web.answers import SavedAnswers
from vpcflow.web.dashboard import Dashboard
from vpcflow.web.overview import PAGE_ORDER, _sankey_graph
from webserver import answer as _answer
from webserver import get, running
from webserver import view_of as _view

EXE = Path(sys.executable).parent / "vpcflow"
TOP_PANELS = (
    "talkers",
    "ports",
    "sources",
    "destinations",
    "rejected_sources",
    "sankey",
    "kpis",
    "countries",
)
VIEWS = [
    "range=all",
    "range=24h&unit=packets",
    "range=1h&unit=records",
    "range=all&unit=records&f=action=REJECT",
    "range=all&f=action=ACCEPT&f=action=-",
    "range=24h&f=action!=REJECT",
    "range=all&unit=packets&f=srcaddr=10.0.0.0/8",
    "range=all&f=dstaddr=10.0.1.0/24&f=log_status=OK",
    "range=all&unit=records&f=protocol=6",
    "range=all&f=dstport=443",
    "range=all&f=interface_id=eni-0c31b4d5e6f708192",
    "range=24h&unit=records&f=interface_id!=eni-0b21a3c4d5e6f7081&f=protocol=17",
    "from=2024-05-01T02:00:00Z&to=2024-05-01T05:00:00Z&unit=records",
]


# These tests read every rollup; ingest keeps only the traffic rollup by default.
pytestmark = pytest.mark.usefixtures("every_rollup")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    base = tmp_path_factory.mktemp("web-summaries")
    generate(base / "logs", records=40_000, seed=11, attacks="all")
    store = vpcflow.open_store(base / "store")
    store.ingest([str(base / "logs" / "AWSLogs")])
    # `vpcflow rollup summarise` on the real entry point
    out = subprocess.run(
        [str(EXE), "rollup", "summarise", "--store", str(base / "store")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Wrote 5 day summaries; 0 were current." in out.stdout, out.stdout + out.stderr
    yield store
    store.close()


@pytest.fixture(scope="module")
def dashboards(seeded):
    return Dashboard(seeded, cache_size=0), Dashboard(seeded, cache_size=0, rollups=False)


def _count_queries(store) -> list[str]:
    """Every query ``store`` runs from now on, in order (the list fills as they run)."""
    ran: list[str] = []
    real = store.sql

    def counting(query, *a, **kw):
        ran.append(query)
        return real(query, *a, **kw)

    store.sql = counting
    return ran


@pytest.mark.parametrize("qs", VIEWS)
def test_every_top_list_from_the_summaries_equals_the_records(dashboards, qs):
    on, off = dashboards
    view = _view(on, qs)
    for panel in TOP_PANELS:
        got, reads = _answer(on, panel, view)
        expect, plain = _answer(off, panel, view)
        assert plain == ["vpc_flow_logs"]
        assert got == expect, (panel, reads)


def test_the_default_views_top_lists_are_answered_by_the_summaries(dashboards):
    on, _ = dashboards
    for qs in ("range=all", "range=all&unit=records&f=action=REJECT"):
        view = _view(on, qs)
        for panel in ("talkers", "ports", "sources", "destinations"):
            assert f"summary_{panel}" in on.panel(panel, view)["reads"], (qs, panel)
        # the rejected sources' ports and hosts and the Sankey's links too: no record is read
        assert on.panel("rejected_sources", view)["reads"] == ["summary_seen", "summary_sources"]
        # the distinct sources and the map from the sources seen
        assert "summary_seen" in on.panel("kpis", view)["reads"]
        assert on.panel("countries", view)["reads"] == ["summary_seen"]
        assert "vpc_flow_logs" not in on.panel("sankey", view)["reads"]
    # a protocol chip (a click on the protocols panel): the address groupings keep protocol
    view = _view(on, "range=all&unit=records&f=protocol=6")
    for panel in ("talkers", "ports", "sources", "destinations"):
        assert f"summary_{panel}" in on.panel(panel, view)["reads"], panel
    assert "vpc_flow_logs" not in on.panel("sankey", view)["reads"]
    assert on.panel("rejected_sources", view)["reads"] == ["summary_seen", "summary_sources"]
    assert "summary_seen" in on.panel("kpis", view)["reads"]
    assert on.panel("countries", view)["reads"] == ["summary_seen"]
    # a chip on a column the summaries do not keep reads the records
    view = _view(on, "range=all&f=dstport=443")
    assert on.panel("talkers", view)["reads"] == ["vpc_flow_logs"]
    # a range off the 5-minute buckets too
    view = _view(on, "from=2024-05-01T00:00:07Z&to=2024-05-01T03:00:00Z")
    assert on.panel("sources", view)["reads"] == ["vpc_flow_logs"]


@pytest.mark.parametrize("keep", [1, 3, 12])
def test_few_heavy_keys_never_give_a_wrong_answer(tmp_path, monkeypatch, seeded, keep):
    """With only a few heavy keys per criterion the bound is large: the summaries must refuse
    (and the records answer) rather than list a top-N a light key could beat."""
    monkeypatch.setattr(summaries, "KEEP", keep)
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(seeded.path, copy, ignore=shutil.ignore_patterns("summaries", "tmp"))
    store = vpcflow.open_store(copy, create=False)
    try:
        assert store.build_summaries()["written"] == len(summaries.SUMMARIES)
        on, off = Dashboard(store, cache_size=0), Dashboard(store, cache_size=0, rollups=False)
        for qs in VIEWS:
            view = _view(on, qs)
            for panel in TOP_PANELS:
                for n in (1, 5, 10):
                    a = on.panel(panel, view, n)
                    b = off.panel(panel, view, n)
                    a.pop("reads"), b.pop("reads")
                    assert a == b, (keep, qs, panel, n)
    finally:
        store.close()


def _write_records(path: Path, rows: list[tuple], action: str = "ACCEPT") -> None:
    lines = [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol "
        "packets bytes start end action log-status"
    ]
    for src, dst, port, t, nbytes in rows:
        lines.append(
            f"2 123456789012 eni-0a1b2c3d4e5f60001 {src} {dst} 40000 {port} 6 1 {nbytes} "
            f"{t} {t + 30} {action} OK"
        )
    path.write_text("\n".join(lines) + "\n")


def test_a_light_key_concentrated_in_the_range_beats_a_heavy_one(tmp_path, monkeypatch):
    """Key A is the day's heaviest (100 records spread over the day); B has 60 records, all in
    one hour. Over that hour B leads: the summary (A heavy, B light with a bound of 60) must not
    answer A, and the records give B."""
    monkeypatch.setattr(summaries, "KEEP", 1)
    day = 1714521600  # 2024-05-01
    rows = [("10.0.0.1", "10.0.0.9", 443, day + i * 840, 100) for i in range(100)]
    rows += [("10.0.0.2", "10.0.0.9", 443, day + 3 * 3600 + i * 50, 100) for i in range(60)]
    rows += [("10.0.0.3", "10.0.0.8", 22, day + 20 * 3600, 100)]
    _write_records(tmp_path / "a.log", rows)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a.log")])
    store.build_summaries(["sources"])
    dash = Dashboard(store, cache_size=0)
    hour = _view(dash, "from=2024-05-01T03:00:00Z&to=2024-05-01T04:00:00Z&unit=records")
    body = dash.panel("sources", hour, 1)
    assert "summary_sources" not in body["reads"]
    assert [i["srcaddr"] for i in body["items"]] == ["10.0.0.2"]
    assert body["items"][0]["value"] == 60
    # over the whole day A leads by more than any light key has: the summary answers
    whole = _view(dash, "from=2024-05-01&to=2024-05-02&unit=records")
    body = dash.panel("sources", whole, 1)
    assert "summary_sources" in body["reads"]
    assert [(i["srcaddr"], i["value"]) for i in body["items"]] == [("10.0.0.1", 100)]
    assert body["other"] == 61
    store.close()


def test_a_new_ingest_makes_its_day_read_the_records_until_summarised(tmp_path):
    generate(tmp_path / "a", records=6_000, seed=3)
    generate(tmp_path / "b", records=6_000, seed=4, start="2024-05-02T00:00:00Z")
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a" / "AWSLogs")])
    assert store.build_summaries() == {"written": 5, "current": 0}
    assert store.build_summaries() == {"written": 0, "current": 5}
    on, off = Dashboard(store, cache_size=0), Dashboard(store, cache_size=0, rollups=False)
    view = _view(on, "range=all")
    assert "summary_talkers" in on.panel("talkers", view)["reads"]
    store.ingest([str(tmp_path / "b" / "AWSLogs")])  # a day without a summary
    view = _view(on, "range=all")
    assert store.summary_status("talkers", view.start, view.end)["missing"] == ["2024-05-02"]
    assert on.panel("talkers", view)["reads"] == ["vpc_flow_logs"]
    assert _answer(on, "talkers", view)[0] == _answer(off, "talkers", view)[0]
    on.summarise()  # what `vpcflow serve` does after an ingest
    assert store.summary_status("talkers", view.start, view.end)["complete"]
    got, reads = _answer(on, "talkers", view)
    assert got == _answer(off, "talkers", view)[0]
    # one set of files per day and summary (rows, bounds; the Sankey's links and the rejected
    # sources' ports and hosts for sources; the sources seen and the countries' volumes): the
    # stale ones are gone
    files = list((tmp_path / "store" / summaries.SUMMARY_DIR).rglob("*.parquet"))
    assert len(files) == 2 * (2 + 2 + 4 + 3 + 2)
    with pytest.raises(StoreError, match="no day summary named nope; known: talkers"):
        store.build_summaries(["nope"])
    store.close()


def test_a_restarted_server_answers_from_the_saved_answers_until_an_ingest(tmp_path):
    generate(tmp_path / "a", records=4_000, seed=5)
    generate(tmp_path / "b", records=2_000, seed=6, start="2024-05-02T00:00:00Z")
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a" / "AWSLogs")])
    first = Dashboard(store)
    view = _view(first, "range=all")
    before = first.overview(view)
    # a new server on the same store (a restart): no query runs, the answers are on disk
    again = vpcflow.open_store(tmp_path / "store", create=False)
    ran = _count_queries(again)
    restarted = Dashboard(again)
    assert restarted.overview(_view(restarted, "range=all")) == before
    assert ran == []
    # --no-rollups keeps its own answers: it runs its queries
    Dashboard(again, rollups=False).panel("kpis", _view(restarted, "range=all"))
    assert ran
    # an ingest changes the store's version: the saved answers are not used
    store.ingest([str(tmp_path / "b" / "AWSLogs")])
    ran.clear()
    kpis = restarted.panel("kpis", _view(restarted, "range=all"))["kpis"]
    assert ran and kpis["records"] == 6_000
    root = tmp_path / "store" / "_vpcflow" / "web" / "answers" / "rollups"
    assert len(list(root.iterdir())) == 1  # the stale version's answers are gone
    again.close()
    store.close()


def test_rejected_ports_seen_inside_and_outside_the_range_are_counted_from_the_records(tmp_path):
    """A source rejected on port 22 at 01:00 and 05:00 and on port 23 at 03:00: over 02:00-04:00
    it tried one port, which the summary (port 22 seen from 01:00 to 05:00: maybe in the range)
    cannot tell; over the day two, which it can."""
    day = 1714521600
    rows = [
        ("203.0.113.7", "10.0.0.9", 22, day + 3600, 60),
        ("203.0.113.7", "10.0.0.9", 22, day + 5 * 3600, 60),
        ("203.0.113.7", "10.0.0.8", 23, day + 3 * 3600, 60),
    ]
    _write_records(tmp_path / "a.log", rows, action="REJECT")
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a.log")])
    store.build_summaries(["sources"])
    dash = Dashboard(store, cache_size=0)
    part = _view(dash, "from=2024-05-01T02:00:00Z&to=2024-05-01T04:00:00Z")
    body = dash.panel("rejected_sources", part, 1)
    assert "vpc_flow_logs" in body["reads"]
    assert [(i["srcaddr"], i["ports"], i["targets"]) for i in body["items"]] == [
        ("203.0.113.7", 1, 1)
    ]
    whole = _view(dash, "from=2024-05-01&to=2024-05-02&unit=records")
    body = dash.panel("rejected_sources", whole, 1)
    assert body["reads"] == ["summary_sources"]
    assert [(i["records"], i["value"], i["ports"], i["targets"]) for i in body["items"]] == [
        (3, 3, 2, 2)
    ]
    store.close()


def test_distinct_sources_and_the_map_come_from_the_sources_seen(tmp_path, monkeypatch):
    """8.8.8.8 at 01:00 and 05:00 of May 1st and again on May 2nd, 81.2.69.142 at 03:00, 1.1.1.1
    on May 2nd. A range of whole days, or over a day's end, is counted from the sources seen;
    02:00-04:00 of May 1st (8.8.8.8 seen before and after: maybe in it) from the rollup; a new
    country database makes the summary stale until written again."""
    day = 1714521600
    _write_records(
        tmp_path / "a.log",
        [
            ("8.8.8.8", "10.0.0.9", 443, day + 3600, 100),
            ("8.8.8.8", "10.0.0.9", 443, day + 5 * 3600, 100),
            ("81.2.69.142", "10.0.0.8", 22, day + 3 * 3600, 7),
            ("8.8.8.8", "10.0.0.9", 443, day + 86400 + 7200, 50),
            ("1.1.1.1", "10.0.0.9", 53, day + 86400 + 3600, 3),
        ],
    )
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a.log")])
    assert store.build_summaries(["seen"]) == {"written": 2, "current": 0}
    on, off = Dashboard(store, cache_size=0), Dashboard(store, cache_size=0, rollups=False)
    for qs, sources, seen in (
        ("from=2024-05-01&to=2024-05-03", 3, True),
        ("from=2024-05-01T04:00:00Z&to=2024-05-02T02:00:00Z", 2, True),
        ("from=2024-05-01T02:00:00Z&to=2024-05-01T04:00:00Z", 1, False),
        ("from=2024-05-01&to=2024-05-03&f=srcaddr=8.8.8.0/24", 1, False),  # volumes: records
        ("from=2024-05-01&to=2024-05-03&f=action=REJECT", 0, True),
    ):
        view = _view(on, qs)
        body = on.panel("kpis", view)
        assert body["kpis"]["sources"] == sources, qs
        assert ("summary_seen" in body["reads"]) is seen, (qs, body["reads"])
        for panel in ("kpis", "countries"):
            assert _answer(on, panel, view)[0] == _answer(off, panel, view)[0], (qs, panel)
    view = _view(on, "from=2024-05-01&to=2024-05-03&unit=records")
    body = on.panel("countries", view)
    assert body["reads"] == ["summary_seen"]
    assert [(i["country"], i["value"], i["sources"]) for i in body["items"]] == [
        ("US", 3, 1),
        ("AU", 1, 1),
        ("GB", 1, 1),
    ]
    from vpcflow.enrich import geo

    monkeypatch.setattr(geo, "_version", ["another database"])
    assert on.panel("countries", view)["reads"] != ["summary_seen"]
    assert store.build_summaries(["seen"]) == {"written": 2, "current": 0}
    assert on.panel("countries", view)["reads"] == ["summary_seen"]
    store.close()


def test_the_overview_page_computes_its_panels_while_its_script_loads(tmp_path):
    """The shell of ``/?…`` starts answering that view's panels (in the page's order): the
    page's own requests then run no query."""
    generate(tmp_path / "logs", records=3_000, seed=8)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "logs" / "AWSLogs")])
    ran = _count_queries(store)
    with running(store) as (server, url):
        qs = "range=all&unit=packets&f=action=REJECT"
        assert get(f"{url}/?{qs}")[0] == 200
        dash = server.app.state.dashboard
        for _ in range(600):  # the prefetch runs in a thread of its own
            if dash._prefetching.acquire(blocking=False):
                dash._prefetching.release()
                break
            threading.Event().wait(0.05)
        assert ran, "the shell started no query"
        ran.clear()
        for panel in PAGE_ORDER:
            status, _, body = get(f"{url}/panels/{panel}.json?{qs}")
            assert status == 200, body
        assert ran == []
        # another page's shell computes nothing
        get(f"{url}/flows?{qs}")
        threading.Event().wait(0.3)
        assert ran == []
    store.close()


def test_the_prefetch_order_is_the_order_the_page_asks_in():
    script = (Path(vpcflow.__file__).parent / "web" / "static" / "app.js").read_text()
    names = re.search(
        r"async function overview\(main\) \{.*?const names = \[(.*?)\];", script, re.S
    )
    assert names, "app.js: no list of the overview's panels"
    assert tuple(re.findall(r'"(\w+)"', names.group(1))) == PAGE_ORDER


CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance is not present")
@pytest.mark.parametrize("keep", [1, 200])
def test_other_projects_samples_give_the_records_answers(tmp_path, monkeypatch, keep):
    """Records other tools and AWS's documentation wrote (NODATA and SKIPDATA, IPv6, several
    years: many days): every top list, rejected source and Sankey equals the records'."""
    monkeypatch.setattr(summaries, "KEEP", keep)
    files = sorted((CONFORMANCE / "flowlogs-reader").glob("*.log"))
    files += [
        CONFORMANCE / "elastic-integrations" / f"test-{n}-samples.log" for n in ("extra", "ecs")
    ]
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(f) for f in files])
    assert store.count() > 20
    assert store.build_summaries()["written"] >= 4
    on, off = Dashboard(store, cache_size=0), Dashboard(store, cache_size=0, rollups=False)
    answered = set()
    for qs in ("range=all", "range=all&unit=records", "range=all&f=action=REJECT&unit=packets"):
        view = _view(on, qs)
        for panel in TOP_PANELS:
            for n in (1, 3, 10):
                a, b = on.panel(panel, view, n), off.panel(panel, view, n)
                answered |= {r for r in a.pop("reads") if r.startswith("summary_")}
                b.pop("reads")
                assert a == b, (qs, panel, n)
    assert answered  # some list was proven from the summaries
    store.close()


def _sankey_of_records(store, view, n: int = 10) -> dict:
    """The Sankey computed here from the records themselves: each column's top ``n`` by volume
    (ties by the key, a missing value last), every other address or port as "Other"."""
    rows = store.sql(
        f"""SELECT srcaddr, dstport, protocol, dstaddr, bytes, packets FROM vpc_flow_logs
WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND {view.where()}""",
        dialect="duckdb",
    ).to_pylist()

    def value(r):
        return 1 if view.unit == "records" else (r[view.unit] or 0)

    def top(key):
        total: dict = {}
        for r in rows:
            total[key(r)] = total.get(key(r), 0) + value(r)

        def order(k):
            parts = k if isinstance(k, tuple) else (k,)
            return (-total[k], *[(x is None, x if x is not None else 0) for x in parts])

        return set(sorted(total, key=order)[:n])

    srcs = top(lambda r: r["srcaddr"])
    ports = {p for p in top(lambda r: (r["dstport"], r["protocol"])) if None not in p}
    dsts = top(lambda r: r["dstaddr"])
    links: dict = {}
    for r in rows:
        a = ("src", r["srcaddr"] if r["srcaddr"] in srcs else None)
        key = (r["dstport"], r["protocol"])
        p = ("port", *key) if key in ports else ("port", None, None)
        b = ("dst", r["dstaddr"] if r["dstaddr"] in dsts else None)
        for pair in ((a, p), (p, b)):
            links[pair] = links.get(pair, 0) + value(r)
    return {"unit": view.unit, **_sankey_graph(links)}


@pytest.mark.parametrize("qs", VIEWS)
def test_the_sankey_from_the_records_is_the_records_sankey(dashboards, seeded, qs):
    _, off = dashboards
    view = _view(off, qs)
    got = off.panel("sankey", view)
    assert got.pop("reads") == ["vpc_flow_logs"]
    got.pop("panel"), got.pop("view")
    expect = _sankey_of_records(seeded, view)
    assert got == expect
    assert expect["links"], "a view with no link tests nothing"


def test_a_restarted_server_answers_the_rejections_page_from_disk_while_its_inputs_hold(
    tmp_path, monkeypatch
):
    """The troubleshooter takes a minute on a busy day: its page is saved by store version,
    configurations and inventory, and computed again when any of them changes."""
    from vpcflow.api import Store
    from vpcflow.troubleshoot import Configs, load_configs

    generate(tmp_path / "a", records=4_000, seed=5)
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a" / "AWSLogs")])
    first = Dashboard(store)
    page = first.rejected(_view(first, "range=all"))
    assert page["totals"] and page["groups"]
    runs = []
    real = Store.troubleshoot
    monkeypatch.setattr(Store, "troubleshoot", lambda s, **kw: runs.append(kw) or real(s, **kw))

    def served(**kw):  # a new server (a restart) on the same store
        again = vpcflow.open_store(tmp_path / "store", create=False)
        dash = Dashboard(again, **kw)
        try:
            return dash.rejected(_view(dash, "range=all"))
        finally:
            dash.close()
            again.close()

    assert served() == page and runs == []  # from disk: the troubleshooter did not run
    data = Path(__file__).parent / "data"
    configs = load_configs(network_interfaces=[data / "troubleshoot" / "network-interfaces.json"])
    assert isinstance(configs, Configs)
    served(configs=configs)
    assert len(runs) == 1  # other configurations: computed
    served(configs=configs)
    assert len(runs) == 1  # the same ones again (a restart with the same files): from disk
    store.sync_interfaces(file=data / "inventory" / "describe-network-interfaces.json")
    served()
    assert len(runs) == 2  # a new inventory snapshot names the interfaces anew: computed
    served(fetch_configs=lambda *a: None)
    served(fetch_configs=lambda *a: None)
    assert len(runs) == 4  # configurations fetched from AWS per view: never from disk
    store.close()


def test_a_full_disk_leaves_no_partial_saved_answer(tmp_path, monkeypatch):
    import errno

    (tmp_path / "vpcflow-store.json").write_text("{}")
    saved = SavedAnswers(tmp_path / "answers", tmp_path / "vpcflow-store.json")
    real = Path.write_text

    def full(self, text, *a, **kw):  # half the answer fits, then the disk is full
        real(self, text[: len(text) // 2], *a, **kw)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    saved.put("v1", ["kpis"], {"records": 1})
    assert saved.get("v1", ["kpis"]) is MISSING_ANSWER
    assert [p for p in (tmp_path / "answers").rglob("*") if p.is_file()] == []
