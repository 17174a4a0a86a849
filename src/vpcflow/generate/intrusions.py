"""Brute force, exfiltration, reject spikes and traffic with listed (known-bad) addresses."""

from __future__ import annotations

import numpy as np

from . import topology as topo
from .incident import label, probe
from .records import INGRESS, REJECT, TCP, Batch
from .traffic import lognormal_int


def brute_force(ctx):
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
    return b, label(
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


def exfiltration(ctx):
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
    return b, label(
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


def spike_config_change(ctx):
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
    return b, label(
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


def spike_flood(ctx):
    """A SYN flood from spoofed addresses on a closed port of the VPN endpoint: rejects far
    above the interface's usual background (sized from it, so it stays a spike at any size)."""
    rng = ctx.rng
    eni = topo.ENI_INDEX["vpn"]
    n = int(max(600, 25 * ctx.background_rejects()))
    t, duration = ctx.place(300)
    start = np.sort(t + rng.integers(0, duration, n))
    src = topo.public_addresses(rng, n, ctx.avoid)
    b = Batch()
    probe(
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
    return b, label(
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


def c2_beacon(ctx):
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
    return b, label(
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


def listed_scanner(ctx):
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
    probe(
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
    return b, label(
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
