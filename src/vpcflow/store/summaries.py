"""Day summaries: per day, the heaviest keys of a grouping exactly, and a bound on all the others.

A top-N over the records (who talks to whom, which ports) groups millions of keys: one-off
internet noise makes most (source, destination) pairs unique, so no exact rollup of them is
small. A day summary keeps, for one UTC day and one grouping (``SUMMARIES``: talkers, ports,
sources, destinations):

* ``rows``: every record count, byte and packet sum of the day's **heavy** keys, per 5-minute
  bucket, action and log status -- all of them, so a heavy key's total over any range of buckets
  is exact. A key is heavy when it is among the ``KEEP`` largest of the day by records, bytes or
  packets, over all records or over one action class (ACCEPT, REJECT, anything else);
* ``bounds``: for the other (light) keys, the largest total any one of them has -- over the day
  (``bucket`` NULL) and within each bucket -- per unit and action class (``*``: all of them);
  and (class ``odd``) how many of the day's records lack an address or the destination port
  but not all three (none in AWS's records: then "has both addresses" and "has a source", "has
  a destination", "has a port" select the same records, which the Sankey relies on).

The key that is all NULL (the records without addresses or ports: NODATA, SKIPDATA) is always
heavy, so that its volume over any range is known exactly.

A light key's volume over any range of the day, under any filter, is at most the day's bound and
at most the sum of the bucket bounds of the range. So a top-N whose N-th heavy value exceeds that
bound is exactly the top-N of the records (``web.tops`` decides; it reads the records otherwise).

The summary of a day is derived from the day's live data files and named by a fingerprint of
them (paths, checksums, rows) and of its definition: a new ingest or a compaction of the day makes
it stale, and a reader then reads the records until ``build`` (``vpcflow rollup summarise``, or
``vpcflow serve`` in the background after every ingest) writes it again. It is a cache beside the
manifest, not part of it: losing it loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("vpcflow.store")

__all__ = ["Summary", "SUMMARIES", "KEEP", "SUMMARY_DIR", "status", "build"]

SUMMARY_DIR = "_vpcflow/summaries"
VERSION = 2
# Heavy keys per day and criterion (3 units x 4 action classes): the more, the more views are
# proven exact and the larger the summary (a heavy key keeps a row per bucket it appears in).
KEEP = 200
BUCKET = 300
# The action classes a bound is kept for ('-': anything but ACCEPT and REJECT, NULL included).
CLASSES = ("ACCEPT", "REJECT", "-")
UNITS = ("records", "bytes", "packets")


@dataclass(frozen=True)
class Summary:
    """A grouping of the records that a top-N panel ranks: ``keys`` (column, DuckDB type)."""

    name: str
    keys: tuple[tuple[str, str], ...]

    @property
    def key_names(self) -> list[str]:
        return [k for k, _ in self.keys]


SUMMARIES = {
    s.name: s
    for s in (
        Summary("talkers", (("srcaddr", "VARCHAR"), ("dstaddr", "VARCHAR"))),
        Summary("ports", (("dstport", "INTEGER"), ("protocol", "BIGINT"))),
        Summary("sources", (("srcaddr", "VARCHAR"),)),
        Summary("destinations", (("dstaddr", "VARCHAR"),)),
    )
}
_DAY = re.compile(r"date=(\d{4}-\d{2}-\d{2})$")


def _days(live: list[dict]) -> dict[str, list[dict]]:
    """The flow-log data files of each day partition (files without a date are left out)."""
    out: dict[str, list[dict]] = {}
    for f in live:
        parts = f["path"].split("/")
        if len(parts) < 3 or parts[0] != "data":
            continue
        m = _DAY.match(parts[1])
        if m:
            out.setdefault(m.group(1), []).append(f)
    return out


def fingerprint(summary: Summary, files: list[dict]) -> str:
    """What a day's summary is current for: its definition and the day's live files."""
    text = json.dumps(
        [
            VERSION,
            KEEP,
            BUCKET,
            summary.keys,
            sorted((f["path"], f.get("crc32"), f.get("rows")) for f in files),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _paths(root: Path, summary: Summary, day: str, fp: str) -> tuple[Path, Path]:
    base = root / SUMMARY_DIR / summary.name / f"date={day}"
    return base / f"{fp}.rows.parquet", base / f"{fp}.bounds.parquet"


def status(root: Path, live: list[dict], name: str, first: str | None, last: str | None) -> dict:
    """Whether every day from ``first`` to ``last`` (ISO dates, None: open) that has data has a
    current summary ``name``: ``complete``, ``days`` (day -> (rows, bounds) paths) and
    ``missing`` (days without one)."""
    summary = SUMMARIES[name]
    days, missing = {}, []
    for day, files in sorted(_days(live).items()):
        if (first is not None and day < first) or (last is not None and day > last):
            continue
        rows, bounds = _paths(root, summary, day, fingerprint(summary, files))
        if rows.exists() and bounds.exists():
            days[day] = (rows, bounds)
        else:
            missing.append(day)
    # (records without a start, in no date partition, are in no time range)
    return {"summary": name, "days": days, "missing": missing, "complete": not missing}


def _build_sql(summary: Summary, listing: str) -> list[str]:
    """The statements that leave the tables ``heavy_rows`` and ``light_bounds``."""
    keys = ", ".join(f'CAST("{k}" AS {t}) AS "{k}"' for k, t in summary.keys)
    names = ", ".join(f'"{k}"' for k in summary.key_names)
    same = " AND ".join(f'a."{k}" IS NOT DISTINCT FROM b."{k}"' for k in summary.key_names)
    ranks = " OR ".join(
        f"row_number() OVER (PARTITION BY cls ORDER BY {u} DESC) <= {KEEP}" for u in UNITS
    )
    maxes = ", ".join(f'max("{u}") AS "{u}"' for u in UNITS)
    sums = ", ".join(f'sum("{u}") AS "{u}"' for u in UNITS)
    nulls = " AND ".join(f'"{k}" IS NULL' for k in summary.key_names)
    return [
        # every (bucket, action, log status, key) of the day
        f"""CREATE OR REPLACE TEMP TABLE g AS
