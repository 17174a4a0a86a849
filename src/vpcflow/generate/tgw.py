"""Synthetic Transit Gateway flow logs: a transit gateway between two VPCs, as AWS delivers the
logs to S3 (default format: all fields, header line, 5-minute gzip files).

The model: VPC A (10.0.0.0/16, the application VPC of ``topology``) and VPC B (10.1.0.0/16,
shared services in a second account) are attached to one transit gateway. Clients in A reach
HTTPS, PostgreSQL and DNS servers in B; each accepted flow is logged twice, on the ingress
attachment and on the egress attachment (the response likewise). Packets are lost, and counted
on the ingress record, for four reasons:

- **no route**: traffic to 10.99.0.0/16, for which the route table has no route;
- **blackhole**: traffic to 10.2.0.0/16, a decommissioned VPC whose route is a blackhole;
- **MTU exceeded**: NFS (2049) with jumbo frames above the transit gateway's 8500-byte MTU;
- **TTL expired**: traceroute probes (UDP 33434+) whose TTL runs out at the gateway.

``generate_tgw`` returns the counts it wrote per loss kind, so the named queries can be checked.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import schema
from . import topology as topo

__all__ = ["generate_tgw", "TgwReport", "TGW_ID", "ATTACHMENTS"]

TGW_ID = "tgw-0a1b2c3d4e5f60718"
FLOW_LOG_ID = "fl-0f1e2d3c4b5a69788"
ACCOUNT_B = "210987654321"


@dataclass(frozen=True)
class _Side:
    attachment: str
    account: str
    vpc: str
    subnet: str
    eni: str
    az: str


A = _Side(
    "tgw-attach-0aaa1111bbbb2222c",
    topo.ACCOUNT,
    topo.VPC_ID,
    "subnet-0a1a2a3a4a5a6a7a8",
    "eni-0a0a0a0a0a0a0a0a0",
    "use1-az1",
)
B = _Side(
    "tgw-attach-0bbb2222cccc3333d",
    ACCOUNT_B,
    "vpc-0b12c34d56e78f90a",
    "subnet-0b1b2b3b4b5b6b7b8",
    "eni-0b0b0b0b0b0b0b0b0",
    "use1-az2",
)
ATTACHMENTS = {A.attachment: "vpc-a", B.attachment: "vpc-b"}

# (kind, share of flows, destination network, port, protocol)
_FLOWS = (
    ("ok", 0.80, "10.1", None, None),
    ("no-route", 0.06, "10.99", 443, 6),
    ("blackhole", 0.06, "10.2", 5432, 6),
    ("mtu", 0.05, "10.1", 2049, 6),
    ("ttl", 0.03, "10.1", 33434, 17),
)
_SERVICES = ((443, 6), (5432, 6), (53, 17))


@dataclass
class TgwReport:
    """What ``generate_tgw`` wrote: records, files, and packets lost per reason."""

    records: int = 0
    files: int = 0
    lost: dict[str, int] = field(
        default_factory=lambda: {"no-route": 0, "blackhole": 0, "mtu": 0, "ttl": 0}
    )

    def to_dict(self) -> dict:
        return {"records": self.records, "files": self.files, "packets_lost": dict(self.lost)}


def _ip(rng: np.random.Generator, prefix: str) -> str:
    return f"{prefix}.{int(rng.integers(0, 8))}.{int(rng.integers(4, 250))}"


def _record(**values) -> list[str]:
    out = []
    for f in schema.TGW.fields:
        v = values.get(f.column)
        out.append("-" if v is None else str(v))
    return out


def _side(prefix: str, s: _Side | None) -> dict:
    if s is None:
        return {}
    return {
        f"tgw_{prefix}_vpc_account_id": s.account,
        f"tgw_{prefix}_vpc_id": s.vpc,
        f"tgw_{prefix}_subnet_id": s.subnet,
        f"tgw_{prefix}_eni": s.eni,
        f"tgw_{prefix}_az_id": s.az,
    }


def _flow_records(rng, kind: str, net: str, port, proto, start: int, report) -> list[list[str]]:
    """The records of one flow (and its response when it gets through)."""
    if port is None:
        port, proto = _SERVICES[int(rng.integers(0, len(_SERVICES)))]
    src, dst = _ip(rng, "10.0"), _ip(rng, net)
    sport = int(rng.integers(32768, 61000))
    packets = int(rng.integers(2, 60))
    size = 9001 if kind == "mtu" else int(rng.integers(60, 1400))
    end = start + int(rng.integers(1, 59))
    common = {
        "version": 6,
        "resource_type": "TransitGateway",
        "account_id": topo.ACCOUNT,
        "tgw_id": TGW_ID,
        "protocol": proto,
        "start": start,
        "end": end,
        "log_status": "OK",
        "type": "IPv4",
        "region": topo.REGION,
    }
    lost = {
        "packets_lost_no_route": 0,
        "packets_lost_blackhole": 0,
        "packets_lost_mtu_exceeded": 0,
        "packets_lost_ttl_expired": 0,
    }
    flags = 2 if proto == 6 else None
    if kind != "ok":
        dropped = packets if kind != "mtu" else max(1, packets // 2)
        column = {
            "no-route": "packets_lost_no_route",
            "blackhole": "packets_lost_blackhole",
            "mtu": "packets_lost_mtu_exceeded",
            "ttl": "packets_lost_ttl_expired",
        }[kind]
        report.lost[kind] += dropped
        lost[column] = dropped
        dst_side = B if kind in ("mtu", "ttl") else None
        return [
            _record(
                **common,
                **lost,
                **_side("src", A),
                **_side("dst", dst_side),
                tgw_attachment_id=A.attachment,
                tgw_pair_attachment_id=dst_side.attachment if dst_side else None,
                srcaddr=src,
                dstaddr=dst,
                srcport=sport,
                dstport=port,
                packets=packets,
                bytes=packets * size,
                tcp_flags=flags,
                flow_direction="ingress",
            )
        ]
    out = []
    rpackets = max(1, packets - int(rng.integers(0, 2)))
    for sa, da, s_ip, d_ip, sp, dp, pk, fl in (
        (A, B, src, dst, sport, port, packets, flags),
        (B, A, dst, src, port, sport, rpackets, 18 if proto == 6 else None),
    ):
        for attachment, pair, direction in ((sa, da, "ingress"), (da, sa, "egress")):
            out.append(
                _record(
                    **common,
                    **lost,
                    **_side("src", sa),
                    **_side("dst", da),
                    tgw_attachment_id=attachment.attachment,
                    tgw_pair_attachment_id=pair.attachment,
                    srcaddr=s_ip,
                    dstaddr=d_ip,
                    srcport=sp,
                    dstport=dp,
                    packets=pk,
                    bytes=pk * size,
                    tcp_flags=fl,
                    flow_direction=direction,
                )
            )
    return out


def _key(t: int, seed: int) -> str:
    tm = time.gmtime(t)
    stamp = time.strftime("%Y%m%dT%H%MZ", tm)
    digest = hashlib.sha1(f"tgw:{seed}:{t}".encode()).hexdigest()[:8]
    day = time.strftime("%Y/%m/%d", tm)
    name = f"{topo.ACCOUNT}_vpcflowlogs_{topo.REGION}_{FLOW_LOG_ID}_{stamp}_{digest}.log.gz"
    return f"AWSLogs/{topo.ACCOUNT}/vpcflowlogs/{topo.REGION}/{day}/{name}"


def generate_tgw(
    out_dir: str | Path, *, records: int, seed: int = 0, start: int, hours: float = 1.0
) -> TgwReport:
    """Write about ``records`` Transit Gateway flow-log records under ``out_dir`` (S3 layout,
    one gzip file per 5 minutes from unix time ``start`` for ``hours``)."""
    rng = np.random.default_rng(seed + 14_000)
    out = Path(out_dir)
    report = TgwReport()
    windows = max(1, int(hours * 12))
    kinds = [k for k, *_ in _FLOWS]
    shares = np.array([s for _, s, *_ in _FLOWS])
    header = " ".join(f.name for f in schema.TGW.fields)
    per_window = max(1, records // windows)
    for w in range(windows):
        t0 = start + w * 300
        lines: list[str] = []
        while len(lines) < per_window:
            k = int(rng.choice(len(kinds), p=shares))
            kind, _, net, port, proto = _FLOWS[k]
            t = t0 + int(rng.integers(0, 240))
            for rec in _flow_records(rng, kind, net, port, proto, t, report):
                lines.append(" ".join(rec))
        path = out / _key(t0, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), mtime=0))
        report.records += len(lines)
        report.files += 1
    return report
