"""``python -m bench``: ingest throughput, query latency, store size and memory, side by side.

    python -m bench                                  # 250k, 2M in 8 files, 2M and 20M records
    python -m bench --quick                          # 250k and 2M in 8 files, 3 rounds
    python -m bench --sizes 2000000x8 --rounds 5 --work /data/bench --json
    python -m bench --sizes 2000000 --compare ../other-checkout   # this checkout vs that one

A size is a record count (the S3 delivery layout: a file per interface and five minutes, 288
files a day) or ``COUNTxFILES`` (the same records regrouped into FILES gzip files). For every
size, on the same files in the same run, each contender runs in its own process, ``--rounds``
times, the contenders alternating within each round so that the load of a shared machine falls
on all of them alike. Reported per contender: the whole process's wall time (interpreter
start-up and imports included), the time it reports for the work itself where it can
(in-process), CPU seconds, and the peak resident memory of its own process tree (polled from
``/proc``; a child's ``ru_maxrss`` would start at the bench's own). Medians, with the spread
(min–max) next to them.

Ingest contenders: ``vpcflow ingest``; DuckDB's ``COPY (SELECT * FROM read_csv(...)) TO
parquet``; a polars script (``read_csv`` each file, ``concat``, ``write_parquet``); chDB's
``INSERT INTO FUNCTION file(... Parquet)`` when chdb is installed; reading the gzip streams
alone (the bound); flowlogs-reader's parse path on a prefix of the files (its rate is per
record). Queries: five typical ones on the store (``vpcflow sql`` whole process, and
``Store.sql`` in one process) vs DuckDB running the same SQL on the raw gzip files.

``--compare DIR`` runs ``vpcflow ingest`` and the store queries of this checkout and of the
checkout in DIR (each with its own ``.venv``) alternately and reports the ratio of each pair.
Results: a table on stdout (``--json``: the JSON document instead) and JSON in
``bench/results/``. Speed is measured here, never asserted by the test suite.
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
import textwrap
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
HERE = Path(__file__).resolve().parent.parent
PY = sys.executable
DEFAULT_SIZES = "250000,2000000x8,2000000,20000000"
# chdb lives in a virtualenv of its own (`make bench` makes it): it pulls in pandas, which
# pyarrow then imports in every vpcflow process, and that would bias the measurement.
CHDB_PY = str(HERE / ".venv-chdb" / "bin" / "python")

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


# -- running one contender ---------------------------------------------------------------------


def _tree_hwm(root: int) -> dict[int, int]:
    """Peak resident bytes so far (VmHWM) of ``root`` and each of its descendants now alive."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces: split after the last ')'
        children.setdefault(int(stat[stat.rfind(b")") + 2 :].split()[1]), []).append(int(d))
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        out[pid] = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
        todo.extend(children.get(pid, ()))
    return out


