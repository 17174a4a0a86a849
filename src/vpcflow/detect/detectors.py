"""The detectors: each one a thresholds dataclass, a SQL file and a way to word its findings.

Every detector's SQL (``sql/<name>.sql``) reads the run's shared pre-aggregation (``sql/cells.sql``,
one row per interface, conversation and 10 minutes, built once per run) and returns one row per
incident with at least ``source, targets, ports, first_seen, last_seen, records,
bytes, accepted, src_internal, dst_internal``; :meth:`Detector.finding` turns a row into a
:class:`~.finding.Finding`. Thresholds are plain dataclass fields whose defaults are settings
(``vpcflow settings``: ``VPCFLOW_PORT_SCAN_MIN_PORTS`` ...), tuned per call with
``detect(..., thresholds={"port-scan": {"min_ports": 50}})``. Every finding lists the thresholds it
crossed with the values observed (``details["thresholds"]``).

Which requests count: with TCP flags (version 3+ records) a SYN without ACK is a request; with
the default version-2 fields the lower port is taken as the service port, so a server's answers
(from 443 to a client's ephemeral port) are never read as probes of the client.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import (
    REMOTE_LOGIN_PORTS,
    Detector,
    _in,
    _pair_query,
    _setting,
    _sorted,
    _time,
    crossed,
)
from .exfiltration import DataExfiltration
from .finding import Finding, short_list


def _probe_severity(row: dict) -> str:
    """Scans from one of our instances are high (it is likely compromised); from outside,
    accepted probes (an open door) are medium and rejected ones (noise) low."""
    if row["src_internal"]:
        return "high"
    return "medium" if row["accepted"] else "low"


@dataclass(frozen=True)
class PortScan(Detector):
    """``port-scan``: one source probing many distinct ports of one host.

    * a probe: a (source, destination, port) whose requests in an hour are all probe-sized
      (``probe_packets = 3`` packets, ``probe_bytes = 240`` bytes: a SYN, its retries and a
      reset, IPv6 headers included) and that got no data back (TCP: only a SYN-ACK or a reset)
      or no answer (UDP). A client of many ports of one host (Kubernetes nodes, peered VPCs,
      passive FTP) exchanges data and does not count, however many ports it uses.
    * ``min_ports = 50``: distinct ports probed on one host in one window. Internet background
      noise tries the few dozen ports of well-known services (about 30); nmap's default scan
      tries 1,000 ports and its "top 100" scan 100, so 50 keeps real scans and leaves the
      background below.
    * ``min_probe_share = 0.8``: of the ports the source reached on the host in the window, at
      least that share were only probed.
    * ``window = 3600`` s: windows of two hours starting every hour, so a slow scan spread over
      up to an hour is counted whole.

    * severity: from one of our instances ``high``; from outside ``medium`` when a probe was
      accepted (an open door) or when the scan is persistent, ``low`` otherwise. Persistent:
      ``persistent_seconds = 1800``, the probes of one host spread over half an hour or more.
      A fast scan that is all rejected is the internet's background noise; one source pacing
      its probes over hours to stay under rate alarms is deliberate reconnaissance of that
      host, even when the security group rejected every probe so far.

    Covers inbound scans of our hosts (rejected, or let through by the security group and
    answered by resets) and outbound scans by one of our instances.
    """

    name = "port-scan"
    sql_file = "port_scan"
    min_ports: int = _setting("port_scan_min_ports")
    min_probe_share: float = _setting("port_scan_min_probe_share")
    window: int = _setting("port_scan_window")
    persistent_seconds: int = 1800

    def finding(self, row):
        target = row["targets"][0]
        n_ports, open_ports = int(row["n_ports"]), int(row["open_ports"])
        if row["src_internal"]:  # outbound, or lateral movement: the scanner is one of ours
            where = "our host" if row["dst_internal"] else "external host"
            what = (
                f"Our instance {row['source']} probed {n_ports} ports of {where} {target}: "
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
        w = int(row["window_ports"])
        severity = _probe_severity(row)
        lasted = int(row["last_seen"] or 0) - int(row["first_seen"] or 0)
        persistent = lasted >= self.persistent_seconds
        if severity == "low" and persistent:
            severity = "medium"
            what = what[:-1] + f", but it went on for {lasted // 60} minutes: a deliberate scan."
        return self._base(
            row,
            severity,
            what,
            lasted_seconds=lasted,
            ports_probed=n_ports,
            ports_accepted=open_ports,
            thresholds=[
                crossed("min_ports", "distinct ports probed in one window", self.min_ports, w),
                crossed(
                    "min_probe_share",
                    "share of the ports reached that were only probed",
                    self.min_probe_share,
                    round(w / max(int(row["window_reached"]), 1), 3),
                ),
            ],
        )

    def records_where(self, f: Finding) -> str:
        return _pair_query(f, [f.source], f.targets, f.ports)

    def sample_where(self, f: Finding) -> str:
        return f"{_time(f)} AND srcaddr = '{f.source}' AND dstaddr = '{f.targets[0]}'"


def _open_ports(row) -> list:
    return _sorted(row.get("open_port_list")) or row["ports"][: int(row["open_ports"])]


@dataclass(frozen=True)
class HostSweep(Detector):
    """``host-sweep``: one source probing one port across many addresses.

    * a probe, as for port-scan: a (source, port, destination) whose requests in an hour are all
      probe-sized and that got no data back (TCP) or no answer (UDP). A web client reaching
      14 servers of a load-balanced fleet exchanges data with each: it is no sweep.
    * ``min_targets = 5``: distinct destinations probed on one port in one window. Our own
      interfaces with public addresses are few, so an inbound sweep shows as a handful of
      targets.
    * ``max_requests_per_target = 4``: a sweep touches each address once or twice (a few
      times when repeated); a health checker or a monitoring server probing every instance
      every few seconds is not a sweep. Counted per window and over the whole period, so a
      window that sees only the last minute of a checker's day does not mistake it for one.
    * ``min_probe_share = 0.8``: of the destinations the source reached on that port, at least
      that share were only probed (a client whose connection tails look like probes is not).
    * ``public_min_clients = 20``: a port that 20 or more outside addresses exchange data with
      on our addresses is a public service. An outside source that exchanged data with any of
      our addresses on it is a client of that service, never a sweeper of it.
    * ``usual_hours = 3``: a (source, port, destination) seen in 3 or more windows of the
      period is a client and its server (health checks, monitoring, an authorised scanner that
      hits the same addresses all day), not a sweep.
    * ``subnet_sweeps = True``, ``min_subnet_sources = 2``: a sweep split between several
      addresses of one /24 (each below ``min_targets`` alone) is reported once for the /24,
      when its addresses probe ``min_subnet_targets_per_source = 3`` destinations each on
      average: a scanning farm whose addresses each send one probe somewhere is noise.
    * ``window = 3600`` s, as for port-scan: 2-hour windows every hour.

    Covers sweeps of our addresses and mass scans of the internet by one of our instances.
    Internet-wide scanners sweeping every public address of ours (background radiation) are
    reported too, ``low`` when all was rejected.
    """

    name = "host-sweep"
    sql_file = "host_sweep"
    min_targets: int = _setting("host_sweep_min_targets")
    max_requests_per_target: int = _setting("host_sweep_max_requests_per_target")
    min_probe_share: float = _setting("host_sweep_min_probe_share")
    public_min_clients: int = _setting("host_sweep_public_min_clients")
    min_subnet_sources: int = _setting("host_sweep_min_subnet_sources")
    min_subnet_targets_per_source: float = _setting("host_sweep_min_subnet_targets_per_source")
    subnet_sweeps: bool = _setting("host_sweep_subnet_sweeps")
    usual_hours: int = _setting("host_sweep_usual_hours")
    window: int = _setting("host_sweep_window")

    def finding(self, row):
        port = _sorted(row["ports"])[0]
        n, open_n = int(row["n_targets"]), int(row["open_targets"])
        who = row["source"]
        sources = _sorted(row["sources"])
        if len(sources) > 1 or "/" in who:
            who = f"{len(sources)} addresses of {row['source']}"
        if row["src_internal"]:  # a mass scan, or lateral movement: the sweeper is one of ours
            where = (
                "of our addresses" if row["dst_internal"] else "external addresses (a mass scan)"
            )
            what = (
                f"Our instance {who} probed port {port} on {n} {where}: it may be compromised; "
                "isolate it."
            )
        else:
            state = (
                f"{open_n} accepted: check port {port} is meant to be open on them"
                if open_n
                else "all were rejected"
            )
            what = f"{who} probed port {port} on {n} of our addresses; {state}."
        w, reached = int(row["window_targets"]), int(row["window_reached"])
        thresholds = [
            crossed(
                "min_targets", "distinct destinations probed in one window", self.min_targets, w
            ),
            crossed(
                "max_requests_per_target",
                "requests per probed destination (at most)",
                self.max_requests_per_target,
                round(int(row["window_requests"]) / max(w, 1), 2),
            ),
            crossed(
                "min_probe_share",
                "share of the destinations reached that were only probed",
                self.min_probe_share,
                round(w / max(reached, 1), 3),
            ),
        ]
        if row["public_port"]:
            thresholds.append(
                crossed(
                    "public_min_clients",
                    f"port {port} is a public service: the source exchanged data with none of "
                    "our addresses on it (destinations talked to)",
                    self.public_min_clients,
                    int(row["talked"] or 0),
                )
            )
        if "/" in row["source"]:
            thresholds.append(
                crossed(
                    "min_subnet_sources",
                    "addresses of the /24 that probed",
                    self.min_subnet_sources,
                    len(sources),
                )
            )
        return self._base(
            row,
            _probe_severity(row),
            what,
            sources=sources,
            targets_probed=n,
            targets_accepted=open_n,
            thresholds=thresholds,
        )

    def records_where(self, f: Finding) -> str:
        return _pair_query(f, f.details.get("sources") or [f.source], f.targets, f.ports)

    def sample_where(self, f: Finding) -> str:
        srcs = f.details.get("sources") or [f.source]
        return f"{_time(f)} AND {_in('srcaddr', srcs[:20])} AND {_in('dstport', f.ports)}"


@dataclass(frozen=True)
class BruteForce(Detector):
    """``brute-force``: many short connections from one source to SSH, RDP or WinRM of one host.

    * ``min_attempts = 30``: login-sized connections in one window. A person logs in a few
      times an hour; password-guessing tools try several times a second. 30 an hour is beyond
      a person retrying a mistyped password and well below any tool.
    * ``max_bytes = 10000``: a failed login exchanges a few kilobytes (key exchange and an auth
      failure); a real session carries more.
    * ``min_bytes = 1000``: what the client sent in one connection. The SSH key exchange alone
      is over a kilobyte from the client (its KEXINIT and key share), as is an RDP connection
      sequence; a port probe or banner grab (a SYN, or a few hundred bytes) is scanning, not
      password guessing, and is port-scan's or host-sweep's business.
    * only accepted connections count: a login cannot be attempted through a security group
      that rejects the connection, so rejected SYNs to SSH (the bulk of internet background
      noise) are probes, not brute force.
    * ``fanout_hosts = 5``: an internal source logging in to 5 or more internal hosts on one
      port in a window is configuration management (Ansible without ControlPersist opens one
      SSH session per task on every host), not guessing one host's password. Trade-off: an
      internal host spraying logins over many internal hosts is left to host-sweep and review.
    * ``poller_hours = 6``, ``poller_peak_ratio = 2``: a pair with attempts in 6 or more hours
      whose busiest hour holds at most twice its average hour is a scheduled poller (an SFTP
      pickup every 90 s all day). Password guessing is a burst: its busiest hour stands out,
      or it is over within a few hours.
    * ``ports = 22, 3389, 5985, 5986``; ``window = 3600`` s.
    """

    name = "brute-force"
    sql_file = "brute_force"
    min_attempts: int = _setting("brute_force_min_attempts")
    max_bytes: int = _setting("brute_force_max_bytes")
    min_bytes: int = _setting("brute_force_min_bytes")
    ports: tuple[int, ...] = _setting("brute_force_ports")
    window: int = _setting("brute_force_window")
    fanout_hosts: int = 5
    poller_hours: int = 6
    poller_peak_ratio: float = 2.0

    def finding(self, row):
        port = int(_sorted(row["ports"])[0])
        service = REMOTE_LOGIN_PORTS.get(port, f"port {port}")
        attempts = int(row["attempts"])
        if row["accepted"]:
            sev, tail = (
                "high",
                "they reached the service: check its login logs and block the source",
            )
        else:  # pragma: no cover - only accepted attempts are counted
            sev, tail = "low", "all were rejected"
        target = _sorted(row["targets"])[0]
        what = f"{row['source']} made {attempts} short {service} connections to {target}; {tail}."
        return self._base(
            row,
            sev,
            what,
            attempts=attempts,
            thresholds=[
                crossed(
                    "min_attempts",
                    f"accepted connections of {self.min_bytes}-{self.max_bytes} bytes in one window",
                    self.min_attempts,
                    int(row["window_attempts"]),
                )
            ],
        )

    def records_where(self, f: Finding) -> str:
        return _pair_query(f, [f.source], f.targets, f.ports)


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
        targets = _sorted(row["targets"])
        if acc:
            sev = "high"
            tail = (
                f"{acc} requests were accepted: check what {short_list(targets, 3)} "
                "exchanged with it and block it"
            )
        else:
            sev, tail = "low", "everything was rejected"
        what = (
            f"Listed address {row['source']} ({listed}) exchanged {row['records']} records with "
            f"{len(targets)} of our addresses; {tail}."
        )
        return self._base(
            row,
            sev,
            what,
            listed_in=listed,
            thresholds=[crossed("listed", f"on a threat list: {listed}", 1, 1)],
        )

    def records_where(self, f: Finding) -> str:
        return f"{_time(f)} AND (srcaddr = '{f.source}' OR dstaddr = '{f.source}')"


@dataclass(frozen=True)
class RejectedSpike(Detector):
    """``rejected-spike``: rejected records on one interface far above its usual rate.

    * ``window = 600`` s: rejects are counted per interface per 10 minutes (a multiple of the
      10-minute cells every detector reads).
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
    factor: float = _setting("rejected_spike_factor")
    min_rejects: int = _setting("rejected_spike_min_rejects")
    baseline_quantile: float = 0.5
    min_baseline_windows: int = 12
    window: int = _setting("rejected_spike_window")

    def finding(self, row):
        usual = float(row["usual"] or 0)
        n = int(row["records"])
        what = (
            f"Interface {row['source']} rejected {n} records in "
            f"{self.window // 60} minutes, {n / max(usual, 1):.0f}x its usual "
            f"{usual:.0f}; top source {row['top_source']} of {row['n_sources']}: check whether "
            "that source is an attack or a configuration change broke something."
        )
        top = [str(a) for a in row.get("top_sources") or []]
        counts = [int(c) for c in row.get("top_rejects") or []]
        f = self._base(
            row,
            "medium",
            what,
            baseline_rejects=usual,
            top_source=row["top_source"],
            # who sent the rejected records (up to 20, most first) and how many each
            sources=top,
            source_rejects=counts,
            n_sources=int(row["n_sources"]),
            # fewer rejects than this in the window would not have been a spike: an allow-list
            # rule for the sources that took it above is a rule for the spike
            spike_rejects=max(float(self.min_rejects), self.factor * max(usual, 1.0)),
            thresholds=[
                crossed("min_rejects", "rejected records in one window", self.min_rejects, n),
                crossed(
                    "factor",
                    "times the interface's usual rejects",
                    self.factor,
                    round(n / max(usual, 1), 1),
                ),
                crossed(
                    "min_baseline_windows",
                    "windows of history",
                    self.min_baseline_windows,
                    int(row["windows"]),
                ),
            ],
        )
        f.direction = ""
        return f

    def records_where(self, f: Finding) -> str:
        return f"{_time(f)} AND interface_id = '{f.source}' AND action = 'REJECT'"


DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (PortScan, HostSweep, BruteForce, DataExfiltration, KnownBadIp, RejectedSpike)
}
