"""Detection: scans, sweeps, brute force, exfiltration, listed addresses and reject spikes.

    >>> from vpcflow import open_store
    >>> from vpcflow.detect import detect
    >>> for f in detect(open_store("flows"), threat_lists=["bad-ips.txt"]):
    ...     print(f.severity, f.type, f.summary)

Each detector (:mod:`.detectors`) is a dataclass of thresholds (defaults from the settings,
justified in its docstring) and a SQL file (``detect/sql/``). A run scans the records once into a
shared pre-aggregation (``sql/cells.sql``: one row per interface, conversation and 10 minutes,
a temporary table on the engine) that every detector reads, so detection over tens of millions
of records takes seconds. Findings are ranked: severity first, then accepted
before rejected (a rejected probe is noise, an accepted one an open door).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping

import numpy as np

from .. import settings
from ..enrich import ipaddr
from ..errors import ConfigError
from ..networks import DEFAULT_INTERNAL, covering_sql, internal_sql, slash24_sql
from ..networks import check as check_networks
from ..store.rollups import conversation_records
from ..timeparse import to_epoch
from . import history
from .allowlist import AllowList, load_allow_lists
from .base import read_sql
from .destinations import service_groups, settle_uploads, time_where
from .detectors import DETECTORS, Detector
from .finding import Finding
from .grouping import fold_spikes, group_scans
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
    "cells_sql",
    "AllowList",
    "load_allow_lists",
]

log = logging.getLogger("vpcflow.detect")

#: Seconds per kept row of the shared pre-aggregation; every detector's window is a multiple
#: of it. The bulk (conversations carrying data) is summed per hour: detectors that read it
#: (port-scan, host-sweep, data-exfiltration) have windows of whole hours.
BUCKET = 600
HOUR = 3600
_HOURLY = ("port-scan", "host-sweep", "data-exfiltration")


def cells_sql(
    *,
    since=None,
    until=None,
    internal=DEFAULT_INTERNAL,
    probe_packets: int | None = None,
    probe_bytes: int | None = None,
    login_min_bytes: int = 1000,
    login_max_bytes: int = 10_000,
    login_ports: Iterable[int] = (22, 3389, 5985, 5986),
) -> str:
    """The run's shared pre-aggregation (``sql/cells.sql``) with its parameters filled in."""
    values = {
        "client_internal": internal_sql("client", internal),
        "server_internal": internal_sql("server", internal),
        "client_net": slash24_sql("c.client", "c.client_internal"),
        "since": to_epoch(since, name="since") if since is not None else -(2**62),
        "until": to_epoch(until, name="until") if until is not None else 2**62,
        "bucket": BUCKET,
        "probe_packets": int(
            settings.get("probe_packets") if probe_packets is None else probe_packets
        ),
        "probe_bytes": int(settings.get("probe_bytes") if probe_bytes is None else probe_bytes),
        "login_min_bytes": int(login_min_bytes),
        "login_max_bytes": int(login_max_bytes),
        "login_ports": ", ".join(str(int(p)) for p in login_ports) or "-1",
    }
    records = conversation_records(
        "vpc_flow_logs",
        bucket=BUCKET,
        per_bucket=HOUR // BUCKET,
        where=" AND start >= {since} AND start < {until}",
    )
    sql = read_sql("cells").replace("{conversation_records}", records)
    for key, value in values.items():
        sql = sql.replace("{" + key + "}", str(value))
    return sql


