"""Pair flows on one interface into conversations and decide who started them.

A *flow* is one direction of traffic (interface, 5-tuple, action) within a time window, as
``flows.sql`` aggregates it. A *conversation* is a request and its response: the 5-tuple and its
reverse on the same interface whose windows overlap or follow each other within
``GAP_SECONDS``. ICMP has ports 0 on both sides, so a ping and its reply pair naturally.

Two questions are answered for every conversation, each with the evidence used:

* which end is the interface (so which direction is inbound): the ``flow-direction`` field when
  the format has it, else the interface's addresses from ``describe-network-interfaces``, else
  addresses inferred from the logs (the address that talks to the most distinct peers on that
  interface; private before public when that ties);
* who initiated: TCP flags (SYN vs SYN-ACK), then "only the accepted direction can be the
  request" (a reply exists only when the request got through), then well-known vs ephemeral
  ports, then the earlier start time.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .configs import Configs

__all__ = ["Conversation", "Flow", "Side", "pair_flows", "GAP_SECONDS"]


class _once:
    """A property computed on first use and then kept in the instance's ``__dict__`` (which
    shadows it from then on): ``functools.cached_property`` without the lock Python 3.11 takes
    on each of those first uses, four per side of every conversation of a busy day."""

    def __init__(self, fn):
        self.fn, self.name = fn, fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


# Records of one connection come at most one aggregation interval (10 minutes) apart while it
# is active; windows further apart than that are separate conversations.
GAP_SECONDS = 600

HIGH, MEDIUM, LOW = "high", "medium", "low"
_RANK = {HIGH: 2, MEDIUM: 1, LOW: 0}

# Ports servers listen on above 1023; below 1024 everything counts as a service port.
SERVICE_PORTS = frozenset(
    {
        1433,
        1521,
        2049,
        2375,
        2376,
        3000,
        3306,
        3389,
        5000,
        5001,
        5432,
        5439,
        5601,
        5672,
        5900,
        6379,
        6443,
        7000,
        8000,
        8008,
        8080,
        8081,
        8088,
        8443,
        8888,
        9000,
        9042,
        9090,
        9092,
        9200,
        9300,
        10250,
        11211,
        27017,
    }
)

_PRIVATE = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "fe80::/10",
    )
]


# The IPv4 blocks of _PRIVATE as (network, mask) integers, for dotted quads read without
# ipaddress: the greedy inference of an interface's addresses tests every address of its flows.
_PRIVATE_V4 = [(int(n.network_address), int(n.netmask)) for n in _PRIVATE if n.version == 4]


@functools.lru_cache(maxsize=1 << 16)
def is_private(addr: str) -> bool:
    value = _dotted_quad(addr)
    if value is not None:
        return any(value & mask == net for net, mask in _PRIVATE_V4)
    try:
        a = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(a.version == n.version and a in n for n in _PRIVATE)


def _dotted_quad(addr: str) -> int | None:
    """A dotted quad as ``ipaddress`` reads one (parts of 1 to 3 ASCII digits, none above 255,
    no leading zero) as an integer; None for anything else, which ``ipaddress`` decides."""
    parts = addr.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        if not (p.isascii() and p.isdigit()) or len(p) > 3 or (p[0] == "0" and p != "0"):
            return None
        if int(p) > 255:
            return None
        value = value << 8 | int(p)
    return value


def is_service_port(port: int | None) -> bool:
    return port is not None and (0 < port < 1024 or port in SERVICE_PORTS)


@dataclass
class Flow:
    """One direction of traffic as aggregated by ``flows.sql``."""

    interface_id: str
    srcaddr: str
    dstaddr: str
    srcport: int | None
    dstport: int | None
    protocol: int
    action: str
    flow_direction: str | None = None
    subnet_id: str | None = None
    vpc_id: str | None = None
    records: int = 1
    packets: int = 0
    bytes: int = 0
    first_start: int | None = None
    last_end: int | None = None
    syn: bool = False
    syn_ack: bool = False
    reject_reason: str | None = None
    # A row of flows_rejected.sql may stand for this many conversations (probes, or one side
    # of replies a network ACL drops) that differ only in the client's port and in time, and
    # says whether those ports differed.
    conversations: int = 1
    ports_varied: bool = False

    @property
    def src(self) -> tuple[str, int]:
        return (self.srcaddr, self.srcport or 0)

    @property
    def dst(self) -> tuple[str, int]:
        return (self.dstaddr, self.dstport or 0)


class _SideStats(NamedTuple):
    accepted: bool
    rejected: bool
    first: int | None
    last: int | None
    totals: tuple[int, int, int]
    syn: bool
    syn_ack: bool


@dataclass
class Side:
    """All flows of one direction of a conversation (complete before it is first asked)."""

    flows: list[Flow] = field(default_factory=list)

    @_once
    def _stats(self) -> _SideStats:
        """What the properties below read, from one pass over the flows."""
        accepted = rejected = syn = syn_ack = False
        first = last = None
        records = packets = nbytes = 0
        for f in self.flows:
            syn = syn or bool(f.syn)
            syn_ack = syn_ack or bool(f.syn_ack)
            if f.action == "ACCEPT":
                accepted = True
            elif f.action == "REJECT":
                rejected = True
            if f.first_start is not None and (first is None or f.first_start < first):
                first = f.first_start
            if f.last_end is not None and (last is None or f.last_end > last):
                last = f.last_end
            records += f.records or 0
            packets += f.packets or 0
            nbytes += f.bytes or 0
        return _SideStats(accepted, rejected, first, last, (records, packets, nbytes), syn, syn_ack)

    @property
    def accepted(self) -> bool:
        return self._stats.accepted

    @property
    def rejected(self) -> bool:
        return self._stats.rejected

    @property
    def syn(self) -> bool:
        """A flow of the side carries a SYN without ACK (TCP flags, version 3+)."""
        return self._stats.syn

    @property
    def syn_ack(self) -> bool:
        return self._stats.syn_ack

    @property
    def seen(self) -> bool:
        return bool(self.flows)

    @property
    def totals(self) -> tuple[int, int, int]:
        """``(records, packets, bytes)`` of the side's flows."""
        return self._stats.totals

    @property
    def first(self) -> int | None:
        return self._stats.first

    @property
    def last(self) -> int | None:
        return self._stats.last

    @property
    def action(self) -> str:
        if not self.flows:
            return "none"
        if self.accepted and self.rejected:
            return "ACCEPT+REJECT"
        return "ACCEPT" if self.accepted else "REJECT"


