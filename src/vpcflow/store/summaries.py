"""Day summaries: per day, the heaviest keys of a grouping exactly, and a bound on all the others.

A top-N over the records (who talks to whom, which ports) groups millions of keys: one-off
internet noise makes most (source, destination) pairs unique, so no exact rollup of them is
small. A day summary keeps, for one UTC day and one grouping (``SUMMARIES``: talkers, ports,
sources, destinations):

* ``rows``: every record count, byte and packet sum of the day's **heavy** keys, per 5-minute
  bucket, action, log status and protocol (``ROW_COLUMNS``) -- all of them, so a heavy key's
  total over any range of buckets, under a chip on any of those, is exact. A key is heavy
  when it is among the ``KEEP`` largest of the day by records, bytes or packets, over all
  records or over one action class (ACCEPT, REJECT, anything else);
* ``bounds``: for the other (light) keys, the largest total any one of them has -- over the day
  (``bucket`` NULL) and within each bucket -- per unit and action class (``*``: all of them);
  and (class ``odd``) how many of the day's records lack an address or the destination port
  but not all three (none in AWS's records: then "has both addresses" and "has a source", "has
  a destination", "has a port" select the same records, which the Sankey relies on).

The key that is all NULL (the records without addresses or ports: NODATA, SKIPDATA) is always
heavy, so that its volume over any range is known exactly. Ranks count ties alike, so the heavy
keys of a day are the same whichever summary computes them. Two more files serve the Sankey and
the rejected sources:

* ``links`` (sources, destinations): the heavy addresses' records that have the other address
  too, per bucket, action, log status, protocol and destination port -- the day's heavy ports by
  name (the ports summary's heavy keys), any other NULL -- sorted by address;
* ``rejects`` (sources): per heavy source, log status and protocol, each destination port and
  each destination host its rejected records went to, with the first and last bucket of the day.

One more summary, ``seen``, keeps no heavy keys but what is not additive over sources: its
``sources`` file lists every source of the day (by action, log status and protocol) with the
first and last bucket it was seen in, its country and network, and its ``countries`` file the
day's volume per 5-minute bucket, action, log status, protocol and country of the source. A
source whose first or last bucket lies in a range has records in it; one seen only outside has none; only one seen both before and after a
range that lies within its day may or may not (the reader then answers from elsewhere). So the
distinct sources of any range of whole buckets, and of each country, are counted exactly (the KPI
cards, the map). Its countries come from a lookup the caller gives (``country``: the database's
version and vectorised functions), whose version is part of its fingerprint: a new database makes it
stale; without a lookup it is not written.

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
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("vpcflow.store")

__all__ = ["Summary", "SUMMARIES", "KEEP", "SUMMARY_DIR", "status", "build"]

SUMMARY_DIR = "_vpcflow/summaries"
VERSION = 4  # 4: the address groupings' rows and links by protocol
# the ``seen`` summary's own format (the others' fingerprints do not change); 3: by protocol
SEEN_VERSION = 3
# What every summary's rows are split by besides their keys: the filter chips they answer.
ROW_COLUMNS = ("action", "log_status", "protocol")
# Heavy keys per day and criterion (3 units x 4 action classes): the more, the more views are
# proven exact and the larger the summary (a heavy key keeps a row per bucket it appears in).
KEEP = 200
BUCKET = 300
# The action classes a bound is kept for ('-': anything but ACCEPT and REJECT, NULL included).
CLASSES = ("ACCEPT", "REJECT", "-")
UNITS = ("records", "bytes", "packets")
# Rows per row group of a summary file: small, so that a read of a few keys skips the rest.
ROW_GROUP = 32_768


@dataclass(frozen=True)
class Summary:
    """A grouping of the records that a top-N panel ranks: ``keys`` (column, DuckDB type)."""

    name: str
    keys: tuple[tuple[str, str], ...]
    # The Sankey's links of an address: its records that have the ``other`` address too, by
    # destination port (the day's heavy ports; the others NULL). None: no links kept.
    other: str | None = None
    # Keep, for the heavy sources' rejected records, each destination port and host with the
    # first and last bucket of the day it was seen in (the rejected sources' distinct counts).
    rejects: bool = False
    # Keep every source with the first and last bucket it was seen in (its country and network),
    # and the volume by the sources' country (needs the lookups; no heavy rows, no bounds).
    seen: bool = False

    @property
    def key_names(self) -> list[str]:
        return [k for k, _ in self.keys]


SUMMARIES = {
    s.name: s
    for s in (
        Summary("talkers", (("srcaddr", "VARCHAR"), ("dstaddr", "VARCHAR"))),
        Summary("ports", (("dstport", "INTEGER"), ("protocol", "BIGINT"))),
        Summary("sources", (("srcaddr", "VARCHAR"),), other="dstaddr", rejects=True),
        Summary("destinations", (("dstaddr", "VARCHAR"),), other="srcaddr"),
        Summary("seen", (("srcaddr", "VARCHAR"),), seen=True),
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


def fingerprint(summary: Summary, files: list[dict], country: str | None = None) -> str:
    """What a day's summary is current for: its definition and the day's live files (and, for
    ``seen``, the version ``country`` of the country lookup)."""
    what = [
        VERSION,
        KEEP,
        BUCKET,
        summary.keys,
        sorted((f["path"], f.get("crc32"), f.get("rows")) for f in files),
    ]
    if summary.seen:
        what += [SEEN_VERSION, country]
    text = json.dumps(what)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _paths(root: Path, summary: Summary, day: str, fp: str) -> tuple[Path, ...]:
    """The files of a day's summary: rows, bounds and (with ``other``) links."""
    base = root / SUMMARY_DIR / summary.name / f"date={day}"
    kinds = ("rows", "bounds") + ("links",) * bool(summary.other)
    kinds += ("rejects",) * summary.rejects
    if summary.seen:
        kinds = ("sources", "countries")
    return tuple(base / f"{fp}.{kind}.parquet" for kind in kinds)


