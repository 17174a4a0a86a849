"""Exact top-N lists from the store's day summaries (``vpcflow.store.summaries``), or nothing.

A day summary holds every bucket of the day's heavy keys exactly and, for every other key, a
bound on its volume. ``Tops.top`` ranks the heavy keys over the view and returns the N largest
only when that is provably the records' answer:

* the view's range lies on 5-minute buckets and every day of it has a current summary;
* every filter chip is on one of the summary's keys, ``action``, ``log_status`` or
  ``protocol`` (a chip narrows a heavy key's exact rows and can only lower a light key's volume
  below its bound);
* each of the N keys is heavy on every day of the range on which a light key may have any volume
  (so its value is exact), and the N-th value is larger than anything another key can have: the
  light keys' bound (per day, the smaller of the day's bound and the sum of the range's bucket
  bounds, of the action classes the chips allow) and, for a key heavy on some of the days only,
  its heavy part plus the bounds of the other days.

Otherwise it returns None and the panel reads a rollup or the records. The summaries are read
on a connection of this module's own (DuckDB, in memory) that may read only their directory.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..store.summaries import ROW_COLUMNS
from .view import View

log = logging.getLogger("vpcflow.web")

__all__ = ["Tops"]

BUCKET = 300
# The chips a summary answers besides its keys.
_ROW_COLUMNS = set(ROW_COLUMNS)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Tops:
    """Top-N answers from one store's day summaries; ``enabled=False`` never answers."""

    def __init__(self, store, enabled: bool = True):
        self.store = store
        self.enabled = enabled and hasattr(store, "summary_status")
        self._con = None
        self._lock = threading.Lock()

    def _connect(self):
        if self._con is None:
            import duckdb

            from ..store.summaries import SUMMARY_DIR

            con = duckdb.connect(":memory:", config={"threads": 2})
            root = Path(self.store.path) / SUMMARY_DIR
            con.execute(f"SET allowed_directories = [{_lit(str(root))}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            self._con = con
        return self._con

    def prepare(self) -> None:
        """Open the connection (a first query pays for it otherwise)."""
        if self.enabled:
            with self._lock:
                self._connect().execute("SELECT 1").fetchall()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def top(self, name: str, view: View, n: int, order: str, extra=()) -> list[dict] | None:
        """The ``n`` largest keys of summary ``name`` over ``view`` (and the filters ``extra``)
        by the view's unit, ordered by value then ``order`` (the keys' SQL), as
        ``{key..., "value"}`` rows; None when the summary cannot prove them exact."""
        filters = [*view.filters, *extra]
        return self._run(name, view, filters, self._top, extra, n, order)

    def null_volume(self, name: str, view: View) -> int | None:
        """The view's volume of the records whose keys of summary ``name`` are all NULL (always
        heavy: exact), or None."""
        return self._run(name, view, view.filters, self._null_volume, view.filters)

    def links(self, name: str, view: View, members: list[str], ports: str) -> list[dict] | None:
        """The Sankey's links of the addresses ``members`` of summary ``name`` (``sources`` or
        ``destinations``; heavy on every day of the view, as ``top`` lists them) by destination
        port: ``{addr, port, protocol, value}`` rows, port and protocol None for a port that
        ``ports`` (an SQL condition on dstport and protocol, of the day's heavy ports) does
        not name. None when a chip is on anything but action, log status or protocol."""
        if any(f.field not in _ROW_COLUMNS for f in view.filters) or not members:
            return None
        return self._run(name, view, view.filters, self._links, members, ports)

    def _links(self, summary, days: dict, view: View, members: list[str], ports: str):
        (addr,) = summary.key_names
        files = "[" + ", ".join(_lit(str(p[2])) for p in days.values()) + "]"
        cond = view.where(bucket=("bucket", BUCKET))
        got = (
            self._connect()
            .execute(
                f"""SELECT "{addr}" AS addr, CASE WHEN {ports} THEN dstport END AS port,
    CASE WHEN {ports} THEN protocol END AS protocol, coalesce(sum("{view.unit}"), 0) AS value
FROM read_parquet({files})
WHERE "{addr}" IN ({", ".join(_lit(m) for m in members)}) AND {cond}
GROUP BY ALL"""
            )
            .fetchall()
        )
        return [dict(zip(("addr", "port", "protocol", "value"), r, strict=True)) for r in got]

    def rejected(self, view: View, members: list[str]) -> dict | None:
        """The distinct destination ports and hosts of the rejected records of the sources
        ``members`` (heavy on every day of the view, as ``top`` lists them): {srcaddr: (ports,
        hosts)}; None when a chip is on anything but srcaddr, action, log status, protocol, or
        when a port or host seen both inside and outside the range may not be in it."""
        if any(f.field not in _ROW_COLUMNS | {"srcaddr"} for f in view.filters) or not members:
            return None
        return self._run("sources", view, view.filters, self._rejected, members)

    def _rejected(self, summary, days: dict, view: View, members: list[str]):
        files = "[" + ", ".join(_lit(str(p[3])) for p in days.values()) + "]"
        lo, hi = view.start // BUCKET, view.end // BUCKET
        rows = f"""
    SELECT srcaddr, dstport, dstaddr,
        "first" >= {lo} AND "last" < {hi} AS sure, NOT ("last" < {lo} OR "first" >= {hi}) AS maybe
    FROM read_parquet({files})
    WHERE srcaddr IN ({", ".join(_lit(m) for m in members)}) AND {view.where(time=False)}"""
        con = self._connect()
        # A port or host is counted when a row (of a day, a log status) has it only inside the
        # range; one that some row has both inside and outside, and none only inside, may or may
        # not be in it: then the records answer. Usually no row is seen both (whole days).
        (mixed,) = con.execute(f"SELECT bool_or(maybe AND NOT sure) FROM ({rows})").fetchone()
        if mixed:
            (unsure,) = con.execute(
                f"""SELECT count(*) FROM (SELECT 1 FROM ({rows}) GROUP BY srcaddr, dstport, dstaddr
HAVING bool_or(maybe) AND NOT bool_or(sure))"""
            ).fetchone()
            if unsure:
                return None
        got = con.execute(
            f"""SELECT srcaddr, count(DISTINCT dstport), count(DISTINCT dstaddr)
FROM ({rows}) WHERE sure GROUP BY srcaddr"""
        ).fetchall()
        found = {src: (ports, hosts) for src, ports, hosts in got}
        return {m: found.get(m, (0, 0)) for m in members}

    def distinct_sources(self, view: View) -> int | None:
        """How many distinct sources the view's records have (``seen``: each source of a day
        with the first and last 5 minutes it was seen in); None when a chip is on anything but
        srcaddr, action, log status or protocol, or when a source seen both before and after a
        range within one day may or may not have records in it."""
        return self._run("seen", view, view.filters, self._distinct_sources)

    def countries(self, view: View) -> list[dict] | None:
        """The map: per country of the source, the view's volume and distinct sources, by value
        then country (``{country, value, sources}``); None as for ``distinct_sources``, and
        when a chip is on anything but action, log status or protocol."""
        if any(f.field not in _ROW_COLUMNS for f in view.filters):
            return None
        return self._run("seen", view, view.filters, self._countries)

    def about(self, view: View, members: list[str]) -> dict | None:
        """The country and network of the sources ``members`` as the ``seen`` summary of the
        view's days has them (the address database's names: no lookup in this process), or
        None when a day has no summary or a source is not in it."""
        if not members:
            return None
        return self._run("seen", view, [], self._about, members)

    def _about(self, summary, days: dict, view: View, members: list[str]):
        files = "[" + ", ".join(_lit(str(p[0])) for p in days.values()) + "]"
        got = (
            self._connect()
            .execute(
                f"""SELECT srcaddr, any_value(country), any_value(network) FROM read_parquet({files})
WHERE srcaddr IN ({", ".join(_lit(m) for m in members)}) GROUP BY srcaddr"""
            )
            .fetchall()
        )
        found = {a: {"country": c, "network": n} for a, c, n in got}
        return found if set(found) >= set(members) else None

    @staticmethod
    def _seen(days: dict, view: View) -> str:
        """Each source of the view's days that matches its chips, with whether it surely has a
        record in the range (``sure``); a source none of whose days says is ``sure`` false."""
        files = "[" + ", ".join(_lit(str(p[0])) for p in days.values()) + "]"
        lo, hi = view.start // BUCKET, view.end // BUCKET
        return f"""SELECT srcaddr, any_value(country) AS country,
    bool_or("first" >= {lo} OR "last" < {hi}) AS sure
FROM read_parquet({files})
WHERE "last" >= {lo} AND "first" < {hi} AND {view.where(time=False)}
GROUP BY srcaddr"""

    def _distinct_sources(self, summary, days: dict, view: View) -> int | None:
        sure, unsure = (
            self._connect()
            .execute(
                f"SELECT count(*) FILTER (WHERE sure), count(*) FILTER (WHERE NOT sure) "
                f"FROM ({self._seen(days, view)})"
            )
            .fetchone()
        )
        return None if unsure else int(sure)

    def _countries(self, summary, days: dict, view: View) -> list[dict] | None:
        volumes = "[" + ", ".join(_lit(str(p[1])) for p in days.values()) + "]"
        got = (
            self._connect()
            .execute(
                f"""
WITH n AS (
    SELECT country, count(*) FILTER (WHERE sure) AS sources,
        count(*) FILTER (WHERE NOT sure) AS unsure
    FROM ({self._seen(days, view)}) GROUP BY country
),
v AS (
    SELECT country, coalesce(sum("{view.unit}"), 0) AS value FROM read_parquet({volumes})
    WHERE {view.where(bucket=("bucket", BUCKET))} GROUP BY country
)
SELECT coalesce(v.country, n.country) AS country, v.value, n.sources, n.unsure
FROM v FULL JOIN n ON v.country IS NOT DISTINCT FROM n.country
ORDER BY value DESC, country"""
            )
            .fetchall()
        )
        # a country with volume but no source (or the reverse) cannot be: read the records
        if any(value is None or not sources or unsure for _, value, sources, unsure in got):
            return None
        return [{"country": c, "value": int(v), "sources": int(n)} for c, v, n, _ in got]

    def odd(self, view: View) -> int | None:
        """How many records of the view's days lack an address or the destination port but
        not all three (``store.summaries``), or None when a day has no summary."""
        return self._run("sources", view, [], self._odd)

    def _run(self, name: str, view: View, filters, fn, *args):
        if not self.enabled or view.start is None or view.end is None:
            return None
        if view.start % BUCKET or view.end % BUCKET:
            return None
        from ..store.summaries import SUMMARIES

        summary = SUMMARIES[name]
        if any(f.field not in _ROW_COLUMNS | set(summary.key_names) for f in filters):
            return None
        status = self.store.summary_status(name, view.start, view.end)
        if not status["complete"] or not status["days"]:
            return None
        try:
            with self._lock:
                return fn(summary, status["days"], view, *args)
        except Exception as exc:  # a summary replaced while read: the records answer
            log.info("summary %s unreadable, reading the records: %s", name, exc)
            return None

    def _null_volume(self, summary, days: dict, view: View, filters) -> int:
        rows = "[" + ", ".join(_lit(str(p[0])) for p in days.values()) + "]"
        cond = View(view.start, view.end, None, view.unit, filters).where(bucket=("bucket", BUCKET))
        nulls = " AND ".join(f'"{k}" IS NULL' for k in summary.key_names)
        got = (
            self._connect()
            .execute(
                f'SELECT coalesce(sum("{view.unit}"), 0) FROM read_parquet({rows}) '
                f"WHERE {nulls} AND {cond}"
            )
            .fetchone()
        )
        return int(got[0])

    def _odd(self, summary, days: dict, view: View) -> int:
        bounds = "[" + ", ".join(_lit(str(p[1])) for p in days.values()) + "]"
        got = (
            self._connect()
            .execute(
                f"SELECT coalesce(sum(records), 0) FROM read_parquet({bounds}) WHERE cls = 'odd'"
            )
            .fetchone()
        )
        return int(got[0])

    def _top(self, summary, days: dict, view: View, extra, n: int, order: str):
        con = self._connect()
        unit = view.unit
        keys = ", ".join(f'"{k}"' for k in summary.key_names)
        lo, hi = view.start // BUCKET, view.end // BUCKET
        rows = "[" + ", ".join(_lit(str(p[0])) for p in days.values()) + "]"
        bounds = "[" + ", ".join(_lit(str(p[1])) for p in days.values()) + "]"
        # the extra filters apply besides the chips (not as alternatives to a chip's values)
        cond = view.where(bucket=("bucket", BUCKET))
        if extra:
            cond += " AND " + View(None, None, None, unit, list(extra)).where(time=False)
        filters = [*view.filters, *extra]
        # each heavy key's value over the view, and the days of the range it is heavy on
        ranked = con.execute(
            f"""
WITH v AS (
    SELECT {keys}, coalesce(sum("{unit}"), 0) AS value, sum("records") AS records
    FROM read_parquet({rows}) WHERE {cond} GROUP BY ALL
),
d AS (
    SELECT {keys}, list(DISTINCT filename) AS files
    FROM read_parquet({rows}, filename = true) GROUP BY ALL
)
SELECT v.*, d.files FROM v JOIN d ON {
                " AND ".join(f'v."{k}" IS NOT DISTINCT FROM d."{k}"' for k in summary.key_names)
            }
ORDER BY value DESC, {order}
"""
        ).fetchall()
        cols = [*summary.key_names, "value", "records", "files"]
        ranked = [dict(zip(cols, r, strict=True)) for r in ranked]
        if len(ranked) < n:
            return None
        # what a key may have on a day it is not heavy on: that day's bound (0: exactly nothing)
        per_day = self._bound(con, bounds, days, lo, hi, unit, filters)
        bound = sum(per_day.values())
        for r in ranked:
            r["missing"] = bound - sum(per_day.get(f, 0) for f in r["files"])
        top, rest = ranked[:n], ranked[n:]
        nth = top[-1]["value"]
        if any(r["missing"] for r in top) or not nth > bound:
            return None
        # a key heavy on some days only: its heavy part plus what it may have on the others
        if any(r["value"] + r["missing"] >= nth for r in rest if r["missing"]):
            return None
        out = [{k: r[k] for k in cols[:-1]} for r in top]
        for o, r in zip(out, top, strict=True):  # (records are exact only for these)
            o["everywhere"] = len(r["files"]) == len(days)
        return out

    def _bound(self, con, bounds: str, days: dict, lo: int, hi: int, unit: str, filters):
        """The most a light key can have over buckets [lo, hi) under the chips' actions, per day
        (by the day's rows file)."""
        classes = _classes(filters)
        got = con.execute(
            f"""SELECT filename, bucket, cls, "{unit}" FROM read_parquet({bounds}, filename = true)
WHERE bucket IS NULL OR (bucket >= {lo} AND bucket < {hi})"""
        ).fetchall()
        day_max: dict[str, dict[str, int]] = {}
        buckets: dict[str, dict[int, dict[str, int]]] = {}
        for fname, bucket, cls, value in got:
            if bucket is None:
                day_max.setdefault(fname, {})[cls] = value or 0
            else:
                buckets.setdefault(fname, {}).setdefault(bucket, {})[cls] = value or 0

        def of(m: dict[str, int]) -> int:
            every = m.get("*", 0)
            return every if classes is None else min(every, sum(m.get(c, 0) for c in classes))

        out = {}
        for paths in days.values():
            fname = str(paths[1])
            in_range = sum(of(m) for m in buckets.get(fname, {}).values())
            out[str(paths[0])] = min(of(day_max.get(fname, {})), in_range)
        return out


def _classes(filters) -> set[str] | None:
    """The action classes (``ACCEPT``, ``REJECT``, ``-``) the chips let through; None: any."""
    wanted = [f for f in filters if f.field == "action"]
    if not wanted or any(f.negate for f in wanted):
        return None
    return {f.value if f.value in ("ACCEPT", "REJECT") else "-" for f in wanted}
