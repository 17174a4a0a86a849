"""The detectors: each one a thresholds dataclass, a SQL file and a way to word its findings.

Every detector's SQL (``sql/<name>.sql``) runs on the engine over ``vpc_flow_logs`` and returns
one row per incident with at least ``source, targets, ports, first_seen, last_seen, records,
bytes, accepted, src_internal, dst_internal``; :meth:`Detector.finding` turns a row into a
:class:`~.finding.Finding`. Thresholds are plain dataclass fields so that they can be tuned per
call (``detect(..., thresholds={"port-scan": {"min_ports": 50}})``).

Which requests count: with TCP flags (version 3+ records) a SYN without ACK is a request; with
the default version-2 fields the lower port is taken as the service port, so a server's answers
(from 443 to a client's ephemeral port) are never read as probes of the client.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources

from .finding import Finding, action_of, human_bytes, iso, short_list

REMOTE_LOGIN_PORTS = {22: "SSH", 3389: "RDP", 5985: "WinRM", 5986: "WinRM over TLS"}


def read_sql(name: str) -> str:
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text()


def _direction(row: dict) -> str:
    si, di = row.get("src_internal"), row.get("dst_internal")
    if si and di:
        return "internal"
    return "outbound" if si else "inbound"


@dataclass(frozen=True)
class Detector:
    """Base: ``name``, the thresholds dataclass and the SQL file of the same name."""

    name = ""
    sql_file = ""

    def params(self) -> dict:
        """The thresholds as SQL template values: ``window`` is the template's ``step``, a
        list of ports a SQL list."""
        d = dataclasses.asdict(self)
        if "window" in d:
            d["step"] = d.pop("window")
        return {
            k: ", ".join(str(int(x)) for x in v) if isinstance(v, tuple | list) else v
            for k, v in d.items()
        }

    def queries(self) -> list[str]:
        """SQL templates to run (``{flows}`` and thresholds filled in by the caller)."""
        return [read_sql(self.sql_file)]

    def finding(self, row: dict) -> Finding | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _base(self, row: dict, severity: str, summary: str, **details) -> Finding:
        records = int(row["records"])
        return Finding(
            type=self.name,
            severity=severity,
            source=str(row["source"]),
            targets=[str(t) for t in row["targets"] or []],
            ports=[int(p) for p in row["ports"] or [] if p is not None],
            first_seen=iso(row["first_seen"]),
            last_seen=iso(row["last_seen"]),
            records=records,
            bytes=int(row["bytes"] or 0),
            action=action_of(int(row["accepted"] or 0), records),
            summary=summary,
            direction=_direction(row),
            details=details,
        )


def _probe_severity(row: dict) -> str:
    """Scans from one of our instances are high (it is likely compromised); from outside,
    accepted probes (an open door) are medium and rejected ones (noise) low."""
    if row["src_internal"]:
        return "high"
    return "medium" if row["accepted"] else "low"


@dataclass(frozen=True)
class PortScan(Detector):
    """``port-scan``: one source probing many distinct ports of one host.

    * ``min_ports = 50``: distinct destination ports of one host in one window. A client of a
      service uses one or two ports of a host (443 and 80, a database port); internet
      background noise tries the few dozen ports of well-known services (Telnet, SSH, RDP, SMB,
      databases: about 30) on every address. Panther's rule alerts at 10 ports but only on
      egress and after removing common ports; nmap's default scan covers 1,000 ports and its
      "top 100" scan 100, so 50 keeps real scans and leaves the background below.
    * ``window = 3600`` s: windows of two hours starting every hour, so a slow scan spread over
      up to an hour is counted whole.

    Covers inbound scans of our hosts and outbound scans by one of our instances.
    """

    name = "port-scan"
    sql_file = "port_scan"
    min_ports: int = 50
    window: int = 3600

    def finding(self, row):
        target = row["targets"][0]
        n_ports, open_ports = int(row["n_ports"]), int(row["open_ports"])
        if row["src_internal"] and not row["dst_internal"]:
            what = (
                f"Our instance {row['source']} probed {n_ports} ports of external host {target}: "
                "it may be compromised; isolate it and inspect its processes."
            )
        else:
            answered = (
                f"{open_ports} accepted ({short_list(_open_ports(row))}): check those services "
                "are meant to be reachable"
                if open_ports
                else "all were rejected"
            )
            what = f"{row['source']} probed {n_ports} ports of {target}; {answered}."
        return self._base(
            row, _probe_severity(row), what, ports_probed=n_ports, ports_accepted=open_ports
        )


def _open_ports(row) -> list:
    return row.get("open_port_list") or row["ports"][: int(row["open_ports"])]


@dataclass(frozen=True)
class HostSweep(Detector):
    """``host-sweep``: one source probing one port across many addresses.

    * ``min_targets = 5``: distinct destination addresses on one port in one window. Our own
      interfaces with public addresses are few, so an inbound sweep shows as a handful of
      targets; clients and health checkers of a service reach the 4 or so servers behind it.
    * ``max_requests_per_target = 4``: a sweep touches each address once or twice; a monitoring
      server scraping every instance every minute makes many requests per target and is not
      a sweep.
    * ``min_subnet_sources = 2``: a sweep split between several addresses of one /24 is reported
      once for the /24 when no single address qualifies on its own.
    * ``usual_hours = 3``: only new pairs count. A (source, port, destination) seen in 3 or
      more distinct hours of the period is a client and its server: app servers calling their
      five API endpoints, health checkers and CDN edges on the web servers, monitoring scraping
      every host, a background scanner hitting the same addresses all day. A sweep takes
      minutes to an hour (two clock hours at most). The price: a sweep repeated against the
      same addresses for three hours or more turns "usual" and is not reported.
    * ``window = 3600`` s, as for port-scan: 2-hour windows every hour, so a sweep spread over
      an hour is counted whole.

    Covers sweeps of our addresses and mass scans of the internet by one of our instances.
    Internet-wide scanners sweeping every public address of ours (background radiation) are
    reported too, ``low`` when all was rejected.
    """

    name = "host-sweep"
    sql_file = "host_sweep"
    min_targets: int = 5
    max_requests_per_target: int = 4
    min_subnet_sources: int = 2
    subnet_sweeps: bool = False
    usual_hours: int = 3
    window: int = 3600

    def queries(self):
        sql = read_sql(self.sql_file)
        single = {"key": "srcaddr", "where": "", "min_sources": 1}
        subnet = {
            # IPv4 sources outside our networks, grouped by /24
            "key": "regexp_extract(srcaddr, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24'",
            "where": "AND NOT src_internal AND srcaddr NOT LIKE '%:%'",
            "min_sources": self.min_subnet_sources,
        }
        queries = [_partial(sql, single)]
        if self.subnet_sweeps:
            queries.append(_partial(sql, subnet))
        return queries

    def finding(self, row):
        port = row["ports"][0]
        n, open_n = int(row["n_targets"]), int(row["open_targets"])
        who = row["source"]
        if len(row["sources"]) > 1:
            who = f"{len(row['sources'])} addresses of {row['source']}"
        if row["src_internal"] and not row["dst_internal"]:
            what = (
                f"Our instance {who} probed port {port} on {n} external addresses (a mass scan): "
                "it may be compromised; isolate it."
            )
        else:
            state = (
                f"{open_n} accepted: check port {port} is meant to be open on them"
                if open_n
                else "all were rejected"
            )
            what = f"{who} probed port {port} on {n} of our addresses; {state}."
        return self._base(
            row,
            _probe_severity(row),
            what,
            sources=list(row["sources"]),
            targets_probed=n,
            targets_accepted=open_n,
        )


def _partial(sql: str, values: dict) -> str:
    for k, v in values.items():
        sql = sql.replace("{" + k + "}", str(v))
    return sql


@dataclass(frozen=True)
class BruteForce(Detector):
    """``brute-force``: many short connections from one source to SSH, RDP or WinRM of one host.

    * ``min_attempts = 30``: distinct connections (client ports) in one window. A person logs in
      a few times an hour; password-guessing tools try several times a second. 30 an hour is
      beyond a person retrying a mistyped password and well below any tool.
    * ``max_bytes = 10000``: a failed login exchanges a few kilobytes (key exchange and an auth
      failure); a real session carries more.
    * ``min_bytes = 1000``: what the client sent in one connection. The SSH key exchange alone
      is over a kilobyte from the client (its KEXINIT and key share), as is an RDP connection
      sequence; a port probe or banner grab (a SYN, or a few hundred bytes) is scanning, not
      password guessing, and is port-scan's or host-sweep's business.
    * only accepted connections count: a login cannot be attempted through a security group
      that rejects the connection, so rejected SYNs to SSH (the bulk of internet background
      noise) are probes, not brute force.
    * ``ports = 22, 3389, 5985, 5986``; ``window = 3600`` s.
    """

    name = "brute-force"
    sql_file = "brute_force"
    min_attempts: int = 30
    max_bytes: int = 10_000
    min_bytes: int = 1_000
    ports: tuple[int, ...] = (22, 3389, 5985, 5986)
    window: int = 3600

    def finding(self, row):
        port = int(row["ports"][0])
        service = REMOTE_LOGIN_PORTS.get(port, f"port {port}")
        attempts = int(row["attempts"])
        if row["accepted"]:
            sev, tail = (
                "high",
                "they reached the service: check its login logs and block the source",
            )
        else:
            sev, tail = "low", "all were rejected"
        what = (
            f"{row['source']} made {attempts} short {service} connections to "
            f"{row['targets'][0]}; {tail}."
        )
        return self._base(row, sev, what, attempts=attempts)


@dataclass(frozen=True)
class DataExfiltration(Detector):
    """``data-exfiltration``: an instance sending unusually many bytes to one external address.

    * ``window = 3600`` s: bytes are summed per instance, external address and hour.
    * baseline: per instance, the ``baseline_quantile = 0.5`` quantile over the hours it was
      active of the most it sent to any one external address in that hour (its typical peak;
      the median ignores the exfiltration hour itself).
    * ``factor = 10``: ten times that typical peak. Legitimate transfers vary by two or three
      times hour to hour; a backup job that runs daily is its own baseline only if it ran for
      most hours, hence the floor below.
    * ``min_bytes = 100 MB``: below that a transfer is not worth a person's time.
    * ``min_baseline_windows = 3``: an instance seen for fewer hours has no baseline; then
      ``min_bytes`` alone decides.
    * ``partner_windows = 3``: an external address the instance sent to in 3 or more hours of
      the period is a usual partner (S3, an API) whose volume is business as usual; only
      transfers to other addresses count, and the baseline is taken over those too. A slow
      exfiltration to one address spread over many hours is therefore not this detector's.

    Only requests the instance made count (it connected out); answers of our servers to
    internet clients are downloads, not exfiltration.
    """

    name = "data-exfiltration"
    sql_file = "data_exfiltration"
    factor: float = 10.0
    min_bytes: int = 100_000_000
    baseline_quantile: float = 0.5
    min_baseline_windows: int = 3
    partner_windows: int = 3
    window: int = 3600

    def finding(self, row):
        # sums arrive as DECIMAL (HUGEINT) and quantiles as DOUBLE: compare as floats
        usual = float(row["usual"] or 0)
        ratio = float(row["bytes"]) / usual if usual else None
        times = f", {ratio:.0f}x its usual peak" if ratio else ""
        what = (
            f"Our instance {row['source']} sent {human_bytes(float(row['bytes']))} to external address "
            f"{row['targets'][0]} within an hour{times}: find the process that sent it and "
            "block the destination."
        )
        return self._base(
            row,
            "high",
            what,
            baseline_bytes=usual,
            ratio=round(ratio, 1) if ratio else None,
            # records of one upload logged on both the instance's and the NAT gateway's
            # interfaces: the instance's finding outweighs the gateway's translated copy
            logged=int(row["logged"] or 0),
        )


@dataclass(frozen=True)
class KnownBadIp(Detector):
    """``known-bad-ip``: traffic to or from an address on a user-supplied threat list.

    No thresholds: one listed address seen is one finding. Accepted traffic is ``high`` (the
    address reached us or we reached it), rejected only is ``low``.
    """

    name = "known-bad-ip"
    sql_file = "known_bad_ip"

    def finding(self, row):
        listed = row.get("listed") or ""
        acc = int(row["accepted"] or 0)
        if acc:
            sev = "high"
            tail = (
                f"{acc} records were accepted: check what {short_list(row['targets'], 3)} "
                "exchanged with it and block it"
            )
        else:
            sev, tail = "low", "everything was rejected"
        what = (
            f"Listed address {row['source']} ({listed}) exchanged {row['records']} records with "
            f"{len(row['targets'])} of our addresses; {tail}."
        )
        return self._base(row, sev, what, listed_in=listed)


@dataclass(frozen=True)
class RejectedSpike(Detector):
    """``rejected-spike``: rejected records on one interface far above its usual rate.

    * ``window = 600`` s: rejects are counted per interface per 10 minutes.
    * baseline: the ``baseline_quantile = 0.5`` quantile of that count over every window of the
      period, zero-filled (the median is not moved by the spike itself).
    * ``factor = 10``: ten times the usual count; internet background noise varies by two or
      three times between quiet and busy windows.
    * ``min_rejects = 100``: fewer rejects in ten minutes are not worth a look whatever the
      ratio.
    * ``min_baseline_windows = 12``: two hours of history before a spike can be told.
    """

    name = "rejected-spike"
    sql_file = "rejected_spike"
    factor: float = 10.0
    min_rejects: int = 100
    baseline_quantile: float = 0.5
    min_baseline_windows: int = 12
    window: int = 600

    def finding(self, row):
        usual = float(row["usual"] or 0)
        what = (
            f"Interface {row['source']} rejected {row['records']} records in "
            f"{self.window // 60} minutes, {int(row['records']) / max(usual, 1):.0f}x its usual "
            f"{usual:.0f}; top source {row['top_source']} of {row['n_sources']}: check whether "
            "that source is an attack or a configuration change broke something."
        )
        f = self._base(
            row,
            "medium",
            what,
            baseline_rejects=usual,
            top_source=row["top_source"],
            sources=int(row["n_sources"]),
        )
        f.direction = ""
        return f


DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (PortScan, HostSweep, BruteForce, DataExfiltration, KnownBadIp, RejectedSpike)
}
