"""Labelled incidents injected into the background traffic, with their ground truth.

Each incident returns its records (logged on every interface they cross, like the background)
and one label. Labels are what a detector should find; ``targets`` are addresses as they appear in
the logs (the private address of an interface for inbound traffic).

Variants a detector must still catch: a scan spread over an hour, a sweep from several addresses
of one /24, and scans and sweeps *from* compromised instances.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from . import topology as topo
from .records import ACCEPT, EGRESS, FLAGS_RST, FLAGS_SYN, INGRESS, OK, REJECT, TCP, Batch
from .traffic import lognormal_int

TYPES = (
    "port-scan",
    "host-sweep",
    "brute-force",
    "data-exfiltration",
    "rejected-spike",
    "known-bad-ip",
)
THREAT_LIST_FILE = "threat-list.txt"
# Documentation and unused ranges a real feed would also carry: they must match nothing.
THREAT_DECOYS = ("192.0.2.1", "198.51.100.0/25", "2001:db8::/32")


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def parse_attacks(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"all"``, ``"port-scan,brute-force"`` or a list -> the incident types, validated."""
    from ..errors import ConfigError

    if not spec:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item == "all":
            out.extend(TYPES)
        elif item in TYPES:
            out.append(item)
        else:
            raise ConfigError(f"unknown attack {item!r}: choose from {', '.join(TYPES)} or 'all'")
    return tuple(dict.fromkeys(out))


class _Ctx:
    def __init__(
        self, rng: np.random.Generator, t0: int, t1: int, avoid: set[int], records: int = 0
    ):
        self.rng, self.t0, self.t1 = rng, t0, t1
        self.avoid = set(avoid)
        self.records = records
        self.threats: list[tuple[str, str]] = []  # (address or CIDR, comment) for the feed

    def background_rejects(self) -> float:
        """Expected background rejects on one public interface in 10 minutes (the scanners'
        share of the records spread over the public interfaces and the span)."""
        from .traffic import CLASSES

        share = dict((name, s) for name, s, *_ in CLASSES)["scan"]
        windows = max((self.t1 - self.t0) / 600, 1)
        return self.records * share / len(topo.PUBLIC_ENIS) / windows

    def place(self, duration: int) -> tuple[int, int]:
        """A start time and (possibly shortened) duration inside the generated span."""
        span = self.t1 - self.t0
        duration = int(min(duration, span * 0.8))
        start = self.t0 + int(self.rng.integers(0, max(span - duration, 1)))
        return start, max(duration, 1)

    def outsiders(self, n: int) -> np.ndarray:
        ips = topo.public_addresses(self.rng, n, self.avoid)
        self.avoid.update(ips.tolist())
        return ips

    def slash24(self, n: int) -> np.ndarray:
        """``n`` addresses of one otherwise unused /24."""
        while True:
            base = int(self.outsiders(1)[0]) & 0xFFFFFF00
            hosts = self.rng.choice(np.arange(1, 255), n, replace=False).astype(np.uint32)
            ips = (np.uint32(base) | hosts).astype(np.uint32)
            if not self.avoid.intersection(ips.tolist()):
                self.avoid.update(ips.tolist())
                return ips


def _probe(
    b: Batch,
    eni,
    src,
    dst,
    sport,
    dport,
    start,
    direction,
    action,
    flags=FLAGS_SYN,
    packets=1,
    nbytes=44,
    end=None,
):
    n = len(start)
    b.add(
        n,
        eni=eni,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        proto=TCP,
        packets=packets,
        bytes=nbytes,
        start=start,
        end=start if end is None else end,
        action=action,
        status=OK,
        flags=flags,
        direction=direction,
    )


def _label(
    kind, variant, source, targets, ports, start, end, direction, action, b, description, **extra
):
    return {
        "type": kind,
        "variant": variant,
        "source": source,
        "targets": [topo.ip_str(t) for t in targets],
        "ports": sorted({int(p) for p in ports}),
        "protocol": "tcp",
        "start": iso(start),
        "end": iso(end),
        "direction": direction,
        "action": action,
        "records": len(b),
        "description": description,
        **extra,
    }


