"""``python -m bench.names``: what naming interfaces and addresses in SQL costs.

    python -m bench.names [--records 1000000] [--repeat 5] [--work DIR]

Generates a day of the synthetic VPC, ingests it, syncs its describe-network-interfaces.json
(and a second snapshot in which one busy address moved to another interface at noon, so the
by-time path runs too), then times, in the same process on the same store, the same GROUP BY
with the raw columns (the baseline) and with ``interface_name``/``address_owner``. Prints the
median of ``--repeat`` runs, the spread, and each ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

QUERIES = {
    "baseline: srcaddr, interface_id": (
        "SELECT srcaddr, interface_id, count(*) FROM vpc_flow_logs GROUP BY 1, 2"
    ),
    "interface_name(interface_id)": (
        "SELECT srcaddr, interface_name(interface_id), count(*) FROM vpc_flow_logs GROUP BY 1, 2"
    ),
    "address_owner(srcaddr)": (
        "SELECT address_owner(srcaddr), interface_id, count(*) FROM vpc_flow_logs GROUP BY 1, 2"
    ),
    "address_owner(dstaddr, start), one moved": (
        "SELECT address_owner(dstaddr, start), interface_id, count(*) FROM vpc_flow_logs "
        "GROUP BY 1, 2"
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    import vpcflow
    from vpcflow.generate import generate

    work = args.work or Path(tempfile.mkdtemp(prefix="vpcflow-bench-names-"))
    gen = generate(work / "logs", records=args.records, seed=7)
    store = vpcflow.open_store(work / "store")
    store.ingest([str(work / "logs" / "AWSLogs")])
    store.sync_interfaces(file=gen.interfaces, taken_at=gen.start)
    doc = json.loads(gen.interfaces.read_text())
    for e in doc["NetworkInterfaces"]:  # web-1's address moves to a new interface at noon
        if e["PrivateIpAddress"] == "10.0.0.11":
            e["NetworkInterfaceId"] = "eni-0ffffffffffffff11"
            e["Attachment"].pop("AttachTime", None)
            e["TagSet"] = [{"Key": "Name", "Value": "web-1-replacement"}]
    moved = work / "moved.json"
    moved.write_text(json.dumps(doc))
    store.sync_interfaces(file=moved, taken_at=gen.start.replace("T00:", "T12:"))
    store.sql("SELECT 1")
    print(f"{args.records:,} records, median of {args.repeat}")
    base = None
    for name, sql in QUERIES.items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            store.sql(sql, dialect="duckdb")
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        base = base or med
        print(
            f"  {name:42s} {med * 1000:7.0f} ms  (spread {min(times) * 1000:.0f}-"
            f"{max(times) * 1000:.0f})  {med / base:5.2f}x"
        )
    store.close()


if __name__ == "__main__":
    main()
