"""``python -m bench.web``: the dashboard's speed on large stores (``make bench`` runs it).

    python -m bench.web                                   # 2M and 20M records
    python -m bench.web --sizes 2000000 --repeat 10 --work /tmp/bench
    python -m bench.web --sizes 20000000 --views day,action=REJECT --repeat 5 --browser-repeat 3

On each store, in one run:

* every panel's query (``Dashboard.panel`` with the answer cache off) over up to five views --
  the default day, the last hour, ``dstport=443``, ``protocol=6`` and ``action=REJECT`` --
  ``--repeat`` times
  each, on the store's rollups and on the records alone (``rollups=False``) alternately: median,
  p95 and spread of each, the rollups' median as a ratio to the records', and both as a ratio to
  ``SELECT count(*)`` over the same view (the cheapest query that reads the range), measured the
  same way in the same run; the two answers are compared (they must be identical);
* the same panel with the answer cache warm (a repeated view: back/forward, a reload);
* the overview page opened in headless Chromium on a freshly started server (cold cache) until it
  is fully drawn (every chart set, ``body[data-ready=1]``), ``--browser-repeat`` times, and again
  with the server's cache warm, with and without rollups.

A store made by ``python -m bench --work DIR`` (``DIR/store-N``) is reused (its rollups written
first when it has none); otherwise the records are generated and ingested here. Results: a
table on stdout and JSON in ``bench/results/``.
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
    "protocol=6": "range=24h&f=protocol%3D6",
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
            t = time.perf_counter()
            # a store written before the rollups existed, or with the default set only
            done = store.rebuild_rollups(["traffic", "sources", "destinations"])
            if done["files"]:
                print(f"rollups for {done['files']} files: {time.perf_counter() - t:.1f} s")
            _summarise(store)
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
    store.rebuild_rollups(["traffic", "sources", "destinations"])  # beyond the default set
    _summarise(store)
    return store


def _summarise(store) -> None:
    """The day summaries the dashboard's top-N lists read (``vpcflow rollup summarise``)."""
    t = time.perf_counter()
    done = store.build_summaries()
    if done["written"]:
        print(f"{done['written']} day summaries: {time.perf_counter() - t:.1f} s", file=sys.stderr)


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


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def bench_panels(store, repeat: int, views: dict) -> dict:
    from starlette.datastructures import QueryParams

    from vpcflow.web.dashboard import PANELS, Dashboard

    # every call runs its queries: on the rollups where they answer, or on the records only
    modes = {
        "rollups": Dashboard(store, cache_size=0),
        "records": Dashboard(store, cache_size=0, rollups=False),
    }
    cached = Dashboard(store)
    for d in (*modes.values(), cached):
        d.prepare()  # as `vpcflow serve` does before it answers
    out: dict = {}
    for vname, qs in views.items():
        view = modes["rollups"].view(QueryParams(qs))
        base_sql = f"SELECT count(*) FROM vpc_flow_logs WHERE {view.where()}"
        store.sql(base_sql, dialect="duckdb")  # open the connection, read the metadata
        base: list[float] = []
        times: dict = {p: {"rollups": [], "records": [], "warm": []} for p in PANELS}
        reads, same = {}, {}
        for i in range(repeat):
            base.append(_timed(store.sql, base_sql, dialect="duckdb")[0])
            for p in PANELS:
                got = {}
                # alternate which runs first so that neither always finds the other's pages cached
                for m in ("rollups", "records") if i % 2 == 0 else ("records", "rollups"):
                    dt, got[m] = _timed(modes[m].panel, p, view)
                    times[p][m].append(dt)
                reads[p] = got["rollups"].pop("reads")
                got["records"].pop("reads")
                same[p] = same.get(p, True) and got["rollups"] == got["records"]
                cached.panel(p, view)
                times[p]["warm"].append(_timed(cached.panel, p, view)[0])
        b = statistics.median(base)
        out[vname] = {"baseline count(*)": _stats(base), "panels": {}}
        for p, t in times.items():
            r, raw = statistics.median(t["rollups"]), statistics.median(t["records"])
            out[vname]["panels"][p] = {
                "rollups": _stats(t["rollups"]),
                "records": _stats(t["records"]),
                "warm": _stats(t["warm"]),
                "rollups_x_records": round(r / raw, 3),
                "rollups_x_baseline": round(r / b, 2),
                "records_x_baseline": round(raw / b, 2),
                "reads": reads[p],
                "identical": same[p],
            }
        print(f"[{vname}] baseline {1000 * b:.0f} ms", file=sys.stderr)
    return out


