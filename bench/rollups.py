"""What the store's rollups cost at ingest and save at detection, side by side in one run.

    python -m bench --only-rollups --sizes 2000000,20000000 --work DIR

For each size (the bench's generated S3 layout): ``vpcflow ingest`` whole process with the
rollups (the default) and with ``VPCFLOW_ROLLUPS=false``, alternating, ``--rounds`` times each
(``--rounds-large`` above 2M): medians, spread and the ratio. Then, on the store written with
rollups, ``vpcflow detect``'s work in process from the records (the shared pre-aggregation
built by a scan of the records, ``rollups=False``) and from the rollups, alternating,
``--repeat-detect`` times each (``bench.detect_quality.speed``). Speed is measured here, never
asserted by the test suite.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def bench(spec: str, work: Path, a) -> dict:
    from bench.__main__ import _last_json, _stats, prepare, run

    from . import detect_quality

    records, logs, _files = prepare(spec, work, a.seed)
    src = str(logs / "AWSLogs") if (logs / "AWSLogs").exists() else str(logs)
    vpcflow = str(Path(sys.executable).with_name("vpcflow"))
    stores = {"with rollups": work / f"rollups-{spec}-on", "without": work / f"rollups-{spec}-off"}
    env = {"with rollups": {"VPCFLOW_ROLLUPS": "true"}, "without": {"VPCFLOW_ROLLUPS": "false"}}
    rounds = a.rounds if records <= 2_000_000 else max(1, a.rounds_large)
    runs: dict[str, list[dict]] = {k: [] for k in stores}
    for rnd in range(rounds):
        names = list(stores) if rnd % 2 == 0 else list(reversed(stores))
        for name in names:
            shutil.rmtree(stores[name], ignore_errors=True)
            argv = [vpcflow, "ingest", src, "--store", str(stores[name]), "--json"]
            r = run(argv, env=env[name])
            r["seconds"] = _last_json(r.pop("out"))["seconds"]
            runs[name].append(r)
            print(f"[{spec}] ingest {name}: {r['wall_s']:.2f} s whole process", file=sys.stderr)
    ingest = {
        name: {
            "rounds": len(rs),
            "wall_s": _stats([r["wall_s"] for r in rs]),
            "seconds": _stats([r["seconds"] for r in rs]),
            "cpu_s": _stats([r["cpu_s"] for r in rs]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
        }
        for name, rs in runs.items()
    }
    on, off = ingest["with rollups"], ingest["without"]
    out = {
        "size": spec,
        "records": records,
        "ingest": ingest,
        "ingest_ratio_with_over_without": on["wall_s"]["median"] / off["wall_s"]["median"],
        "store_bytes": {
            k: sum(p.stat().st_size for p in v.rglob("*.parquet")) for k, v in stores.items()
        },
    }
    shutil.rmtree(stores["without"], ignore_errors=True)
    from vpcflow import open_store

    store = open_store(stores["with rollups"], create=False)
    out["detect"] = detect_quality.speed(store, None, a.repeat_detect, per_detector=False)
    out["rollup_rows"] = (
        store.sql("SELECT count(*) AS n FROM rollup_conversations", dialect="duckdb")
        .column(0)[0]
        .as_py()
    )
    store.close()
    return out


def table(results: list[dict]) -> str:
    lines = ["rollups: ingest cost and detect speed (medians; spread min-max)"]
    for r in results:
        on, off = r["ingest"]["with rollups"], r["ingest"]["without"]
        d = r["detect"]
        lines.append(
            f"  {r['size']:>10} records  ingest with rollups {on['wall_s']['median']:.2f} s "
            f"({on['wall_s']['min']:.2f}-{on['wall_s']['max']:.2f}), without "
            f"{off['wall_s']['median']:.2f} s ({off['wall_s']['min']:.2f}-{off['wall_s']['max']:.2f})"
            f", ratio {r['ingest_ratio_with_over_without']:.2f}x over {on['rounds']} rounds; "
            f"rollup rows {r['rollup_rows']:,}"
        )
        lines.append(
            f"  {'':>10}          detect from the records {d['old_s']} s {d['old_spread_s']}, "
            f"from the rollups {d['new_s']} s {d['new_spread_s']} (rollups used: "
            f"{d['rollups_used']}): {d['ratio_old_over_new']}x over {d['repeat']} runs"
        )
    return "\n".join(lines)
