"""``python -m bench.web``: the dashboard's speed on a large store (``make bench`` runs it).

    python -m bench.web                          # 20M records (the target's size)
    python -m bench.web --records 2000000 --repeat 10 --work /tmp/bench

On one store, in one run:

* every panel's query (``Dashboard.panel`` with the result cache off) over four views — the
  default day, the last hour, ``dstport=443`` and ``action=REJECT`` — ``--repeat`` times each:
  median and p95, and each as a ratio to the baseline, ``SELECT count(*)`` over the same view
  (the cheapest query that reads the range), measured the same way in the same run;
* the overview page opened in headless Chromium on a freshly started server (cold cache) until it
  is fully drawn (every chart set, ``body[data-ready=1]``), ``--browser-repeat`` times, and again
  with the server's cache warm.

A store made by ``python -m bench --work DIR`` (``DIR/store-N``) is reused; otherwise the records
are generated and ingested here first. Results: a table on stdout and JSON in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
VIEWS = {
    "day": "range=24h",
    "hour": "range=1h",
    "dstport=443": "range=24h&f=dstport%3D443",
    "action=REJECT": "range=24h&f=action%3DREJECT",
}
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


def _store(records: int, work: Path, seed: int):
    import vpcflow
    from vpcflow.generate import generate

    path = work / f"store-{records}"
    if (path / "vpcflow-store.json").exists():
        store = vpcflow.open_store(path, create=False)
        if store.count() == records:
            return store
        store.close()
    logs = work / f"logs-{records}"
    if not (logs / ".complete").exists():
        print(f"generating {records:,} records ...", file=sys.stderr)
        generate(logs, records=records, seed=seed)
        (logs / ".complete").write_text("")
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    print(f"ingesting {records:,} records ...", file=sys.stderr)
    store = vpcflow.open_store(path)
    store.ingest([str(logs / "AWSLogs")])
    return store


def _stats(samples: list[float]) -> dict:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, max(0, round(0.95 * len(s)) - 1))]
    return {
        "median_ms": round(1000 * statistics.median(s), 1),
        "p95_ms": round(1000 * p95, 1),
        "min_ms": round(1000 * s[0], 1),
        "max_ms": round(1000 * s[-1], 1),
        "n": len(s),
    }


def bench_panels(store, repeat: int) -> dict:
    from starlette.datastructures import QueryParams

    from vpcflow.web.dashboard import PANELS, Dashboard

    dash = Dashboard(store, cache_size=0)  # every call runs its queries
    out: dict = {}
    for vname, qs in VIEWS.items():
        view = dash.view(QueryParams(qs))
        base_sql = f"SELECT count(*) FROM vpc_flow_logs WHERE {view.where()}"
        store.sql(base_sql, dialect="duckdb")  # open the connection, read the metadata
        times: dict[str, list[float]] = {"baseline count(*)": []}
        for _ in range(repeat):
            t = time.perf_counter()
            store.sql(base_sql, dialect="duckdb")
            times["baseline count(*)"].append(time.perf_counter() - t)
            for p in PANELS:
                t = time.perf_counter()
                dash.panel(p, view)
                times.setdefault(p, []).append(time.perf_counter() - t)
        base = statistics.median(times["baseline count(*)"])
        out[vname] = {}
        for p, s in times.items():
            st = _stats(s)
            st["median_x_baseline"] = round(statistics.median(s) / base, 2)
            out[vname][p] = st
        print(f"[{vname}] baseline {1000 * base:.0f} ms", file=sys.stderr)
    return out


def bench_browser(store, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    from vpcflow.web import Server

    cold, warm = [], []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True
        )
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("about:blank")
        for _ in range(repeat):
            server = Server(store, "127.0.0.1", 0)  # a fresh server: an empty cache
            th = threading.Thread(target=server.run, daemon=True)
            th.start()
            while not server._server.started:
                time.sleep(0.02)
            url = f"http://127.0.0.1:{server.port}/?range=24h"
            for samples in (cold, warm):
                page.goto("about:blank")
                t = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("body[data-ready='1']", state="attached", timeout=600_000)
                samples.append(time.perf_counter() - t)
            server.stop()
            th.join(10)
        ctx.close()
    res = {"cold_cache": _stats(cold), "warm_cache": _stats(warm), "console_errors": errors}
    res["warm_x_cold"] = round(statistics.median(warm) / statistics.median(cold), 3)
    return res


def _table(panels: dict, browser: dict) -> str:
    names = list(next(iter(panels.values())))
    lines = ["panel query (cache off): median / p95 ms (median x baseline count(*))"]
    lines.append(f"{'panel':<20}" + "".join(f"{v:>26}" for v in panels))
    for p in names:
        cells = []
        for v in panels:
            s = panels[v][p]
            cells.append(
                f"{s['median_ms']:>7.0f} /{s['p95_ms']:>6.0f} ({s['median_x_baseline']:>5.1f}x)"
            )
        lines.append(f"{p:<20}" + "".join(f"{c:>26}" for c in cells))
    lines.append("")
    c, w = browser["cold_cache"], browser["warm_cache"]
    lines.append(
        f"overview fully drawn in headless Chromium: cold cache median {c['median_ms']:.0f} ms "
        f"(p95 {c['p95_ms']:.0f}); warm cache median {w['median_ms']:.0f} ms "
        f"(p95 {w['p95_ms']:.0f}; {browser['warm_x_cold']:.2f}x cold)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=10, help="runs of each panel per view")
    ap.add_argument("--browser-repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None, help="keep (or reuse) the store here")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    tmp = None
    if a.work:
        work = Path(a.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="vpcflow-bench-web-")
        work = Path(tmp.name)
    try:
        store = _store(a.records, work, a.seed)
        panels = bench_panels(store, a.repeat)
        browser = bench_browser(store, a.browser_repeat)
        store.close()
    finally:
        if tmp:
            tmp.cleanup()
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "records": a.records,
        "repeat": a.repeat,
        "panels": panels,
        "browser": browser,
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    name = out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-web-{a.records}.json"
    name.write_text(json.dumps(doc, indent=2) + "\n")
    print(_table(panels, browser))
    print(f"\nwrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