SELECT CAST(floor("start" / {BUCKET}) AS BIGINT) AS bucket, action, log_status, {keys},
    count(*) AS records, CAST(sum(bytes) AS BIGINT) AS bytes,
    CAST(sum(packets) AS BIGINT) AS packets
FROM read_parquet({listing}, union_by_name = true)
WHERE "start" IS NOT NULL
GROUP BY ALL""",
        # each key's day total per action class, and over all of them ('*')
        f"""CREATE OR REPLACE TEMP TABLE t AS
WITH c AS (
    SELECT {names}, CASE WHEN action IN ('ACCEPT', 'REJECT') THEN action ELSE '-' END AS cls,
        {sums}
    FROM g GROUP BY ALL
)
SELECT * FROM c
UNION ALL
SELECT {names}, '*' AS cls, {sums} FROM c GROUP BY ALL""",
        # the heavy keys; the key of no value (NODATA records) always, so that its volume is
        # known exactly (what the records without addresses weigh)
        f"""CREATE OR REPLACE TEMP TABLE h AS
SELECT DISTINCT {names} FROM t QUALIFY {ranks} OR ({nulls})""",
        # records of which an address or the destination port is missing but not all three
        f"""CREATE OR REPLACE TEMP TABLE odd AS
SELECT count(*) AS n FROM read_parquet({listing}, union_by_name = true)
WHERE "start" IS NOT NULL
    AND NOT ((srcaddr IS NULL) = (dstaddr IS NULL) AND (srcaddr IS NULL) = (dstport IS NULL))""",
        f"""CREATE OR REPLACE TEMP TABLE heavy_rows AS
SELECT a.* FROM g a SEMI JOIN h b ON {same}""",
        # the light keys' largest totals: over the day (bucket NULL) and in each bucket
        f"""CREATE OR REPLACE TEMP TABLE light_bounds AS
WITH lt AS (SELECT a.* FROM t a ANTI JOIN h b ON {same}),
lb AS (
    SELECT bucket, {names},
        CASE WHEN action IN ('ACCEPT', 'REJECT') THEN action ELSE '-' END AS cls, {sums}
    FROM (SELECT a.* FROM g a ANTI JOIN h b ON {same}) GROUP BY ALL
),
lball AS (SELECT bucket, {names}, '*' AS cls, {sums} FROM lb GROUP BY ALL)
SELECT CAST(NULL AS BIGINT) AS bucket, cls, {maxes} FROM lt GROUP BY cls
UNION ALL
SELECT bucket, cls, {maxes} FROM lb GROUP BY ALL
UNION ALL
SELECT bucket, cls, {maxes} FROM lball GROUP BY ALL
UNION ALL
SELECT NULL, 'odd', n, n, n FROM odd""",
    ]


def build(root: Path, live: list[dict], names=None, threads: int | None = None) -> dict:
    """Write the summaries that are missing or stale for the live files ``live`` of the store
    at ``root``; remove the stale ones. Returns how many days were summarised."""
    import duckdb
    import pyarrow.parquet as pq

    names = list(names or SUMMARIES)
    written, kept = 0, 0
    by_day = _days(live)
    for name in names:
        summary = SUMMARIES[name]
        for day, files in sorted(by_day.items()):
            fp = fingerprint(summary, files)
            rows_path, bounds_path = _paths(root, summary, day, fp)
            if rows_path.exists() and bounds_path.exists():
                kept += 1
                continue
            listing = "[" + ", ".join(_lit(str(root / f["path"])) for f in files) + "]"
            con = duckdb.connect(":memory:", config={"threads": threads} if threads else {})
            try:
                con.execute("SET TimeZone = 'UTC'")
                for stmt in _build_sql(summary, listing):
                    con.execute(stmt)
                heavy = con.sql("SELECT * FROM heavy_rows ORDER BY bucket").to_arrow_table()
                bounds = con.sql("SELECT * FROM light_bounds").to_arrow_table()
            except duckdb.IOException as exc:  # a file compacted away meanwhile: next time
                log.info("summary %s of %s not written: %s", name, day, exc)
                continue
            finally:
                con.close()
            rows_path.parent.mkdir(parents=True, exist_ok=True)
            for table, path in ((heavy, rows_path), (bounds, bounds_path)):
                tmp = path.with_name(path.name + ".tmp")
                pq.write_table(table, tmp, compression="zstd")
                tmp.replace(path)  # a reader sees a whole file or none
            for old in rows_path.parent.glob("*.parquet"):
                if old not in (rows_path, bounds_path):
                    old.unlink(missing_ok=True)
            log.info("summary %s of %s: %d heavy rows", name, day, heavy.num_rows)
            written += 1
    return {"written": written, "current": kept}


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
