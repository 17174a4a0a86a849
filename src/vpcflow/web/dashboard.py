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
import logging
import threading
import time
from collections import OrderedDict
from importlib import resources
from string import Template

from .. import settings
from .plan import RAW, Planner
from .view import BadRequest, Filter, View, parse_view

log = logging.getLogger("vpcflow.web")

__all__ = ["Dashboard", "PANELS", "ENTITY_KINDS"]

TOP_N = 10
# The fields of the top-N panels: panel -> (key columns, order columns).
_TOPS = {
    "talkers": (["srcaddr", "dstaddr"], "srcaddr, dstaddr"),
    "sources": (["srcaddr"], "srcaddr"),
    "destinations": (["dstaddr"], "dstaddr"),
    "ports": (["dstport", "protocol"], "dstport, protocol"),
    "protocols": (["protocol"], "protocol"),
    "interfaces": (["interface_id"], "interface_id"),
}
PANELS = (
    "kpis",
    "timeseries",
    *_TOPS,
    "rejected_sources",
    "countries",
    "sankey",
)
# entity kind -> the filter that selects its records
ENTITY_KINDS = {
    "ip": "addr",
    "interface": "interface_id",
    "instance": "instance_id",
    "subnet": "subnet_id",
}
_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmpv6", 132: "sctp"}


def _sql(name: str) -> Template:
    return Template(resources.files("vpcflow.web").joinpath(f"sql/{name}.sql").read_text())


def bucket_for(seconds: int, points: int = 150) -> int:
    """The smallest bucket that draws ``seconds`` in at most ``points`` points."""
    for b in _BUCKETS:
        if seconds / b <= points:
            return b
    return _BUCKETS[-1]


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


