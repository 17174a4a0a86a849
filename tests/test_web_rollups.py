"""The dashboard on the store's rollups: every panel gives exactly what the records give, with and
without filter chips; a view the rollups cannot answer (a range off their 5-minute buckets, a chip
on a column they do not keep, data files without them) reads the records instead."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.datastructures import QueryParams

import vpcflow
from vpcflow.generate import generate
from vpcflow.store.rollups import enabled as enabled_rollups
from vpcflow.web.dashboard import PANELS, Dashboard
from webserver import answer, get_json
from webserver import view_of as _view

# These tests read every rollup; ingest keeps only the traffic rollup by default.
pytestmark = pytest.mark.usefixtures("every_rollup")


EXE = Path(sys.executable).parent / "vpcflow"

# Views a user reaches by clicking: ranges, units, chips on rollup keys (several values of one
# field, negations, prefixes, absent values, derived fields): each answered in part by a rollup.
ROLLUP_VIEWS = [
    "range=all",
    "range=24h&unit=packets",
    "range=1h&unit=records",
    "range=all&unit=records&f=action=REJECT",
    "range=24h&f=protocol=6&f=protocol=17&f=action!=REJECT",
    "range=all&unit=packets&f=srcaddr=10.0.0.0/8",
    "range=all&f=dstaddr=10.0.1.0/24&f=action=ACCEPT",
    "range=all&unit=records&f=log_status=-",
    "range=all&f=src_country!=US",
    "range=all&unit=records&f=log_status=OK&f=protocol=17",
]
# What answers each panel (the rest of the panels of these views read the records).
READS = [
    ("range=all", "kpis", ["rollup_sources", "rollup_traffic"]),
    ("range=all", "timeseries", ["rollup_traffic"]),
    ("range=all", "protocols", ["rollup_traffic"]),
    ("range=all", "interfaces", ["rollup_traffic"]),
    ("range=all", "sources", ["rollup_sources"]),
    ("range=all", "countries", ["rollup_sources"]),
    ("range=all", "destinations", ["rollup_destinations"]),
    ("range=all", "talkers", ["vpc_flow_logs"]),
    ("range=all", "sankey", ["vpc_flow_logs"]),
    ("range=all&unit=packets&f=srcaddr=10.0.0.0/8", "sources", ["rollup_sources"]),
    ("range=all&unit=packets&f=srcaddr=10.0.0.0/8", "protocols", ["vpc_flow_logs"]),
    ("range=all&f=src_country!=US", "countries", ["rollup_sources"]),
    ("range=all&f=dstaddr=10.0.1.0/24&f=action=ACCEPT", "destinations", ["rollup_destinations"]),
    ("range=24h&f=protocol=6&f=protocol=17&f=action!=REJECT", "interfaces", ["rollup_traffic"]),
    ("range=24h&f=protocol=6&f=protocol=17&f=action!=REJECT", "sources", ["vpc_flow_logs"]),
]


def _answers(dash: Dashboard, view) -> dict:
    return {p: answer(dash, p, view)[0] for p in PANELS}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    base = tmp_path_factory.mktemp("web-rollups")
    generate(base / "logs", records=40_000, seed=11, attacks="all")
    store = vpcflow.open_store(base / "store")
    store.ingest([str(base / "logs" / "AWSLogs")])
    yield store
    store.close()


@pytest.fixture(scope="module")
def dashboards(seeded):
    return Dashboard(seeded, cache_size=0), Dashboard(seeded, cache_size=0, rollups=False)


@pytest.mark.parametrize("qs", ROLLUP_VIEWS)
def test_every_panel_on_the_rollups_equals_the_records(dashboards, qs):
    on, off = dashboards
    view = _view(on, qs)
    assert view.start % 300 == 0 and view.end % 300 == 0  # relative ranges end on buckets
    reads = {r for p in PANELS for r in on.panel(p, view)["reads"]}
    assert reads - {"vpc_flow_logs"}, reads  # some panel of the view reads a rollup
    assert all(off.panel(p, view)["reads"] == ["vpc_flow_logs"] for p in PANELS)
    assert _answers(on, view) == _answers(off, view)


@pytest.mark.parametrize("qs, panel, reads", READS)
def test_each_panel_reads_the_smallest_rollup_that_answers_it(dashboards, qs, panel, reads):
    on, _ = dashboards
    assert on.panel(panel, _view(on, qs))["reads"] == reads


def test_kpis_count_distinct_sources_over_the_keys_not_by_summing(dashboards, seeded):
    on, _ = dashboards
    view = _view(on, "range=all&f=action=REJECT")
    k = on.panel("kpis", view)
    assert k["reads"] == ["rollup_sources", "rollup_traffic"]
    expect = seeded.sql(
        "SELECT count(DISTINCT srcaddr) AS n, count(DISTINCT interface_id) AS i "
        f"FROM vpc_flow_logs WHERE {view.where()}",
        dialect="duckdb",
    ).to_pylist()[0]
    assert (k["kpis"]["sources"], k["kpis"]["interfaces"]) == (expect["n"], expect["i"])
    # Summing per-bucket distinct counts would count a source once per bucket it appears in.
    per_bucket = seeded.sql(
        "SELECT sum(n) AS s FROM (SELECT count(DISTINCT srcaddr) AS n FROM rollup_sources "
        f"WHERE {view.where(bucket=('bucket', 300))} GROUP BY bucket)",
        dialect="duckdb",
    ).to_pylist()[0]["s"]
    assert per_bucket > k["kpis"]["sources"]


@pytest.mark.parametrize(
    "qs, panel",
    [
        # a custom range off the 5-minute buckets (a drag on the time chart)
        ("from=2024-05-01T00:00:07Z&to=2024-05-01T03:00:00Z", "kpis"),
        # a chip on a column no rollup keeps
        ("range=all&f=srcport=443", "kpis"),
        ("range=all&f=vpc_id=vpc-0123456789abcdef0", "sankey"),
        # the sources rollup does not keep the interface
        ("range=all&f=interface_id=eni-0000000000000000", "sources"),
    ],
)
def test_views_the_rollups_cannot_answer_read_the_records(dashboards, qs, panel):
    on, off = dashboards
    view = _view(on, qs)
    body = on.panel(panel, view)
    assert body.pop("reads") == ["vpc_flow_logs"]
    other = off.panel(panel, view)
    other.pop("reads")
    assert body == other


def test_the_hour_view_draws_minutes_from_the_records_and_the_rest_from_rollups(dashboards):
    on, _ = dashboards
    view = _view(on, "range=1h")
    ts = on.panel("timeseries", view)
    assert ts["bucket"] == 60 and ts["reads"] == ["vpc_flow_logs"]  # finer than 5 minutes
    assert on.panel("interfaces", view)["reads"] == ["rollup_traffic"]


def test_files_without_the_rollups_make_their_range_read_the_records(tmp_path, monkeypatch):
    generate(tmp_path / "a", records=6_000, seed=3)
    generate(tmp_path / "b", records=6_000, seed=4, start="2024-05-02T00:00:00Z")
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a" / "AWSLogs")])
    monkeypatch.setenv("VPCFLOW_ROLLUPS", "0")
    assert enabled_rollups() == []
    store.ingest([str(tmp_path / "b" / "AWSLogs")])  # a day written without rollups
    monkeypatch.setenv("VPCFLOW_ROLLUPS", "all")
    on, off = Dashboard(store, cache_size=0), Dashboard(store, cache_size=0, rollups=False)
    first = _view(on, "from=2024-05-01T00:00:00Z&to=2024-05-02T00:00:00Z")
    both = _view(on, "range=all")
    assert on.panel("protocols", first)["reads"] == ["rollup_traffic"]
    assert on.panel("protocols", both)["reads"] == ["vpc_flow_logs"]
    assert _answers(on, both) == _answers(off, both)
    store.rebuild_rollups()  # `vpcflow rollup rebuild`: now every file has them
    assert on.panel("protocols", both)["reads"] == ["rollup_traffic"]
    assert _answers(on, both) == _answers(off, both)
    store.close()


def test_serve_answers_from_rollups_and_no_rollups_from_the_records(seeded):
    def serve(*extra):
        proc = subprocess.Popen(
            [str(EXE), "serve", "--store", str(seeded.path), "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in proc.stdout:
            if "vpcflow dashboard on" in line:
                port = re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1)
                return proc, f"http://127.0.0.1:{port}"
        proc.kill()
        raise AssertionError("the server did not start")

    got = {}
    for flags in ((), ("--no-rollups",)):
        proc, base = serve(*flags)
        try:
            status, body = get_json(
                f"{base}/overview.json?range=all&unit=records&f=action%3DREJECT"
            )
            assert status == 200
            got[flags] = body
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    on, off = got[()]["panels"], got[("--no-rollups",)]["panels"]
    # (the day summaries that the server writes in the background answer it once written)
    assert on["sources"]["reads"] in (["rollup_sources"], ["rollup_traffic", "summary_sources"])
    assert {r for p in off.values() for r in p["reads"]} == {"vpc_flow_logs"}
    for p in on.values():
        p.pop("reads")
    for p in off.values():
        p.pop("reads")
    assert on == off
    assert (
        on["kpis"]["kpis"]["records"]
        == seeded.sql("SELECT count(*) FROM vpc_flow_logs WHERE action = 'REJECT'")
        .column(0)[0]
        .as_py()
    )


def test_the_server_keeps_the_default_overview_warm_across_ingests(tmp_path):
    import threading

    generate(tmp_path / "a", records=3_000, seed=3)
    generate(tmp_path / "b", records=3_000, seed=4, start="2024-05-02T00:00:00Z")
    store = vpcflow.open_store(tmp_path / "store")
    store.ingest([str(tmp_path / "a" / "AWSLogs")])
    dash = Dashboard(store)
    stop = threading.Event()
    th = threading.Thread(target=dash.keep_warm, args=(stop, 0.05), daemon=True)
    th.start()
    try:

        def warmed() -> bool:
            # the KPI query of the store as it is now is in the cache (of that store version)
            now = dash.version()
            with dash._lock:  # the warming thread writes the cache meanwhile
                keys = list(dash._cache)
            return any(
                v == now and isinstance(k[1], str) and "count(DISTINCT interface_id)" in k[1]
                for k, v in keys
            )

        for _ in range(600):
            if warmed():
                break
            threading.Event().wait(0.05)
        assert warmed()
        store.ingest([str(tmp_path / "b" / "AWSLogs")])  # a new version: warmed again
        for _ in range(600):
            if warmed():
                break
            threading.Event().wait(0.05)
        assert warmed()
        kpis = dash.panel("kpis", dash.view(QueryParams("range=all")))["kpis"]
        assert kpis["records"] == 6_000
    finally:
        stop.set()
        th.join(30)
        store.close()
