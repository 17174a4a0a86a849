"""``python -m bench``: ingest throughput, query latency and memory on generated S3-layout data.

    python -m bench                      # 2M and 20M records (the targets' sizes)
    python -m bench --quick              # 2M only, 3 query repetitions
    python -m bench --sizes 500000,2000000 --repeat 5 --work /tmp/bench

For every size, on the same files in the same run: ``vpcflow ingest`` vs DuckDB's own
``COPY (SELECT * FROM read_csv(...)) TO '...parquet'`` vs flowlogs-reader's parse path
(``FlowRecord`` over ``csv.DictReader`` on the gzip text, as its S3 reader does; measured on
a prefix of the files, its rate is per record) vs reading the gzip streams alone; then five
typical queries on the store vs DuckDB running the same SQL on the raw gzip files (median of
``--repeat``). Each contender runs in its own process so that peak RSS is its own.
Results: a table on stdout and JSON in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PY = sys.executable

QUERIES = {
    "top talkers by bytes": (
        "SELECT srcaddr, dstaddr, sum(bytes) AS total FROM vpc_flow_logs "
        "GROUP BY srcaddr, dstaddr ORDER BY total DESC LIMIT 10"
    ),
    "rejected TCP by source": (
        "SELECT srcaddr, count(*) AS n FROM vpc_flow_logs WHERE action = 'REJECT' "
        "AND protocol = 6 GROUP BY srcaddr ORDER BY n DESC LIMIT 10"
    ),
    "port 443 by destination": (
        "SELECT dstaddr, sum(bytes) AS total, count(*) AS n FROM vpc_flow_logs "
        "WHERE dstport = 443 GROUP BY dstaddr ORDER BY total DESC LIMIT 10"
    ),
    "rejects per hour": (
        'SELECT "start" - "start" % 3600 AS hour, count(*) AS n FROM vpc_flow_logs '
        "WHERE action = 'REJECT' GROUP BY 1 ORDER BY 1"
    ),
    "distinct ports per source": (
        "SELECT srcaddr, count(DISTINCT dstport) AS ports FROM vpc_flow_logs "
        "GROUP BY srcaddr ORDER BY ports DESC LIMIT 10"
    ),
}


def _run_child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object. Adds ``peak_rss_mb``."""
    proc = subprocess.Popen(
        [PY, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}): {out[-2000:]}")
    # The result is the last line that is a JSON object (a library may print progress above it).
    lines = [ln for ln in out.strip().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark child printed no result: {out[-2000:]}")
    result = json.loads(lines[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return result


_DECOMPRESS = """
import json, sys, time, zlib
files = json.load(open(sys.argv[1]))
t = time.perf_counter(); n = 0; lines = 0
for f in files:
    d = zlib.decompressobj(31)
    with open(f, "rb") as fh:
        while chunk := fh.read(1 << 20):
            out = d.decompress(chunk)
            n += len(out); lines += out.count(b"\\n")
print(json.dumps({"seconds": time.perf_counter() - t, "text_bytes": n, "records": lines - len(files)}))
"""

# Timed like the DuckDB contender: the ingest itself (as `vpcflow ingest --json` reports it,
# worker processes' start included), not the interpreter's start-up and imports; the command's
# wall-clock time is kept as `cli_seconds`.
_VPCFLOW = """
import json, subprocess, sys, time
t = time.perf_counter()
out = subprocess.run([sys.argv[1], "ingest", sys.argv[2], "--store", sys.argv[3], "--json"],
                     check=True, capture_output=True, text=True).stdout
d = json.loads(out)
print(json.dumps({"seconds": d["seconds"], "cli_seconds": time.perf_counter() - t,
                  "records": d["records"], "bad_lines": d.get("bad_lines")}))
"""

_DUCKDB_COPY = """
import json, sys, time, duckdb
files = json.load(open(sys.argv[1]))
con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.execute("COPY (SELECT * FROM read_csv($files, delim=' ', header=true)) TO '"
            + sys.argv[2] + "' (FORMAT parquet)", {"files": files})
secs = time.perf_counter() - t
n = con.execute("SELECT count(*) FROM read_parquet('" + sys.argv[2] + "')").fetchone()[0]
print(json.dumps({"seconds": secs, "records": n}))
"""

_FLOWLOGS_READER = """
import csv, gzip, json, sys, time
from flowlogs_reader import FlowRecord
files = json.load(open(sys.argv[1])); limit = int(sys.argv[2])
t = time.perf_counter(); n = 0; used = 0
for f in files:
    with gzip.open(f, mode="rt") as gz_f:
        reader = csv.DictReader(gz_f, delimiter=" ")
        reader.fieldnames = [x.replace("-", "_") for x in reader.fieldnames]
        for row in reader:
            FlowRecord(row); n += 1
    used += 1
    if n >= limit:
        break
print(json.dumps({"seconds": time.perf_counter() - t, "records": n, "files": used}))
"""

_QUERIES = """
import json, statistics, sys, time
queries = json.loads(sys.argv[2]); repeat = int(sys.argv[3])
if sys.argv[1] == "store":
    from vpcflow import open_store
    store = open_store(sys.argv[4], create=False)
    run = lambda q: store.sql(q, dialect="duckdb", limit=0)
else:
    import duckdb
    files = json.load(open(sys.argv[4]))
    con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
    con.execute("CREATE VIEW vpc_flow_logs AS SELECT * FROM read_csv("
                + repr(files) + ", delim=' ', header=true, nullstr='-')")
    run = lambda q: con.execute(q).fetchall()
out = {}
for name, q in queries.items():
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); run(q); times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_size(records: int, work: Path, repeat: int, reader_limit: int, seed: int) -> dict:
    from vpcflow.generate import generate

    logs = work / f"logs-{records}"
    if not (logs / ".complete").exists():
        shutil.rmtree(logs, ignore_errors=True)
        rep = generate(logs, records=records, seed=seed)
        (logs / ".complete").write_text(json.dumps(rep.to_dict()))
    gen = json.loads((logs / ".complete").read_text())
    files = sorted(str(p) for p in logs.rglob("*.log.gz"))
    file_list = work / f"files-{records}.json"
    file_list.write_text(json.dumps(files))
    gz_bytes = sum(os.path.getsize(f) for f in files)
    print(f"[{records:,}] {len(files)} files, {gz_bytes / 1e6:.0f} MB gzip", file=sys.stderr)

    res: dict = {
        "records": records,
        "files": len(files),
        "gzip_bytes": gz_bytes,
        "generate_records_per_s": gen["records_per_second"],
    }
    dec = _run_child(_DECOMPRESS, str(file_list))
    res["text_bytes"] = dec["text_bytes"]
    store = work / f"store-{records}"
    shutil.rmtree(store, ignore_errors=True)
    vpc_bin = str(Path(PY).with_name("vpcflow"))
    ingest = {
        "decompress only": dec,
        "vpcflow ingest": _run_child(_VPCFLOW, vpc_bin, str(logs / "AWSLogs"), str(store)),
        "duckdb COPY": _run_child(_DUCKDB_COPY, str(file_list), str(work / "duckdb.parquet")),
        "flowlogs-reader": _run_child(_FLOWLOGS_READER, str(file_list), str(reader_limit)),
    }
    (work / "duckdb.parquet").unlink(missing_ok=True)
    for name, r in ingest.items():
        print(f"[{records:,}] {name}: {r['seconds']:.1f} s", file=sys.stderr)
        share = r["records"] / records if r["records"] else 1.0
        r["records_per_s"] = r["records"] / r["seconds"]
        r["mb_per_s"] = gz_bytes * share / 1e6 / r["seconds"]
        r["text_mb_per_s"] = dec["text_bytes"] * share / 1e6 / r["seconds"]
    res["ingest"] = ingest
    res["store_bytes"] = _du(store)
    qs = json.dumps(QUERIES)
    on_store = _run_child(_QUERIES, "store", qs, str(repeat), str(store))
    on_raw = _run_child(_QUERIES, "raw", qs, str(repeat), str(file_list))
    res["queries"] = {
        name: {
            "store_s": on_store[name],
            "raw_gzip_s": on_raw[name],
            "speedup": on_raw[name] / max(on_store[name], 1e-9),
        }
        for name in QUERIES
    }
    res["query_rss_mb"] = {"store": on_store["peak_rss_mb"], "raw": on_raw["peak_rss_mb"]}
    return res


def _table(results: list[dict]) -> str:
    lines = []
    for r in results:
        ing = r["ingest"]
        v = ing["vpcflow ingest"]["records_per_s"]
        lines.append(
            f"\n{r['records']:,} records, {r['files']} files, {r['gzip_bytes'] / 1e6:.0f} MB gzip "
            f"({r['text_bytes'] / 1e6:.0f} MB text); store {r['store_bytes'] / 1e6:.0f} MB "
            f"({r['store_bytes'] / r['gzip_bytes']:.2f}× gzip)"
        )
        lines.append(
            f"  {'ingest':<22}{'records/s':>12}{'MB/s gz':>9}{'peak RSS':>10}{'vpcflow is':>12}"
        )
        for name, x in ing.items():
            ratio = v / x["records_per_s"]
            lines.append(
                f"  {name:<22}{x['records_per_s']:>12,.0f}{x['mb_per_s']:>9.1f}"
                f"{x['peak_rss_mb']:>8.0f}MB{ratio:>11.2f}×"
            )
        lines.append(f"  {'query (median)':<28}{'store':>9}{'raw gzip':>10}{'speedup':>9}")
        for name, q in r["queries"].items():
            lines.append(
                f"  {name:<28}{q['store_s'] * 1000:>7.0f}ms{q['raw_gzip_s'] * 1000:>8.0f}ms"
                f"{q['speedup']:>8.0f}×"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2000000,20000000", help="comma list of record counts")
    ap.add_argument("--quick", action="store_true", help="2M records only, 3 repetitions")
    ap.add_argument("--repeat", type=int, default=5, help="query repetitions (median)")
    ap.add_argument(
        "--reader-limit",
        type=int,
        default=500_000,
        help="records flowlogs-reader parses (its rate is per record)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None, help="keep generated data here (default: temporary)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument(
        "--no-detect", action="store_true", help="skip detection quality (precision/recall)"
    )
    ap.add_argument("--detect-seeds", default="7,11,13", help="seeds of the detection days")
    a = ap.parse_args(argv)
    sizes = [2_000_000] if a.quick else [int(float(s)) for s in a.sizes.split(",")]
    repeat = 3 if a.quick else a.repeat
    tmp = None
    if a.work:
        work = Path(a.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="vpcflow-bench-")
        work = Path(tmp)
    try:
        results = [bench_size(n, work, repeat, a.reader_limit, a.seed) for n in sizes]
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    quality: dict = {}
    if not a.no_detect:
        from bench import detect_quality

        # generate with --attacks all --lookalikes, ingest, detect, score vs labels; speed of
        # the shared pre-aggregation vs every detector scanning the records; benign-only days
        quality = detect_quality.main(
            sizes=tuple(sizes),
            seeds=tuple(int(x) for x in a.detect_seeds.split(",")),
            workdir=str(work) if a.work else None,
        )
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "repeat": repeat,
        "results": results,
        "detect_quality": quality,
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    name = (
        out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{'-'.join(map(str, sizes))}.json"
    )
    name.write_text(json.dumps(doc, indent=2) + "\n")
    print(_table(results))
    print(f"\nwrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