@dataclass
class Conversation:
    interface_id: str
    protocol: int
    client: tuple[str, int]  # who sent the request: (address, port)
    server: tuple[str, int]
    direction: str  # "inbound" (the request came in) or "outbound"
    request: Side
    response: Side
    confidence: str  # how sure the direction and initiator are: high, medium, low
    basis: list[str]  # the evidence, in words
    subnet_id: str | None = None
    vpc_id: str | None = None

    @property
    def local(self) -> tuple[str, int]:
        """The interface's end of the conversation."""
        return self.server if self.direction == "inbound" else self.client

    @property
    def remote(self) -> tuple[str, int]:
        return self.client if self.direction == "inbound" else self.server

    @property
    def flows(self) -> list[Flow]:
        return self.request.flows + self.response.flows


def _min_conf(*levels: str) -> str:
    return min(levels, key=_RANK.__getitem__)


def _own_addresses(
    flows: list[Flow], configs: Configs | None
) -> tuple[set[str], dict[frozenset, tuple[str, str]], str]:
    """The interface's addresses, how each address pair was resolved, and where they came from.

    Returns ``(own, decided, source)`` where ``decided`` maps an unordered address pair to
    ``(own_address, confidence)`` for pairs settled by inference.
    """
    eni = configs.interfaces.get(flows[0].interface_id) if configs else None
    if eni is not None and eni.addresses:
        return set(eni.addresses), {}, "describe-network-interfaces"
    own: set[str] = set()
    for f in flows:  # flow-direction says outright which end is the interface
        if f.flow_direction == "ingress":
            own.add(f.dstaddr)
        elif f.flow_direction == "egress":
            own.add(f.srcaddr)
    partners: dict[str, set[str]] = defaultdict(set)
    pairs: set[frozenset] = set()
    for f in flows:
        if f.srcaddr == f.dstaddr:
            continue
        partners[f.srcaddr].add(f.dstaddr)
        partners[f.dstaddr].add(f.srcaddr)
        pairs.add(frozenset((f.srcaddr, f.dstaddr)))
    decided: dict[frozenset, tuple[str, str]] = {}
    uncovered = {p for p in pairs if not (p & own)}
    by_addr: dict[str, list[frozenset]] = defaultdict(list)
    for p in uncovered:
        for a in p:
            by_addr[a].append(p)
    # Greedy: the address with the most distinct peers claims its pairs first.
    for best in sorted(by_addr, key=lambda a: (-len(partners[a]), not is_private(a), a)):
        for p in by_addr[best]:
            if p not in uncovered:
                continue
            (other,) = p - {best}
            if len(partners[best]) > len(partners[other]):
                decided[p] = (best, MEDIUM)
            elif is_private(best) and not is_private(other):
                decided[p] = (best, LOW)
            else:
                continue  # a tie the logs cannot break
            uncovered.discard(p)
            own.add(best)
    return own, decided, "logs"


