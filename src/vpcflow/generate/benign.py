"""Benign look-alikes: legitimate traffic shaped like an attack, labelled ``benign`` so that a
benchmark can count every finding raised on it as a false alarm.

Each builder returns records and one label (``"type": "benign"``, the ``variant``, the
``source``, ``targets`` and ``ports`` it involves, and the detector it resembles in
``looks_like``). Sizes follow the day's record budget (about 1.5 % of the records each) by
shortening how long a look-alike runs, never its rate: a health check every 10 s stays every 10 s.

The authorised vulnerability scanner is a real scan; an allow-list silences it. Its rule is
written to ``allow-list.txt`` beside the labels (:data:`ALLOW_LIST_FILE`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import topology as topo
from .incident import Ctx, iso
from .records import TCP, UDP, Batch
from .traffic import lognormal_int

ALLOW_LIST_FILE = "allow-list.txt"
SHARE = 0.015  # of the day's records, per look-alike
FLEET = [topo.ENI_INDEX[f"fleet-{k}"] for k in range(1, 9)]
WEB = [topo.ENI_INDEX[f"web-{k}"] for k in range(1, 5)]
INTERNAL = [i for i, e in enumerate(topo.INTERFACES) if e.role not in ("nat",)]
SCANNER = "batch"  # the instance that runs our authorised vulnerability scans


def _budget(ctx: Ctx, per_record: float = 2.0, floor: int = 200) -> int:
    """Conversations one look-alike may have (``per_record`` records each)."""
    return max(floor, int(ctx.records * SHARE / per_record))


def _label(variant, looks_like, source, targets, ports, start, end, b, description, **extra):
    return {
        "type": "benign",
        "variant": variant,
        "looks_like": looks_like,
        "source": source,
        "targets": sorted({topo.ip_str(int(t)) for t in targets})[:1000],
        "ports": sorted({int(p) for p in ports})[:1000],
        "start": iso(start),
        "end": iso(end),
        "records": len(b),
        "description": description,
        "benign": True,
        **extra,
    }


def _eph(rng, n):
    return rng.integers(32768, 61000, n).astype(np.int32)


def fleet_clients(ctx: Ctx):
    """Internet clients of a load-balanced fleet: each makes 1-30 connections, each to
    whichever of the 8 servers the balancer picked (many reach 5 or more of them)."""
    rng = ctx.rng
    n_clients = max(50, _budget(ctx) // 12)
    clients = ctx.outsiders(n_clients)
    per = rng.integers(1, 31, n_clients)
    client = np.repeat(clients, per)
    n = len(client)
    start = ctx.t0 + rng.integers(0, ctx.t1 - ctx.t0 - 60, n)
    k = rng.integers(0, len(FLEET), n)
    eni = np.array(FLEET, np.int16)[k]
    qb, rb = lognormal_int(rng, n, 7.0, 0.8, lo=300), lognormal_int(rng, n, 10.0, 1.5, lo=800)
    b = Batch()
    b.conversations(
        client=client,
        server=topo.ENI_IP[eni],
        cport=_eph(rng, n),
        sport=np.where(rng.random(n) < 0.85, 443, 80),
        proto=TCP,
        start=start,
        duration=rng.integers(0, 30, n),
        req_packets=qb // 300 + 4,
        req_bytes=qb,
        resp_packets=rb // 1200 + 3,
        resp_bytes=rb,
        server_eni=eni,
    )
    return b, _label(
        "fleet-clients",
        "host-sweep",
        [topo.ip_str(int(c)) for c in clients[:20]],
        topo.ENI_IP[FLEET],
        [80, 443],
        start.min(),
        start.max(),
        b,
        f"{n_clients} internet clients spread over an 8-server fleet by its load balancer",
    )


def busy_api_client(ctx: Ctx):
    """One partner calling the API all day: thousands of short HTTPS connections."""
    rng = ctx.rng
    src = ctx.outsiders(1)[0]
    n = _budget(ctx)
    start = np.sort(ctx.t0 + rng.integers(0, ctx.t1 - ctx.t0 - 5, n))
    targets = np.array(FLEET + WEB, np.int16)
    eni = targets[rng.integers(0, len(targets), n)]
    b = Batch()
    b.conversations(
        client=np.full(n, src, np.uint32),
        server=topo.ENI_IP[eni],
        cport=_eph(rng, n),
        sport=443,
        proto=TCP,
        start=start,
        duration=rng.integers(0, 3, n),
        req_packets=np.full(n, 9),
        req_bytes=lognormal_int(rng, n, 7.3, 0.3),
        resp_packets=np.full(n, 10),
        resp_bytes=lognormal_int(rng, n, 8.5, 0.6),
        server_eni=eni,
    )
    return b, _label(
        "busy-api-client",
        "host-sweep",
        topo.ip_str(int(src)),
        topo.ENI_IP[targets],
        [443],
        start.min(),
        start.max(),
        b,
        f"a partner's API client making {n} HTTPS calls across the web servers",
    )


def _periodic(ctx: Ctx, every: int, n_targets: int, per_record: float = 2.0):
    """Start times of a job hitting ``n_targets`` every ``every`` seconds, over as long a
    stretch as the budget allows."""
    rounds = max(8, _budget(ctx, per_record) // n_targets)
    span = min(rounds * every, int((ctx.t1 - ctx.t0) * 0.9))
    t, _ = ctx.place(span)
    return t + np.arange(0, span, every)


def monitoring_scrapes(ctx: Ctx):
    """Prometheus on the monitor scraping the node exporter (9100) of every host every 15 s."""
    rng = ctx.rng
    mon = topo.ENI_INDEX["monitor"]
    targets = np.array([i for i in INTERNAL if i != mon], np.int16)
    times = _periodic(ctx, 15, len(targets), per_record=4)
    n_t = len(targets)
    eni = np.tile(targets, len(times))
    start = np.repeat(times, n_t) + rng.integers(0, 3, len(eni))
    n = len(eni)
    b = Batch()
    b.conversations(
        client=np.full(n, topo.ENI_IP[mon], np.uint32),
        server=topo.ENI_IP[eni],
        cport=_eph(rng, n),
        sport=9100,
        proto=TCP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.full(n, 5),
        req_bytes=np.full(n, 420),
        resp_packets=np.full(n, 12),
        resp_bytes=lognormal_int(rng, n, 9.8, 0.1),
        client_eni=mon,
        server_eni=eni,
    )
    return b, _label(
        "monitoring-scrapes",
        "host-sweep",
        topo.ip_str(int(topo.ENI_IP[mon])),
        topo.ENI_IP[targets],
        [9100],
        start.min(),
        start.max(),
        b,
        f"Prometheus scrapes {n_t} node exporters every 15 s",
    )


def health_checks(ctx: Ctx):
    """Load-balancer health checks: a bare TCP connect to port 80 of every fleet server every
    10 s from two balancer nodes (probe-sized requests, repeated all day)."""
    rng = ctx.rng
    nodes = ctx.outsiders(2)
    targets = np.array(FLEET, np.int16)
    times = _periodic(ctx, 10, len(targets) * 2)
    n_t = len(targets)
    eni = np.tile(np.tile(targets, len(times)), 2)
    start = np.tile(np.repeat(times, n_t), 2) + rng.integers(0, 2, len(eni))
    src = np.repeat(nodes, len(eni) // 2)
    n = len(eni)
    b = Batch()
    b.conversations(
        client=src,
        server=topo.ENI_IP[eni],
        cport=_eph(rng, n),
        sport=80,
        proto=TCP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.full(n, 3),
        req_bytes=np.full(n, 164),
        resp_packets=np.full(n, 2),
        resp_bytes=np.full(n, 112),
        server_eni=eni,
    )
    return b, _label(
        "health-checks",
        "host-sweep",
        [topo.ip_str(int(a)) for a in nodes],
        topo.ENI_IP[targets],
        [80],
        start.min(),
        start.max(),
        b,
        "two load-balancer nodes check port 80 of every fleet server every 10 s",
    )


def authorised_scanner(ctx: Ctx):
    """Our vulnerability scanner: 200 ports of every internal host in half an hour, answered by
    resets where closed. A real scan; the allow-list beside the labels silences it."""
    rng = ctx.rng
    scanner = topo.ENI_INDEX[SCANNER]
    targets = np.array([i for i in INTERNAL if i != scanner], np.int16)
    ports = rng.choice(np.arange(1, 10001), 200, replace=False).astype(np.int32)
    t, dur = ctx.place(1800)
    eni = np.repeat(targets, len(ports))
    port = np.tile(ports, len(targets))
    n = len(eni)
    start = t + rng.integers(0, dur, n)
    b = Batch()
    b.conversations(
        client=np.full(n, topo.ENI_IP[scanner], np.uint32),
        server=topo.ENI_IP[eni],
        cport=np.full(n, 61001, np.int32),
        sport=port,
        proto=TCP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.full(n, 1),
        req_bytes=np.full(n, 44),
        resp_packets=np.full(n, 1),
        resp_bytes=np.full(n, 40),
        client_eni=scanner,
        server_eni=eni,
        rejected=rng.random(n) < 0.5,
    )
    src = topo.ip_str(int(topo.ENI_IP[scanner]))
    return b, _label(
        "authorised-scanner",
        "port-scan",
        src,
        topo.ENI_IP[targets],
        ports,
        start.min(),
        start.max(),
        b,
        f"our vulnerability scanner on {SCANNER} scans 200 ports of every internal host",
        allow=f"{src}  # authorised vulnerability scanner",
    )


def internal_backup(ctx: Ctx):
    """Nightly backups of the databases to the batch host: tens of GB inside the VPC."""
    rng = ctx.rng
    dst = topo.ENI_INDEX["batch"]
    srcs = [topo.ENI_INDEX["db-1"], topo.ENI_INDEX["db-2"]]
    t, dur = ctx.place(3600)
    steps = dur // 60
    b = Batch()
    for s in srcs:
        start = t + np.arange(steps) * 60
        up = (30e9 / max(steps, 1) * rng.uniform(0.8, 1.2, steps)).astype(np.int64)
        b.conversations(
            client=np.full(steps, topo.ENI_IP[s], np.uint32),
            server=np.full(steps, topo.ENI_IP[dst], np.uint32),
            cport=np.full(steps, rng.integers(32768, 61000), np.int32),
            sport=873,
            proto=TCP,
            start=start,
            duration=np.full(steps, 59),
            req_packets=up // 8900,
            req_bytes=up,
            resp_packets=up // 90000 + 1,
            resp_bytes=(up // 90000 + 1) * 52,
            client_eni=s,
            server_eni=dst,
        )
    return b, _label(
        "internal-backup",
        "data-exfiltration",
        [topo.ip_str(int(topo.ENI_IP[s])) for s in srcs],
        [topo.ENI_IP[dst]],
        [873],
        t,
        t + dur,
        b,
        "the databases back up 60 GB to the batch host over rsync within an hour",
    )


def mirror_downloads(ctx: Ctx):
    """Package-mirror and CDN downloads by the app servers through the NAT gateway: big
    answers, small requests (downloads, not uploads)."""
    rng = ctx.rng
    mirrors = ctx.outsiders(4)
    apps = np.array([topo.ENI_INDEX[a] for a in ("app-1", "app-2", "app-3")], np.int16)
    n = max(30, _budget(ctx, 6) // 4)
    k = rng.integers(0, len(apps), n)
    start = ctx.t0 + rng.integers(0, ctx.t1 - ctx.t0 - 60, n)
    down = lognormal_int(rng, n, 17.5, 1.2, hi=2_000_000_000)
    b = Batch()
    b.via_nat(
        client_eni=apps[k],
        client=topo.ENI_IP[apps][k],
        server=mirrors[rng.integers(0, len(mirrors), n)],
        cport=_eph(rng, n),
        sport=np.where(rng.random(n) < 0.5, 443, 80),
        proto=TCP,
        start=start,
        duration=rng.integers(1, 50, n),
        req_packets=np.full(n, 30),
        req_bytes=np.full(n, 4000),
        resp_packets=down // 1400 + 1,
        resp_bytes=down,
        nat_port=rng.integers(1024, 65536, n),
    )
    return b, _label(
        "mirror-downloads",
        "data-exfiltration",
        [topo.ip_str(int(a)) for a in topo.ENI_IP[apps]],
        mirrors,
        [80, 443],
        start.min(),
        start.max(),
        b,
        f"{n} package and CDN downloads by the app tier through the NAT gateway",
    )


def nat_fanout(ctx: Ctx):
    """The app tier calling hundreds of distinct internet APIs and webhooks on 443 through
    the NAT gateway, one or two calls each (a one-port, many-destination pattern)."""
    rng = ctx.rng
    n_dst = max(60, _budget(ctx, 6) // 2)
    dsts = ctx.outsiders(n_dst)
    apps = np.array([topo.ENI_INDEX[a] for a in ("app-1", "app-2", "app-3")], np.int16)
    server = np.repeat(dsts, rng.integers(1, 3, n_dst))
    n = len(server)
    k = rng.integers(0, len(apps), n)
    t, dur = ctx.place(1800)
    start = t + rng.integers(0, dur, n)
    b = Batch()
    b.via_nat(
        client_eni=apps[k],
        client=topo.ENI_IP[apps][k],
        server=server,
        cport=_eph(rng, n),
        sport=443,
        proto=TCP,
        start=start,
        duration=rng.integers(0, 3, n),
        req_packets=np.full(n, 10),
        req_bytes=lognormal_int(rng, n, 7.5, 0.4),
        resp_packets=np.full(n, 8),
        resp_bytes=lognormal_int(rng, n, 8.0, 0.6),
        nat_port=rng.integers(1024, 65536, n),
    )
    return b, _label(
        "nat-fanout",
        "host-sweep",
        topo.ip_str(int(topo.ENI_IP[topo.ENI_INDEX["nat-gw"]])),
        dsts,
        [443],
        start.min(),
        start.max(),
        b,
        f"webhooks to {n_dst} distinct internet addresses through the NAT gateway",
    )


def dns_resolver(ctx: Ctx):
    """The VPC's own resolver asking hundreds of authoritative servers (UDP 53, one small
    packet each way)."""
    rng = ctx.rng
    dns = topo.ENI_INDEX["dns"]
    n_dst = max(60, _budget(ctx) // 3)
    dsts = ctx.outsiders(n_dst)
    server = np.repeat(dsts, rng.integers(1, 4, n_dst))
    n = len(server)
    t, dur = ctx.place(3600)
    start = t + rng.integers(0, dur, n)
    b = Batch()
    b.conversations(
        client=np.full(n, topo.ENI_IP[dns], np.uint32),
        server=server,
        cport=rng.integers(1024, 65536, n).astype(np.int32),
        sport=53,
        proto=UDP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.ones(n, np.int64),
        req_bytes=lognormal_int(rng, n, 4.3, 0.1),
        resp_packets=np.ones(n, np.int64),
        resp_bytes=lognormal_int(rng, n, 5.3, 0.4),
        client_eni=dns,
    )
    return b, _label(
        "dns-resolver",
        "host-sweep",
        topo.ip_str(int(topo.ENI_IP[dns])),
        dsts,
        [53],
        start.min(),
        start.max(),
        b,
        f"the resolver queries {n_dst} authoritative servers",
    )


def node_to_node(ctx: Ctx):
    """Kubernetes nodes (the app tier) and a peered VPC talking on many ports: pods on
    NodePorts and container ports, each connection carrying data (a many-port pattern)."""
    rng = ctx.rng
    apps = [topo.ENI_INDEX[a] for a in ("app-1", "app-2", "app-3")]
    peer = topo.ip_int("10.1.4.20")  # a host of a peered VPC (ours, not logged here)
    n = max(300, _budget(ctx, 4))
    pairs = [(a, b) for a in apps for b in apps if a != b]
    k = rng.integers(0, len(pairs), n)
    c_eni = np.array([pairs[i][0] for i in k], np.int16)
    s_eni = np.array([pairs[i][1] for i in k], np.int16)
    client = topo.ENI_IP[c_eni].copy()
    from_peer = rng.random(n) < 0.3
    client[from_peer] = peer
    c_eni = np.where(from_peer, -1, c_eni).astype(np.int16)
    ports = np.concatenate(
        [
            rng.choice(np.arange(30000, 32768), 60, replace=False),
            rng.choice(np.arange(8000, 10000), 60, replace=False),
        ]
    )
    port = ports[rng.integers(0, len(ports), n)].astype(np.int32)
    start = ctx.t0 + rng.integers(0, ctx.t1 - ctx.t0 - 60, n)
    b = Batch()
    b.conversations(
        client=client,
        server=topo.ENI_IP[s_eni],
        cport=rng.integers(32768, 61000, n).astype(np.int32),
        sport=port,
        proto=TCP,
        start=start,
        duration=rng.integers(0, 20, n),
        req_packets=np.full(n, 8),
        req_bytes=lognormal_int(rng, n, 7.0, 0.5),
        resp_packets=np.full(n, 9),
        resp_bytes=lognormal_int(rng, n, 8.5, 0.8),
        client_eni=c_eni,
        server_eni=s_eni,
    )
    return b, _label(
        "node-to-node",
        "port-scan",
        [topo.ip_str(int(topo.ENI_IP[a])) for a in apps] + [topo.ip_str(peer)],
        topo.ENI_IP[apps],
        ports,
        start.min(),
        start.max(),
        b,
        "Kubernetes node-to-node and peered-VPC traffic on 120 service ports",
    )


def internet_noise(ctx: Ctx):
    """One-off internet noise: many addresses, one or two probes each, all rejected."""
    rng = ctx.rng
    n_src = max(100, _budget(ctx, 1.5) // 2)
    srcs = ctx.outsiders(n_src)
    src = np.repeat(srcs, rng.integers(1, 3, n_src))
    n = len(src)
    targets = np.array(topo.PUBLIC_ENIS + FLEET, np.int16)
    eni = targets[rng.integers(0, len(targets), n)]
    port = topo.SCAN_PORTS[rng.choice(len(topo.SCAN_PORTS), n, p=topo.SCAN_WEIGHTS)]
    start = ctx.t0 + rng.integers(0, ctx.t1 - ctx.t0, n)
    b = Batch()
    b.conversations(
        client=src,
        server=topo.ENI_IP[eni],
        cport=rng.integers(1024, 65536, n).astype(np.int32),
        sport=port,
        proto=TCP,
        start=start,
        duration=np.zeros(n, np.int64),
        req_packets=np.ones(n, np.int64),
        req_bytes=np.full(n, 44),
        resp_packets=np.zeros(n, np.int64),
        resp_bytes=np.zeros(n, np.int64),
        server_eni=eni,
        rejected=True,
    )
    return b, _label(
        "internet-noise",
        "host-sweep",
        "many",
        topo.ENI_IP[targets],
        port,
        start.min(),
        start.max(),
        b,
        f"{n_src} internet addresses probing once or twice each",
    )


BUILDERS: tuple[Callable, ...] = (
    fleet_clients,
    busy_api_client,
    monitoring_scrapes,
    health_checks,
    authorised_scanner,
    internal_backup,
    mirror_downloads,
    nat_fanout,
    dns_resolver,
    node_to_node,
    internet_noise,
)
VARIANTS = tuple(f.__name__.replace("_", "-") for f in BUILDERS)


def lookalikes(seed: int, t0: int, t1: int, avoid: set[int], records: int):
    """The records and label of every look-alike, placed in [t0, t1), and the allow-list
    rules that silence the authorised ones."""
    ctx = Ctx(np.random.default_rng([seed, 5]), t0, t1, avoid, records)
    out, allow = [], []
    for build in BUILDERS:
        b, label = build(ctx)
        out.append((b, label))
        if label.get("allow"):
            allow.append(label["allow"])
    return out, allow, ctx.avoid


def allow_list_text(rules: list[str]) -> str:
    lines = ["# allow-list for the generated day (vpcflow generate --lookalikes)"]
    return "\n".join(lines + rules) + "\n"