def _rollup_cells_sql(store, *, since, until, internal, params: dict) -> str | None:
    """The run's cells read from the store's ``conversations`` rollup, or None when the rollup
    cannot answer exactly: an engine without rollup views, a data file of the time range
    without a current rollup (an older store, a Spark ingest), a time range not on whole hours,
    or thresholds other than the ones the rollup baked in."""
    engine = getattr(store, "engine", None)
    if not getattr(engine, "reads_rollups", False) or not hasattr(store, "rollup_status"):
        return None
    from ..store.rollups import ROLLUPS

    rollup = ROLLUPS.get("conversations")
    t0 = to_epoch(since, name="since") if since is not None else None
    t1 = to_epoch(until, name="until") if until is not None else None
    why = None
    if rollup is None:
        why = "no conversations rollup"
    elif not rollup.answers(t0, t1):
        why = "the time range does not start and end on whole hours"
    elif rollup.current_params() != params:
        why = "the probe or login thresholds differ from the ones the rollup was written with"
    else:
        status = store.rollup_status("conversations", t0, t1)
        if not status["complete"]:
            why = (
                f"{len(status['missing'])} of {status['files']} data files have no current "
                "rollup ('vpcflow rollup rebuild' writes them)"
            )
    if why:
        log.info("reading the records, not the rollup: %s", why)
        return None
    log.info("cells from the conversations rollup of %d data files", status["files"])
    # which side is ours: as the rollup recorded it (the default networks), else tested here
    stored = sorted(map(str, internal)) == sorted(DEFAULT_INTERNAL)
    values = {
        "client_internal": "client_internal" if stored else internal_sql("client", internal),
        "server_internal": "server_internal" if stored else internal_sql("server", internal),
        "client_net": "client_net"
        if stored
        else slash24_sql("client", internal_sql("client", internal)),
        "since_bucket": t0 // BUCKET if t0 is not None else -(2**62),
        "until_bucket": t1 // BUCKET if t1 is not None else 2**62,
        "bucket": BUCKET,
    }
    sql = read_sql("cells_rollup")
    for key, value in values.items():
        sql = sql.replace("{" + key + "}", str(value))
    return sql


def render_sql(template: str, *, cells: str = "detect_cells", **params) -> str:
    """Fill a detector's SQL template: the cells table's name, then thresholds."""
    sql = template.replace("{cells}", cells).replace("{bucket}", str(BUCKET))
    for key, value in params.items():
        sql = sql.replace("{" + key + "}", str(value))
    return sql


_names_lock = threading.Lock()
_names_taken: set[str] = set()


def _take_name() -> str:
    """A temporary table name no other run of this process holds: the lowest free
    ``detect_cells_<n>``. The same name from run to run keeps the detectors' SQL the same text,
    so the SQL cache answers their translation (a second of sqlglot per run otherwise)."""
    with _names_lock:
        n = 1
        while f"detect_cells_{n}" in _names_taken:
            n += 1
        name = f"detect_cells_{n}"
        _names_taken.add(name)
        return name


def _give_name(name: str) -> None:
    with _names_lock:
        _names_taken.discard(name)


class _Cells:
    """The pre-aggregation every detector of one run reads: a temporary table built once on
    the engine (one scan of the records for all detectors), or, where the engine cannot hold
    one (``shared=False``, or another engine), the same query inlined in every detector."""

    def __init__(self, store, sql: str, shared: bool = True):
        self.store, self.sql = store, sql
        self.engine = getattr(store, "engine", None) if shared else None
        self.name = "detect_cells"
        self.temp = False
        if self.engine is not None:
            name = _take_name()
            try:
                self.engine.create_temp_table(name, sql, dialect="duckdb")
            except NotImplementedError:
                _give_name(name)
                return
            except BaseException:
                _give_name(name)
                raise
            self.name, self.temp = name, True

    def query(self, template: str) -> str:
        if self.temp:
            return template
        body = "\n".join(x for x in template.splitlines() if not x.lstrip().startswith("--"))
        body = body.lstrip()
        if not body.upper().startswith("WITH "):
            raise ConfigError("a detector's SQL must start with WITH to be inlined")
        return f"WITH {self.name} AS (\n{self.sql}\n),\n{body[5:]}"

    def table(self, template: str, **params):
        """The result of a query of the cells, as an Arrow table."""
        sql = render_sql(template, cells=self.name, **params)
        return self.store.sql(self.query(sql), dialect="duckdb")

    def run(self, template: str, **params):
        return self.table(template, **params).to_pylist()

    def close(self) -> None:
        if self.temp:
            try:
                self.engine.drop_temp_table(self.name)
            finally:
                _give_name(self.name)