def run(argv: list[str], env: dict | None = None, poll: float = 0.05) -> dict:
    """Run ``argv`` as its own process tree; time it and poll its memory.

    Returns ``wall_s`` (whole process), ``cpu_s`` (user+system of the tree, waited-for
    children included), ``peak_rss_mb`` (largest sum of the tree's resident memory seen) and
    ``out`` (its stdout). The peak sums each live process's own high-water mark (VmHWM), so
    a spike between two polls still counts.
    """
    out = tempfile.TemporaryFile()
    t = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=out, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    # Peak memory from /proc, not the child's ru_maxrss: that one starts at the RSS of the
    # process that forked it (here the bench), so every small contender would report ours.
    peak, hwm = 0, {}
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now = _tree_hwm(proc.pid)
        for p, v in now.items():
            hwm[p] = max(hwm.get(p, 0), v)
        peak = max(peak, sum(hwm[p] for p in now))
        time.sleep(poll)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read().decode(errors="replace")
    out.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {err[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": round(peak / 2**20, 1),
        "out": text,
    }


def _last_json(text: str) -> dict:
    try:  # the whole output is one (possibly indented) document
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    lines = [ln for ln in text.strip().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark child printed no result: {text[-2000:]}")
    return json.loads(lines[-1])


def _py(code: str, *args: str, python: str = PY) -> list[str]:
    return [python, "-c", textwrap.dedent(code), *args]


# -- the contenders' programs ------------------------------------------------------------------

_GENERATE = """
import json, shutil, sys
from pathlib import Path
from vpcflow.generate import generate
logs, records, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
shutil.rmtree(logs, ignore_errors=True)
rep = generate(logs, records=records, seed=seed)
(logs / ".complete").write_text(json.dumps(rep.to_dict()))
"""

# The records of the S3 layout regrouped into N gzip files (header kept, order kept).
_REGROUP = """
import gzip, json, sys
from pathlib import Path
files = json.load(open(sys.argv[1])); out = Path(sys.argv[2]); n = int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
header, lines = None, []
for f in files:
    with gzip.open(f, "rb") as fh:
        h = fh.readline(); header = header or h; lines.extend(fh.readlines())
per = -(-len(lines) // n)
for i in range(n):
    with gzip.open(out / f"part-{i:03d}.log.gz", "wb", compresslevel=6) as fh:
        fh.write(header); fh.writelines(lines[i * per:(i + 1) * per])
(out / ".complete").write_text(str(len(lines)))
"""

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
print(json.dumps({"seconds": time.perf_counter() - t, "text_bytes": n,
                  "records": lines - len(files)}))
"""

_DUCKDB_COPY = """
import json, sys, time, duckdb
files = json.load(open(sys.argv[1]))
t = time.perf_counter()
con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
con.execute("COPY (SELECT * FROM read_csv($files, delim=' ', header=true)) TO '"
            + sys.argv[2] + "' (FORMAT parquet)", {"files": files})
secs = time.perf_counter() - t
n = con.execute("SELECT count(*) FROM read_parquet('" + sys.argv[2] + "')").fetchone()[0]
print(json.dumps({"seconds": secs, "records": n}))
"""

# A user's own three-line script: validates nothing, partitions nothing.
_POLARS = """
import json, sys, time, polars as pl
files = json.load(open(sys.argv[1]))
t = time.perf_counter()
df = pl.concat([pl.read_csv(f, separator=" ", null_values="-") for f in files])
df.write_parquet(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "records": df.height}))
"""

# chDB (ClickHouse in process): the columns named from the first file's header, as text (its
# schema inference does not split the header on spaces).
_CHDB = """
import glob, gzip, json, sys, time, chdb
pattern = sys.argv[1].rstrip("/") + ("/**/*.log.gz" if sys.argv[3] == "tree" else "/*.log.gz")
t = time.perf_counter()
first = sorted(glob.glob(pattern, recursive=True))[0]
with gzip.open(first, "rt") as fh:
    names = fh.readline().split()
structure = ", ".join(f"`{n}` String" for n in names)
sess = chdb.session.Session()
sess.query(f"INSERT INTO FUNCTION file('{sys.argv[2]}', 'Parquet') SELECT * FROM "
           f"file('{pattern}', 'CustomSeparatedWithNames', '{structure}') "
           "SETTINGS format_custom_field_delimiter=' ', format_custom_escaping_rule='Raw', "
           "engine_file_truncate_on_insert=1")
secs = time.perf_counter() - t
n = int(str(sess.query(f"SELECT count(*) FROM file('{sys.argv[2]}', 'Parquet')", "CSV")).strip())
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
        t = time.perf_counter(); rows = run(q); times.append(time.perf_counter() - t)
    out[name] = {"median": statistics.median(times), "min": min(times), "max": max(times)}
print(json.dumps(out))
"""

# One query from a fresh process on the raw files, as a user's `duckdb -c` would.
_RAW_ONE = """
import json, sys, duckdb
files = json.load(open(sys.argv[1]))
con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
con.execute("CREATE VIEW vpc_flow_logs AS SELECT * FROM read_csv("
            + repr(files) + ", delim=' ', header=true, nullstr='-')")