def _inbound_scan(ctx, variant, target, n_ports, duration):
    rng = ctx.rng
    src = ctx.outsiders(1)[0]
    eni = topo.ENI_INDEX[target]
    dst = topo.ENI_IP[eni]
    ports = rng.choice(np.arange(1, 10001), n_ports, replace=False).astype(np.int32)
    t, duration = ctx.place(duration)
    start = np.sort(t + rng.integers(0, duration, n_ports))
    open_ = np.isin(
        ports, [p for pr, p in topo.INTERFACES[eni].open_ports if pr == TCP and p != 9100]
    )
    b = Batch()
    sport = np.full(n_ports, rng.integers(40000, 65000), dtype=np.int32)
    _probe(b, eni, src, dst, sport, ports, start, INGRESS, np.where(open_, ACCEPT, REJECT))
    # open ports answer with SYN-ACK, the scanner resets
    m = open_
    _probe(b, eni, dst, src, ports[m], sport[m], start[m], EGRESS, ACCEPT, flags=18 | FLAGS_RST)
    desc = {
        "fast": f"inbound TCP SYN scan of {n_ports} ports of {target} in a few minutes",
        "slow": f"slow inbound scan of {n_ports} ports of {target}, spread over an hour",
    }[variant]
    return b, _label(
        "port-scan",
        variant,
        topo.ip_str(src),
        [dst],
        ports,
        start.min(),
        start.max(),
        "inbound",
        "REJECT",
        b,
        desc,
    )


def _outbound_scan(ctx):
    rng = ctx.rng
    eni = topo.ENI_INDEX["web-2"]
    src = topo.ENI_IP[eni]
    dst = ctx.outsiders(1)[0]
    n = 600
    ports = rng.choice(np.arange(1, 65536), n, replace=False).astype(np.int32)
    t, duration = ctx.place(300)
    start = np.sort(t + rng.integers(0, duration, n))
    sport = rng.integers(32768, 61000, n).astype(np.int32)
    b = Batch()
    _probe(b, eni, src, dst, sport, ports, start, EGRESS, ACCEPT)
    rst = rng.random(n) < 0.7  # closed ports answer with a reset, filtered ones stay silent
    _probe(
        b,
        eni,
        dst,
        src,
        ports[rst],
        sport[rst],
        start[rst],
        INGRESS,
        ACCEPT,
        flags=FLAGS_RST,
        nbytes=40,
    )
    return b, _label(
        "port-scan",
        "outbound",
        topo.ip_str(src),
        [dst],
        ports,
        start.min(),
        start.max(),
        "outbound",
        "ACCEPT",
        b,
        "compromised web-2 scans 600 TCP ports of an internet host",
    )


def _inbound_sweep(ctx):
    rng = ctx.rng
    sources = ctx.slash24(4)
    targets = np.array(topo.PUBLIC_ENIS, dtype=np.int16)
    t, duration = ctx.place(900)
    b = Batch()
    for _round in range(3):
        for s in sources:
            n = len(targets)
            start = t + rng.integers(0, duration, n)
            _probe(
                b,
                targets,
                np.full(n, s, np.uint32),
                topo.ENI_IP[targets],
                rng.integers(40000, 65000, n).astype(np.int32),
                3389,
                start,
                INGRESS,
                REJECT,
            )
    cols = b.columns()
    return b, _label(
        "host-sweep",
        "distributed",
        [topo.ip_str(s) for s in sources],
        topo.ENI_IP[targets],
        [3389],
        cols["start"].min(),
        cols["start"].max(),
        "inbound",
        "REJECT",
        b,
        "RDP sweep of every public address from four addresses of one /24",
    )


def _outbound_sweep(ctx):
    rng = ctx.rng
    eni = topo.ENI_INDEX["app-2"]
    src = topo.ENI_IP[eni]
    base = int(ctx.slash24(1)[0]) & 0xFFFFFF00
    targets = (np.uint32(base) | np.arange(1, 255, dtype=np.uint32)).astype(np.uint32)
    ctx.avoid.update(targets.tolist())
    n = len(targets)
    t, duration = ctx.place(600)
    start = np.sort(t + rng.integers(0, duration, n))
    answered = rng.random(n) < 0.08
    b = Batch()
    b.via_nat(
        client_eni=eni,
        client=np.full(n, src, np.uint32),
        server=targets,
        cport=rng.integers(32768, 61000, n).astype(np.int32),
        sport=22,
        proto=TCP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.ones(n, np.int64),
        req_bytes=np.full(n, 60),
        resp_packets=np.ones(n, np.int64),
        resp_bytes=np.full(n, 60),
        nat_port=rng.integers(1024, 65536, n),
        answered=answered,
    )
    return b, _label(
        "host-sweep",
        "outbound",
        topo.ip_str(src),
        targets,
        [22],
        start.min(),
        start.max(),
        "outbound",
        "ACCEPT",
        b,
        "compromised app-2 sweeps an internet /24 for SSH through the NAT gateway",
    )