def _configure(name: str, overrides: Mapping | None) -> Detector:
    cls = DETECTORS[name]
    if not overrides:
        det = cls()
    else:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(
                f"{name}: unknown threshold(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known)) or 'none'}"
            )
        types = {f.name: type(getattr(cls(), f.name)) for f in dataclasses.fields(cls)}
        values = {}
        for k, v in overrides.items():
            try:
                if types[k] is tuple and isinstance(v, str):
                    v = tuple(int(p) for p in v.split(",") if p.strip())
                elif types[k] is bool and isinstance(v, str):
                    v = v.lower() in ("1", "true", "yes", "on")
                elif types[k] in (int, float):
                    v = types[k](v)
            except ValueError as exc:
                raise ConfigError(f"{name}.{k}: {v!r} is not a {types[k].__name__}") from exc
            values[k] = v
        det = cls(**values)
    window = getattr(det, "window", BUCKET)
    unit = HOUR if name in _HOURLY else BUCKET
    if window <= 0 or window % unit:
        raise ConfigError(f"{name}.window: {window} s is not a multiple of {unit} s")
    return det


def _text_prefilter(column: str, entries: list[ThreatEntry]) -> str:
    """A SQL condition that every address of ``column`` inside one of ``entries`` meets, and
    few others (``networks.covering_sql``); the exact test is the caller's."""
    if not entries:
        return "FALSE"
    return covering_sql(column, (e.network for e in entries))


def _listed_addresses(cells: _Cells, entries: list[ThreatEntry]) -> dict[str, ThreatEntry]:
    """Addresses of the run (in the time range) that fall in a threat-list entry: those the
    text of the entries lets through, then each tested exactly. The text is tested on the
    distinct addresses, not on every cell's two (at 20M records 0.22 s against 0.47 s)."""
    addrs = ipaddr.as_array(
        cells.table(
            "WITH a AS (SELECT client AS a FROM {cells} UNION SELECT server FROM {cells}) "
            f"SELECT a FROM a WHERE a IS NOT NULL AND {_text_prefilter('a', entries)}"
        ).column("a")
    )
    if not len(addrs):
        return {}
    prefixes = ipaddr.PrefixTable((e.network, i) for i, e in enumerate(entries))
    idx = prefixes.lookup(addrs)
    hits = np.flatnonzero(idx >= 0)
    values = addrs.take(hits).to_pylist()
    return {a: entries[idx[i]] for a, i in zip(values, hits, strict=True)}


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


#: Findings without samples after the shared scan that get a query of their own.
SAMPLE_RETRIES = 50

SAMPLE_COLUMNS = (
    "interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, "
    '"end", action, tcp_flags'
)


#: The samples' order: time, then every column, so that records alike but for the interface
#: (one connection logged by both ends, or by a NAT gateway) come out the same in every run
#: whichever data file the scan reads first.
SAMPLE_ORDER = (
    'start, srcaddr, dstaddr, srcport, dstport, interface_id, "end", action, protocol, packets, '
    "bytes, tcp_flags"
)


def _add_samples(store, findings: list[Finding], wheres: list[str], n: int) -> None:
    """``n`` records behind each finding, all findings in one scan per hundred."""
    for lo in range(0, len(findings), 100):
        chunk = wheres[lo : lo + 100]
        fs = findings[lo : lo + 100]
        t0 = min(_epoch(f.first_seen) for f in fs)
        t1 = max(_epoch(f.last_seen) for f in fs)
        case = " ".join(f"WHEN ({w}) THEN {i}" for i, w in enumerate(chunk))
        anyof = f"start BETWEEN {t0} AND {t1} AND (" + " OR ".join(f"({w})" for w in chunk) + ")"
        sql = (
            f"SELECT * FROM (SELECT k, {SAMPLE_COLUMNS}, row_number() OVER "
            f"(PARTITION BY k ORDER BY {SAMPLE_ORDER}) AS r "
            f"FROM (SELECT *, CASE {case} END AS k FROM vpc_flow_logs WHERE {anyof}) x) y "
            f"WHERE r <= {int(n)} ORDER BY k, r"
        )
        for row in store.sql(sql, dialect="duckdb").to_pylist():
            k = row.pop("k")
            row.pop("r")
            findings[lo + k].samples.append(row)


def _epoch(text: str | None) -> int:
    return to_epoch(text, name="time") if text else 0