def _interface_end(flow: Flow, own: set[str], decided: dict, source: str) -> tuple[str | None, str]:
    """(interface address or None, confidence) for one flow; ``_interface_why`` words it."""
    if flow.flow_direction in ("ingress", "egress"):
        return (flow.dstaddr if flow.flow_direction == "ingress" else flow.srcaddr), HIGH
    src_own, dst_own = flow.srcaddr in own, flow.dstaddr in own
    if src_own != dst_own:
        addr = flow.srcaddr if src_own else flow.dstaddr
        if source == "describe-network-interfaces":
            return addr, HIGH
        got = decided.get(frozenset((flow.srcaddr, flow.dstaddr)))
        return addr, (got[1] if got is not None and got[0] == addr else MEDIUM)
    return None, LOW


def _interface_why(flow: Flow | None, addr: str | None, conf: str, source: str) -> str:
    """The evidence for ``_interface_end``'s answer on ``flow`` (None: no flow told)."""
    if flow is None or addr is None:
        return "the logs do not show which address belongs to the interface"
    if flow.flow_direction in ("ingress", "egress"):
        return f"flow-direction is {flow.flow_direction}"
    if source == "describe-network-interfaces":
        return f"{addr} is an address of {flow.interface_id} (describe-network-interfaces)"
    why = (
        "talks to the most peers on this interface"
        if conf == MEDIUM
        else "is the private address of the pair"
    )
    return f"{addr} taken as the interface's address: it {why} (inferred from the logs)"


def _initiator(a: Side, b: Side, a_key, b_key, protocol: int) -> tuple[int, str, str]:
    """Which side is the request: 0 for ``a``, 1 for ``b``; with confidence and evidence."""
    if a.seen != b.seen:
        only, key = (0, a_key) if a.seen else (1, b_key)
        side = a if a.seen else b
        f = side.flows[0]
        if protocol in (6, 17) and is_service_port(f.srcport) and not is_service_port(f.dstport):
            return (
                only,
                MEDIUM,
                ("only one direction was seen, though its source port looks like a service port"),
            )
        return only, HIGH, "only one direction was seen"
    a_syn, b_syn, a_synack, b_synack = a.syn, b.syn, a.syn_ack, b.syn_ack
    if (a_syn and not b_syn) or (b_synack and not a_synack):
        return (
            0,
            HIGH,
            f"TCP flags: SYN from {_ep(a_key)}"
            + (f", SYN-ACK from {_ep(b_key)}" if b_synack else ""),
        )
    if (b_syn and not a_syn) or (a_synack and not b_synack):
        return (
            1,
            HIGH,
            f"TCP flags: SYN from {_ep(b_key)}"
            + (f", SYN-ACK from {_ep(a_key)}" if a_synack else ""),
        )
    if a.accepted != b.accepted:
        idx = 0 if a.accepted else 1
        return (
            idx,
            HIGH,
            (
                "only one direction was accepted, and a reply exists only when the request got through"
            ),
        )
    if protocol in (6, 17):
        a_srv = is_service_port(a_key[1][1]) and not is_service_port(a_key[0][1])
        b_srv = is_service_port(b_key[1][1]) and not is_service_port(b_key[0][1])
        if a_srv != b_srv:
            idx, key = (0, a_key) if a_srv else (1, b_key)
            return (
                idx,
                MEDIUM,
                f"port {key[1][1]} is a well-known service port, {key[0][1]} is ephemeral",
            )
    fa, fb = a.first, b.first
    if fa is not None and fb is not None and fa != fb:
        idx = 0 if fa < fb else 1
        return idx, LOW, "the request direction started first"
    if protocol in (6, 17) and a_key[1][1] != b_key[1][1]:
        idx = 0 if (a_key[1][1] or 0) < (b_key[1][1] or 0) else 1
        return idx, LOW, "guessed from the lower destination port"
    return 0, LOW, "nothing in the logs shows who started it"