def status(
    root: Path,
    live: list[dict],
    name: str,
    first: str | None,
    last: str | None,
    country: str | None = None,
) -> dict:
    """Whether every day from ``first`` to ``last`` (ISO dates, None: open) that has data has a
    current summary ``name``: ``complete``, ``days`` (day -> its files, ``_paths``) and
    ``missing`` (days without one). ``country``: the version of the country lookup (``seen``)."""
    summary = SUMMARIES[name]
    days, missing = {}, []
    for day, files in sorted(_days(live).items()):
        if (first is not None and day < first) or (last is not None and day > last):
            continue
        paths = _paths(root, summary, day, fingerprint(summary, files, country))
        if (country is not None or not summary.seen) and all(p.exists() for p in paths):
            days[day] = paths
        else:
            missing.append(day)
    # (records without a start, in no date partition, are in no time range)
    return {"summary": name, "days": days, "missing": missing, "complete": not missing}


def _build_sql(summary: Summary, listing: str) -> list[str]:
    """The statements that leave the tables ``heavy_rows`` and ``light_bounds``."""
    keys = ", ".join(f'CAST("{k}" AS {t}) AS "{k}"' for k, t in summary.keys)
    names = ", ".join(f'"{k}"' for k in summary.key_names)
    same = " AND ".join(f'a."{k}" IS NOT DISTINCT FROM b."{k}"' for k in summary.key_names)
    maxes = ", ".join(f'max("{u}") AS "{u}"' for u in UNITS)
    sums = ", ".join(f'sum("{u}") AS "{u}"' for u in UNITS)
    # protocol, unless it is a key (ports)
    split = "" if "protocol" in summary.key_names else "CAST(protocol AS BIGINT) AS protocol, "
    return [
        # every (bucket, action, log status, protocol, key) of the day
        f"""CREATE OR REPLACE TEMP TABLE g AS
SELECT CAST(floor("start" / {BUCKET}) AS BIGINT) AS bucket, action, log_status, {split}{keys},
    count(*) AS records, CAST(sum(bytes) AS BIGINT) AS bytes,
    CAST(sum(packets) AS BIGINT) AS packets
FROM read_parquet({listing}, union_by_name = true)
WHERE "start" IS NOT NULL
GROUP BY ALL""",
        *_heavy_sql("g", summary.key_names, "t", "h"),
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
        *(_links_sql(summary, listing) if summary.other else []),
        *(_rejects_sql(listing) if summary.rejects else []),
    ]


def _seen_sql(listing: str) -> list[str]:
    """The statements that leave ``seen_sources`` (each source of the day by action, log
    status and protocol: its country, network, first and last bucket) and ``seen_countries``
    (the volume per bucket, action, log status, protocol and country of the source).
    ``vpcflow_country`` and ``vpcflow_network`` are the caller's lookups."""
    return [
        f"""CREATE OR REPLACE TEMP TABLE g AS
SELECT CAST(floor("start" / {BUCKET}) AS BIGINT) AS bucket, action, log_status,
    CAST(protocol AS BIGINT) AS protocol, CAST(srcaddr AS VARCHAR) AS srcaddr,
    count(*) AS records, CAST(sum(bytes) AS BIGINT) AS bytes,
    CAST(sum(packets) AS BIGINT) AS packets
FROM read_parquet({listing}, union_by_name = true)
WHERE "start" IS NOT NULL AND srcaddr IS NOT NULL
GROUP BY ALL""",
        # each address looked up once
        """CREATE OR REPLACE TEMP TABLE geo AS
SELECT srcaddr, vpcflow_country(srcaddr) AS country, vpcflow_network(srcaddr) AS network
FROM (SELECT DISTINCT srcaddr FROM g)""",
        """CREATE OR REPLACE TEMP TABLE seen_sources AS
SELECT srcaddr, geo.country, geo.network, action, log_status, protocol, min(bucket) AS "first",
    max(bucket) AS "last"
FROM g JOIN geo USING (srcaddr) GROUP BY ALL""",
        """CREATE OR REPLACE TEMP TABLE seen_countries AS
SELECT bucket, action, log_status, protocol, geo.country,
    CAST(sum(records) AS BIGINT) AS records,
    CAST(sum(bytes) AS BIGINT) AS bytes, CAST(sum(packets) AS BIGINT) AS packets
FROM g JOIN geo USING (srcaddr) GROUP BY ALL""",
    ]


