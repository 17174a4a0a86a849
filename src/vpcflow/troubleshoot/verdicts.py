"""The decision table: from one conversation (and optionally the real rules) to a verdict.

Security groups are stateful: the response to an allowed request is always allowed. Network ACLs
are stateless: the response is checked by the rules of the other direction. So, on one interface:

====================================================  ==================================
what the logs show                                    verdict
====================================================  ==================================
request inbound REJECT                                security-group-or-network-acl
request inbound ACCEPT, response outbound REJECT      network-acl (outbound rules)
request outbound REJECT                               security-group-or-network-acl
request outbound ACCEPT, response inbound REJECT      network-acl (inbound rules)
request and response ACCEPT                           allowed
====================================================  ==================================

With configurations, the rules decide the open cases: no security-group rule allows the request
→ ``security-group``; else the network ACL entry that denied it → ``network-acl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.inventory.describe import kind_title
from .configs import DEFAULT_RULE_NUMBER, Configs, NetworkAcl, SecurityGroup
from .conversations import Conversation
from .rules import AclResult, SgResult, evaluate_acl, evaluate_security_groups

__all__ = ["Verdict", "decide", "ALLOWED", "BPA", "NACL", "SG", "SG_OR_NACL"]

ALLOWED = "allowed"
NACL = "network-acl"
SG = "security-group"
SG_OR_NACL = "security-group-or-network-acl"
BPA = "block-public-access"  # version-8 records with reject-reason BPA

_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 47: "GRE", 50: "ESP", 51: "AH"}


def proto_name(p: int) -> str:
    return _PROTO_NAMES.get(p, f"protocol {p}")


@dataclass
class Verdict:
    """One conversation's verdict. ``srcaddr``/``dstaddr``/ports are the request's."""

    interface_id: str
    protocol: int
    srcaddr: str
    dstaddr: str
    srcport: int | None
    dstport: int | None
    direction: str  # inbound | outbound: who initiated, relative to the interface
    verdict: str
    stage: str | None  # request inbound | response outbound | request outbound | response inbound
    explanation: str
    fix: str | None
    confidence: str  # how sure the direction/initiator are: high | medium | low
    basis: str  # the evidence for direction and initiator
    decided_by: str  # logs | configurations
    request_action: str  # ACCEPT | REJECT | ACCEPT+REJECT
    response_action: str  # ... or none
    group_id: str | None = None
    network_acl_id: str | None = None
    rule_number: int | None = None
    egress: bool | None = None
    records: int = 0
    packets: int = 0
    bytes: int = 0
    first_seen: int | None = None  # unix seconds
    last_seen: int | None = None
    occurrences: int = 1  # conversations folded into this row (troubleshoot)
    interface_kind: str | None = None  # from the inventory or describe-network-interfaces
    interface_name: str | None = None  # its label: "web-4, i-0abc", "NAT gateway nat-0abc"
    notes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list, repr=False)  # from the configurations

    def to_dict(self) -> dict:
        # (a flat copy: dataclasses.asdict's deep copy took most of the time of a busy day)
        d = dict(self.__dict__)
        d["notes"] = " ".join(self.notes) or None
        del d["reasons"]
        return d


def _ep(addr: str, port: int | None, protocol: int) -> str:
    if protocol in (6, 17) and port is not None:
        return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
    return addr


def _what(c: Conversation) -> str:
    """'TCP port 22', 'UDP port 53', 'ICMP (ping)'"""
    if c.protocol in (6, 17):
        return f"{proto_name(c.protocol)} port {c.server[1]}"
    if c.protocol in (1, 58):
        return f"{proto_name(c.protocol)} ping"
    return proto_name(c.protocol)


def _host_cidr(addr: str) -> str:
    return f"{addr}/128" if ":" in addr else f"{addr}/32"


def _any_cidr(addr: str) -> str:
    return "::/0" if ":" in addr else "0.0.0.0/0"


def _traffic(protocol: int, port: int | None, response: bool) -> str:
    """The traffic a rule must allow, in the words of the console: 'TCP 22', 'ICMP echo reply'."""
    if protocol in (6, 17):
        if response and port is not None and port >= 1024:
            return f"{proto_name(protocol)} 1024-65535"
        return f"{proto_name(protocol)} {port}"
    if protocol == 1:
        return "ICMP echo reply (type 0)" if response else "ICMP echo request (type 8)"
    if protocol == 58:
        return "ICMPv6 echo reply (type 129)" if response else "ICMPv6 echo request (type 128)"
    return proto_name(protocol)


# What "the request never reached" names, per kind of interface.
_THING = {
    "instance": "the instance",
    "nat-gateway": "the NAT gateway",
    "application-load-balancer": "the load balancer",
    "network-load-balancer": "the load balancer",
    "classic-load-balancer": "the load balancer",
    "load-balancer": "the load balancer",
    "gateway-load-balancer": "the load balancer",
    "gateway-load-balancer-endpoint": "the endpoint",
    "vpc-endpoint": "the endpoint",
    "transit-gateway-attachment": "the transit gateway",
    "lambda": "the Lambda function",
    "rds": "the database",
    "elasticache": "the cache",
    "redshift": "the cluster",
}


def _no_groups(kind: str, title: str) -> str:
    if kind in ("", "interface", "aws-managed") or title == kind:
        return "This AWS-managed interface has no security groups listed"
    return f"{_article(title)} {title}'s interface has no security groups"


def _article(title: str) -> str:
    # "A NAT gateway", "An NLB", "An ALB": by how the word is spoken.
    return "An" if title[:1] in "AEIOU" or title in ("NLB", "RDS") else "A"


def _owner(addr: str, configs: Configs | None, here, at: int | None = None) -> str:
    """' (web-4, i-0…)' after an address another known interface holds; '' otherwise."""
    if not configs:
        return ""
    names = configs.names
    if names is not None:  # the inventory knows who held it when
        e = names.address(addr, at)
        if e is not None:
            return (
                "" if here is not None and e.interface_id == here.interface_id else f" ({e.label})"
            )
    for eni in configs.interfaces_by_address().get(addr, ()):
        if eni is here:
            return ""
        if eni.label:
            return f" ({eni.label})"
    return ""


def least(a: int | None, b: int | None) -> int | None:
    """The smaller of two times, either of which may be unknown."""
    return b if a is None else a if b is None else min(a, b)


def greatest(a: int | None, b: int | None) -> int | None:
    """The larger of two times, either of which may be unknown."""
    return b if a is None else a if b is None else max(a, b)


def decide(c: Conversation, configs: Configs | None = None) -> Verdict:
    """The verdict for one conversation, from the logs and, when given, the configurations."""
    req, resp = c.request, c.response
    inbound = c.direction == "inbound"
    eni = configs.interfaces.get(c.interface_id) if configs else None
    here = eni.shown() if eni else c.interface_id
    thing = _THING.get(eni.kind if eni else "", "what is behind the interface")
    at, last = least(req.first, resp.first), greatest(req.last, resp.last)
    who = _ep(c.client[0], c.client[1], c.protocol) + _owner(c.client[0], configs, eni, at)
    to = _ep(c.server[0], c.server[1], c.protocol) + _owner(c.server[0], configs, eni, at)
    what = _what(c)
    no_sg = eni is not None and not eni.has_security_groups
    v = Verdict(
        interface_id=c.interface_id,
        protocol=c.protocol,
        srcaddr=c.client[0],
        dstaddr=c.server[0],
        srcport=c.client[1],
        dstport=c.server[1],
        direction=c.direction,
        verdict=ALLOWED,
        stage=None,
        explanation="",
        fix=None,
        confidence=c.confidence,
        basis="; ".join(c.basis),
        decided_by="logs",
        request_action=req.action,
        response_action=resp.action,
        records=req.totals[0] + resp.totals[0],
        packets=req.totals[1] + resp.totals[1],
        bytes=req.totals[2] + resp.totals[2],
        first_seen=at,
        last_seen=last,
        interface_kind=(eni.kind or None) if eni else None,
        interface_name=(eni.label or None) if eni else None,
    )
    # The rows flows_rejected.sql folds stand for many conversations (one row per side).
    flows = c.flows
    v.occurrences = max(f.conversations for f in flows)
    if any(f.ports_varied for f in flows):
        v.srcport = None
    if req.accepted and req.rejected:
        v.notes.append(
            "The request was accepted at some times and rejected at others in this window: "
            "the rules probably changed while it ran."
        )
    if any(f.reject_reason for f in flows):
        reasons = sorted({f.reject_reason for f in flows if f.reject_reason})
        v.notes.append(f"The records give reject-reason {', '.join(reasons)}.")
    guess = ""
    if c.confidence != "high":
        guess = f" (Direction and initiator are a {c.confidence}-confidence guess: {'; '.join(c.basis)}.)"

    if req.rejected and no_sg:
        v.stage = "request inbound" if inbound else "request outbound"
        v.verdict = NACL
        d = "inbound" if inbound else "outbound"
        title = kind_title(eni.kind)
        if inbound:
            happened = (
                f"{who} tried to reach {to} ({what}) on {here}, and the request was rejected "
                f"as it came in, so {thing} never saw it."
            )
        else:
            happened = (
                f"{here} tried to reach {to} ({what}) from {who}, and the request was rejected "
                "on its way out."
            )
        v.explanation = (
            f"{happened}\x00{_no_groups(eni.kind, title)}, so only the {d} rules of the "
            "subnet's network ACL can have rejected it."
        )
        remote = c.client[0] if inbound else c.server[0]
        v.fix = (
            f"Add an {d} rule to the network ACL of {eni.subnet_id or 'the subnet'} allowing "
            f"{_traffic(c.protocol, c.server[1], False)} {'from' if inbound else 'to'} "
            f"{_host_cidr(remote)} (or the range it belongs to), numbered below any rule that "
            "denies it; or pass --network-acls to let vpcflow name the rule."
        )
    elif req.rejected:
        v.stage = "request inbound" if inbound else "request outbound"
        v.verdict = SG_OR_NACL
        if inbound:
            v.explanation = (
                f"{who} tried to reach {to} ({what}) on {here}, and the request was rejected "
                f"as it came in, so {thing} never saw it.\x00Either no inbound rule of the "
                "interface's security groups allows it, or the subnet's network ACL denies it "
                "inbound; a single rejected record cannot tell which, because both check the "
                "request before it arrives."
            )
            v.fix = (
                f"Check the security groups of {c.interface_id} for an inbound rule allowing {what} from "
                f"{c.client[0]}, and the inbound rules of the subnet's network ACL; or pass "
                "--security-groups, --network-acls and --network-interfaces to let vpcflow check."
            )
        else:
            v.explanation = (
                f"{here} tried to reach {to} ({what}) from {who}, and the request was rejected "
                "on its way out.\x00Either no outbound rule of the interface's security groups "
                "allows it, or the subnet's network ACL denies it outbound; the logs alone "
                "cannot tell which."
            )
            v.fix = (
                f"Check the security groups of {c.interface_id} for an outbound rule allowing {what} to "
                f"{c.server[0]}, and the outbound rules of the subnet's network ACL; or pass "
                "--security-groups, --network-acls and --network-interfaces to let vpcflow check."
            )
    elif resp.rejected:
        v.stage = "response outbound" if inbound else "response inbound"
        v.verdict = NACL
        if inbound:
            v.explanation = (
                f"{who} reached {to} ({what}) on {here}: the request came in and was accepted, "
                f"but the reply going back out to {c.client[0]} was rejected. Security groups "
                "are stateful and always let the reply to an accepted request out, so only the "
                "network ACL's outbound rules can have dropped it: network ACLs are stateless "
                "and check the reply like any other outgoing packet."
            )
            v.fix = (
                f"Add an outbound rule to the subnet's network ACL allowing "
                f"{_traffic(c.protocol, c.client[1], True)} to {_any_cidr(c.client[0])}, "
                "numbered below any rule that denies it."
            )
        else:
            v.explanation = (
                f"{here} sent a request to {to} ({what}) from {who}; it went out (accepted), "
                "but the reply coming back was rejected. Security groups are stateful and always "
                "let the reply to an allowed request in, so only the network ACL's inbound rules "
                "can have dropped it: network ACLs are stateless and check the reply like any "
                "other incoming packet."
            )
            v.fix = (
                f"Add an inbound rule to the subnet's network ACL allowing "
                f"{_traffic(c.protocol, c.client[1], True)} from {_any_cidr(c.server[0])}, "
                "numbered below any rule that denies it."
            )
    else:
        v.verdict = ALLOWED
        if resp.seen:
            v.explanation = (
                f"{who} talked to {to} ({what}) on {here}; the request and the reply were both "
                "accepted. Neither the security groups nor the network ACL blocked anything."
            )
        else:
            v.explanation = (
                f"{who} sent {what} to {to} on {here} and it was accepted, but no reply was "
                "recorded. The security groups and network ACL let it through, so if the "
                "connection fails, look at the host: nothing listening on the port, a local "
                "firewall, or the application not answering."
            )
    blocked = req if req.rejected else resp if resp.rejected else None
    reasons = (
        {(f.reject_reason or "").upper() for f in blocked.flows if f.action == "REJECT"}
        if blocked
        else set()
    )
    if reasons == {"BPA"}:
        # Version-8 records say so themselves: Block Public Access rejects before any rule.
        v.verdict = BPA
        v.explanation = (
            f"{who} → {to} ({what}) on {here} was rejected by VPC Block Public Access: the "
            "records' reject-reason is BPA, so neither a security group nor the network ACL "
            "decided it.\x00"
        )
        v.fix = (
            f"If this traffic is meant to cross the internet gateway, add a Block Public Access "
            f"exclusion for the subnet or VPC of {c.interface_id} (bidirectional, or egress-only "
            "for outbound traffic), or turn Block Public Access off for the account and region."
        )
        v.notes = [n for n in v.notes if not n.startswith("The records give reject-reason")]
    elif configs and v.verdict != ALLOWED:
        _with_configs(v, c, configs)
    # "\x00" separates what happened from the logs-only reasoning, which a decision from the
    # configurations replaces.
    happened, _, reasoning = v.explanation.partition("\x00")
    if v.decided_by == "configurations" and v.stage and v.stage.startswith("request"):
        reasoning = reasoning if no_sg else ""
    v.explanation = " ".join(
        x for x in (happened, reasoning, *v.reasons, guess.strip(), *v.notes) if x
    )
    return v


def _with_configs(v: Verdict, c: Conversation, configs: Configs) -> None:
    eni = configs.interfaces.get(c.interface_id)
    subnet = (eni.subnet_id if eni else "") or c.subnet_id
    vpc = (eni.vpc_id if eni else "") or c.vpc_id
    acl = configs.acl_for(subnet, vpc) if configs.network_acls else None
    no_sg = eni is not None and not eni.has_security_groups
    groups = eni.group_ids if eni and not no_sg else ()
    have_sg = eni is not None and bool(configs.security_groups) and not no_sg
    if not have_sg and acl is None:
        rules_given = bool(configs.security_groups or configs.network_acls)
        if eni is None:
            v.notes.append(
                f"{c.interface_id} is not in the configurations given (describe-network-interfaces), so this "
                "verdict comes from the logs alone."
            )
            if v.fix and "; or pass" in v.fix:
                v.fix = v.fix.split("; or pass")[0] + (
                    f"; or add {c.interface_id} to the describe-network-interfaces JSON given."
                )
        elif rules_given and not no_sg:
            v.notes.append(
                f"Neither the security groups of {c.interface_id} nor its subnet's network ACL "
                "are in the configurations given, so this verdict comes from the logs alone."
            )
        elif rules_given:
            v.notes.append(
                f"No network ACL of {subnet or 'its subnet'} was given (--network-acls), so "
                "the rule cannot be named."
            )
        return
    inbound = c.direction == "inbound"
    client, server = c.client, c.server
    remote = client[0] if inbound else server[0]

    if v.stage in ("request inbound", "request outbound") and no_sg:
        res = evaluate_acl(acl, not inbound, c.protocol, remote, server[1])
        d = "inbound" if inbound else "outbound"
        if res.allowed:
            v.notes.append(
                f"The {d} rules of {acl.acl_id} given now allow this request (rule "
                f"{res.entry.label}), so the ACL has probably changed since these records were "
                "written."
            )
            return
        v.decided_by = "configurations"
        _set_acl(v, res)
        v.reasons.append(_acl_sentence(res, d, "the request"))
        v.fix = _acl_fix(acl, res, c, response=False)
    elif v.stage in ("request inbound", "request outbound"):
        sg = (
            evaluate_security_groups(configs, groups, inbound, c.protocol, remote, server[1])
            if have_sg
            else SgResult(None, unresolved=("no security groups were given for the interface",))
        )
        nacl = evaluate_acl(acl, not inbound, c.protocol, remote, server[1]) if acl else None
        _decide_request(v, c, sg, nacl, groups, configs)
    else:
        if acl is None:
            v.notes.append("The subnet's network ACL is not in the configurations given.")
            return
        # The response travels from server to client: outbound if the request came in.
        peer = client[0] if inbound else server[0]
        res = evaluate_acl(acl, inbound, c.protocol, peer, client[1], response=True)
        v.decided_by = "configurations"
        _set_acl(v, res)
        d = "outbound" if inbound else "inbound"
        if res.allowed:
            v.notes.append(
                f"The {d} rules of {acl.acl_id} given now allow this reply (rule {res.entry.label}), "
                "so the ACL has probably changed since these records were written."
            )
            v.decided_by = "logs"
            return
        v.reasons.append(_acl_sentence(res, d, "the reply"))
        v.fix = _acl_fix(acl, res, c, response=True)


def _decide_request(v, c, sg: SgResult, nacl: AclResult | None, groups, configs) -> None:
    inbound = c.direction == "inbound"
    d = "inbound" if inbound else "outbound"
    what = _what(c)
    remote = c.client[0] if inbound else c.server[0]
    nacl_denies = nacl is not None and not nacl.allowed
    nacl_allows = nacl is not None and nacl.allowed
    if sg.allowed is False or (sg.allowed is None and nacl_allows):
        # The groups have no rule for it (or only rules we could not check while the ACL
        # clearly allows it: then the group must be what rejected it).
        v.verdict = SG
        v.decided_by = "configurations"
        v.group_id = groups[0] if groups else None
        names = ", ".join(_group_label(configs, g) for g in groups) or "(none)"
        sentence = (
            f"None of the security groups on {c.interface_id} ({names}) has an {d} rule allowing "
            f"{what} {'from' if inbound else 'to'} {remote}."
        )
        if sg.allowed is None:
            sentence += (
                " Some rules could not be checked (" + "; ".join(sg.unresolved) + "), but the "
                "network ACL allows this traffic, so the security group must be what rejected it."
            )
        if nacl_denies:
            _set_acl(v, nacl)
            sentence += " The network ACL denies it too: " + _acl_sentence(nacl, d, "the request")
        v.reasons.append(sentence)
        fix = (
            f"Add an {d} rule to {v.group_id or 'a security group of ' + c.interface_id} allowing "
            f"{_traffic(c.protocol, c.server[1], False)} {'from' if inbound else 'to'} "
            f"{_host_cidr(remote)} (or the range it belongs to)."
        )
        if nacl_denies:
            fix += " Then: " + _acl_fix(nacl.acl, nacl, c, response=False)
        v.fix = fix
    elif nacl_denies:
        v.verdict = NACL
        v.decided_by = "configurations"
        _set_acl(v, nacl)
        sentence = _acl_sentence(nacl, d, "the request")
        if sg.allowed:
            sentence = (
                f"Security group {_group_label(configs, sg.group_id)} allows it, but n"
                + sentence[1:]
            )
        else:
            sentence += (
                " (Some security-group rules could not be checked: "
                + "; ".join(sg.unresolved)
                + ".)"
            )
        v.reasons.append(sentence)
        v.fix = _acl_fix(nacl.acl, nacl, c, response=False)
    elif sg.allowed and nacl_allows:
        v.notes.append(
            f"The configurations given allow this request (security group "
            f"{sg.group_id}, network ACL {nacl.acl.acl_id} rule {nacl.entry.label}), so they have "
            "probably changed since these records were written, or something else rejected it."
        )
    else:
        v.notes.append(
            "The configurations given do not settle it: "
            + "; ".join(sg.unresolved or ("the subnet's network ACL is missing",))
            + "."
        )


def _group_label(configs: Configs, gid: str | None) -> str:
    g: SecurityGroup | None = configs.security_groups.get(gid or "")
    return g.label if g else str(gid)


def _set_acl(v: Verdict, res: AclResult) -> None:
    v.network_acl_id = res.acl.acl_id
    v.rule_number = res.entry.rule_number
    v.egress = res.entry.egress


def _acl_sentence(res: AclResult, d: str, thing: str) -> str:
    e = res.entry
    if e.rule_number == DEFAULT_RULE_NUMBER:
        return (
            f"No {d} rule of network ACL {res.acl.acl_id} allows {thing}, so the default rule * "
            f"(32767, {d}) denied it."
        )
    return (
        f"Network ACL {res.acl.acl_id} denied {thing} with {d} rule {e.rule_number} "
        f"(deny {_entry_traffic(e)} {'to' if d == 'outbound' else 'from'} {e.cidr}), the first "
        "rule that matches it."
    )


def _entry_traffic(e) -> str:
    if e.protocol == "-1":
        return "all traffic"
    p = proto_name(int(e.protocol))
    if e.port_from is not None:
        return (
            f"{p} {e.port_from}" if e.port_from == e.port_to else f"{p} {e.port_from}-{e.port_to}"
        )
    return p


def _free_number(acl: NetworkAcl, egress: bool, below: int) -> int | None:
    used = {e.rule_number for e in acl.entries if e.egress == egress}
    for n in list(range(below - below % 10, 0, -10)) + list(range(below - 1, 0, -1)):
        if 0 < n < below and n not in used:
            return n
    return None


def _acl_fix(acl: NetworkAcl, res: AclResult, c: Conversation, response: bool) -> str:
    inbound_req = c.direction == "inbound"
    # The direction the blocked packet travels.
    outbound = (inbound_req and response) or (not inbound_req and not response)
    d = "outbound" if outbound else "inbound"
    if response:
        traffic = _traffic(c.protocol, c.client[1], True)
        peer = c.client[0] if inbound_req else c.server[0]
        cidr = _any_cidr(peer)
    else:
        traffic = _traffic(c.protocol, c.server[1], False)
        peer = c.server[0] if not inbound_req else c.client[0]
        cidr = _host_cidr(peer)
    word = "to" if outbound else "from"
    e = res.entry
    if e.rule_number == DEFAULT_RULE_NUMBER:
        used = [
            x.rule_number
            for x in acl.entries
            if x.egress == outbound and x.rule_number != DEFAULT_RULE_NUMBER
        ]
        n = (max(used) // 100 + 1) * 100 if used else 100
        n = min(n, 32766)
        number = f"for example number {n} (any unused number works: no other {d} rule matches)"
    else:
        free = _free_number(acl, outbound, e.rule_number)
        number = f"number below {e.rule_number}" + (f" (e.g. {free})" if free else "")
        number += f", or change {d} rule {e.rule_number} if it denies more than intended"
    return f"Add an {d} rule to {acl.acl_id} allowing {traffic} {word} {cidr}, {number}."
