"""Detection: scans, sweeps, brute force, exfiltration, listed addresses and reject spikes.

    >>> from vpcflow import open_store
    >>> from vpcflow.detect import detect
    >>> for f in detect(open_store("flows"), threat_lists=["bad-ips.txt"]):
    ...     print(f.severity, f.type, f.summary)

Each detector (:mod:`.detectors`) is a dataclass of thresholds with its defaults justified in
its docstring, and a SQL file (``detect/sql/``) that runs on the engine, so detection over
tens of millions of records takes seconds. Findings are ranked: severity first, then accepted
before rejected (a rejected probe is noise, an accepted one an open door).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping

from ..enrich import ipaddr
from ..errors import ConfigError
from ..timeparse import to_epoch
from .detectors import DETECTORS, Detector, read_sql
from .finding import Finding
from .naming import name_findings
from .threats import ThreatEntry, load_threat_list, load_threat_lists

__all__ = [
    "detect",
    "Finding",
    "DETECTORS",
    "DEFAULT_INTERNAL",
    "load_threat_list",
    "ThreatEntry",
    "render_sql",
]

log = logging.getLogger("vpcflow.detect")

#: Address space taken as ours: RFC 1918, carrier-grade NAT, IPv6 unique-local.
DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")


def _internal_sql(column: str, cidrs: Iterable[str]) -> str:
    """A SQL predicate: ``column`` is in one of ``cidrs``.

    One anchored regular expression of address prefixes (RE2 matches it in one pass, about
    three times faster than a chain of LIKEs, and it is evaluated on every record)."""
    prefixes: list[str] = []
    for text in cidrs:
        net = ipaddress.ip_network(text, strict=False)
        if net.version == 6:
            if net.prefixlen % 4 and net.prefixlen != 7:
                raise ConfigError(f"IPv6 internal network {text}: use a prefix length of 4n")
            if str(net) == "fc00::/7":
                prefixes.append("f[cd]")
                continue
            hexdigits = net.network_address.exploded.replace(":", "")[: net.prefixlen // 4]
            groups = [hexdigits[i : i + 4] for i in range(0, len(hexdigits), 4)]
            prefixes.append(re.escape(":".join(g.lstrip("0") or "0" for g in groups)))
            continue
        octets = (net.prefixlen + 7) // 8
        if octets == 0:
            prefixes.append(r"[0-9]+\.")
            continue
        first = int(net.network_address)
        count = 1 << (octets * 8 - net.prefixlen)
        if count > 256:
            raise ConfigError(f"internal network {text} is too wide to test by prefix")
        step = 1 << (32 - octets * 8)
        for i in range(count):
            parts = ipaddress.IPv4Address(first + i * step).exploded.split(".")[:octets]
            prefix = ".".join(parts) + ("." if octets < 4 else "")
            prefixes.append(re.escape(prefix) + ("$" if octets == 4 else ""))
    if not prefixes:
        return "false"
    pattern = "(?i)^(?:" + "|".join(prefixes) + ")"
    return f"regexp_matches({column}, '{pattern}')"


def render_sql(
    template: str, *, since=None, until=None, internal=DEFAULT_INTERNAL, **params
) -> str:
    """Fill a detector's SQL template: the shared ``flows`` query, then thresholds."""
    flows = read_sql("flows")
    flows = flows.replace("{src_internal}", _internal_sql("srcaddr", internal))
    flows = flows.replace("{dst_internal}", _internal_sql("dstaddr", internal))
    flows = flows.replace(
        "{since}", str(to_epoch(since, name="since") if since is not None else -(2**62))
    )
    flows = flows.replace(
        "{until}", str(to_epoch(until, name="until") if until is not None else 2**62)
    )
    # Only the comment lines of flows.sql carry braces-free prose; drop them before nesting.
    flows = "\n".join(x for x in flows.splitlines() if not x.lstrip().startswith("--"))
    sql = template.replace("{flows}", flows)
    for key, value in params.items():
        sql = sql.replace("{" + key + "}", str(value))
    return sql


def _configure(name: str, overrides: Mapping | None) -> Detector:
    cls = DETECTORS[name]
    if not overrides:
        return cls()
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - known
    if unknown:
        raise ConfigError(
            f"{name}: unknown threshold(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known)) or 'none'}"
        )
    return cls(**overrides)


def _listed_addresses(store, since, until, entries: list[ThreatEntry]) -> dict[str, ThreatEntry]:
    """Addresses of the store (in the time range) that fall in a threat-list entry."""
    s = to_epoch(since, name="since") if since is not None else -(2**62)
    u = to_epoch(until, name="until") if until is not None else 2**62
    where = f"start >= {s} AND start < {u}"
    table = store.sql(
        f"SELECT srcaddr AS a FROM vpc_flow_logs WHERE srcaddr IS NOT NULL AND {where} "
        f"UNION SELECT dstaddr FROM vpc_flow_logs WHERE dstaddr IS NOT NULL AND {where}",
        dialect="duckdb",
    )
    if not table.num_rows:
        return {}
    addrs = table.column(0)
    prefixes = ipaddr.PrefixTable((e.network, i) for i, e in enumerate(entries))
    idx = prefixes.lookup(addrs)
    values = addrs.to_pylist() if hasattr(addrs, "to_pylist") else list(addrs)
    return {values[i]: entries[j] for i, j in enumerate(idx) if j >= 0}


