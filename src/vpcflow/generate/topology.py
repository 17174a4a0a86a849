"""The synthetic VPC: subnets, network interfaces, the internet around it.

A small production VPC in one account and region: public web servers (two of them in a subnet
whose network ACL is misconfigured), a bastion, a mail relay, a VPN endpoint, a NAT gateway,
private app, monitoring, DNS and batch hosts, and a database subnet. The topology is fixed; the
seed only changes the traffic.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np

ACCOUNT = "123456789012"
REGION = "us-east-1"
VPC_ID = "vpc-0a12b34c56d78e90f"
FLOW_LOG_ID = "fl-0d1e2f3a4b5c6d7e8"
VPC_CIDR = "10.0.0.0/16"


def ip_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def ip_str(value: int) -> str:
    return str(ipaddress.IPv4Address(int(value)))


@dataclass(frozen=True)
class Subnet:
    name: str
    id: str
    cidr: str
    az_id: str
    public: bool
    nacl_id: str


@dataclass(frozen=True)
class Interface:
    name: str
    id: str
    ip: str
    subnet: str
    instance_id: str  # "-" for requester-managed interfaces (NAT gateway)
    role: str
    open_ports: tuple[tuple[int, int], ...] = ()  # (protocol, port) the security group allows in
    public_ip: str = ""


# fmt: off
SUBNETS: tuple[Subnet, ...] = (
    Subnet("public-a", "subnet-0a1c2e4f6a8b0c2d1", "10.0.0.0/24", "use1-az1", True, "acl-0c1d2e3f4a5b6c7d1"),
    # The misconfigured one: its network ACL allows outbound TCP only to ports 0-32767, so
    # responses to clients' ephemeral ports (32768-65535) are rejected on the way out.
    Subnet("public-b", "subnet-0b2d3f5a7c9e1a3b2", "10.0.1.0/24", "use1-az2", True, "acl-0e9f8a7b6c5d4e3f2"),
    Subnet("app-a", "subnet-0c3e5a7b9d1f3a5c3", "10.0.10.0/24", "use1-az1", False, "acl-0c1d2e3f4a5b6c7d1"),
    Subnet("app-b", "subnet-0d4f6b8c0e2a4b6d4", "10.0.11.0/24", "use1-az2", False, "acl-0c1d2e3f4a5b6c7d1"),
    Subnet("db-a", "subnet-0e5a7c9d1f3b5c7e5", "10.0.20.0/24", "use1-az1", False, "acl-0c1d2e3f4a5b6c7d1"),
    Subnet("db-b", "subnet-0f6b8d0e2a4c6d8f6", "10.0.21.0/24", "use1-az2", False, "acl-0c1d2e3f4a5b6c7d1"),
)
MISCONFIGURED_SUBNET = "public-b"
# Outbound TCP destination ports the misconfigured ACL rejects.
MISCONFIGURED_PORTS = (32768, 65535)

_TCP, _UDP = 6, 17
_WEB = ((_TCP, 80), (_TCP, 443), (_TCP, 9100))

INTERFACES: tuple[Interface, ...] = (
    Interface("nat-gw", "eni-0a11f2e3d4c5b6a70", "10.0.0.10", "public-a", "-", "nat", (), "3.214.87.10"),
    Interface("web-1", "eni-0b21a3c4d5e6f7081", "10.0.0.11", "public-a", "i-0a1b2c3d4e5f60711", "web", _WEB, "54.210.33.11"),
    Interface("web-2", "eni-0c31b4d5e6f708192", "10.0.0.12", "public-a", "i-0a1b2c3d4e5f60712", "web", _WEB, "54.210.33.12"),
    Interface("web-3", "eni-0d41c5e6f70819203", "10.0.1.13", "public-b", "i-0a1b2c3d4e5f60713", "web", _WEB, "54.210.33.13"),
    Interface("web-4", "eni-0e51d6f7081920314", "10.0.1.14", "public-b", "i-0a1b2c3d4e5f60714", "web", _WEB, "54.210.33.14"),
    Interface("bastion", "eni-0f61e708192031425", "10.0.0.5", "public-a", "i-0a1b2c3d4e5f60705", "bastion", ((_TCP, 22), (_TCP, 9100)), "54.210.33.5"),
    Interface("mail", "eni-0a71f819203142536", "10.0.1.25", "public-b", "i-0a1b2c3d4e5f60725", "mail", ((_TCP, 25), (_TCP, 9100)), "54.210.33.25"),
    Interface("vpn", "eni-0b8109203142536a7", "10.0.0.30", "public-a", "i-0a1b2c3d4e5f60730", "vpn", ((_UDP, 500), (_UDP, 4500), (_TCP, 9100)), "54.210.33.30"),
    Interface("app-1", "eni-0c9120314253647b8", "10.0.10.21", "app-a", "i-0a1b2c3d4e5f61021", "app", ((_TCP, 8080), (_TCP, 9100))),
    Interface("app-2", "eni-0da231425364758c9", "10.0.11.22", "app-b", "i-0a1b2c3d4e5f61122", "app", ((_TCP, 8080), (_TCP, 9100))),
    Interface("app-3", "eni-0eb3425364758690d", "10.0.10.23", "app-a", "i-0a1b2c3d4e5f61023", "app", ((_TCP, 8080), (_TCP, 9100))),
    Interface("monitor", "eni-0fc453647586970ae", "10.0.10.50", "app-a", "i-0a1b2c3d4e5f61050", "monitor", ((_TCP, 9090), (_TCP, 9100))),
    Interface("dns", "eni-0ad5647586970a81f", "10.0.10.53", "app-a", "i-0a1b2c3d4e5f61053", "dns", ((_UDP, 53), (_TCP, 53), (_TCP, 9100))),
    Interface("batch", "eni-0be6758697a8b9c20", "10.0.11.60", "app-b", "i-0a1b2c3d4e5f61160", "batch", ((_TCP, 9100),)),
    Interface("db-1", "eni-0cf7869708b9cad31", "10.0.20.31", "db-a", "i-0a1b2c3d4e5f62031", "db", ((_TCP, 5432), (_TCP, 9100))),
    Interface("db-2", "eni-0d08970819cadbe42", "10.0.21.32", "db-b", "i-0a1b2c3d4e5f62132", "db", ((_TCP, 5432), (_TCP, 9100))),
    Interface("cache", "eni-0e19a8192adbecf53", "10.0.20.41", "db-a", "i-0a1b2c3d4e5f62041", "cache", ((_TCP, 6379), (_TCP, 9100))),
    # A web fleet behind a network load balancer that keeps client addresses (no public IPs of
    # their own): only the benign look-alikes (generate/benign.py) send traffic to it.
    *(
        Interface(f"fleet-{k}", f"eni-0f7{k:02d}a8192adbec{k:02d}", f"10.0.0.{100 + k}", "public-a", f"i-0a1b2c3d4e5f6{k:04d}", "fleet", _WEB)
        for k in range(1, 9)
    ),
)
# fmt: on

ENI_INDEX = {e.name: i for i, e in enumerate(INTERFACES)}
SUBNET_INDEX = {s.name: i for i, s in enumerate(SUBNETS)}
ENI_IP = np.array([ip_int(e.ip) for e in INTERFACES], dtype=np.uint32)
ENI_SUBNET = np.array([SUBNET_INDEX[e.subnet] for e in INTERFACES], dtype=np.int16)
ENI_PUBLIC_SUBNET = np.array([SUBNETS[SUBNET_INDEX[e.subnet]].public for e in INTERFACES])
ENI_IS_NAT = np.array([e.role == "nat" for e in INTERFACES])
ENI_MISCONFIGURED = np.array([e.subnet == MISCONFIGURED_SUBNET for e in INTERFACES])


def enis(role: str) -> list[int]:
    return [i for i, e in enumerate(INTERFACES) if e.role == role]


PUBLIC_ENIS = [i for i, e in enumerate(INTERFACES) if e.public_ip and e.role != "nat"]
VPC_NET = ip_int("10.0.0.0")
VPC_MASK = 0xFFFF0000

# AWS service ranges that appear as pkt-src/dst-aws-service (version 5).
SERVICE_NAMES = ("-", "AMAZON", "CLOUDFRONT", "ROUTE53_HEALTHCHECKS", "S3", "EC2")
SERVICE_RANGES = (  # (network, prefix length, service index)
    ("54.239.128.0", 18, 2),  # CloudFront edges
    ("13.224.0.0", 14, 2),
    ("54.243.31.192", 26, 3),  # Route 53 health checkers
    ("52.216.0.0", 15, 4),  # S3 us-east-1 (via the gateway endpoint)
    ("3.5.0.0", 19, 4),
    ("52.94.0.0", 22, 1),  # AWS APIs
)

# Well-known outside servers.
DNS_UPSTREAMS = ("1.1.1.1", "8.8.8.8", "9.9.9.9")
NTP_SERVERS = ("162.159.200.1", "129.6.15.28", "216.239.35.0", "132.163.97.1")
API_ENDPOINTS = ("52.94.4.10", "52.94.5.21", "140.82.112.3", "151.101.1.69", "104.18.32.7")
S3_ENDPOINTS = ("52.216.8.11", "52.217.12.34", "3.5.0.20", "52.216.200.3")
CDN_EDGES = tuple(f"54.239.{130 + i // 8}.{10 + i % 8 * 3}" for i in range(24))
HEALTH_CHECKERS = tuple(f"54.243.31.{193 + i * 4}" for i in range(12))
API_PARTNER = "35.190.42.17"  # a busy, legitimate API client

# Ports internet scanners try, with weights like background noise on any public address.
# fmt: off
SCAN_PORTS = np.array(
    [22, 23, 3389, 445, 8080, 8088, 80, 443, 1433, 3306, 5900, 6379, 9200, 2375, 25, 21,
     8443, 5432, 11211, 27017, 5060, 7547, 2323, 81, 8000, 8888, 9000, 10000, 139, 135],
    dtype=np.int32,
)
SCAN_WEIGHTS = np.array(
    [20, 14, 12, 10, 6, 5, 5, 4, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1],
    dtype=np.float64,
)
# fmt: on
SCAN_WEIGHTS /= SCAN_WEIGHTS.sum()

# First octets that are private, reserved or multicast; never used for synthetic internet hosts.
_RESERVED_FIRST = {0, 10, 100, 127, 169, 172, 192, 198, 203, 224}


def public_addresses(rng: np.random.Generator, n: int, avoid: set[int] = frozenset()) -> np.ndarray:
    """``n`` distinct random public IPv4 addresses as uint32."""
    out: list[np.ndarray] = []
    have = 0
    seen = set(avoid)
    while have < n:
        cand = rng.integers(1 << 24, 224 << 24, size=(n - have) * 2, dtype=np.uint64).astype(
            np.uint32
        )
        first = cand >> 24
        ok = ~np.isin(first, list(_RESERVED_FIRST)) & (first < 224)
        cand = cand[ok]
        cand = np.array([c for c in dict.fromkeys(cand.tolist()) if c not in seen], dtype=np.uint32)
        cand = cand[: n - have]
        seen.update(cand.tolist())
        out.append(cand)
        have += len(cand)
    return np.concatenate(out)