class Dashboard:
    """Everything the web pages show, as plain JSON-ready dicts."""

    def __init__(
        self, store, *, configs=None, fetch_configs=None, cache_size: int = 512, rollups=True
    ):
        self.store = store
        # Which relation answers each query: the store's rollups when they can, else the records.
        self.planner = Planner(store, enabled=rollups)
        self._reads = threading.local()
        # The analyses (detect, troubleshoot) take seconds on a big store: they get a store
        # object (a DuckDB connection) of their own so that the charts do not wait for them.
        self._analysis_store = None
        self._analysis_lock = threading.Lock()
        self.configs = configs  # troubleshoot.Configs given at start or uploaded
        self.fetch_configs = fetch_configs  # (store, eni, since, until) -> Configs: --from-aws
        self._lock = threading.RLock()
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._configs_version = 0

    # -- running queries ------------------------------------------------------------------------

    def version(self) -> tuple:
        """Changes whenever the store's data does (a new ingest, a compaction)."""
        files = self.store.files()
        return (len(files), hash(tuple(str(f) for f in files)))

    def _cached(self, key, compute, lock=None):
        lock = lock or self._lock
        with lock:
            full = (key, self.version())
            with self._lock:
                if full in self._cache:
                    self._cache.move_to_end(full)
                    return self._cache[full]
            value = compute()
            with self._lock:
                self._cache[full] = value
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return value

    @property
    def analysis_store(self):
        if self._analysis_store is None:
            path = getattr(self.store, "path", None)
            if path is None:
                return self.store
            from ..api import open_store

            self._analysis_store = open_store(path, create=False)
        return self._analysis_store

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

    def keep_warm(self, stop: threading.Event, every: float = 5.0) -> None:
        """``warm()`` now and again whenever the store's version changes (a new ingest, a
        compaction), until ``stop`` is set: the default view stays answered from the cache."""
        last = None
        while not stop.is_set():
            try:
                version = self.version()
            except Exception as exc:  # a store being repaired: try again later
                log.info("reading the store's version failed: %s", exc)
                version = last
            if version != last:
                self.warm()
                last = version
            stop.wait(every)

    def close(self) -> None:
        if self._analysis_store is not None:
            self._analysis_store.close()

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

    # -- panels ----------------------------------------------------------------------------------

    def panel(self, name: str, view: View, n: int = TOP_N) -> dict:
        """One chart's data (what the page draws); ``reads``: the relations that answered it (a
        rollup ``rollup_<name>`` or the records ``vpc_flow_logs``)."""
        if name not in PANELS:
            raise BadRequest(f"no panel {name!r}; panels: {', '.join(PANELS)}")
        data = getattr(self, f"_panel_{name}", None)
        self._reads.names = []
        rows = data(view, n) if data else self._top(name, view, n)
        reads = sorted(set(self._reads.names))
        return {"panel": name, "view": view.to_dict(), **rows, "reads": reads}

    def _source(self, view: View, columns: set[str], **options):
        src = self.planner.source(view, columns, **options)
        names = getattr(self._reads, "names", None)
        if names is not None:
            names.append(src.relation)
        return src

    def _panel_kpis(self, view: View, n: int) -> dict:
        src = self._source(view, {"action", "log_status", "interface_id"})
        # Distinct sources are not additive: counted over a relation that keeps srcaddr.
        by = self._source(view, {"srcaddr"}) if src is not RAW else RAW
        both = "count(DISTINCT srcaddr) AS sources," if by == src else ""
        k = self.sql(_sql("kpis").substitute(src.values(view), sources=both))[0]
        if not both:
            k["sources"] = self.sql(_sql("kpi_sources").substitute(by.values(view)))[0]["sources"]
        total = k["records"] or 0

        def share(x):
            return round(x / total, 6) if total else 0.0

        k.update(
            accept_share=share(k["accepted"]),
            reject_share=share(k["rejected"]),
            nodata_share=share(k["nodata"]),
            skipdata_share=share(k["skipdata"]),
        )
        return {"kpis": k}

    def _panel_timeseries(self, view: View, n: int) -> dict:
        b = bucket_for(view.seconds)
        src = self._source(view, {"action", "log_status"}, step=b)
        rows = self.sql(_sql("timeseries").substitute(src.values(view), bucket=b))
        series: dict[str, list] = {}
        for r in rows:
            series.setdefault(r["action"], []).append([r["t"], r["value"]])
        shift = view.seconds
        src = self._source(view, set(), shift=shift, step=b)
        prev = self.sql(
            _sql("timeseries_previous").substitute(
                src.values(view, shift=shift), bucket=b, shift=shift
            )
        )
        return {
            "bucket": b,
            "unit": view.unit,
            "series": [{"name": k, "data": v} for k, v in sorted(series.items())],
            "previous": [[r["t"], r["value"]] for r in prev],
        }

    def _top(self, name: str, view: View, n: int) -> dict:
        keys, order = _TOPS[name]
        src = self._source(view, set(keys))
        rows = self.sql(
            _sql("top").substitute(src.values(view), keys=", ".join(keys), order=order, n=n)
        )
        total = rows[0]["total"] if rows else 0
        items = []
        for r in rows:
            item = {k: r[k] for k in keys}
            item["value"] = r["value"]
            item["label"] = _label(name, r)
            item["filters"] = [_filter_of(k, r[k]) for k in keys]
            items.append(item)
        other = (total or 0) - sum(r["value"] for r in rows)
        return {"unit": view.unit, "keys": keys, "items": items, "other": other, "total": total}

    def _panel_rejected_sources(self, view: View, n: int) -> dict:
        src = self._source(view, {"srcaddr", "action", "dstport", "dstaddr"})
        rows = self.sql(_sql("rejected_sources").substitute(src.values(view), n=n))
        for r in rows:
            r["filters"] = [_filter_of("srcaddr", r["srcaddr"])]
        return {"unit": view.unit, "items": rows}

    def _panel_countries(self, view: View, n: int) -> dict:
        src = self._source(view, {"srcaddr"})
        rows = self.sql(_sql("countries").substitute(src.values(view)))
        items = []
        for r in rows:
            c = r["country"]
            # Two capital letters: a country; else a range name ('private', 'documentation'...)
            r["is_country"] = bool(c) and len(c) == 2 and c.isupper()
            r["filters"] = [_filter_of("src_country", c)]
            items.append(r)
        return {"unit": view.unit, "items": items}

    def _panel_sankey(self, view: View, n: int) -> dict:
        src = self._source(view, {"srcaddr", "dstport", "protocol", "dstaddr"})
        top = self.sql(_sql("sankey_top").substitute(src.values(view), n=n))
        ports = [
            f"(dstport = {_lit(r['dstport'])} AND protocol = {_lit(r['protocol'])})"
            for r in top
            if r["g"] == 9
        ]
        rows = self.sql(
            _sql("sankey").substitute(
                src.values(view),
                sources=", ".join(_lit(r["srcaddr"]) for r in top if r["g"] == 7) or "NULL",
                destinations=", ".join(_lit(r["dstaddr"]) for r in top if r["g"] == 14) or "NULL",
                ports="(" + " OR ".join(ports) + ")" if ports else "false",
            )
        )
        nodes: dict[str, dict] = {}
        links: dict[tuple[str, str], int] = {}

        def node(column: str, r: dict) -> str:
            if column == "port":
                if r["port"] is None and r["protocol"] is None:
                    name, filters = "port: Other", []
                else:
                    name = f"port {_port(r['port'], r['protocol'])}"
                    filters = [
                        _filter_of("dstport", r["port"]),
                        _filter_of("protocol", r["protocol"]),
                    ]
            else:
                field = "srcaddr" if column == "src" else "dstaddr"
                v = r[column]
                name = f"{column} {'Other' if v is None else v}"
                filters = [] if v is None else [_filter_of(field, v)]
            nodes.setdefault(name, {"name": name, "column": column, "filters": filters})
            return name

        for r in rows:
            a, p, b = node("src", r), node("port", r), node("dst", r)
            links[(a, p)] = links.get((a, p), 0) + r["value"]
            links[(p, b)] = links.get((p, b), 0) + r["value"]
        return {
            "unit": view.unit,
            "nodes": list(nodes.values()),
            "links": [{"source": s, "target": t, "value": v} for (s, t), v in links.items()],
        }

    def overview(self, view: View) -> dict:
        return {"view": view.to_dict(), "panels": {p: self.panel(p, view) for p in PANELS}}

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
            found = self.analysis_store.detect(since=view.start, until=view.end)
            return [f.to_dict() for f in found]

        found = self._cached(("detect", view.start, view.end), run, self._analysis_lock)
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

        def run():
            configs = self.configs
            if self.fetch_configs is not None and configs is None:
                configs = self.fetch_configs(self.analysis_store, eni, view.start, view.end)
            verdicts = self.analysis_store.troubleshoot(
                interface_id=eni, since=view.start, until=view.end, configs=configs
            )
            return [v.to_dict() for v in verdicts], configs

        verdicts, configs = self._cached(
            ("troubleshoot", eni, view.start, view.end, self._configs_version),
            run,
            self._analysis_lock,
        )
        verdicts = [dict(v) for v in verdicts if _verdict_matches(v, view.filters)]
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
            v["first_seen"], v["last_seen"] = _iso(v["first_seen"]), _iso(v["last_seen"])
            v["flows"] = "/flows?" + _verdict_view(v, view).query_string()
            g["verdicts"].append(v)
        for g in groups.values():  # verdicts come most frequent first: keep the head
            g["more"] = max(len(g["verdicts"]) - per_interface, 0)
            g["verdicts"] = g["verdicts"][:per_interface]
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


def _lit(v) -> str:
    """A value read back from the store as an SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _port(port, protocol) -> str:
    name = PROTOCOLS.get(protocol, str(protocol) if protocol is not None else "-")
    return f"{'-' if port is None else port}/{name}"


def _label(panel: str, r: dict) -> str:
    if panel == "talkers":
        return f"{r['srcaddr']} → {r['dstaddr']}"
    if panel == "ports":
        return _port(r["dstport"], r["protocol"])
    if panel == "protocols":
        p = r["protocol"]
        return "- (no data)" if p is None else PROTOCOLS.get(p, str(p))
    v = r[_TOPS[panel][0][0]]
    return "-" if v is None else str(v)


def _filter_of(field: str, value) -> str:
    return f"{field}={'-' if value is None else value}"


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
