"""Evaluate security-group and network-ACL rules for one packet direction.

Security groups: every group on the interface, allow-only, stateful (only the request is checked).
Network ACLs: the subnet's ACL, entries of one direction in rule-number order, first match wins,
``*`` (32767) denies everything else; stateless, so the request and the response are each checked
by the rules of the direction they travel.

Flow logs do not carry the ICMP type and code (both ports are 0), so ICMP is evaluated as ping:
echo request (type 8, ICMPv6 128) for the request and echo reply (0, ICMPv6 129) for the response.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .configs import (
    DEFAULT_RULE_NUMBER,
    AclEntry,
    Configs,
    NetworkAcl,
    Permission,
    SecurityGroup,
)

__all__ = ["AclResult", "SgResult", "evaluate_acl", "evaluate_security_groups", "icmp_type"]

TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
_SG_NAMES = {"tcp": TCP, "udp": UDP, "icmp": ICMP, "icmpv6": ICMPV6}


def icmp_type(protocol: int, response: bool) -> int | None:
    """The ICMP type assumed for a request or its response (ping)."""
    if protocol == ICMP:
        return 0 if response else 8
    if protocol == ICMPV6:
        return 129 if response else 128
    return None


@dataclass(frozen=True)
class SgResult:
    """``allowed``: True (a rule allows it), False (no rule does) or None (cannot tell: a
    referenced group or prefix list could not be resolved, or a group is missing)."""

    allowed: bool | None
    group_id: str | None = None  # the group whose rule allowed it
    rule: Permission | None = None
    unresolved: tuple[str, ...] = field(default=())  # what could not be checked, in words


@dataclass(frozen=True)
class AclResult:
    allowed: bool
    acl: NetworkAcl
    entry: AclEntry
    implicit: bool = False  # no entry matched and the file had no "*" entry


def _sg_protocol_matches(rule: Permission, protocol: int) -> bool:
    if rule.protocol == "-1":
        return True
    return _SG_NAMES.get(rule.protocol) == protocol or rule.protocol == str(protocol)


def _sg_ports_match(rule: Permission, protocol: int, port: int | None, itype: int | None) -> bool:
    if rule.protocol == "-1":
        return True
    if protocol in (TCP, UDP):
        if rule.from_port is None or rule.to_port is None or port is None:
            return rule.from_port is None
        return rule.from_port <= port <= rule.to_port
    if protocol in (ICMP, ICMPV6):
        # FromPort is the ICMP type, ToPort the code; -1 means all.
        type_ok = rule.from_port in (None, -1) or rule.from_port == itype
        code_ok = rule.to_port in (None, -1) or rule.to_port == 0
        return type_ok and code_ok
    return True


def evaluate_security_groups(
    configs: Configs,
    group_ids: tuple[str, ...],
    inbound: bool,
    protocol: int,
    remote: str,
    port: int | None,
) -> SgResult:
    """Do the groups allow ``protocol``/``port`` from (inbound) or to (outbound) ``remote``?"""
    itype = icmp_type(protocol, response=False)
    addr = ipaddress.ip_address(remote)
    by_address = configs.interfaces_by_address()
    unresolved: list[str] = []
    for gid in group_ids:
        group: SecurityGroup | None = configs.security_groups.get(gid)
        if group is None:
            unresolved.append(f"{gid} is not in the security groups given")
            continue
        for rule in group.ingress if inbound else group.egress:
            if not _sg_protocol_matches(rule, protocol):
                continue
            if not _sg_ports_match(rule, protocol, port, itype):
                continue
            if any(addr.version == net.version and addr in net for net in rule.cidrs):
                return SgResult(True, gid, rule)
            for ref in rule.group_ids:
                enis = by_address.get(str(addr))
                if enis is None:
                    unresolved.append(
                        f"{gid} allows members of {ref}, and {remote} is not among the "
                        "network interfaces given"
                    )
                elif any(ref in eni.group_ids for eni in enis):
                    return SgResult(True, gid, rule)
            for pl in rule.prefix_list_ids:
                unresolved.append(f"{gid} allows prefix list {pl}, whose entries were not given")
    return SgResult(None if unresolved else False, unresolved=tuple(unresolved))


def _acl_matches(e: AclEntry, protocol: int, addr, port: int | None, itype: int | None) -> bool:
    if e.protocol != "-1" and e.protocol != str(protocol):
        return False
    if addr.version != e.cidr.version or addr not in e.cidr:
        return False
    if e.protocol == "-1":
        return True
    if protocol in (TCP, UDP) and e.port_from is not None and port is not None:
        return e.port_from <= port <= e.port_to
    if protocol in (ICMP, ICMPV6):
        type_ok = e.icmp_type in (None, -1) or e.icmp_type == itype
        code_ok = e.icmp_code in (None, -1) or e.icmp_code == 0
        return type_ok and code_ok
    return True


def evaluate_acl(
    acl: NetworkAcl,
    egress: bool,
    protocol: int,
    remote: str,
    port: int | None,
    response: bool = False,
) -> AclResult:
    """First entry of ``acl`` (one direction, rule-number order) matching the packet."""
    addr = ipaddress.ip_address(remote)
    itype = icmp_type(protocol, response)
    for e in acl.rules(egress):
        if _acl_matches(e, protocol, addr, port, itype):
            return AclResult(e.allow, acl, e)
    default = AclEntry(
        DEFAULT_RULE_NUMBER,
        "-1",
        False,
        egress,
        ipaddress.ip_network("0.0.0.0/0" if addr.version == 4 else "::/0"),
    )
    return AclResult(False, acl, default, implicit=True)