def bench_browser(store, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    from vpcflow.web import Server

    samples: dict = {f"{m}_{c}": [] for m in ("rollups", "records") for c in ("cold", "warm")}
    errors: list[str] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True
        )
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("about:blank")
        for _ in range(repeat):
            for mode in ("rollups", "records"):
                # a fresh server: an empty answer cache
                server = Server(store, "127.0.0.1", 0, rollups=mode == "rollups")
                th = threading.Thread(target=server.run, daemon=True)
                th.start()
                while not server._server.started:
                    time.sleep(0.02)
                url = f"http://127.0.0.1:{server.port}/?range=24h"
                for cache in ("cold", "warm"):
                    page.goto("about:blank")
                    t = time.perf_counter()
                    page.goto(url)
                    page.wait_for_selector(
                        "body[data-ready='1']", state="attached", timeout=600_000
                    )
                    samples[f"{mode}_{cache}"].append(time.perf_counter() - t)
                server.stop()
                th.join(10)
        ctx.close()
    res = {k: _stats(v) for k, v in samples.items()}
    res["console_errors"] = errors
    med = {k: statistics.median(v) for k, v in samples.items()}
    res["cold_rollups_x_records"] = round(med["rollups_cold"] / med["records_cold"], 3)
    res["warm_x_cold"] = round(med["rollups_warm"] / med["rollups_cold"], 3)
    return res


def _table(panels: dict, browser: dict | None) -> str:
    lines = [_panel_table(panels), ""]
    if browser:
        b = browser
        lines.append("overview fully drawn in headless Chromium, median / p95 ms:")
        for m in ("rollups", "records"):
            c, w = b[f"{m}_cold"], b[f"{m}_warm"]
            lines.append(
                f"  {m:<8} cold cache {c['median_ms']:>6.0f} / {c['p95_ms']:>6.0f}"
                f"   warm cache {w['median_ms']:>6.0f} / {w['p95_ms']:>6.0f}"
            )
        lines.append(f"  cold: rollups {b['cold_rollups_x_records']:.2f}x records")
    return "\n".join(lines)


def _panel_table(panels: dict) -> str:
    lines = [
        "panel query, median / p95 ms: on the rollups | on the records only "
        "(rollups x records; spread min-max) | warm answer cache"
    ]
    for vname, v in panels.items():
        b = v["baseline count(*)"]
        lines.append(f"[{vname}] baseline count(*) {b['median_ms']:.0f} ms")
        for p, s in v["panels"].items():
            r, raw, w = s["rollups"], s["records"], s["warm"]
            flag = "" if s["identical"] else "  ANSWERS DIFFER"
            lines.append(
                f"  {p:<17}{r['median_ms']:>7.0f} /{r['p95_ms']:>6.0f} |{raw['median_ms']:>7.0f} /"
                f"{raw['p95_ms']:>6.0f} ({s['rollups_x_records']:>5.2f}x; "
                f"{r['min_ms']:.0f}-{r['max_ms']:.0f}) |{w['median_ms']:>5.1f}"
                f"  {','.join(x.removeprefix('rollup_') for x in s['reads'])}{flag}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2000000,20000000", help="store sizes, comma-separated")
    ap.add_argument("--records", type=int, default=None, help="one size (same as --sizes N)")
    ap.add_argument("--views", default=",".join(VIEWS), help="comma-separated: " + ", ".join(VIEWS))
    ap.add_argument("--repeat", type=int, default=5, help="runs of each panel per view")
    ap.add_argument("--browser-repeat", type=int, default=3, help="0: no browser runs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None, help="keep (or reuse) the stores here")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    sizes = [a.records] if a.records else [int(x) for x in a.sizes.split(",")]
    unknown = [v for v in a.views.split(",") if v not in VIEWS]
    if unknown:
        ap.error(f"--views: unknown {', '.join(unknown)}; known: {', '.join(VIEWS)}")
    views = {v: VIEWS[v] for v in a.views.split(",")}
    tmp = None
    if a.work:
        work = Path(a.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="vpcflow-bench-web-")
        work = Path(tmp.name)
    results = {}
    try:
        for n in sizes:
            store = _store(n, work, a.seed)
            panels = bench_panels(store, a.repeat, views)
            print(f"{n:,} records", flush=True)
            print(_panel_table(panels), flush=True)  # before the (long) browser runs
            browser = bench_browser(store, a.browser_repeat) if a.browser_repeat else None
            store.close()
            results[n] = {"panels": panels, "browser": browser}
            print(_table(panels, browser) + "\n", flush=True)
    finally:
        if tmp:
            tmp.cleanup()
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "repeat": a.repeat,
        "sizes": {str(n): r for n, r in results.items()},
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "-".join(str(n) for n in sizes)
    name = out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-web-{tag}.json"
    name.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {name}")
    return (
        0
        if all(
            s["identical"]
            for r in results.values()
            for v in r["panels"].values()
            for s in v["panels"].values()
        )
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