def _finding_id(f: Finding) -> str:
    key = f"{f.type}|{f.source}|{','.join(map(str, f.ports))}|{f.first_seen}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def detect(
    store,
    since=None,
    until=None,
    threat_lists: Iterable = (),
    detectors: Iterable[str] | None = None,
    thresholds: Mapping[str, Mapping] | None = None,
    internal: Iterable[str] | None = None,
    enrich: bool = True,
    allow: Iterable = (),
    new_only: bool = False,
    samples: int = 3,
    shared: bool = True,
    rollups: bool = True,
) -> list[Finding]:
    """Run the detectors over ``store`` (anything with ``.sql(query, dialect=...)``).

    ``since``/``until``: datetimes, ISO-8601 strings or epoch seconds (UTC), on record start.
    ``threat_lists``: paths of plain IP/CIDR lists, or already loaded :class:`ThreatEntry` lists.
    ``detectors``: names to run (default all; ``known-bad-ip`` runs only with threat lists).
    ``thresholds``: ``{detector name: {field: value}}`` overrides of the settings. ``internal``:
    CIDRs that are ours (default: the ``internal_networks`` setting, RFC 1918, 100.64.0.0/10
    and fc00::/7). ``allow``: allow-list files (or loaded :class:`AllowList`) whose
    matching findings are dropped. ``new_only``: only findings no earlier ``new_only`` run on
    this store reported (and remember these). ``samples``: records shown per finding.
    ``shared=False`` inlines the pre-aggregation in every detector (for comparison).
    ``rollups``: build the pre-aggregation from the store's conversations rollup when it answers
    the run exactly (the same findings, without reading the records); False: from the records.
    Returns findings ranked most urgent first.
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
    if internal is None:
        internal = tuple(settings.get_list("internal_networks"))
        check_networks(internal, "VPCFLOW_INTERNAL_NETWORKS")
    else:
        internal = tuple(internal)
        check_networks(internal)
    entries: list[ThreatEntry] = []
    for item in threat_lists:
        entries.extend([item] if isinstance(item, ThreatEntry) else load_threat_list(item))
    allowed = load_allow_lists(allow)
    configured = {name: _configure(name, thresholds.get(name)) for name in DETECTORS}
    bf = configured["brute-force"]
    sql = None
    if rollups and shared:
        params = {
            "login_max_bytes": int(bf.max_bytes),
            "login_min_bytes": int(bf.min_bytes),
            "login_ports": [int(p) for p in bf.ports] or [-1],
            "probe_bytes": int(settings.get("probe_bytes")),
            "probe_packets": int(settings.get("probe_packets")),
        }
        sql = _rollup_cells_sql(store, since=since, until=until, internal=internal, params=params)
    if sql is None:
        sql = cells_sql(
            since=since,
            until=until,
            internal=internal,
            login_min_bytes=bf.min_bytes,
            login_max_bytes=bf.max_bytes,
            login_ports=bf.ports,
        )
    findings: list[Finding] = []
    owner: dict[int, Detector] = {}
    cells = _Cells(store, sql, shared=shared)
    try:
        for name in names:
            det = configured[name]
            params = det.params()
            listed: dict[str, ThreatEntry] = {}
            if name == "known-bad-ip":
                if not entries:
                    if detectors is not None:
                        log.warning("known-bad-ip needs --threat-list files; skipped")
                    continue
                listed = _listed_addresses(cells, entries)
                if not listed:
                    continue
                params["bad"] = ", ".join("('" + a.replace("'", "''") + "')" for a in listed)
            if name == "data-exfiltration":
                params["groups"] = service_groups(cells, store, time_where(since, until))
            for template in det.queries():
                for row in cells.run(template, **params):
                    if listed:
                        e = listed[row["source"]]
                        row["listed"] = f"{e.path} line {e.line}" + (
                            f": {e.comment}" if e.comment else ""
                        )
                    f = det.finding(row)
                    if f is not None:
                        findings.append(f)
                        owner[id(f)] = det
            log.info("%s: %d findings", name, sum(f.type == name for f in findings))
        relays = _relays(cells, findings)
        findings = settle_uploads(cells, findings)
    finally:
        cells.close()
    # One order whatever order the engine returned rows of equal times in: the steps below
    # keep the first of findings alike (echoes, episodes, the scan a spike is folded into).
    findings.sort(key=_canonical)
    findings = _dedupe_echoes(_dedupe_subnets(findings), relays)
    if allowed:
        before = len(findings)
        findings = [f for f in findings if not allowed.allows(f)]
        log.info("allow-list: %d findings dropped", before - len(findings))
    findings = fold_spikes(group_scans(findings))
    owner = {id(f): configured[f.type] for f in findings}
    for f in findings:
        f.id = _finding_id(f)
        f.query = owner[id(f)].records_query(f)
    if new_only:
        findings = history.new_findings(store, findings)
    if samples and findings:
        _add_samples(store, findings, [owner[id(f)].sample_where(f) for f in findings], samples)
        # a record goes to the first finding of a scan whose condition it meets: findings that
        # share records (a scanner's sweep and its port-scan) get theirs one by one, from the
        # cheap condition, else from every record behind them (answers read as requests)
        for f in [f for f in findings if not f.samples][:SAMPLE_RETRIES]:
            for where in (owner[id(f)].sample_where(f), owner[id(f)].records_where(f)):
                _add_samples(store, [f], [where], samples)
                if f.samples:
                    break
    if enrich:
        _enrich(findings)
    name_findings(store, findings)
    findings.sort(key=lambda f: f.rank)
    return findings


def _canonical(f: Finding) -> tuple:
    return (
        f.type,
        f.first_seen or "",
        f.last_seen or "",
        f.source,
        f.ports,
        f.targets,
        f.records,
        f.bytes,
    )


def _dedupe_subnets(findings: list[Finding]) -> list[Finding]:
    """One finding per /24 sweep: when two or more addresses of a /24 finding have their own
    overlapping findings on the same port, the /24 one stands for them all; when only one has,
    that address's finding stays and the /24 one goes."""
    singles = [f for f in findings if f.type == "host-sweep" and "/" not in f.source]
    drop: set[int] = set()
    for f in findings:
        if f.type != "host-sweep" or "/" not in f.source:
            continue
        srcs = set(f.details.get("sources", []))
        mine = [g for g in singles if g.source in srcs and g.ports == f.ports and _overlap(f, g)]
        if len(mine) >= 2:
            drop.update(id(g) for g in mine)
        elif mine:
            drop.add(id(f))
    return [f for f in findings if id(f) not in drop]