def _ep(key) -> str:
    return key[0][0] if key[0][1] in (0, None) else f"{key[0][0]}:{key[0][1]}"


def pair_flows(flows: Iterable[Flow], configs: Configs | None = None) -> list[Conversation]:
    """Group flows into conversations (per interface) and decide request, response, direction."""
    by_iface: dict[str, list[Flow]] = defaultdict(list)
    for f in flows:
        by_iface[f.interface_id].append(f)
    out: list[Conversation] = []
    for iface in sorted(by_iface):
        iflows = by_iface[iface]
        own, decided, source = _own_addresses(iflows, configs)
        groups: dict[tuple, list[Flow]] = defaultdict(list)
        for f in iflows:
            src, dst = f.src, f.dst
            groups[(f.protocol, (src, dst) if src <= dst else (dst, src))].append(f)
        for (protocol, ends), gflows in groups.items():
            for session in _sessions(gflows):
                out.append(_conversation(iface, protocol, ends, session, own, decided, source))
    out.sort(key=lambda c: (c.request.first or 0, c.interface_id))
    return out


def _sessions(flows: list[Flow]) -> list[list[Flow]]:
    """Split flows of one 5-tuple pair into runs whose windows overlap or are adjacent."""
    if len(flows) == 1:  # most pairs of a busy day: one flow, one run
        return [flows]
    flows = sorted(flows, key=lambda f: (f.first_start or 0, f.last_end or 0))
    runs: list[list[Flow]] = []
    end = None
    for f in flows:
        start = f.first_start or 0
        if runs and end is not None and start <= end + GAP_SECONDS:
            runs[-1].append(f)
        else:
            runs.append([f])
            end = None
        end = max(end or 0, f.last_end or start)
    return runs


def _conversation(iface, protocol, ends, flows, own, decided, source) -> Conversation:
    a_key = (ends[0], ends[1])  # a: ends[0] -> ends[1]
    b_key = (ends[1], ends[0])
    a, b = Side(), Side()
    a_src, a_dst = ends
    for f in flows:
        (a if f.src == a_src and f.dst == a_dst else b).flows.append(f)
    if ends[0] == ends[1]:  # traffic to itself: both directions are the same key
        b = Side()
    idx, init_conf, init_why = _initiator(a, b, a_key, b_key, protocol)
    req, resp = (a, b) if idx == 0 else (b, a)
    client, server = a_key if idx == 0 else b_key

    # Which end is the interface: the most certain flow decides, the request's on a tie.
    best, by = (None, LOW), None
    for f in req.flows + resp.flows:
        got = _interface_end(f, own, decided, source)
        if got[0] is not None and (best[0] is None or _RANK[got[1]] > _RANK[best[1]]):
            best, by = got, f
            if got[1] == HIGH:  # none ranks above: the first of these decides
                break
    local_addr, dir_conf = best
    dir_why = _interface_why(by, local_addr, dir_conf, source)
    if local_addr is None:
        # Nothing tells: assume the interface is the one being asked (the usual question is
        # "why can't anyone reach my instance").
        direction = "inbound"
        dir_why += "; assumed the request came in"
    elif local_addr == server[0] and local_addr != client[0]:
        direction = "inbound"
    else:
        direction = "outbound"
    first = flows[0]
    return Conversation(
        interface_id=iface,
        protocol=protocol,
        client=client,
        server=server,
        direction=direction,
        request=req,
        response=resp,
        confidence=_min_conf(init_conf, dir_conf),
        basis=[dir_why, init_why],
        subnet_id=next((f.subnet_id for f in flows if f.subnet_id), first.subnet_id),
        vpc_id=next((f.vpc_id for f in flows if f.vpc_id), first.vpc_id),
    )
