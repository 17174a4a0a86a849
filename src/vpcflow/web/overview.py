"""The overview page's panels: KPI cards, traffic over time, the top-N lists, rejected sources,
the world map and the Sankey -- each one query (or two) over the relation ``web.plan`` picks, or
an exact top-N from the store's day summaries (``web.tops``).

``OverviewPanels`` is a part of ``Dashboard`` (``web.dashboard``): it uses its ``sql`` (cached by
store version), ``planner``, ``tops`` and the per-request record of what answered a panel.
"""

from __future__ import annotations

import functools
from importlib import resources
from string import Template

from .plan import RAW
from .view import BadRequest, Filter, View

__all__ = ["OverviewPanels", "PANELS", "PAGE_ORDER", "TOP_N", "bucket_for"]

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
# The top-N panels a day summary (``store.summaries``) of the same name may answer.
SUMMARISED = ("talkers", "ports", "sources", "destinations")
PANELS = (
    "kpis",
    "timeseries",
    *_TOPS,
    "rejected_sources",
    "countries",
    "sankey",
)

# The overview page's panels in the order it asks for them (``static/app.js``), above the fold
# first: what ``Dashboard.prefetch`` answers, in this order.
PAGE_ORDER = (
    "kpis",
    "timeseries",
    "talkers",
    "ports",
    "protocols",
    "rejected_sources",
    "countries",
    "sankey",
    "sources",
    "destinations",
)

_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmpv6", 132: "sctp"}


@functools.cache
def _sql(name: str) -> Template:
    return Template(resources.files("vpcflow.web").joinpath(f"sql/{name}.sql").read_text())


def bucket_for(seconds: int, points: int = 150) -> int:
    """The smallest bucket that draws ``seconds`` in at most ``points`` points."""
    for b in _BUCKETS:
        if seconds / b <= points:
            return b
    return _BUCKETS[-1]


class _NotProven(Exception):
    """The day summaries do not prove a top-N list: the records answer it."""