def _overlap(a: Finding, b: Finding) -> bool:
    return a.first_seen <= b.last_seen and b.first_seen <= a.last_seen


def _relays(cells: _Cells, findings: list[Finding]) -> set[tuple[str, str]]:
    """(instance, relay) pairs among the sources of outbound findings: the instance sent
    requests to the relay's address (a NAT gateway, a proxy), which sent them on."""
    srcs = sorted({f.source for f in findings if f.direction == "outbound" and "/" not in f.source})
    if len(srcs) < 2:
        return set()
    inside = ", ".join("'" + s.replace("'", "''") + "'" for s in srcs)
    rows = cells.run(
        "WITH r AS (SELECT DISTINCT client, server FROM {cells} "
        f"WHERE client IN ({inside}) AND server IN ({inside}) AND requests > 0) "
        "SELECT client, server FROM r"
    )
    return {(r["client"], r["server"]) for r in rows if r["client"] != r["server"]}


def _dedupe_echoes(findings: list[Finding], relays: set | None = None) -> list[Finding]:
    """Drop the echoes of one incident: the answers of a scanned host read as probes of the
    scanner (no TCP flags in version-2 records), and the NAT gateway's translated copy of an
    instance's traffic (same targets and ports from the gateway's address). The prober's
    finding stays (more logged records), and the instance's: the one that sent its requests to
    the other's address (``relays``), else the one with more logged records."""
    relays = relays or set()

    weight = [(f.details.get("logged", f.records), f.records) for f in findings]
    of_type: dict[str, list[int]] = {}
    for j, b in enumerate(findings):
        of_type.setdefault(b.type, []).append(j)
    drop = set()
    for i, a in enumerate(findings):
        for j in of_type[a.type]:
            b = findings[j]
            if i == j or not _overlap(a, b):
                continue
            if (a.source, b.source) in relays:  # a sent through b: a is the instance
                continue
            if (b.source, a.source) not in relays and (
                weight[i] > weight[j] or (weight[i] == weight[j] and i < j)
            ):
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