def _brute_force(ctx):
    rng = ctx.rng
    src = ctx.outsiders(1)[0]
    eni = topo.ENI_INDEX["bastion"]
    n = 1200
    t, duration = ctx.place(2400)
    start = np.sort(t + rng.integers(0, duration, n))
    dur = rng.integers(1, 6, n)
    qb = lognormal_int(rng, n, 7.8, 0.15)
    rb = lognormal_int(rng, n, 8.1, 0.15)
    b = Batch()
    b.conversations(
        client=np.full(n, src, np.uint32),
        server=np.full(n, topo.ENI_IP[eni]),
        cport=rng.integers(32768, 61000, n).astype(np.int32),
        sport=22,
        proto=TCP,
        start=start,
        duration=dur,
        req_packets=qb // 200 + 8,
        req_bytes=qb,
        resp_packets=rb // 200 + 8,
        resp_bytes=rb,
        server_eni=eni,
    )
    return b, _label(
        "brute-force",
        "ssh",
        topo.ip_str(src),
        [topo.ENI_IP[eni]],
        [22],
        start.min(),
        (start + dur).max(),
        "inbound",
        "ACCEPT",
        b,
        "1200 SSH logins against the bastion in 40 minutes (short, same-sized sessions)",
    )


def _exfiltration(ctx):
    rng = ctx.rng
    eni = topo.ENI_INDEX["db-1"]
    src = topo.ENI_IP[eni]
    dst = ctx.outsiders(1)[0]
    t, duration = ctx.place(3000)
    conns, interval = 4, 600  # four parallel uploads, one record per 10-minute aggregation
    steps = max(duration // interval, 1)
    n = conns * steps
    start = t + np.repeat(np.arange(steps) * interval, conns)
    cport = np.tile(rng.integers(32768, 61000, conns).astype(np.int32), steps)
    nat_port = np.tile(rng.integers(1024, 65536, conns), steps)
    up = (6_000_000_000 / n * rng.uniform(0.8, 1.2, n)).astype(np.int64)
    b = Batch()
    b.via_nat(
        client_eni=eni,
        client=np.full(n, src, np.uint32),
        server=np.full(n, dst, np.uint32),
        cport=cport,
        sport=443,
        proto=TCP,
        start=start,
        duration=np.full(n, interval - 1),
        req_packets=up // 1400,
        req_bytes=up,
        resp_packets=up // 2800,
        resp_bytes=(up // 2800) * 52,
        nat_port=nat_port,
    )
    end = int(start.max()) + interval - 1
    return b, _label(
        "data-exfiltration",
        "bulk-upload",
        topo.ip_str(src),
        [dst],
        [443],
        start.min(),
        end,
        "outbound",
        "ACCEPT",
        b,
        f"db-1 uploads {int(up.sum()) / 1e9:.1f} GB to an unknown internet host "
        "over HTTPS through the NAT gateway",
    )


def _background_sweep(ctx, n_sweeps: int):
    """Internet-wide scanners (research scanners, masscan runs) sweep one port across every
    public address of ours within a minute or two. They are background radiation, not an
    attack on us, but they are host sweeps by definition: labelled ``variant: background``."""
    rng = ctx.rng
    out = []
    targets = np.array(topo.PUBLIC_ENIS, dtype=np.int16)
    span = ctx.t1 - ctx.t0
    for k in range(n_sweeps):
        src = ctx.outsiders(1)[0]
        port = int(topo.SCAN_PORTS[rng.choice(len(topo.SCAN_PORTS), p=topo.SCAN_WEIGHTS)])
        # spread evenly over the span (one per slot) so they never pile up
        slot = span // n_sweeps
        t = ctx.t0 + k * slot + int(rng.integers(0, max(slot - 180, 1)))
        n = len(targets)
        start = np.sort(t + rng.integers(0, int(rng.integers(20, 150)), n))
        is_open = np.array(
            [(TCP, port) in topo.INTERFACES[i].open_ports and port != 9100 for i in targets]
        )
        b = Batch()
        b.conversations(
            client=np.full(n, src, np.uint32),
            server=topo.ENI_IP[targets],
            cport=np.full(n, rng.integers(40000, 65000), dtype=np.int32),
            sport=port,
            proto=TCP,
            start=start,
            duration=np.where(is_open, 1, 0),
            req_packets=np.where(is_open, 3, 1),
            req_bytes=np.where(is_open, 164, 44),
            resp_packets=np.full(n, 2),
            resp_bytes=np.full(n, 104),
            server_eni=targets,
            rejected=~is_open,
        )
        out.append(
            (
                b,
                _label(
                    "host-sweep",
                    "background",
                    topo.ip_str(src),
                    topo.ENI_IP[targets],
                    [port],
                    start.min(),
                    start.max(),
                    "inbound",
                    "ACCEPT" if is_open.sum() * 2 > n else "REJECT",
                    b,
                    f"internet-wide scanner sweeps port {port} of every public address "
                    "(background radiation: expected, low severity)",
                    background=True,
                ),
            )
        )
    return out


def _spike_config_change(ctx):
    """A security-group change on the cache drops the app servers' connections for a few
    minutes: a burst of rejects on an interface that usually rejects nothing."""
    rng = ctx.rng
    eni = topo.ENI_INDEX["cache"]
    apps = np.array([topo.ENI_INDEX[a] for a in ("app-1", "app-2", "app-3")], dtype=np.int16)
    n = 400
    t, duration = ctx.place(420)
    start = np.sort(t + rng.integers(0, duration, n))
    k = rng.integers(0, len(apps), n)
    b = Batch()
    b.conversations(
        client=topo.ENI_IP[apps][k],
        server=np.full(n, topo.ENI_IP[eni]),
        cport=rng.integers(32768, 61000, n).astype(np.int32),
        sport=6379,
        proto=TCP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.full(n, 2),
        req_bytes=np.full(n, 120),
        resp_packets=np.zeros(n, np.int64),
        resp_bytes=np.zeros(n, np.int64),
        client_eni=apps[k],
        server_eni=eni,
        rejected=True,
    )
    return b, _label(
        "rejected-spike",
        "config-change",
        topo.INTERFACES[eni].id,
        [topo.ENI_IP[eni]],
        [6379],
        start.min(),
        start.max(),
        "internal",
        "REJECT",
        b,
        "a security-group change on the cache rejects the app servers' Redis connections "
        "for 7 minutes",
        interface_id=topo.INTERFACES[eni].id,
        sources=[topo.ip_str(a) for a in topo.ENI_IP[apps]],
    )


def _spike_flood(ctx):
    """A SYN flood from spoofed addresses on a closed port of the VPN endpoint: rejects far
    above the interface's usual background (sized from it, so it stays a spike at any size)."""
    rng = ctx.rng
    eni = topo.ENI_INDEX["vpn"]
    n = int(max(600, 25 * ctx.background_rejects()))
    t, duration = ctx.place(300)
    start = np.sort(t + rng.integers(0, duration, n))
    src = topo.public_addresses(rng, n, ctx.avoid)
    b = Batch()
    _probe(
        b,
        eni,
        src,
        topo.ENI_IP[eni],
        rng.integers(1024, 65536, n).astype(np.int32),
        np.full(n, 8443, np.int32),
        start,
        INGRESS,
        REJECT,
    )
    return b, _label(
        "rejected-spike",
        "flood",
        topo.INTERFACES[eni].id,
        [topo.ENI_IP[eni]],
        [8443],
        start.min(),
        start.max(),
        "inbound",
        "REJECT",
        b,
        f"SYN flood of {n} packets from spoofed addresses on closed port 8443 of the VPN "
        "endpoint in 5 minutes",
        interface_id=topo.INTERFACES[eni].id,
        sources=n,
    )


def _c2_beacon(ctx):
    """app-3 calls a command-and-control server on a threat feed every 5 minutes for hours
    (small, accepted HTTPS through the NAT gateway)."""
    rng = ctx.rng
    eni = topo.ENI_INDEX["app-3"]
    src = topo.ENI_IP[eni]
    dst = ctx.outsiders(1)[0]
    t, duration = ctx.place(6 * 3600)
    start = t + np.arange(0, duration, 300) + rng.integers(0, 20, len(range(0, duration, 300)))
    n = len(start)
    b = Batch()
    b.via_nat(
        client_eni=eni,
        client=np.full(n, src, np.uint32),
        server=np.full(n, dst, np.uint32),
        cport=rng.integers(32768, 61000, n).astype(np.int32),
        sport=443,
        proto=TCP,
        start=start,
        duration=np.full(n, 1),
        req_packets=np.full(n, 8),
        req_bytes=lognormal_int(rng, n, 6.5, 0.2),
        resp_packets=np.full(n, 6),
        resp_bytes=lognormal_int(rng, n, 6.0, 0.2),
        nat_port=rng.integers(1024, 65536, n),
    )
    ctx.threats.append((topo.ip_str(dst), "command-and-control server"))
    return b, _label(
        "known-bad-ip",
        "c2-beacon",
        topo.ip_str(src),
        [dst],
        [443],
        start.min(),
        start.max(),
        "outbound",
        "ACCEPT",
        b,
        f"app-3 beacons to a listed command-and-control server every 5 minutes ({n} calls)",
        listed=topo.ip_str(dst),
        listed_address=topo.ip_str(dst),
    )


def _listed_scanner(ctx):
    """A scanner from a /24 on the threat feed probes three ports of the mail relay
    (rejected): the feed lists the CIDR, not the address."""
    rng = ctx.rng
    src = ctx.slash24(1)[0]
    eni = topo.ENI_INDEX["mail"]
    ports = np.array([23, 445, 3389], np.int32)
    n = 12
    t, duration = ctx.place(1200)
    start = np.sort(t + rng.integers(0, duration, n))
    b = Batch()
    _probe(
        b,
        eni,
        np.full(n, src, np.uint32),
        topo.ENI_IP[eni],
        rng.integers(40000, 65000, n).astype(np.int32),
        ports[np.arange(n) % 3],
        start,
        INGRESS,
        REJECT,
    )
    cidr = topo.ip_str(int(src) & 0xFFFFFF00) + "/24"
    ctx.threats.append((cidr, "scanning network"))
    return b, _label(
        "known-bad-ip",
        "listed-scanner",
        topo.ip_str(src),
        [topo.ENI_IP[eni]],
        ports,
        start.min(),
        start.max(),
        "inbound",
        "REJECT",
        b,
        "an address of a listed /24 probes three ports of the mail relay (all rejected)",
        listed=cidr,
        listed_address=topo.ip_str(src),
    )


_BUILDERS: dict[str, list[Callable]] = {
    "port-scan": [
        lambda c: _inbound_scan(c, "fast", "web-1", 1000, 180),
        lambda c: _inbound_scan(c, "slow", "bastion", 250, 3600),
        _outbound_scan,
    ],
    "host-sweep": [_inbound_sweep, _outbound_sweep],
    "brute-force": [_brute_force],
    "data-exfiltration": [_exfiltration],
    "rejected-spike": [_spike_config_change, _spike_flood],
    "known-bad-ip": [_c2_beacon, _listed_scanner],
}
# Records per background sweep label: below this many records no sweeps are added (small
# test days stay small); above it one per hour of the span at most.
RECORDS_PER_BACKGROUND_SWEEP = 40_000


def incidents(
    types: tuple[str, ...], seed: int, t0: int, t1: int, avoid: set[int], records: int = 0
) -> tuple[list[tuple[Batch, dict]], list[tuple[str, str]]]:
    """The records and label of every incident of ``types``, placed in [t0, t1), then the
    background sweeps (present whatever ``types``); and the threat feed's entries."""
    rng = np.random.default_rng([seed, 3])
    ctx = _Ctx(rng, t0, t1, avoid, records)
    out = []
    built = [(b, label) for kind in types for build in _BUILDERS[kind] for b, label in [build(ctx)]]
    hours = max((t1 - t0) // 3600, 1)
    sweeps = int(min(hours, records // RECORDS_PER_BACKGROUND_SWEEP))
    if sweeps:
        # own random stream: the attacks stay where they were whatever the number of sweeps
        bg = _Ctx(np.random.default_rng([seed, 4]), t0, t1, ctx.avoid, records)
        built += _background_sweep(bg, sweeps)
    for b, label in built:
        out.append((b, {"id": f"incident-{len(out) + 1:02d}", **label}))
    return out, ctx.threats


def threat_list_text(threats: list[tuple[str, str]]) -> str:
    """The threat feed written beside the labels: the listed incidents' addresses and CIDRs,
    and decoys that match nothing."""
    lines = ["# synthetic threat feed for the known-bad-ip incidents (vpcflow generate)"]
    lines += [f"{entry}  # {comment}" for entry, comment in threats]
    lines += [f"{entry}  # decoy: never seen" for entry in THREAT_DECOYS]
    return "\n".join(lines) + "\n"
