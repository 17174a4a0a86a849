"""The data behind every page and chart, read through the library's public API only.

A :class:`Dashboard` wraps one store (``vpcflow.open_store``) and answers views (:mod:`.view`):
``panel(name, view)`` is one chart's data, ``overview(view)`` all of the overview's, and so on.
Answers are cached in memory by (query, store version): the store version is its list of live
files, so a new ingest is seen on the next request, without a restart.

The store's engine holds one DuckDB connection, so queries run one at a time (each on every
core); the lock serialises the web server's worker threads.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import logging
import threading
import time
from collections import OrderedDict

from .. import settings
from .answers import MISSING, SavedAnswers
from .overview import PAGE_ORDER, PANELS, OverviewPanels, _sql
from .plan import Planner
from .tops import Tops
from .view import BadRequest, Filter, View, parse_view

log = logging.getLogger("vpcflow.web")

__all__ = ["Dashboard", "PANELS", "ENTITY_KINDS"]

# The answers saved on disk (JSON): the charts' queries and top-N lists, and the rejections
# page (minutes of the troubleshooter on a busy day; saved only when its key says everything it
# depends on: configurations given at start or uploaded, not fetched from AWS per view).
_SAVED_KINDS = (
    "sql", "top", "links", "rejected", "distinct", "countries", "about", "rejections"
)  # fmt: skip
# entity kind -> the filter that selects its records
ENTITY_KINDS = {
    "ip": "addr",
    "interface": "interface_id",
    "instance": "instance_id",
    "subnet": "subnet_id",
}


def _iso(t) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        d = {}
        for k, v in r.items():
            if isinstance(v, dt.datetime | dt.date):
                v = v.isoformat()
            elif isinstance(v, bytes):
                v = v.hex()
            elif isinstance(v, float) and v != v:
                v = None
            elif isinstance(v, decimal.Decimal):  # sums of BIGINT are HUGEINT
                v = int(v) if v == v.to_integral_value() else float(v)
            d[k] = v
        out.append(d)
    return out


class Dashboard(OverviewPanels):
    """Everything the web pages show, as plain JSON-ready dicts."""

    def __init__(
        self, store, *, configs=None, fetch_configs=None, cache_size: int = 512, rollups=True
    ):
        self.store = store
        # Which relation answers each query: the store's rollups when they can, else the records.
        self.planner = Planner(store, enabled=rollups)
        # Exact top-N lists from the store's day summaries, when they can prove them.
        self.tops = Tops(store, enabled=rollups)
        self._reads = threading.local()
        # The analyses (detect, troubleshoot) take seconds on a big store: each gets a store
        # object (a DuckDB connection) and a lock of its own, so that neither the charts nor
        # the other analysis wait for it.
        self._analysis_stores: dict[str, object] = {}
        self._analysis_locks = {
            kind: threading.Lock() for kind in ("detect", "troubleshoot", "rejections")
        }
        self.configs = configs  # troubleshoot.Configs given at start or uploaded
        self.fetch_configs = fetch_configs  # (store, eni, since, until) -> Configs: --from-aws
        self._lock = threading.RLock()
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._configs_version = 0
        self._prefetching = threading.Lock()
        # The charts' answers saved beside the store: a restarted server finds them (none when
        # the cache is off, as the benchmarks run it).
        mode = "rollups" if rollups else "records"
        self._saved = SavedAnswers.for_store(store, mode) if cache_size else SavedAnswers(None)

    # -- running queries ------------------------------------------------------------------------

    def version(self) -> tuple:
        """Changes whenever the store's data does (a new ingest, a compaction); the same in
        every process (the answers saved on disk are filed under it)."""
        files = self.store.files()
        digest = hashlib.sha256("\n".join(str(f) for f in files).encode()).hexdigest()[:20]
        return (len(files), digest)

    def _cached(self, key, compute, lock=None):
        lock = lock or self._lock
        with lock:
            version = self.version()
            full = (key, version)
            with self._lock:
                if full in self._cache:
                    self._cache.move_to_end(full)
                    return self._cache[full]
            saves = key[0] in _SAVED_KINDS
            tag = f"{version[0]}-{version[1]}"
            value = self._saved.get(tag, key) if saves else MISSING
            if value is MISSING:
                value = compute()
                if saves:
                    self._saved.put(tag, key, value)
            with self._lock:
                self._cache[full] = value
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return value

    def analysis_store(self, kind: str):
        """The store object ``kind`` ("detect" or "troubleshoot") runs on, under its lock."""
        if kind not in self._analysis_stores:
            path = getattr(self.store, "path", None)
            if path is None:
                return self.store
            from ..api import open_store

            self._analysis_stores[kind] = open_store(path, create=False)
        return self._analysis_stores[kind]

    def prepare(self) -> None:
        """Open what the first request would otherwise open: the engine's connection (the
        store's first and last record), the day summaries' connection, the manifest, the
        country and network database (the rejected sources and the map name every address).
        Run by ``vpcflow serve`` before it answers."""
        try:
            self.version()
            self.extent()
            self.tops.prepare()
        except Exception as exc:  # the first request will report it
            log.info("preparing the dashboard failed: %s", exc)
        try:
            from ..enrich import geo

            geo.database(4)
        except Exception as exc:  # no geo data: the panels say so themselves
            log.info("loading the country database failed: %s", exc)

    def prefetch(self, params) -> None:
        """Answer the overview of the view ``params`` (the page's URL query) in a background
        thread, its panels in the order the page asks for them: the page's script asks a few
        hundred milliseconds after its shell is served (it loads ECharts first) and then finds
        them answered or under way. One at a time; nothing without a cache."""
        if not self._cache_size or not self._prefetching.acquire(blocking=False):
            return

        def run():
            try:
                view = self.view(params)
                for name in PAGE_ORDER:
                    self.panel(name, view)
            except Exception as exc:  # the page's own request reports it
                log.debug("prefetching the overview failed: %s", exc)
            finally:
                self._prefetching.release()

        threading.Thread(target=run, name="vpcflow-prefetch", daemon=True).start()

    def warm(self) -> None:
        """Compute the default view's overview and its slow pages (findings, rejections) ahead
        of the first visit; run in a background thread by ``vpcflow serve``."""
        from starlette.datastructures import QueryParams

        try:
            view = self.view(QueryParams(""))
            self.overview(view)  # the page a visit opens on
            self.findings(view)
            self.rejected(view)
        except Exception as exc:  # the page itself will report it
            log.info("warming the dashboard's cache failed: %s", exc)

    def summarise(self) -> None:
        """Bring the store's day summaries up to date (``Store.build_summaries``): a new ingest
        or a compaction made its days' summaries stale, and their top-N lists read the records
        until then. A store that cannot be written (read-only) keeps reading the records."""
        if not self.tops.enabled:
            return
        try:
            t = time.perf_counter()
            done = self.store.build_summaries()
            if done["written"]:
                log.info(
                    "%d day summaries written in %.1f s", done["written"], time.perf_counter() - t
                )
        except Exception as exc:  # the panels read the records meanwhile
            log.info("writing the day summaries failed: %s", exc)

    def keep_warm(self, stop: threading.Event, every: float = 5.0) -> None:
        """``warm()`` and ``summarise()`` now and again whenever the store's version changes (a
        new ingest, a compaction), until ``stop`` is set: the default view stays answered from
        the cache. The default view first (over the records where a day's summaries are stale:
        seconds), then the summaries (minutes on a large day): the answers already computed are
        exact and stay cached, as the summaries do not change the store's version."""
        last = None
        while not stop.is_set():
            try:
                version = self.version()
            except Exception as exc:  # a store being repaired: try again later
                log.info("reading the store's version failed: %s", exc)
                version = last
            if version != last:
                self.warm()
                self.summarise()
                last = version
            stop.wait(every)

    def close(self) -> None:
        self.tops.close()
        for store in self._analysis_stores.values():
            store.close()

    def sql(self, query: str) -> list[dict]:
        """Rows of a dashboard query (DuckDB dialect), cached by store version."""

        def run():
            t = time.perf_counter()
            rows = _jsonable(self.store.sql(query, dialect="duckdb").to_pylist())
            log.debug("%.0f ms: %s", 1000 * (time.perf_counter() - t), " ".join(query.split()))
            return rows

        return self._cached(("sql", query), run)

    def extent(self) -> tuple[int | None, int | None]:
        row = self.sql(_sql("extent").substitute())[0]
        return row["first"], row["last"]

    def view(self, params) -> View:
        return parse_view(params, self.extent())

    # -- flows -----------------------------------------------------------------------------------

    def flows_sql(self, view: View, limit: int, offset: int) -> str:
        return _sql("flows").substitute(where=view.where(), limit=int(limit), offset=int(offset))

    def flows(self, view: View, page: int = 1, size: int = 50) -> dict:
        if not 1 <= size <= 1000:
            raise BadRequest("size: rows per page must be 1 to 1000")
        if page < 1:
            raise BadRequest("page: pages are numbered from 1")
        sql = self.flows_sql(view, size, (page - 1) * size)
        total = self.sql(_sql("flows_count").substitute(where=view.where()))[0]["records"]
        rows = _jsonable(self.sql(sql))
        return {
            "view": view.to_dict(),
            "page": page,
            "size": size,
            "total": total,
            "pages": max((total + size - 1) // size, 1),
            "sql": " ".join(sql.split("\n", 1)[1].split()),
            "rows": rows,
        }

    # -- analyses --------------------------------------------------------------------------------

    def findings(self, view: View) -> dict:
        def run():
            found = self.analysis_store("detect").detect(since=view.start, until=view.end)
            return [f.to_dict() for f in found]

        found = self._cached(("detect", view.start, view.end), run, self._analysis_locks["detect"])
        found = [dict(f) for f in found]
        found = [f for f in found if _finding_matches(f, view.filters)]
        for f in found:
            f["flows"] = "/flows?" + _finding_view(f, view).query_string()
        by_severity: dict[str, int] = {}
        for f in found:
            by_severity[f["severity"]] = by_severity.get(f["severity"], 0) + 1
        return {"view": view.to_dict(), "by_severity": by_severity, "findings": found}

    def set_configs(self, configs) -> None:
        with self._lock:
            self.configs = configs
            self._configs_version += 1

    def rejected(self, view: View, per_interface: int = 5) -> dict:
        """The troubleshooter's verdicts for the view, grouped by subnet and interface; the
        ``per_interface`` most frequent of each (``more``: how many are left out)."""
        enis = [f.value for f in view.filters if f.field == "interface_id" and not f.negate]
        if len(enis) > 1:
            raise BadRequest("the rejections page takes at most one interface_id filter")
        eni = enis[0] if enis else None
        from ..troubleshoot import collector_paused

        def run():
            store = self.analysis_store("troubleshoot")
            configs = self.configs
            if self.fetch_configs is not None and configs is None:
                configs = self.fetch_configs(store, eni, view.start, view.end)
            verdicts = store.troubleshoot(
                interface_id=eni, since=view.start, until=view.end, configs=configs
            )
            with collector_paused():  # 1.7 s for 612k verdicts at 20M records, 5.9 s with it
                return [v.to_dict() for v in verdicts], configs

        inputs = self._analysis_inputs()

        def page():
            verdicts, configs = self._cached(
                ("troubleshoot", eni, view.start, view.end, *inputs),
                run,
                self._analysis_locks["troubleshoot"],
            )
            with collector_paused():
                return self._rejections_page(view, verdicts, configs, per_interface)

        # (the grouping of a busy day's 100k verdicts takes a while too: kept per view)
        filters = tuple(str(f) for f in view.filters)  # (the range and unit are in its links)
        # Configurations fetched from AWS for each view have no content to name before they
        # are fetched: that page is kept in this process only (a kind not saved on disk).
        fetched = self.fetch_configs is not None and self.configs is None
        kind = "rejections-from-aws" if fetched else "rejections"
        key = (kind, view.start, view.end, view.range, view.unit, filters, per_interface)
        key += inputs
        return self._cached(key, page, self._analysis_locks["rejections"])

    def _analysis_inputs(self) -> tuple:
        """What the troubleshooter's answer depends on besides the records (whose version every
        cached answer is filed under): the configurations, by content, and the interface
        inventory's snapshots (``vpcflow interfaces sync`` adds one; their names are unique)."""
        if self.configs is None:  # none, or fetched per view (``--from-aws``)
            configs = "none" if self.fetch_configs is None else f"aws-{self._configs_version}"
        else:
            configs = hashlib.sha256(repr(self.configs).encode()).hexdigest()[:20]
        inventory = getattr(self.store, "inventory", None)
        snapshots = tuple(f.name for f in inventory.files()) if inventory is not None else ()
        return (configs, snapshots)

    def _rejections_page(self, view: View, verdicts: list, configs, per_interface: int) -> dict:
        verdicts = [v for v in verdicts if _verdict_matches(v, view.filters)]
        where = self._interface_facts({v["interface_id"] for v in verdicts}, configs)
        groups: dict[tuple, dict] = {}
        totals: dict[str, int] = {}
        for v in verdicts:
            facts = where.get(v["interface_id"], {})
            key = (facts.get("subnet_id") or "", v["interface_id"])
            g = groups.setdefault(
                key,
                {
                    "subnet_id": facts.get("subnet_id"),
                    "vpc_id": facts.get("vpc_id"),
                    "instance_id": facts.get("instance_id"),
                    "interface_id": v["interface_id"],
                    # what is behind it, from the store's interface inventory or the configs
                    "interface_name": v.get("interface_name"),
                    "counts": {},
                    "verdicts": [],
                },
            )
            g["counts"][v["verdict"]] = g["counts"].get(v["verdict"], 0) + v["occurrences"]
            totals[v["verdict"]] = totals.get(v["verdict"], 0) + v["occurrences"]
            g["verdicts"].append(v)
        for g in groups.values():  # verdicts come most frequent first: keep the head
            g["more"] = max(len(g["verdicts"]) - per_interface, 0)
            # copies of the shown ones only (the cached verdicts serve every view; a busy day
            # has 100k of them)
            g["verdicts"] = [dict(v) for v in g["verdicts"][:per_interface]]
            for v in g["verdicts"]:
                v["first_seen"], v["last_seen"] = _iso(v["first_seen"]), _iso(v["last_seen"])
                v["flows"] = "/flows?" + _verdict_view(v, view).query_string()
        return {
            "view": view.to_dict(),
            "configurations": configs is not None,
            "totals": totals,
            "groups": sorted(groups.values(), key=lambda g: -sum(g["counts"].values())),
        }

    def _interface_facts(self, ids: set[str], configs) -> dict[str, dict]:
        facts: dict[str, dict] = {}
        if ids:
            lit = ", ".join("'" + i.replace("'", "''") + "'" for i in sorted(ids))
            for r in self.sql(_sql("interfaces").substitute(ids=lit)):
                facts[r["interface_id"]] = r
        if configs is not None:  # the configurations know the subnet when the logs do not
            for eni, nic in configs.interfaces.items():
                if eni in ids:
                    f = facts.setdefault(eni, {"interface_id": eni})
                    f["subnet_id"] = f.get("subnet_id") or nic.subnet_id or None
                    f["vpc_id"] = f.get("vpc_id") or nic.vpc_id or None
        return facts

    def console(self, language: str, query: str, dialect: str = "athena") -> dict:
        with self._lock:
            return run_console(self.store, language, query, dialect)

    # -- entities --------------------------------------------------------------------------------

    def entity(self, kind: str, value: str, view: View) -> dict:
        if kind not in ENTITY_KINDS:
            raise BadRequest(f"no entity kind {kind!r}; kinds: {', '.join(ENTITY_KINDS)}")
        f = Filter(ENTITY_KINDS[kind], value)
        from .view import parse_filter

        parse_filter(str(f))  # the same checks as a filter in the URL
        sub = View(view.start, view.end, view.range, view.unit, [*view.filters, f])
        out = {
            "kind": kind,
            "value": value,
            "view": view.to_dict(),
            "filter": str(f),
            "panels": {
                p: self.panel(p, sub)
                for p in ("kpis", "timeseries", "talkers", "ports", "protocols", "interfaces")
            },
        }
        if kind == "ip":
            lit = "'" + value.replace("'", "''") + "'"
            out["about"] = self.sql(
                f"SELECT ip_scope({lit}) AS scope, ip_country({lit}) AS country, "
                f"ip_country_name({lit}) AS country_name, ip_asn({lit}) AS network, "
                f"aws_service({lit}) AS aws_service, aws_region({lit}) AS aws_region"
            )[0]
        findings = self.findings(View(view.start, view.end, view.range, view.unit, []))
        out["findings"] = [x for x in findings["findings"] if _finding_involves(x, kind, value)]
        return out


def _finding_view(f: dict, view: View) -> View:
    from ..timeparse import to_epoch

    start = to_epoch(f["first_seen"]) if f.get("first_seen") else view.start
    end = (to_epoch(f["last_seen"]) + 1) if f.get("last_seen") else view.end
    src = f.get("source") or ""
    if src.startswith("eni-"):
        filters = [Filter("interface_id", src)]
    elif src:
        filters = [Filter("srcaddr", src)]
    else:
        filters = []
    if f.get("action") in ("ACCEPT", "REJECT"):
        filters.append(Filter("action", f["action"]))
    return View(start, end, None, view.unit, filters)


def _verdict_view(v: dict, view: View) -> View:
    filters = [
        Filter("interface_id", v["interface_id"]),
        Filter("srcaddr", v["srcaddr"]),
        Filter("dstaddr", v["dstaddr"]),
        Filter("protocol", str(v["protocol"])),
    ]
    if v.get("dstport") is not None:
        filters.append(Filter("dstport", str(v["dstport"])))
    return View(view.start, view.end, view.range, view.unit, filters)


def _finding_matches(f: dict, filters: list[Filter]) -> bool:
    """A finding is in a filtered view when its source passes the address/interface filters."""
    for flt in filters:
        if flt.field in ("srcaddr", "addr", "interface_id"):
            hit = f.get("source") == flt.value or (
                flt.field == "addr" and flt.value in (f.get("targets") or [])
            )
            if hit == flt.negate:
                return False
    return True


def _finding_involves(f: dict, kind: str, value: str) -> bool:
    if kind == "ip":
        return f.get("source") == value or value in (f.get("targets") or [])
    return f.get("source") == value


def _verdict_matches(v: dict, filters: list[Filter]) -> bool:
    names = {
        "srcaddr": "srcaddr",
        "dstaddr": "dstaddr",
        "dstport": "dstport",
        "protocol": "protocol",
        "interface_id": "interface_id",
    }
    for flt in filters:
        if flt.field in names:
            hit = str(v.get(names[flt.field])) == flt.value
        elif flt.field == "addr":
            hit = flt.value in (v.get("srcaddr"), v.get("dstaddr"))
        else:
            continue
        if hit == flt.negate:
            return False
    return True


def console_limits() -> tuple[int | None, float | None]:
    """The row and time limits of the query console: the CLI's (settings ``row_limit``,
    ``time_limit``)."""
    limit = int(settings.get("row_limit")) or None
    timeout = float(settings.get("time_limit")) or None
    return limit, timeout


def run_console(store, language: str, query: str, dialect: str = "athena") -> dict:
    """Run a console query with the CLI's sandbox, row limit and time limit."""
    if not query or not query.strip():
        raise BadRequest("q: the query is empty")
    if len(query) > 100_000:
        raise BadRequest("q: the query is longer than 100,000 characters")
    limit, timeout = console_limits()
    warnings: list[str] = []
    if language == "insights":
        from .. import insights

        t = insights.translate(query)
        warnings = list(t.warnings)
        sql, dialect = t.sql, "duckdb"
    elif language == "sql":
        if dialect not in ("athena", "duckdb"):
            raise BadRequest(f"dialect: {dialect!r} is not athena or duckdb")
        sql = query
    else:
        raise BadRequest(f"language: {language!r} is not sql or insights")
    started = time.perf_counter()
    res = store.query(sql, dialect, limit=limit, timeout=timeout)
    table = res.table
    return {
        "language": language,
        "dialect": dialect,
        "columns": table.column_names,
        "rows": _jsonable(table.to_pylist()),
        "truncated": res.truncated,
        "row_limit": limit,
        "time_limit": timeout,
        "seconds": round(time.perf_counter() - started, 3),
        "sql": res.sql,
        "warnings": warnings,
    }
