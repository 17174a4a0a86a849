"""Background traffic of the synthetic VPC, one 5-minute window at a time.

Every traffic class has a share of the records. Classes driven by people (web clients, the app
and database tiers behind them, DNS, outbound API calls) follow a diurnal curve; machines
(health checkers, monitoring, NTP, backups, internet scanners) are flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import topology as topo
from .records import ICMP, NODATA, SKIPDATA, TCP, UDP, Batch

WINDOW = 300  # seconds per delivered file, like AWS

# (name, share of records, follows the diurnal curve, records per conversation)
CLASSES = (
    ("web", 0.33, True, 2),
    ("cdn", 0.06, True, 2),
    ("partner", 0.04, True, 2),
    ("web_app", 0.15, True, 4),
    ("app_db", 0.14, True, 4),
    ("dns", 0.05, True, 4),
    ("api", 0.04, True, 6),
    ("health", 0.025, False, 2),
    ("monitor", 0.03, False, 4),
    ("ntp", 0.01, False, 3),
    ("s3", 0.01, False, 2),
    ("scan", 0.09, False, 1),
    ("nodata", 0.005, False, 1),
)


def diurnal(t: float) -> float:
    """Load factor at unix time ``t``: trough around 04:00 UTC, peak around 16:00, quieter weekends."""
    hour = (t % 86400) / 3600.0
    day = 0.35 + 0.65 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4.0) / 24.0))
    weekday = int(t // 86400 + 3) % 7  # 0 = Monday
    return day * (0.7 if weekday >= 5 else 1.0)


def window_weight(t: float) -> float:
    d = diurnal(t + WINDOW / 2)
    return sum(share * (d if di else 1.0) for _, share, di, _ in CLASSES)


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    if total <= 0 or len(weights) == 0:
        return np.zeros(len(weights), dtype=np.int64)
    raw = weights / weights.sum() * total
    base = np.floor(raw).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    return base


@dataclass
class Population:
    """The internet as the VPC sees it: clients and scanners, drawn once per seed."""

    clients: np.ndarray
    client_cdf: np.ndarray
    scanners: np.ndarray
    scanner_cdf: np.ndarray

    @classmethod
    def make(cls, seed: int, n_clients: int = 60_000, n_scanners: int = 4_000) -> Population:
        rng = np.random.default_rng([seed, 1])
        avoid = {topo.ip_int(a) for a in (*topo.CDN_EDGES, *topo.HEALTH_CHECKERS, topo.API_PARTNER)}
        addrs = topo.public_addresses(rng, n_clients + n_scanners, avoid)
        clients, scanners = addrs[:n_clients], addrs[n_clients:]
        # Some scanners live in scanning farms: whole runs of one /24.
        # Farms sit in the long tail: each address probes a little, the /24 a lot.
        farms = rng.integers(n_scanners // 4, n_scanners - 20, 12)
        for f in farms:
            base = scanners[f] & 0xFFFFFF00
            idx = np.arange(f, f + 20)
            scanners[idx] = base | rng.integers(1, 255, len(idx)).astype(np.uint32)
        # Long tails: a few clients and scanners account for much of their traffic.
        wc = 1.0 / (np.arange(n_clients) + 20.0) ** 1.1
        ws = 1.0 / (np.arange(n_scanners) + 5.0) ** 0.9
        return cls(clients, np.cumsum(wc) / wc.sum(), scanners, np.cumsum(ws) / ws.sum())

    def pick_clients(self, rng, n):
        return self.clients[np.searchsorted(self.client_cdf, rng.random(n))]

    def pick_scanners(self, rng, n):
        return self.scanners[np.searchsorted(self.scanner_cdf, rng.random(n))]


def ephemeral(rng: np.random.Generator, n: int, kind: str = "mixed") -> np.ndarray:
    """Client source ports: Linux 32768-60999, Windows/macOS 49152-65535, CGNAT anywhere."""
    if kind == "linux":
        return rng.integers(32768, 61000, n, dtype=np.int32)
    u = rng.random(n)
    return np.where(
        u < 0.4,
        rng.integers(32768, 61000, n, dtype=np.int32),
        np.where(
            u < 0.8,
            rng.integers(49152, 65536, n, dtype=np.int32),
            rng.integers(1024, 65536, n, dtype=np.int32),
        ),
    ).astype(np.int32)


def lognormal_int(rng, n, mu, sigma, lo=1, hi=None):
    v = np.exp(rng.normal(mu, sigma, n)).astype(np.int64)
    return np.clip(v, lo, hi if hi is not None else np.iinfo(np.int64).max)


def _packets(nbytes, mss=1400):
    return nbytes // mss + 3


def _pick(rng, options, n, p=None):
    options = np.asarray(options)
    return options[rng.choice(len(options), n, p=p)]


def _ips(names):
    return np.array([topo.ENI_IP[topo.ENI_INDEX[n]] for n in names], dtype=np.uint32)


def _eni(names):
    return np.array([topo.ENI_INDEX[n] for n in names], dtype=np.int16)


def _times(rng, t0, n, window=WINDOW):
    start = t0 + rng.integers(0, window, n)
    dur = np.minimum(lognormal_int(rng, n, 0.8, 1.3, lo=0), 540)
    return start, dur


WEB = ("web-1", "web-2", "web-3", "web-4")
WEB_P = (0.3, 0.3, 0.2, 0.2)
APP = ("app-1", "app-2", "app-3")
INTERNAL = tuple(e.name for e in topo.INTERFACES if e.role not in ("nat", "fleet"))
PRIVATE = tuple(n for n in INTERNAL if not topo.ENI_PUBLIC_SUBNET[topo.ENI_INDEX[n]])
SCRAPED = tuple(n for n in INTERNAL if n != "monitor")
PUBLIC = tuple(n for n in INTERNAL if topo.ENI_PUBLIC_SUBNET[topo.ENI_INDEX[n]])


def _serve(b, rng, t0, n, clients, targets, p, port, req=(6.3, 0.8), resp=(9.0, 1.8), kind="mixed"):
    """External clients to servers with public addresses."""
    k = rng.choice(len(targets), n, p=p)
    start, dur = _times(rng, t0, n)
    qb = lognormal_int(rng, n, *req, lo=60)
    rb = lognormal_int(rng, n, *resp, lo=60, hi=2_000_000_000)
    b.conversations(
        client=clients,
        server=_ips(targets)[k],
        cport=ephemeral(rng, n, kind),
        sport=port,
        proto=TCP,
        start=start,
        duration=dur,
        req_packets=_packets(qb),
        req_bytes=qb,
        resp_packets=_packets(rb),
        resp_bytes=rb,
        server_eni=_eni(targets)[k],
    )


def _internal(
    b, rng, t0, n, clients, servers, port, proto=TCP, p_srv=None, req=(6.5, 0.8), resp=(8.0, 1.5)
):
    ci = rng.choice(len(clients), n)
    si = rng.choice(len(servers), n, p=p_srv)
    start, dur = _times(rng, t0, n)
    qb = lognormal_int(rng, n, *req, lo=40)
    rb = lognormal_int(rng, n, *resp, lo=40, hi=2_000_000_000)
    b.conversations(
        client=_ips(clients)[ci],
        server=_ips(servers)[si],
        cport=ephemeral(rng, n, "linux"),
        sport=port,
        proto=proto,
        start=start,
        duration=dur,
        req_packets=_packets(qb),
        req_bytes=qb,
        resp_packets=_packets(rb),
        resp_bytes=rb,
        client_eni=_eni(clients)[ci],
        server_eni=_eni(servers)[si],
    )


def _outbound(b, rng, t0, n, sources, servers, port, proto, req, resp, nat=True):
    """Instances reaching internet servers: public subnets directly, private ones via NAT
    (``nat=False``: through a gateway endpoint, as S3 is reached)."""
    si = rng.choice(len(sources), n)
    srv = np.array([topo.ip_int(s) for s in servers], dtype=np.uint32)[rng.choice(len(servers), n)]
    start, dur = _times(rng, t0, n)
    qb = lognormal_int(rng, n, *req, lo=40)
    rb = lognormal_int(rng, n, *resp, lo=40, hi=2_000_000_000)
    eni = _eni(sources)[si]
    ip = _ips(sources)[si]
    cport = ephemeral(rng, n, "linux")
    private = ~topo.ENI_PUBLIC_SUBNET[eni] & nat
    for m, nat in ((private, True), (~private, False)):
        if not m.any():
            continue
        kw = dict(
            client=ip[m],
            server=srv[m],
            cport=cport[m],
            sport=port,
            proto=proto,
            start=start[m],
            duration=dur[m],
            req_packets=_packets(qb[m]),
            req_bytes=qb[m],
            resp_packets=_packets(rb[m]),
            resp_bytes=rb[m],
        )
        if nat:
            b.via_nat(client_eni=eni[m], nat_port=rng.integers(1024, 65536, int(m.sum())), **kw)
        else:
            b.conversations(client_eni=eni[m], **kw)


def _scan(b, rng, pop, t0, n):
    """Background radiation: each scanner probes classic ports of a few of our addresses (the
    ones on its hit list: three neighbours, fixed per scanner), so that no background scanner
    sweeps them all; the internet-wide sweeps that do are injected and labelled (see
    ``scans.background_sweep``)."""
    targets = np.array(topo.PUBLIC_ENIS, dtype=np.int16)
    src = pop.pick_scanners(rng, n)
    home = (src.astype(np.uint64) * np.uint64(2654435761) >> np.uint64(16)) % np.uint64(
        len(targets)
    )
    eni = targets[(home.astype(np.int64) + rng.integers(0, 3, n)) % len(targets)]
    u = rng.random(n)
    proto = np.where(u < 0.9, TCP, np.where(u < 0.95, UDP, ICMP)).astype(np.int16)
    port = topo.SCAN_PORTS[rng.choice(len(topo.SCAN_PORTS), n, p=topo.SCAN_WEIGHTS)]
    port = np.where(proto == UDP, _pick(rng, [53, 123, 161, 1900, 5060, 500], n), port)
    port = np.where(proto == ICMP, 0, port).astype(np.int32)
    is_open = np.zeros(n, dtype=bool)
    for i in topo.PUBLIC_ENIS:
        for pr, po in topo.INTERFACES[i].open_ports:
            if po != 9100:  # node exporter is open to the VPC only
                is_open |= (eni == i) & (proto == pr) & (port == po)
    start = t0 + rng.integers(0, WINDOW, n)
    b.conversations(
        client=src,
        server=topo.ENI_IP[eni],
        cport=np.where(proto == ICMP, 0, ephemeral(rng, n)),
        sport=port,
        proto=proto,
        start=start,
        duration=np.where(is_open, 1, 0),
        req_packets=np.where(is_open, 5, 1),
        req_bytes=np.where(is_open, 300, 44),
        resp_packets=np.full(n, 4),
        resp_bytes=np.full(n, 240),
        server_eni=eni,
        rejected=~is_open,
    )


def _nodata(b, rng, t0, n):
    quiet = _eni(("vpn", "mail", "batch", "db-2"))
    eni = quiet[rng.integers(0, len(quiet), n)]
    start = t0 + rng.integers(0, WINDOW - 60, n)
    skip = rng.random(n) < 0.1  # SKIPDATA: an internal capacity constraint, on a busy interface
    eni = np.where(skip, topo.ENI_INDEX["web-1"], eni).astype(np.int16)
    for m, status in ((~skip, NODATA), (skip, SKIPDATA)):
        b.nodata(eni[m], start[m], start[m] + 59, status)


def window_batch(pop: Population, seed: int, index: int, t0: int, n: int) -> Batch:
    """Exactly ``n`` background records for the window starting at ``t0``."""
    rng = np.random.default_rng([seed, 2, index])
    b = Batch()
    if n <= 0:
        return b
    d = diurnal(t0 + WINDOW / 2)
    weights = np.array([s * (d if di else 1.0) / per for _, s, di, per in CLASSES])
    per = np.array([per for *_, per in CLASSES])
    convs = allocate(n, weights * per) // per
    c = dict(zip([name for name, *_ in CLASSES], convs.tolist(), strict=True))
    cl = pop.pick_clients
    _serve(
        b,
        rng,
        t0,
        c["web"],
        cl(rng, c["web"]),
        WEB,
        WEB_P,
        _pick(rng, [443, 80], c["web"], [0.85, 0.15]),
    )
    _serve(
        b,
        rng,
        t0,
        c["cdn"],
        _pick(rng, _ips_ext(topo.CDN_EDGES), c["cdn"]),
        WEB,
        WEB_P,
        443,
        resp=(10.5, 1.5),
        kind="linux",
    )
    _serve(
        b,
        rng,
        t0,
        c["partner"],
        np.full(c["partner"], topo.ip_int(topo.API_PARTNER), np.uint32),
        ("web-1", "web-2"),
        None,
        443,
        req=(7.5, 0.5),
        resp=(7.0, 0.6),
        kind="linux",
    )
    _serve(
        b,
        rng,
        t0,
        c["health"],
        _pick(rng, _ips_ext(topo.HEALTH_CHECKERS), c["health"]),
        WEB,
        None,
        443,
        req=(5.8, 0.1),
        resp=(6.5, 0.1),
        kind="linux",
    )
    _internal(b, rng, t0, c["web_app"], WEB, APP, 8080, resp=(9.0, 1.5))
    _internal(
        b, rng, t0, c["app_db"] // 2, APP, ("db-1", "db-2"), 5432, p_srv=(0.8, 0.2), resp=(9.5, 2.0)
    )
    _internal(
        b,
        rng,
        t0,
        c["app_db"] - c["app_db"] // 2,
        APP,
        ("cache",),
        6379,
        req=(5.5, 0.6),
        resp=(6.5, 1.2),
    )
    _internal(
        b, rng, t0, c["monitor"], ("monitor",), SCRAPED, 9100, req=(5.3, 0.1), resp=(10.3, 0.3)
    )
    dns_n = c["dns"] * 4 // 5
    _internal(
        b,
        rng,
        t0,
        dns_n,
        tuple(n for n in INTERNAL if n != "dns"),
        ("dns",),
        53,
        proto=UDP,
        req=(4.2, 0.2),
        resp=(5.0, 0.4),
    )
    _outbound(
        b,
        rng,
        t0,
        (c["dns"] - dns_n) * 4 // 6,
        ("dns",),
        topo.DNS_UPSTREAMS,
        53,
        UDP,
        (4.2, 0.2),
        (5.0, 0.4),
    )
    _outbound(
        b, rng, t0, c["api"], (*APP, "batch"), topo.API_ENDPOINTS, 443, TCP, (7.5, 1.0), (8.5, 1.5)
    )
    _outbound(b, rng, t0, c["ntp"], INTERNAL, topo.NTP_SERVERS, 123, UDP, (4.4, 0.0), (4.4, 0.0))
    _outbound(
        b,
        rng,
        t0,
        c["s3"],
        ("batch", "db-1"),
        topo.S3_ENDPOINTS,
        443,
        TCP,
        (13.0, 1.2),
        (8.0, 0.5),
        nat=False,
    )
    _nodata(b, rng, t0, c["nodata"])
    # Scanner probes (one record each when rejected) fill the window up to exactly n records.
    _scan(b, rng, pop, t0, max(n - len(b), 0))
    return _trim(b, n)


def _ips_ext(addrs):
    return np.array([topo.ip_int(a) for a in addrs], dtype=np.uint32)


def _trim(b: Batch, n: int) -> Batch:
    if len(b) <= n:
        return b
    cols = b.columns()
    out = Batch()
    out.add(n, **{k: v[:n] for k, v in cols.items()})
    return out
