"""A busy VPC written independently of ``vpcflow generate``: its own topology, its own traffic
shapes, its own incidents, so that detection quality is measured on data the detectors were not
built from.

Two hours of a small but busy VPC (about 250,000 records at ``scale=1``): 32 web servers serving
the internet directly on 443/80 (each client's connections land on whichever servers DNS gave
it), 3,000 internet clients (a fifth of them behind a few carrier NAT /24s), one very busy API
client, load-balancer health checks and Prometheus scrapes of every host, an app tier pooled to
two databases, an in-VPC DNS resolver talking to hundreds of authoritative servers, internal
backups of tens of GB, package-mirror downloads through a NAT gateway, configuration management
over SSH, and a trickle of one-or-two-probe internet noise. ``incidents=True`` adds eight
labelled incidents (labels in the shape of ``vpcflow generate``'s ``labels.json``).

    python tests/busy_vpc.py OUT_DIR [--benign-only] [--flags] [--seed N]
"""

from __future__ import annotations

import ipaddress
import json
import random
import sys
import time
from pathlib import Path

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z
SPAN = 2 * 3600
AGG = 60  # the flow log's aggregation interval: long connections give one record a minute
ACCOUNT = "210987654321"
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)

WEB = [f"10.20.1.{10 + i}" for i in range(32)]
APP = [f"10.20.2.{10 + i}" for i in range(6)]
DB = ["10.20.3.10", "10.20.3.11"]
BASTION = "10.20.0.22"
HEALTH = ["10.20.0.5", "10.20.0.6"]
MONITOR = "10.20.5.10"
RESOLVER = "10.20.4.53"
BACKUP = "10.20.6.5"
CONFIG = "10.20.6.20"
NAT = "10.20.0.100"
NAT_PUBLIC = "52.94.200.10"  # not logged: the gateway's records carry its private address
MIRRORS = ["151.101.2.132", "91.189.91.81", "199.232.18.132"]
HOSTS = WEB + APP + DB + [BASTION, MONITOR, RESOLVER, BACKUP, CONFIG]


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def eni_of(ip: str) -> str:
    return "eni-0b" + ipaddress.ip_address(ip).packed.hex().rjust(15, "7")