def _rejects_sql(listing: str) -> list[str]:
    """The statement that leaves ``rejects``: per heavy source, log status and protocol, each
    destination port (dstaddr NULL) and each destination host (dstport NULL) its rejected
    records went to, with the first and last bucket of the day (``action`` is REJECT, for the
    chips' SQL)."""
    return [
        f"""CREATE OR REPLACE TEMP TABLE rejects AS
WITH r AS (
    SELECT CAST(floor("start" / {BUCKET}) AS BIGINT) AS bucket, log_status,
        CAST(protocol AS BIGINT) AS protocol, srcaddr, CAST(dstport AS INTEGER) AS dstport, dstaddr
    FROM read_parquet({listing}, union_by_name = true)
    WHERE "start" IS NOT NULL AND action = 'REJECT'
        AND srcaddr IN (SELECT srcaddr FROM h WHERE srcaddr IS NOT NULL)
)
SELECT srcaddr, 'REJECT' AS action, log_status, protocol, dstport,
    CAST(NULL AS VARCHAR) AS dstaddr,
    min(bucket) AS first, max(bucket) AS last
FROM r WHERE dstport IS NOT NULL GROUP BY ALL
UNION ALL
SELECT srcaddr, 'REJECT' AS action, log_status, protocol, CAST(NULL AS INTEGER) AS dstport,
    dstaddr,
    min(bucket) AS first, max(bucket) AS last
FROM r WHERE dstaddr IS NOT NULL GROUP BY ALL""",
    ]


def _heavy_sql(grouped: str, key_names: list[str], totals: str, heavy: str) -> list[str]:
    """Statements that leave ``totals`` (each key's day total per action class, and over all
    of them: ``*``) and ``heavy`` (the heavy keys) from the table ``grouped``. Ranks count ties
    alike, so the heavy keys of a day are the same whichever summary computes them."""
    names = ", ".join(f'"{k}"' for k in key_names)
    sums = ", ".join(f'sum("{u}") AS "{u}"' for u in UNITS)
    ranks = " OR ".join(
        f"rank() OVER (PARTITION BY cls ORDER BY {u} DESC) <= {KEEP}" for u in UNITS
    )
    nulls = " AND ".join(f'"{k}" IS NULL' for k in key_names)
    return [
        f"""CREATE OR REPLACE TEMP TABLE {totals} AS
WITH c AS (
    SELECT {names}, CASE WHEN action IN ('ACCEPT', 'REJECT') THEN action ELSE '-' END AS cls,
        {sums}
    FROM {grouped} GROUP BY ALL
)
SELECT * FROM c
UNION ALL
SELECT {names}, '*' AS cls, {sums} FROM c GROUP BY ALL""",
        # the heavy keys; the key of no value (NODATA records) always, so that its volume is
        # known exactly (what the records without addresses weigh)
        f"""CREATE OR REPLACE TEMP TABLE {heavy} AS
SELECT DISTINCT {names} FROM {totals} QUALIFY {ranks} OR ({nulls})""",
    ]