class OverviewPanels:
    """The overview's charts (a mixin of ``Dashboard``)."""

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
        # Distinct sources are not additive: counted from the day summary of the sources seen,
        # or over a relation that keeps srcaddr.
        seen = None
        if src is not RAW:
            key = ("distinct", view.start, view.end, tuple(map(str, view.filters)))
            seen = self._proven(key, lambda: self.tops.distinct_sources(view), "summary_seen")
        by = self._source(view, {"srcaddr"}) if src is not RAW and seen is None else src
        both = "count(DISTINCT srcaddr) AS sources," if by == src and seen is None else ""
        k = self.sql(_sql("kpis").substitute(src.values(view), sources=both))[0]
        if seen is not None:
            k["sources"] = seen
        elif not both:
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

    def _proven(self, key: tuple, answer, read: str | None = None):
        """``answer()`` (a day-summary answer, None when the summaries cannot prove it) cached
        by store version; an unproven answer is not cached, as a summary written later may
        prove it. ``read`` names the summary in the panel's ``reads``."""

        def compute():
            rows = answer()
            if rows is None:
                raise _NotProven
            return rows

        try:
            rows = self._cached(key, compute)
        except _NotProven:
            return None
        if read is not None:
            self._reads.names.append(read)
        return rows

    def _summary_top(self, name: str, view: View, n: int, order: str, extra=()):
        """The exact top ``n`` of day summary ``name`` (``web.tops``)."""
        key = ("top", name, view.start, view.end, view.unit, tuple(map(str, view.filters)))
        key += (tuple(map(str, extra)), n, order)
        return self._proven(
            key, lambda: self.tops.top(name, view, n, order, extra), f"summary_{name}"
        )

    def _summary_links(self, name: str, view: View, members: list, ports: str):
        """``Tops.links`` of summary ``name`` for ``members``."""
        key = ("links", name, view.start, view.end, view.unit, tuple(map(str, view.filters)))
        key += (tuple(members), ports)
        return self._proven(
            key, lambda: self.tops.links(name, view, members, ports), f"summary_{name}"
        )

    def _summary_rejected(self, view: View, members: list[str]):
        """``Tops.rejected`` for ``members``."""
        key = ("rejected", view.start, view.end, tuple(map(str, view.filters)), tuple(members))
        return self._proven(key, lambda: self.tops.rejected(view, members))

    def _summary_about(self, view: View, members: list[str]):
        """``Tops.about``: the country and network of the sources ``members``."""
        key = ("about", view.start, view.end, tuple(members))
        return self._proven(key, lambda: self.tops.about(view, members), "summary_seen")

    def _top(self, name: str, view: View, n: int) -> dict:
        keys, order = _TOPS[name]
        rows = self._summary_top(name, view, n, order) if name in SUMMARISED else None
        if rows is not None:  # the rest ("Other") is the view's total less the top
            src = self._source(view, set())
            total = self.sql(_sql("total").substitute(src.values(view)))[0]["total"]
            rows = [{**r, "total": total} for r in rows]
        else:
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
        reject = [Filter("action", "REJECT")]
        top = self._summary_top("sources", view, n, "srcaddr", reject)
        counts = None
        # (their ports and hosts are kept for the days they are heavy on)
        if top is not None and all(r["srcaddr"] is not None and r["everywhere"] for r in top):
            counts = self._summary_rejected(view, [r["srcaddr"] for r in top])
        if counts is not None:  # all from the summaries (where they are from: the engine's)
            members = [r["srcaddr"] for r in top]
            where = self._summary_about(view, members)
            if where is None:
                about = " UNION ALL ".join(
                    f"SELECT {_lit(a)} AS srcaddr, ip_country({_lit(a)}) AS country, "
                    f"ip_asn({_lit(a)}) AS network"
                    for a in members
                )
                where = {a["srcaddr"]: a for a in self.sql(about)}
            rows = []
            for r in top:
                ports, targets = counts[r["srcaddr"]]
                a = where[r["srcaddr"]]
                rows.append(
                    {
                        "srcaddr": r["srcaddr"],
                        "records": r["records"],
                        "value": r["value"],
                        "ports": ports,
                        "targets": targets,
                        "country": a["country"],
                        "network": a["network"],
                        "filters": [_filter_of("srcaddr", r["srcaddr"])],
                    }
                )
            return {"unit": view.unit, "items": rows}
        src = self._source(view, {"srcaddr", "action", "dstport", "dstaddr"})
        where = None
        if top is not None:  # where they are: from the sources seen, if it has them
            where = self._summary_about(view, [r["srcaddr"] for r in top if r["srcaddr"]])
        about = "ip_country(srcaddr) AS country, ip_asn(srcaddr) AS network"
        if where is not None:
            about = "CAST(NULL AS VARCHAR) AS country, CAST(NULL AS VARCHAR) AS network"
        if top is not None:  # the sources are known: only their records are read
            addrs = ", ".join(_lit(r["srcaddr"]) for r in top if r["srcaddr"] is not None)
            cond = f"srcaddr IN ({addrs})" if addrs else "false"
            if any(r["srcaddr"] is None for r in top):
                cond = f"({cond} OR srcaddr IS NULL)"
            limit = ""
        else:
            cond, limit = "TRUE", f"ORDER BY value DESC, srcaddr LIMIT {int(n)}"
        query = _sql("rejected_sources").substitute(
            src.values(view), sources=cond, limit=limit, about=about
        )
        rows = [dict(r) for r in self.sql(query)]
        for r in rows:
            if where is not None and r["srcaddr"] is not None:
                r.update(where[r["srcaddr"]])
            r["filters"] = [_filter_of("srcaddr", r["srcaddr"])]
        return {"unit": view.unit, "items": rows}

    def _panel_countries(self, view: View, n: int) -> dict:
        key = ("countries", view.start, view.end, view.unit, tuple(map(str, view.filters)))
        rows = self._proven(key, lambda: self.tops.countries(view), "summary_seen")
        if rows is None:
            src = self._source(view, {"srcaddr"})
            rows = self.sql(_sql("countries").substitute(src.values(view)))
        items = []
        for r in map(dict, rows):
            c = r["country"]
            # Two capital letters: a country; else a range name ('private', 'documentation'...)
            r["is_country"] = bool(c) and len(c) == 2 and c.isupper()
            r["filters"] = [_filter_of("src_country", c)]
            items.append(r)
        return {"unit": view.unit, "items": items}

    def _panel_sankey(self, view: View, n: int) -> dict:
        mark = len(self._reads.names)
        links = self._sankey_summarised(view, n)
        if links is None:  # what answered is the records (and what they were ranked by)
            del self._reads.names[mark:]
            links = self._sankey_records(view, n)
        return {"unit": view.unit, **_sankey_graph(links)}

    def _sankey_records(self, view: View, n: int) -> dict:
        src = self._source(view, {"srcaddr", "dstport", "protocol", "dstaddr"})
        engine = getattr(self.store, "engine", None)
        materialized = "MATERIALIZED" if getattr(engine, "materializes_ctes", False) else ""
        rows = self.sql(_sql("sankey").substitute(src.values(view), n=n, materialized=materialized))
        links: dict[tuple, int] = {}
        for r in rows:
            p = ("port", r["port"], r["protocol"])
            pair = (("src", r["src"]), p) if r["g"] == 1 else (p, ("dst", r["dst"]))
            links[pair] = links.get(pair, 0) + r["value"]
        return links

    def _sankey_summarised(self, view: View, n: int) -> dict | None:
        """The Sankey from the day summaries: the exact top lists of each column, the links of
        the top sources and destinations by port (the summaries keep them for every heavy
        address); the other sources' (destinations') links to a top port are the port's total
        less the top ones', to "Other" the rest of the total."""
        if self.tops.odd(view) != 0:  # some record lacks an address or port but not all
            return None
        srcs = self._summary_top("sources", view, n, "srcaddr", [Filter("srcaddr", "-", True)])
        if srcs is None:
            return None
        ports = self._summary_top(
            "ports", view, n, "dstport, protocol", [Filter("dstport", "-", True)]
        )
        dsts = self._summary_top("destinations", view, n, "dstaddr", [Filter("dstaddr", "-", True)])
        unaddressed = self.tops.null_volume("sources", view)
        if ports is None or dsts is None or unaddressed is None:
            return None
        if any(r["protocol"] is None for r in ports):  # a port no condition of ours matches
            return None
        src = self._source(view, set())
        total = self.sql(_sql("total").substitute(src.values(view)))[0]["total"] - unaddressed
        port_nodes = [("port", r["dstport"], r["protocol"]) for r in ports]
        links: dict[tuple, int] = {}
        for name, end, top, column in (
            ("sources", "srcaddr", srcs, "src"),
            ("destinations", "dstaddr", dsts, "dst"),
        ):
            rows = self._summary_links(name, view, [r[end] for r in top], _ports_sql(ports))
            if rows is None:
                return None
            rest = {p: r["value"] for p, r in zip(port_nodes, ports, strict=True)}
            rest[("port", None, None)] = total - sum(r["value"] for r in ports)
            for r in rows:
                a, p = (column, r["addr"]), ("port", r["port"], r["protocol"])
                pair = (a, p) if column == "src" else (p, a)
                links[pair] = links.get(pair, 0) + r["value"]
                rest[p] -= r["value"]
            for p, v in rest.items():
                if v < 0:  # cannot be, if the summaries are what they say: read the records
                    return None
                pair = ((column, None), p) if column == "src" else (p, (column, None))
                links[pair] = links.get(pair, 0) + v
        return links

    def overview(self, view: View) -> dict:
        return {"view": view.to_dict(), "panels": {p: self.panel(p, view) for p in PANELS}}