def _enrich(findings: list[Finding]) -> None:
    sources = sorted({f.source for f in findings if ipaddr.parse_ip(f.source)})
    if not sources:
        return
    try:
        from .. import enrich

        table = enrich.lookup(sources).to_pylist()
    except Exception as exc:  # enrichment is a bonus; never lose findings over it
        log.warning("could not enrich findings: %s", exc)
        return
    by = {r["address"]: r for r in table}
    for f in findings:
        r = by.get(f.source)
        if r:
            f.source_country, f.source_asn = r["country"], r["asn"]
            f.source_aws_service = r["aws_service"]


def detect(
    store,
    since=None,
    until=None,
    threat_lists: Iterable = (),
    detectors: Iterable[str] | None = None,
    thresholds: Mapping[str, Mapping] | None = None,
    internal: Iterable[str] = DEFAULT_INTERNAL,
    enrich: bool = True,
) -> list[Finding]:
    """Run the detectors over ``store`` (anything with ``.sql(query, dialect=...)``).

    ``since``/``until``: datetimes, ISO-8601 strings or epoch seconds (UTC), on record start.
    ``threat_lists``: paths of plain IP/CIDR lists, or already loaded :class:`ThreatEntry` lists.
    ``detectors``: names to run (default all; ``known-bad-ip`` runs only with threat lists).
    ``thresholds``: ``{detector name: {field: value}}`` overrides. ``internal``: CIDRs that
    are ours. Returns findings ranked most urgent first.
    """
    thresholds = dict(thresholds or {})
    names = list(detectors) if detectors is not None else list(DETECTORS)
    unknown = [n for n in names if n not in DETECTORS] + [
        n for n in thresholds if n not in DETECTORS
    ]
    if unknown:
        raise ConfigError(
            f"unknown detector(s): {', '.join(unknown)}; known: {', '.join(DETECTORS)}"
        )
    internal = tuple(internal)
    entries: list[ThreatEntry] = []
    for item in threat_lists:
        entries.extend([item] if isinstance(item, ThreatEntry) else load_threat_list(item))
    findings: list[Finding] = []
    for name in names:
        det = _configure(name, thresholds.get(name))
        params = det.params()
        listed: dict[str, ThreatEntry] = {}
        if name == "known-bad-ip":
            if not entries:
                if detectors is not None:
                    log.warning("known-bad-ip needs --threat-list files; skipped")
                continue
            listed = _listed_addresses(store, since, until, entries)
            if not listed:
                continue
            params["bad"] = ", ".join("('" + a.replace("'", "''") + "')" for a in listed)
        for template in det.queries():
            sql = render_sql(template, since=since, until=until, internal=internal, **params)
            for row in store.sql(sql, dialect="duckdb").to_pylist():
                if listed:
                    e = listed[row["source"]]
                    row["listed"] = f"{e.path} line {e.line}" + (
                        f": {e.comment}" if e.comment else ""
                    )
                f = det.finding(row)
                if f is not None:
                    findings.append(f)
        log.info("%s: %d findings", name, sum(f.type == name for f in findings))
    findings = _dedupe_echoes(_dedupe_subnets(findings))
    if enrich:
        _enrich(findings)
    name_findings(store, findings)
    findings.sort(key=lambda f: f.rank)
    return findings


def _dedupe_subnets(findings: list[Finding]) -> list[Finding]:
    """Drop a /24 host-sweep when one of its addresses has its own overlapping finding."""
    singles = [f for f in findings if f.type == "host-sweep" and "/" not in f.source]

    def covered(f: Finding) -> bool:
        srcs = set(f.details.get("sources", []))
        return any(
            g.source in srcs
            and g.ports == f.ports
            and g.first_seen <= f.last_seen
            and f.first_seen <= g.last_seen
            for g in singles
        )

    return [f for f in findings if not (f.type == "host-sweep" and "/" in f.source and covered(f))]


def _overlap(a: Finding, b: Finding) -> bool:
    return a.first_seen <= b.last_seen and b.first_seen <= a.last_seen


def _dedupe_echoes(findings: list[Finding]) -> list[Finding]:
    """Drop the echoes of one incident: the answers of a scanned host read as probes of the
    scanner (no TCP flags in version-2 records), and the NAT gateway's translated copy of an
    instance's traffic (same targets and ports from the gateway's address). The finding with
    more logged records stays: the prober's, and the instance's (logged on its own interface
    and on the gateway's)."""

    def weight(f):
        return (f.details.get("logged", f.records), f.records)

    drop = set()
    for i, a in enumerate(findings):
        for j, b in enumerate(findings):
            if i == j or a.type != b.type or not _overlap(a, b) or weight(a) > weight(b):
                continue
            if weight(a) == weight(b) and i < j:
                continue
            echo = a.type == "port-scan" and a.targets == [b.source] and b.targets == [a.source]
            nat = (
                a.direction == b.direction == "outbound"
                and a.source != b.source
                and a.targets == b.targets
                and a.ports == b.ports
            )
            if echo or nat:
                drop.add(i)
                break
    return [f for i, f in enumerate(findings) if i not in drop]


def store_is_empty(store) -> bool:
    return (
        store.sql("SELECT count(*) AS n FROM vpc_flow_logs", dialect="duckdb").column(0)[0].as_py()
        == 0
    )


def load_lists(paths) -> list[ThreatEntry]:
    """Load and validate threat lists (errors name file and line)."""
    return load_threat_lists(paths)