con.execute(sys.argv[2]).fetchall()
"""


# -- measuring ---------------------------------------------------------------------------------


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _available(module: str, python: str = PY) -> bool:
    if not os.path.exists(python):
        return False
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def _checkout(path: Path) -> dict:
    """The interpreter and `vpcflow` entry point of a checkout (its own .venv)."""
    bin_dir = path / ".venv" / "bin"
    if not (bin_dir / "vpcflow").exists():
        raise SystemExit(f"{path}: no .venv/bin/vpcflow; run 'make install' there first")
    rev = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "path": str(path),
        "python": str(bin_dir / "python"),
        "vpcflow": str(bin_dir / "vpcflow"),
        "rev": rev,
    }


def prepare(spec: str, work: Path, seed: int) -> tuple[int, Path, list[str]]:
    """Generate (once) the data of a size spec; return records, its directory and its files."""
    records, _, nfiles = spec.partition("x")
    records = int(float(records))
    logs = work / f"logs-{records}"
    if not (logs / ".complete").exists():
        print(f"[{spec}] generating {records:,} records", file=sys.stderr)
        run(_py(_GENERATE, str(logs), str(records), str(seed)))
    files = sorted(str(p) for p in logs.rglob("*.log.gz"))
    if nfiles:
        regrouped = work / f"files{nfiles}-{records}"
        if not (regrouped / ".complete").exists():
            listing = work / f"files-{records}.json"
            listing.write_text(json.dumps(files))
            run(_py(_REGROUP, str(listing), str(regrouped), nfiles))
        logs = regrouped
        files = sorted(str(p) for p in regrouped.glob("*.log.gz"))
    return records, logs, files


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_size(spec: str, work: Path, a) -> dict:
    records, logs, files = prepare(spec, work, a.seed)
    file_list = work / f"list-{spec}.json"
    file_list.write_text(json.dumps(files))
    gz_bytes = sum(os.path.getsize(f) for f in files)
    print(f"[{spec}] {len(files)} files, {gz_bytes / 1e6:.0f} MB gzip", file=sys.stderr)
    res: dict = {"size": spec, "records": records, "files": len(files), "gzip_bytes": gz_bytes}
    me = {"path": str(HERE), "python": PY, "vpcflow": str(Path(PY).with_name("vpcflow"))}
    other = _checkout(Path(a.compare).resolve()) if a.compare else None
    src = str(logs / "AWSLogs") if (logs / "AWSLogs").exists() else str(logs)
    out_pq = str(work / "contender.parquet")

    def vpcflow_ingest(co: dict, tag: str):
        store = work / f"store-{spec}-{tag}"

        def argv():
            shutil.rmtree(store, ignore_errors=True)
            return [co["vpcflow"], "ingest", src, "--store", str(store), "--json"]

        return argv, store

    contenders: dict[str, tuple] = {}
    ingest_a, store_a = vpcflow_ingest(me, "a")
    contenders["vpcflow ingest"] = (ingest_a, "vpcflow")
    if other:
        ingest_b, store_b = vpcflow_ingest(other, "b")
        contenders[f"vpcflow ingest ({other['rev'] or 'other'})"] = (ingest_b, "vpcflow")
    if not a.only_vpcflow:
        contenders["duckdb COPY"] = (lambda: _py(_DUCKDB_COPY, str(file_list), out_pq), "json")
        if _available("polars"):
            contenders["polars script"] = (lambda: _py(_POLARS, str(file_list), out_pq), "json")
        if _available("chdb", CHDB_PY):
            nested = "tree" if (logs / "AWSLogs").exists() else "flat"
            contenders["chdb"] = (
                lambda: _py(_CHDB, str(logs), out_pq, nested, python=CHDB_PY),
                "json",
            )
        contenders["decompress only"] = (lambda: _py(_DECOMPRESS, str(file_list)), "json")
    rounds = a.rounds if records <= 2_000_000 else max(1, a.rounds_large)
    raw: dict[str, list[dict]] = {name: [] for name in contenders}
    for rnd in range(rounds):
        names = list(contenders)
        if rnd % 2:  # alternate the order: A B C, C B A, ...
            names.reverse()
        for name in names:
            make_argv, kind = contenders[name]
            r = run(make_argv())
            d = _last_json(r["out"])
            r.pop("out")
            r["seconds"] = d["seconds"]
            r["records"] = d["records"]
            if "text_bytes" in d:
                res["text_bytes"] = d["text_bytes"]
            raw[name].append(r)
            print(f"[{spec}] {name}: {r['wall_s']:.2f} s whole process", file=sys.stderr)
    if not a.only_vpcflow and not a.no_reader:
        limit = min(a.reader_limit, records)
        r = run(_py(_FLOWLOGS_READER, str(file_list), str(limit)))
        d = _last_json(r.pop("out"))
        r.update(seconds=d["seconds"], records=d["records"])
        raw["flowlogs-reader"] = [r]
    Path(out_pq).unlink(missing_ok=True)
    ingest = {}
    for name, runs in raw.items():
        n = runs[0]["records"]
        wall = _stats([r["wall_s"] for r in runs])
        inproc = _stats([r["seconds"] for r in runs])
        per_record = n / records if records else 1.0
        # flowlogs-reader parses a prefix: its whole-process time is scaled to all records
        ingest[name] = {
            "records": n,
            "rounds": len(runs),
            "wall_s": wall,
            "seconds": inproc,
            "cpu_s": _stats([r["cpu_s"] for r in runs]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "records_per_s": n / inproc["median"],
            "records_per_s_whole": n / wall["median"],
            "mb_per_s": gz_bytes * per_record / 1e6 / inproc["median"],
        }
    base = ingest["vpcflow ingest"]
    for x in ingest.values():
        x["vpcflow_is"] = base["records_per_s"] / x["records_per_s"]
        x["vpcflow_is_whole"] = base["records_per_s_whole"] / x["records_per_s_whole"]
    res["ingest"] = ingest
    res["store_bytes"] = _du(store_a)
    res["store_ratio"] = res["store_bytes"] / gz_bytes
    if other:
        res["store_bytes_other"] = _du(store_b)
    res["queries"] = bench_queries(spec, store_a, file_list, me, a, other and (other, store_b))
    if records == 2_000_000:
        res["startup_sql"] = startup_sql(store_a, a, other)
    return res


def bench_queries(spec, store, file_list, me, a, other) -> dict:
    qs = json.dumps(QUERIES)
    repeat = str(a.repeat)
    on_store = _last_json(run(_py(_QUERIES, "store", qs, repeat, str(store)))["out"])
    r = run(_py(_QUERIES, "raw", qs, repeat, str(file_list)))
    on_raw = _last_json(r["out"])
    out = {}
    for name, q in QUERIES.items():
        # whole processes, alternating: `vpcflow sql` on the store vs a fresh DuckDB on the raw
        cli, cli_other, raw_whole = [], [], []
        for _ in range(a.rounds):
            cli.append(
                run(
                    [
                        me["vpcflow"],
                        "sql",
                        q,
                        "--store",
                        str(store),
                        "--dialect",
                        "duckdb",
                        "--format",
                        "csv",
                        "--limit",
                        "0",
                    ]
                )["wall_s"]
            )
            if other:
                co, st = other
                cli_other.append(
                    run(
                        [
                            co["vpcflow"],
                            "sql",
                            q,
                            "--store",
                            str(st),
                            "--dialect",
                            "duckdb",
                            "--format",
                            "csv",
                            "--limit",
                            "0",
                        ]
                    )["wall_s"]
                )
            if a.raw_whole:
                raw_whole.append(run(_py(_RAW_ONE, str(file_list), q))["wall_s"])
        entry = {
            "store_s": on_store[name],
            "raw_gzip_s": on_raw[name],
            "speedup": on_raw[name]["median"] / max(on_store[name]["median"], 1e-9),
            "cli_s": _stats(cli),
        }
        if raw_whole:
            entry["raw_whole_s"] = _stats(raw_whole)
            entry["speedup_whole"] = entry["raw_whole_s"]["median"] / entry["cli_s"]["median"]
        if cli_other:
            entry["cli_other_s"] = _stats(cli_other)
            entry["ratio_vs_other"] = entry["cli_other_s"]["median"] / entry["cli_s"]["median"]
        out[name] = entry
        print(f"[{spec}] {name}: store {on_store[name]['median'] * 1000:.0f} ms", file=sys.stderr)
    return out


def timed(argv: list[str], env: dict | None = None) -> float:
    """Wall seconds of one whole process (no memory polling: start-up is tens of milliseconds,
    finer than ``run``'s polling interval)."""
    t = time.perf_counter()
    r = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    return wall


def startup(a) -> dict:
    """`vpcflow --help` and `python -c pass`, whole processes, alternating."""
    vpc = str(Path(PY).with_name("vpcflow"))
    help_, bare = [], []
    for _ in range(max(5, a.rounds)):
        help_.append(timed([vpc, "--help"]))
        bare.append(timed([PY, "-c", "pass"]))
    return {"vpcflow --help": _stats(help_), "python -c pass": _stats(bare)}


# DuckDB alone in a fresh interpreter on the store's Parquet files: the floor of `vpcflow sql`.
_DUCKDB_ON_STORE = """
import sys, duckdb
con = duckdb.connect()
con.execute("CREATE VIEW vpc_flow_logs AS SELECT * FROM read_parquet("
            + repr(sys.argv[1] + "/data/**/*.parquet") + ", hive_partitioning = true)")
for row in con.execute(sys.argv[2]).fetchall():
    print(*row, sep=",")
"""


def startup_sql(store: Path, a, other: dict | None = None) -> dict:
    """Whole processes on one store, alternating within each round: `vpcflow sql` top talkers
    as a user types it (table output) with an empty SQL cache (cold: it translates) and a
    warm one, the same as CSV, `vpcflow query` and `vpcflow insights` (warm); DuckDB in a fresh
    Python on the same Parquet files, the DuckDB CLI when installed, and `python -c pass`.
    ``other``: the same `vpcflow` commands from another checkout, side by side."""
    q = QUERIES["top talkers by bytes"]
    iq = "stats sum(bytes) as total by srcAddr, dstAddr | sort total desc | limit 10"
    cache = Path(tempfile.mkdtemp(prefix="vpcflow-bench-cache-"))
    checkouts = {"": {"vpcflow": str(Path(PY).with_name("vpcflow"))}}
    if other:
        checkouts[f" ({other['rev'] or Path(other['path']).name})"] = other
    cases: dict[str, tuple[list[str], str | None]] = {}
    for tag, co in checkouts.items():
        vpc, st = co["vpcflow"], str(store)
        cases[f"vpcflow sql top talkers, cold cache{tag}"] = (
            [vpc, "sql", q, "--store", st],
            "cold",
        )
        cases[f"vpcflow sql top talkers, warm cache{tag}"] = (
            [vpc, "sql", q, "--store", st],
            "warm",
        )
        cases[f"vpcflow sql --format csv, warm{tag}"] = (
            [vpc, "sql", q, "--store", st, "--format", "csv"],
            "warm",
        )
        cases[f"vpcflow query rejects-by-source, warm{tag}"] = (
            [vpc, "query", "rejects-by-source", "--store", st],
            "warm",
        )
        cases[f"vpcflow insights top talkers, warm{tag}"] = (
            [vpc, "insights", iq, "--store", st],
            "warm",
        )
    cases["python + duckdb on the store's files"] = (_py(_DUCKDB_ON_STORE, str(store), q), None)
    cli = shutil.which("duckdb")
    if cli:
        view = (
            f"CREATE VIEW vpc_flow_logs AS SELECT * FROM read_parquet('{store}/data/**/*.parquet',"
            " hive_partitioning = true);"
        )
        cases["duckdb CLI on the store's files"] = ([cli, "-csv", "-c", view + q], None)
    cases["python -c pass"] = ([PY, "-c", "pass"], None)
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for rnd in range(max(5, a.rounds) + 1):
            names = list(cases) if rnd % 2 == 0 else list(reversed(cases))
            for name in names:
                argv, kind = cases[name]
                env = {}
                if kind == "cold":
                    env["VPCFLOW_CACHE_DIR"] = tempfile.mkdtemp(dir=cache)
                elif kind == "warm":
                    env["VPCFLOW_CACHE_DIR"] = str(cache / "warm")
                t = timed(argv, env)
                if rnd:  # round 0 warms the page cache and the warm SQL cache
                    times[name].append(t)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    out = {name: _stats(v) for name, v in times.items()}
    out["load_average"] = os.getloadavg()
    return out


# -- reporting ---------------------------------------------------------------------------------


def _spread(s: dict, scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    return (
        fmt.format(s["median"] * scale)
        + " ("
        + fmt.format(s["min"] * scale)
        + "–"
        + fmt.format(s["max"] * scale)
        + ")"
    )


def startup_table(st: dict, title: str = "start-up, whole processes") -> list[str]:
    lines = [f"  {title:<52}{'s, median (min–max)':>24}"]
    for name, x in st.items():
        if isinstance(x, dict):
            lines.append(f"  {name:<52}{_spread(x, fmt='{:.3f}'):>24}")
    if "load_average" in st:
        lines.append(f"  load average {', '.join(f'{v:.2f}' for v in st['load_average'])}")
    return lines


def table(doc: dict) -> str:
    lines = []
    st = doc.get("startup")
    if st:
        lines.append(
            f"start-up: vpcflow --help {_spread(st['vpcflow --help'], fmt='{:.3f}')} s, "
            f"python -c pass {_spread(st['python -c pass'], fmt='{:.3f}')} s (median (min–max))"
        )
    for r in doc["results"]:
        lines.append(
            f"\n{r['size']}: {r['records']:,} records, {r['files']} files, "
            f"{r['gzip_bytes'] / 1e6:.0f} MB gzip; store {r['store_bytes'] / 1e6:.1f} MB "
            f"({r['store_ratio']:.2f}× gzip)"
        )
        lines.append(
            f"  {'ingest':<26}{'whole s (min–max)':>22}{'in-proc s':>11}{'cpu s':>8}"
            f"{'rec/s whole':>13}{'peak RSS':>10}{'vpcflow is':>12}"
        )
        for name, x in r["ingest"].items():
            lines.append(
                f"  {name:<26}{_spread(x['wall_s']):>22}{x['seconds']['median']:>11.2f}"
                f"{x['cpu_s']['median']:>8.2f}{x['records_per_s_whole']:>13,.0f}"
                f"{x['peak_rss_mb']:>8.0f}MB{x['vpcflow_is_whole']:>11.2f}×"
            )
        lines.append(
            f"  {'query (median ms)':<28}{'store':>8}{'raw gzip':>10}{'speedup':>9}"
            f"{'vpcflow sql':>13}{'raw whole':>11}"
        )
        for name, q in r["queries"].items():
            raw_whole = f"{q['raw_whole_s']['median'] * 1000:>9.0f}ms" if "raw_whole_s" in q else ""
            other = f"  vs other {q['ratio_vs_other']:.2f}×" if "ratio_vs_other" in q else ""
            lines.append(
                f"  {name:<28}{q['store_s']['median'] * 1000:>6.0f}ms"
                f"{q['raw_gzip_s']['median'] * 1000:>8.0f}ms{q['speedup']:>8.1f}×"
                f"{q['cli_s']['median'] * 1000:>11.0f}ms{raw_whole}{other}"
            )
        if r.get("startup_sql"):
            lines += startup_table(r["startup_sql"], "start-up on this store")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma list: COUNT or COUNTxFILES")
    ap.add_argument("--quick", action="store_true", help="250000,2000000x8 only, 3 rounds")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each contender (median)")
    ap.add_argument("--rounds-large", type=int, default=1, help="runs above 2M records")
    ap.add_argument("--repeat", type=int, default=5, help="in-process query repetitions")
    ap.add_argument("--compare", default=None, help="another checkout to run side by side")
    ap.add_argument("--only-vpcflow", action="store_true", help="no other contenders")
    ap.add_argument("--no-reader", action="store_true", help="skip flowlogs-reader")
    ap.add_argument(
        "--raw-whole",
        action="store_true",
        help="also time each query on the raw gzip in a fresh process",
    )
    ap.add_argument(
        "--reader-limit",
        type=int,
        default=500_000,
        help="records flowlogs-reader parses (its rate is per record)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None, help="keep generated data here (default: temporary)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--json", action="store_true", help="print the JSON document, not the table")
    ap.add_argument(
        "--no-detect", action="store_true", help="skip detection quality (precision/recall)"
    )
    ap.add_argument("--detect-seeds", default="7,11,13", help="seeds of the detection days")
    ap.add_argument(
        "--no-rollups", action="store_true", help="skip the rollups' ingest cost and detect speed"
    )
    ap.add_argument(
        "--only-rollups",
        action="store_true",
        help="only the rollups' ingest cost and detect speed (bench/rollups.py) at --sizes",
    )
    ap.add_argument("--repeat-detect", type=int, default=3, help="detect runs per path (median)")
    ap.add_argument(
        "--only-startup",
        metavar="STORE",
        default=None,
        help="only the start-up timings: --help, and the query commands on the store STORE "
        "(with --compare, the other checkout's next to them)",
    )
    a = ap.parse_args(argv)
    if a.only_startup:
        other = _checkout(Path(a.compare).resolve()) if a.compare else None
        doc = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "startup": startup(a),
            "startup_sql": startup_sql(Path(a.only_startup).resolve(), a, other),
        }
        if a.json:
            print(json.dumps(doc, indent=2))
        else:
            print(table({"startup": doc["startup"], "results": []}))
            print("\n".join(startup_table(doc["startup_sql"], f"start-up on {a.only_startup}")))
        return 0
    sizes = "250000,2000000x8" if a.quick else a.sizes
    if a.quick:
        a.rounds = 3
    tmp = None
    if a.work:
        work = Path(a.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="vpcflow-bench-")
        work = Path(tmp)
    try:
        doc = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
            },
            "rounds": a.rounds,
            "repeat": a.repeat,
            "startup": startup(a),
            "results": [],
        }
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = out / f"{stamp}-{sizes.replace(',', '-')}.json"
        specs = [s.strip() for s in sizes.split(",") if s.strip()]
        for spec in specs if not a.only_rollups else []:
            doc["results"].append(bench_size(spec, work, a))
            name.write_text(json.dumps(doc, indent=2) + "\n")  # each size as soon as it is done
        if a.only_rollups or not a.no_rollups:
            from bench import rollups

            # ingest with and without rollups; detect from the records and from the rollups
            big = [x for x in specs if "x" not in x and int(float(x)) >= 2_000_000]
            doc["rollups"] = []
            for spec in big if not a.only_rollups else specs:
                doc["rollups"].append(rollups.bench(spec, work, a))
                name.write_text(json.dumps(doc, indent=2) + "\n")
                print(rollups.table(doc["rollups"][-1:]), file=sys.stderr)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if not a.no_detect and not a.only_rollups:
        from bench import detect_quality

        # generate with --attacks all --lookalikes, ingest, detect, score vs labels; speed of
        # the shared pre-aggregation vs every detector scanning the records; benign-only days
        counts = sorted(
            {int(float(x)) for x in sizes.split(",") if x.strip() and "x" not in x}
            & {n for n in (2_000_000, 20_000_000)}
        ) or [2_000_000]
        doc["detect_quality"] = detect_quality.main(
            sizes=tuple(counts),
            seeds=tuple(int(x) for x in a.detect_seeds.split(",")),
            workdir=str(work) if a.work else None,
        )
    name.write_text(json.dumps(doc, indent=2) + "\n")
    if a.json:
        print(json.dumps(doc, indent=2))
    else:
        print(table(doc))
        if doc.get("rollups"):
            from bench import rollups

            print(rollups.table(doc["rollups"]))
        print(f"\nwrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
