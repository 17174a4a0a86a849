"""Scans and sweeps, inbound and from compromised instances, and the labelled background sweeps."""

from __future__ import annotations

import numpy as np

from . import topology as topo
from .incident import label, probe
from .records import ACCEPT, EGRESS, FLAGS_RST, INGRESS, REJECT, TCP, Batch


def inbound_scan(ctx, variant, target, n_ports, duration):
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
    probe(b, eni, src, dst, sport, ports, start, INGRESS, np.where(open_, ACCEPT, REJECT))
    # open ports answer with SYN-ACK, the scanner resets
    m = open_
    probe(b, eni, dst, src, ports[m], sport[m], start[m], EGRESS, ACCEPT, flags=18 | FLAGS_RST)
    desc = {
        "fast": f"inbound TCP SYN scan of {n_ports} ports of {target} in a few minutes",
        "slow": f"slow inbound scan of {n_ports} ports of {target}, spread over an hour",
    }[variant]
    return b, label(
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


def outbound_scan(ctx):
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
    probe(b, eni, src, dst, sport, ports, start, EGRESS, ACCEPT)
    rst = rng.random(n) < 0.7  # closed ports answer with a reset, filtered ones stay silent
    probe(
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
    return b, label(
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


def inbound_sweep(ctx):
    rng = ctx.rng
    sources = ctx.slash24(4)
    targets = np.array(topo.PUBLIC_ENIS, dtype=np.int16)
    t, duration = ctx.place(900)
    b = Batch()
    for _round in range(3):
        for s in sources:
            n = len(targets)
            start = t + rng.integers(0, duration, n)
            probe(
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
    return b, label(
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


def outbound_sweep(ctx):
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
    return b, label(
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


def background_sweep(ctx, n_sweeps: int):
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
                label(
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