def _lit(v) -> str:
    """A value read back from the store as an SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _ports_sql(ports: list[dict]) -> str:
    """The condition that a record's destination port is one of ``ports`` (dstport, protocol)."""
    conds = [
        f"(dstport = {_lit(r['dstport'])} AND protocol = {_lit(r['protocol'])})" for r in ports
    ]
    return "(" + " OR ".join(conds) + ")" if conds else "false"


def _sankey_node(node: tuple) -> dict:
    """A Sankey node (``("src", addr)``, ``("port", port, protocol)``, ``("dst", addr)``; an
    address or port of None is "Other") as the chart names it, with the filters a click adds."""
    column = node[0]
    if column == "port":
        _, port, protocol = node
        if port is None and protocol is None:
            return {"name": "port: Other", "column": "port", "filters": []}
        filters = [_filter_of("dstport", port), _filter_of("protocol", protocol)]
        return {"name": f"port {_port(port, protocol)}", "column": "port", "filters": filters}
    v = node[1]
    field = "srcaddr" if column == "src" else "dstaddr"
    return {
        "name": f"{column} {'Other' if v is None else v}",
        "column": column,
        "filters": [] if v is None else [_filter_of(field, v)],
    }


def _sankey_graph(links: dict[tuple, int]) -> dict:
    """Nodes and links in one order whichever way they were computed: links by value, nodes by
    column (sources, ports, destinations) then by the volume through them, "Other" last. Links
    of no volume are left out (they draw nothing)."""
    links = {k: v for k, v in links.items() if v}
    through: dict[tuple, int] = {}
    for (a, b), v in links.items():
        for node in (a, b):
            through[node] = through.get(node, 0) + v
    columns = {"src": 0, "port": 1, "dst": 2}
    meta = {node: _sankey_node(node) for node in through}

    def rank(node):
        other = node[1] is None and (node[0] != "port" or node[2] is None)
        return (columns[node[0]], other, -through[node], meta[node]["name"])

    nodes = sorted(through, key=rank)
    ordered = sorted(
        links.items(), key=lambda kv: (-kv[1], meta[kv[0][0]]["name"], meta[kv[0][1]]["name"])
    )
    return {
        "nodes": [meta[x] for x in nodes],
        "links": [
            {"source": meta[a]["name"], "target": meta[b]["name"], "value": v}
            for (a, b), v in ordered
        ],
    }


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