class Log:
    def __init__(self, rnd: random.Random, flags: bool):
        self.rnd, self.flags, self.lines = rnd, flags, []

    def rec(self, eni, src, dst, sport, dport, proto, pk, nb, t, t1, action, fl=0):
        line = (
            f"2 {ACCOUNT} {eni} {src} {dst} {sport} {dport} {proto} {max(pk, 1)} {max(nb, 1)} "
            f"{int(t)} {int(t1)} {action} OK"
        )
        if self.flags:
            line += f" {fl if proto == 6 else 0}"
        self.lines.append(line)

    def conv(
        self,
        client,
        server,
        cport,
        port,
        t,
        dur,
        req,
        resp,
        proto=6,
        action="ACCEPT",
        answered=True,
        logged_on=None,
        nat=False,
    ):
        """One conversation, logged on the interfaces of ours it crosses (both directions,
        one record a minute for long connections). ``req``/``resp``: (packets, bytes)."""
        ours = [a for a in (client, server) if a in OURS] if logged_on is None else logged_on
        parts = max(1, min(int(dur // AGG) + 1, 240))
        for k in range(parts):
            a = t + k * dur / parts
            b = t + (k + 1) * dur / parts if parts > 1 else t + dur
            first, last = k == 0, k == parts - 1
            qf = (2 if first else 0) | (1 if last else 0)
            rf = (18 if first else 16) | (1 if last else 0)
            qp, qb = max(1, req[0] // parts), max(40, req[1] // parts)
            rp, rb = max(1, resp[0] // parts), max(40, resp[1] // parts)
            for eni_ip in ours:
                eni = eni_of(eni_ip)
                hops = [(client, server)]
                if nat and eni_ip == NAT:
                    hops = [(client, server), (NAT, server)]
                for c, s in hops:
                    self.rec(eni, c, s, cport, port, proto, qp, qb, a, b, action, qf)
                    if action == "ACCEPT" and answered:
                        self.rec(eni, s, c, port, cport, proto, rp, rb, a, b, "ACCEPT", rf)

    def probe(self, src, dst, sport, port, t, action="REJECT", answer=None, eni_ip=None):
        """A SYN (and the answer of an open or closed port when accepted: SYN-ACK or RST)."""
        eni = eni_of(eni_ip or (dst if dst in OURS else src))
        self.rec(eni, src, dst, sport, port, 6, 1, 44, t, t + 1, action, 2)
        if action == "ACCEPT" and answer:
            fl = 18 if answer == "open" else 20
            self.rec(
                eni,
                dst,
                src,
                port,
                sport,
                6,
                1,
                44 if answer == "open" else 40,
                t,
                t + 1,
                "ACCEPT",
                fl,
            )


OURS = set(HOSTS + [NAT])


def public(rnd: random.Random, avoid: set) -> str:
    while True:
        a = ipaddress.IPv4Address(rnd.randint(0x0B000000, 0xDF000000))
        if a.is_global and str(a) not in avoid and not str(a).startswith(("52.94.", "185.220.")):
            avoid.add(str(a))
            return str(a)


def eph(rnd):
    return rnd.randint(32768, 60999)


def benign(log: Log, rnd: random.Random, scale: float, avoid: set) -> None:
    T = lambda: T0 + rnd.uniform(0, SPAN - 5)  # noqa: E731
    # internet clients of the web fleet; a fifth behind carrier NAT /24s
    carriers = [public(rnd, avoid).rsplit(".", 1)[0] for _ in range(40)]
    for i in range(int(3000 * scale)):
        c = f"{rnd.choice(carriers)}.{rnd.randint(1, 254)}" if i % 5 == 0 else public(rnd, avoid)
        pool = rnd.sample(WEB, rnd.choice([2, 4, 8, 16]))  # what DNS handed out over the day
        t = T()
        for _ in range(rnd.randint(1, 30)):
            t = min(t + rnd.expovariate(1 / 120), T0 + SPAN - 5)
            port = 443 if rnd.random() < 0.85 else 80
            pk = rnd.randint(6, 40)
            log.conv(
                c,
                rnd.choice(pool),
                eph(rnd),
                port,
                t,
                rnd.uniform(0.2, 40),
                (pk, pk * rnd.randint(60, 400)),
                (pk * 2, pk * rnd.randint(500, 1400)),
            )
    # one very busy API client, spread over every server
    api = public(rnd, avoid)
    for _ in range(int(12000 * scale)):
        log.conv(
            api,
            rnd.choice(WEB),
            eph(rnd),
            443,
            T(),
            rnd.uniform(0.05, 2),
            (8, rnd.randint(900, 3000)),
            (8, rnd.randint(1500, 9000)),
        )
    # health checks every 10 s and Prometheus scrapes every 15 s of every host
    for hc in HEALTH:
        for w in WEB:
            for k in range(0, SPAN, 10):
                log.conv(hc, w, eph(rnd), 80, T0 + k + rnd.random(), 0.01, (4, 260), (3, 420))
    for h in HOSTS:
        if h == MONITOR:
            continue
        for k in range(0, SPAN, 15):
            log.conv(
                MONITOR,
                h,
                eph(rnd),
                9100,
                T0 + k + rnd.random(),
                0.2,
                (6, 480),
                (12, rnd.randint(14000, 22000)),
            )
    # web -> app, app -> database (pooled, long-lived)
    for _ in range(int(6000 * scale)):
        log.conv(
            rnd.choice(WEB),
            rnd.choice(APP),
            eph(rnd),
            8080,
            T(),
            rnd.uniform(0.01, 1),
            (5, rnd.randint(400, 2000)),
            (6, rnd.randint(800, 30000)),
        )
    for a in APP:
        for d in DB:
            for _ in range(4):
                log.conv(
                    a,
                    d,
                    eph(rnd),
                    5432,
                    T0 + rnd.uniform(0, 60),
                    SPAN - 120,
                    (20000, 4_000_000),
                    (30000, 40_000_000),
                )
    # DNS: every host asks the resolver; it asks hundreds of authoritative servers (UDP 53)
    auth = [public(rnd, avoid) for _ in range(600)]
    for _ in range(int(15000 * scale)):
        log.conv(
            rnd.choice(HOSTS),
            RESOLVER,
            rnd.randint(1024, 65535),
            53,
            T(),
            0,
            (1, 70),
            (1, rnd.randint(90, 300)),
            proto=17,
        )
    for _ in range(int(4000 * scale)):
        log.conv(
            RESOLVER,
            rnd.choice(auth),
            rnd.randint(1024, 65535),
            53,
            T(),
            0,
            (1, 80),
            (1, rnd.randint(100, 500)),
            proto=17,
        )
    # internal backups of tens of GB (rsync over SSH) and configuration management over SSH
    for h in rnd.sample(APP + DB + WEB[:4], 8):
        log.conv(
            h,
            BACKUP,
            eph(rnd),
            22,
            T0 + rnd.uniform(0, 1800),
            rnd.uniform(1800, 4000),
            (8_000_000, rnd.randint(10, 40) * 1_000_000_000),
            (400_000, 30_000_000),
        )
    for h in HOSTS:
        for _ in range(rnd.randint(3, 8)):
            log.conv(CONFIG, h, eph(rnd), 22, T(), rnd.uniform(2, 30), (30, 5000), (30, 7000))
    # admins on the bastion
    for _ in range(12):
        log.conv(
            public(rnd, avoid),
            BASTION,
            eph(rnd),
            22,
            T(),
            rnd.uniform(60, 1800),
            (3000, 400_000),
            (5000, 3_000_000),
        )
    # package-mirror downloads through the NAT gateway
    for h in APP + DB + [BACKUP, MONITOR]:
        for _ in range(rnd.randint(5, 40)):
            log.conv(
                h,
                rnd.choice(MIRRORS),
                eph(rnd),
                rnd.choice([80, 443]),
                T(),
                rnd.uniform(1, 30),
                (200, 20000),
                (3000, rnd.randint(1, 200) * 1_000_000),
                logged_on=[h, NAT],
                nat=True,
            )
    # one-or-two-probe internet noise on common ports
    for _ in range(int(2000 * scale)):
        src = public(rnd, avoid)
        for _ in range(rnd.choice([1, 1, 2])):
            port = rnd.choice([22, 23, 25, 445, 1433, 3306, 3389, 5900, 8080, 8443, 6379])
            log.probe(src, rnd.choice(WEB + [BASTION]), rnd.randint(1024, 65535), port, T())


def incidents(log: Log, rnd: random.Random, avoid: set) -> tuple[list[dict], list[str]]:
    labels: list[dict] = []

    def label(kind, variant, source, targets, ports, t0, t1, **extra):
        labels.append(
            {
                "id": f"busy-{len(labels) + 1:02d}",
                "type": kind,
                "variant": variant,
                "source": source,
                "targets": sorted(set(targets)),
                "ports": sorted(set(ports)),
                "start": iso(t0),
                "end": iso(t1),
                **extra,
            }
        )

    # 1. slow scan: 150 ports of one web server over 100 minutes, 80/443 answered
    src, dst, t = public(rnd, avoid), WEB[5], T0 + 600
    ports = rnd.sample(range(1, 1025), 150)
    times = sorted(t + rnd.uniform(0, 6000) for _ in ports)
    sport = eph(rnd)
    for p, s in zip(ports, times, strict=True):
        ok = p in (80, 443)
        log.probe(src, dst, sport, p, s, "ACCEPT" if ok else "REJECT", "open" if ok else None)
    label("port-scan", "slow", src, [dst], ports, times[0], times[-1])
    # 2. distributed sweep of SSH from eight addresses of one /24, 4-5 servers each
    net = "185.220.101"
    srcs = [f"{net}.{h}" for h in rnd.sample(range(2, 250), 8)]
    t = T0 + 2400
    targets = WEB[:]
    rnd.shuffle(targets)
    for k, s in enumerate(srcs):
        for d in targets[k * 4 : k * 4 + 4] + [rnd.choice(WEB)]:
            log.probe(s, d, rnd.randint(1024, 65535), 22, t + rnd.uniform(0, 900))
    label("host-sweep", "distributed", srcs, targets, [22], t, t + 900)
    # 3. a scan that gets through the security group: closed ports answer with a reset
    src, dst, t = public(rnd, avoid), APP[1], T0 + 4000
    ports = rnd.sample(range(1, 5000), 300)
    for p in ports:
        log.probe(
            src, dst, 51515, p, t + rnd.uniform(0, 200), "ACCEPT", "open" if p == 8080 else "closed"
        )
    label("port-scan", "through-sg", src, [dst], ports, t, t + 200)
    # 4. a compromised app server sweeps the internet for Redis through the NAT gateway
    src, t = APP[3], T0 + 5200
    ext = [public(rnd, avoid) for _ in range(200)]
    for d in ext:
        s = t + rnd.uniform(0, 300)
        log.conv(
            src,
            d,
            eph(rnd),
            6379,
            s,
            0,
            (1, 60),
            (1, 40),
            logged_on=[src, NAT],
            nat=True,
            answered=rnd.random() < 0.1,
        )
    label("host-sweep", "outbound", src, ext, [6379], t, t + 300)
    # 5. SSH password guessing on the bastion
    src, t = public(rnd, avoid), T0 + 1500
    for _ in range(400):
        log.conv(
            src,
            BASTION,
            eph(rnd),
            22,
            t + rnd.uniform(0, 1800),
            rnd.uniform(1, 4),
            (14, rnd.randint(2000, 3500)),
            (12, rnd.randint(2500, 4500)),
        )
    label("brute-force", "ssh", src, [BASTION], [22], t, t + 1800)
    # 6. a database sends 8 GB to an unknown internet host through the NAT gateway
    src, dst, t = DB[1], public(rnd, avoid), T0 + 3000
    for _ in range(4):
        log.conv(
            src,
            dst,
            eph(rnd),
            443,
            t,
            2400,
            (1_500_000, 2_000_000_000),
            (200_000, 9_000_000),
            logged_on=[src, NAT],
            nat=True,
        )
    label("data-exfiltration", "upload", src, [dst], [443], t, t + 2400)
    # 7. a beacon to a listed command-and-control server every minute
    src, c2, t = APP[4], public(rnd, avoid), T0 + 300
    for k in range(0, 5400, 60):
        log.conv(
            src, c2, eph(rnd), 443, t + k, 1, (7, 700), (6, 500), logged_on=[src, NAT], nat=True
        )
    label("known-bad-ip", "c2", src, [c2], [443], t, t + 5400, listed_address=c2)
    # 8. a security-group change on db-1 rejects the app tier for five minutes
    t = T0 + 6000
    for _ in range(600):
        log.conv(
            rnd.choice(APP),
            DB[0],
            eph(rnd),
            5432,
            t + rnd.uniform(0, 300),
            0,
            (2, 120),
            (0, 0),
            action="REJECT",
            logged_on=[DB[0]],
        )
    label(
        "rejected-spike",
        "config-change",
        eni_of(DB[0]),
        [DB[0]],
        [5432],
        t,
        t + 300,
        interface_id=eni_of(DB[0]),
    )
    return labels, [f"{c2}  # command-and-control", "192.0.2.0/24  # decoy"]


def write(
    out: str | Path,
    *,
    seed: int = 1,
    benign_only: bool = False,
    flags: bool = False,
    scale: float = 1.0,
) -> dict:
    """Write ``flows.log`` (and ``labels.json``, ``threat-list.txt``) under ``out``."""
    rnd = random.Random(seed)
    log = Log(rnd, flags)
    avoid: set = set()
    benign(log, rnd, scale, avoid)
    labels, threats = ([], ["192.0.2.0/24  # decoy"]) if benign_only else incidents(log, rnd, avoid)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rnd.shuffle(log.lines)
    (out / "flows.log").write_text(
        HEADER + (" tcp-flags" if flags else "") + "\n" + "\n".join(log.lines) + "\n"
    )
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    (out / "threat-list.txt").write_text("\n".join(threats) + "\n")
    return {"records": len(log.lines), "labels": labels}


if __name__ == "__main__":
    args = sys.argv[1:]
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    r = write(args[0], seed=seed, benign_only="--benign-only" in args, flags="--flags" in args)
    print(f"{r['records']} records, {len(r['labels'])} incidents")