def _links_sql(summary: Summary, listing: str) -> list[str]:
    """Statements that leave ``links``: the heavy addresses' records that have the other
    address, per bucket, action, log status, protocol and destination port -- the day's heavy
    ports (as the ports summary finds them) by name, the others NULL (a heavy port's protocol is
    the record's: the join matches on it)."""
    (addr,) = summary.key_names
    ports = SUMMARIES["ports"]
    keys = ", ".join(f'CAST("{k}" AS {t}) AS "{k}"' for k, t in ports.keys)
    return [
        f"""CREATE OR REPLACE TEMP TABLE gp AS
SELECT action, {keys}, count(*) AS records, CAST(sum(bytes) AS BIGINT) AS bytes,
    CAST(sum(packets) AS BIGINT) AS packets
FROM read_parquet({listing}, union_by_name = true)
WHERE "start" IS NOT NULL
GROUP BY ALL""",
        *_heavy_sql("gp", ports.key_names, "tp", "hp"),
        f"""CREATE OR REPLACE TEMP TABLE links AS
SELECT r.bucket, r.action, r.log_status, r."{addr}", hp.dstport, r.protocol,
    count(*) AS records, CAST(sum(r.bytes) AS BIGINT) AS bytes,
    CAST(sum(r.packets) AS BIGINT) AS packets
FROM (
    SELECT CAST(floor("start" / {BUCKET}) AS BIGINT) AS bucket, action, log_status, "{addr}",
        {keys}, bytes, packets
    FROM read_parquet({listing}, union_by_name = true)
    WHERE "start" IS NOT NULL AND "{summary.other}" IS NOT NULL
        AND "{addr}" IN (SELECT "{addr}" FROM h WHERE "{addr}" IS NOT NULL)
) r
LEFT JOIN hp ON r.dstport = hp.dstport AND r.protocol = hp.protocol
GROUP BY ALL""",
    ]


def build(
    root: Path, live: list[dict], names=None, threads: int | None = None, country=None
) -> dict:
    """Write the summaries that are missing or stale for the live files ``live`` of the store
    at ``root``; remove the stale ones. Returns how many days were summarised. ``country``:
    (version, country, network): the version of the address database and its vectorised
    functions (an Arrow array of addresses in, their names out) that ``seen`` needs (without
    them, ``seen`` is not written)."""
    import duckdb
    import pyarrow.parquet as pq

    names = list(names or SUMMARIES)
    written, kept = 0, 0
    by_day = _days(live)
    for name in names:
        summary = SUMMARIES[name]
        if summary.seen and country is None:
            log.debug("summary %s not written: no country lookup", name)
            continue
        version = country[0] if summary.seen else None
        for day, files in sorted(by_day.items()):
            fp = fingerprint(summary, files, version)
            paths = _paths(root, summary, day, fp)
            if all(p.exists() for p in paths):
                kept += 1
                continue
            listing = "[" + ", ".join(_lit(str(root / f["path"])) for f in files) + "]"
            con = duckdb.connect(":memory:", config={"threads": threads} if threads else {})
            try:
                con.execute("SET TimeZone = 'UTC'")
                # DuckDB's own bar would draw into the terminal of `vpcflow serve`, which
                # summarises in the background, and into `vpcflow rollup summarise`'s output
                con.execute("SET enable_progress_bar = false")
                if summary.seen:
                    tables = _seen_tables(con, listing, country[1:])
                else:
                    tables = _tables(con, summary, listing)
            except duckdb.IOException as exc:  # a file compacted away meanwhile: next time
                log.info("summary %s of %s not written: %s", name, day, exc)
                continue
            finally:
                con.close()
            if not (root / "vpcflow-store.json").exists():
                return {"written": written, "current": kept}  # the store was removed meanwhile
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            for table, path in zip(tables, paths, strict=True):
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two servers may write
                pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
                tmp.replace(path)  # a reader sees a whole file or none
            for old in paths[0].parent.glob("*.parquet"):
                if old not in paths:
                    old.unlink(missing_ok=True)
            log.info("summary %s of %s: %d rows", name, day, tables[0].num_rows)
            written += 1
    return {"written": written, "current": kept}


def _seen_tables(con, listing: str, lookups) -> list:
    """The ``seen`` summary's files from the day's records ``listing`` (``lookups``: the
    functions of an address's country and network)."""
    for name, fn in zip(("vpcflow_country", "vpcflow_network"), lookups, strict=True):
        con.create_function(
            name,
            fn,
            ["VARCHAR"],
            "VARCHAR",
            type="arrow",
            null_handling="special",
            side_effects=False,
        )
    for stmt in _seen_sql(listing):
        con.execute(stmt)
    return [
        con.sql(f"SELECT * FROM seen_{t} ORDER BY {o}").to_arrow_table()
        for t, o in (("sources", "srcaddr"), ("countries", "bucket, country"))
    ]


def _tables(con, summary: Summary, listing: str) -> list:
    """A heavy-key summary's files (``_paths`` order) from the day's records ``listing``."""
    for stmt in _build_sql(summary, listing):
        con.execute(stmt)
    tables = [con.sql("SELECT * FROM heavy_rows ORDER BY bucket").to_arrow_table()]
    tables.append(con.sql("SELECT * FROM light_bounds").to_arrow_table())
    # by address: a read of a few skips the others' row groups
    if summary.other:
        (addr,) = summary.key_names
        order = f'"{addr}", bucket'
        tables.append(con.sql(f"SELECT * FROM links ORDER BY {order}").to_arrow_table())
    if summary.rejects:
        tables.append(con.sql("SELECT * FROM rejects ORDER BY srcaddr").to_arrow_table())
    return tables


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
