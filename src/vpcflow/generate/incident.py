"""What every injected incident is built with: the placement context, probe records and labels."""

from __future__ import annotations

import time

import numpy as np

from . import topology as topo
from .records import FLAGS_SYN, OK, TCP, Batch


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


class Ctx:
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


def probe(
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


def label(
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
