"""``python -m bench.spark``: Spark local mode against DuckDB and the native ingest, same data.

    python -m bench.spark                    # 1M records, 3 rounds of 3 repetitions
    python -m bench.spark --records 200000 --repeat 5 --rounds 5 --work /tmp/bench-spark

In one run, on the same generated S3-layout files: ``vpcflow ingest`` (native) vs ``vpcflow
ingest --engine spark`` on ``local[1]`` and ``local[2]`` (records per second); then the
benchmark's five queries on the same store with DuckDB and with Spark ``local[1]`` and
``local[2]`` (median of ``--repeat`` after one warm-up run, with the spread). Each contender
runs in its own process, so each Spark run has its own JVM, in ``--rounds`` alternating rounds
(the order rotates), and the median round counts. Reported as ratios: Spark / DuckDB
query time, Spark / native ingest rate, and Spark's speed-up from one to two cores.
Results: a table on stdout and JSON in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
VPCFLOW = str(Path(sys.executable).parent / "vpcflow")


def _queries() -> dict[str, str]:
    from bench.__main__ import QUERIES

    return QUERIES


def _child_queries(store: str, engine: str, master: str, repeat: int) -> dict:
    import vpcflow

    s = vpcflow.open_store(store, create=False)
    t0 = time.perf_counter()
    s.use_engine(engine, spark_master=master)
    s.sql("SELECT count(*) FROM vpc_flow_logs")
    startup = time.perf_counter() - t0
    out = {"startup_s": round(startup, 3), "queries": {}}
    for name, q in _queries().items():
        s.sql(q)  # warm-up: JIT, file listing, caches
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            s.sql(q)
            times.append(time.perf_counter() - t)
        out["queries"][name] = {
            "median_s": round(statistics.median(times), 4),
            "min_s": round(min(times), 4),
            "max_s": round(max(times), 4),
        }
    return out


def _run(args: list[str]) -> dict:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed: {proc.stderr[-2000:]}")
    text = proc.stdout
    return json.loads(text[text.index("{") :])


def _ingest(src: Path, store: Path, engine: str, master: str | None) -> dict:
    shutil.rmtree(store, ignore_errors=True)
    args = [VPCFLOW, "ingest", str(src), "--store", str(store), "--json"]
    if engine == "spark":
        args += ["--engine", "spark", "--spark-master", master]
    t = time.perf_counter()
    r = _run(args)
    wall = time.perf_counter() - t
    return {
        "records": r["records"],
        "ingest_s": r["seconds"],
        "wall_s": round(wall, 3),
        "records_per_s": round(r["records"] / r["seconds"]) if r["seconds"] else None,
    }


def _queries_in_child(store: Path, engine: str, master: str, repeat: int) -> dict:
    return _run(
        [sys.executable, "-m", "bench.spark", "--child", str(store), engine, master, str(repeat)]
    )


def _rounds(contenders: tuple, n: int) -> list[tuple]:
    """``n`` orders of ``contenders``, rotated, so no contender always runs first or last (a
    shared machine's load changes within a run)."""
    return [contenders[i % len(contenders) :] + contenders[: i % len(contenders)] for i in range(n)]


def _median_run(runs: list[dict], key: str) -> dict:
    """The run with the median ``key``, with the spread of ``key`` over the rounds."""
    ranked = sorted(runs, key=lambda r: r[key] or 0)
    out = dict(ranked[len(ranked) // 2])
    out["rounds"] = len(runs)
    out[f"{key}_min"], out[f"{key}_max"] = ranked[0][key], ranked[-1][key]
    return out


def _merge_rounds(runs: list[dict]) -> dict:
    """Per query: the median over the rounds of each round's median, and the min and max seen."""
    out = {"startup_s": statistics.median(r["startup_s"] for r in runs), "queries": {}}
    for q in runs[0]["queries"]:
        each = [r["queries"][q] for r in runs]
        out["queries"][q] = {
            "median_s": round(statistics.median(e["median_s"] for e in each), 4),
            "min_s": min(e["min_s"] for e in each),
            "max_s": max(e["max_s"] for e in each),
            "rounds": len(each),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        store, engine, master, repeat = argv[1:5]
        print(json.dumps(_child_queries(store, engine, master, int(repeat))))
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of every contender (median)"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    work = Path(a.work or tempfile.mkdtemp(prefix="vpcflow-bench-spark-"))
    src = work / f"logs-{a.records}"
    if not src.exists():
        subprocess.run(
            [VPCFLOW, "generate", str(src), "--records", str(a.records), "--seed", str(a.seed)],
            check=True,
            capture_output=True,
        )
    res: dict = {"records": a.records, "repeat": a.repeat, "machine": platform.platform()}
    # The figures are ratios within one run; the load says how much else the machine was doing.
    res["load_average_before"] = [round(x, 1) for x in os.getloadavg()]
    ingests = (
        ("native", "duckdb", None),
        ("spark local[1]", "spark", "local[1]"),
        ("spark local[2]", "spark", "local[2]"),
    )
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in ingests}
    for order in _rounds(ingests, a.rounds):
        for name, engine, master in order:
            r = _ingest(src, work / f"store-{engine}-{master}", engine, master)
            runs[name].append(r)
            print(f"ingest {name}: {r}", file=sys.stderr, flush=True)
    res["ingest"] = {name: _median_run(rs, "records_per_s") for name, rs in runs.items()}
    store = work / "store-duckdb-None"
    contenders = (
        ("duckdb", "duckdb", "-"),
        ("spark local[1]", "spark", "local[1]"),
        ("spark local[2]", "spark", "local[2]"),
    )
    qruns: dict[str, list[dict]] = {name: [] for name, _, _ in contenders}
    for order in _rounds(contenders, a.rounds):
        for name, engine, master in order:
            r = _queries_in_child(store, engine, master, a.repeat)
            qruns[name].append(r)
            print(f"queries {name}: {r}", file=sys.stderr, flush=True)
    res["queries"] = {name: _merge_rounds(rs) for name, rs in qruns.items()}
    duck = res["queries"]["duckdb"]["queries"]
    sp1 = res["queries"]["spark local[1]"]["queries"]
    sp2 = res["queries"]["spark local[2]"]["queries"]
    native = res["ingest"]["native"]["records_per_s"]
    lines = [
        f"vpcflow bench.spark: {a.records:,} records, median of {a.rounds} alternating rounds"
        f" of {a.repeat} runs (processes of their own)",
        "",
        "ingest                records/s   vs native",
    ]
    for name, r in res["ingest"].items():
        lines.append(
            f"  {name:18} {r['records_per_s']:>10,}   {r['records_per_s'] / native:6.2f}x"
            f"   (rounds {r['records_per_s_min']:,}-{r['records_per_s_max']:,})"
        )
    i1 = res["ingest"]["spark local[1]"]["records_per_s"]
    i2 = res["ingest"]["spark local[2]"]["records_per_s"]
    res["speedup_1_to_2_cores"] = {
        "ingest": round(i2 / i1, 3),
        "queries_median": round(
            statistics.median(sp1[q]["median_s"] / sp2[q]["median_s"] for q in sp1), 3
        ),
    }
    lines.append(f"  spark ingest 1->2 cores: {i2 / i1:.2f}x")
    lines += [
        "",
        "query                         duckdb s  spark[1] s  spark[2] s  spark[2]/duckdb  1->2 cores",
    ]
    for name in duck:
        d, s1, s2 = duck[name]["median_s"], sp1[name]["median_s"], sp2[name]["median_s"]
        lines.append(
            f"  {name:27} {d:8.3f}  {s1:10.3f}  {s2:10.3f}  {s2 / d:14.1f}x  {s1 / s2:9.2f}x"
        )
    lines.append(
        f"  startup (JVM + first query): spark[2] {res['queries']['spark local[2]']['startup_s']:.1f} s"
    )
    speedups = sorted(sp1[q]["median_s"] / sp2[q]["median_s"] for q in sp1)
    lines.append(
        f"  spark queries 1->2 cores: median {res['speedup_1_to_2_cores']['queries_median']:.2f}x "
        f"(range {speedups[0]:.2f}-{speedups[-1]:.2f}x over {len(speedups)} queries)"
    )
    res["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    lines.append(
        f"  load average at start {res['load_average_before']}, at end {res['load_average_after']}"
    )
    print("\n".join(lines))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"spark-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"\nresults: {path}")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
