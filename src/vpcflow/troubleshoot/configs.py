"""Security groups, network ACLs and network interfaces, read from the JSON the AWS CLI prints.

``aws ec2 describe-security-groups``, ``describe-network-acls`` and ``describe-network-interfaces``
(or the same responses from boto3) are parsed into small frozen dataclasses. Anything that is not
in the shape AWS documents raises :class:`~vpcflow.errors.ConfigError` naming the file and the
JSON path of the problem, e.g. ``sg.json: $.SecurityGroups[0].IpPermissions[1].FromPort:
expected an integer, got 'ssh'``.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store.inventory.describe import NO_SECURITY_GROUP_KINDS, classify
from ..store.inventory.history import label, resolve_name

__all__ = [
    "AclEntry",
    "Configs",
    "NetworkAcl",
    "NetworkInterface",
    "Permission",
    "SecurityGroup",
    "interfaces_from_inventory",
    "load_configs",
    "parse_network_acls",
    "parse_network_interfaces",
    "parse_security_groups",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_RULE_NUMBER = 32767  # the "*" entry every network ACL ends with


@dataclass(frozen=True)
class Permission:
    """One security-group rule (an ``IpPermissions`` item): allow ``protocol`` on ports
    ``from_port``-``to_port`` (ICMP: type and code) to or from any of the listed sources."""

    protocol: str  # "-1", "tcp", "udp", "icmp", "icmpv6" or an IANA number as text
    from_port: int | None
    to_port: int | None
    cidrs: tuple[Network, ...] = ()
    group_ids: tuple[str, ...] = ()
    prefix_list_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecurityGroup:
    group_id: str
    name: str = ""
    vpc_id: str = ""
    ingress: tuple[Permission, ...] = ()
    egress: tuple[Permission, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.group_id} ({self.name})" if self.name else self.group_id


@dataclass(frozen=True)
class AclEntry:
    rule_number: int
    protocol: str  # "-1" or an IANA number as text
    allow: bool
    egress: bool
    cidr: Network
    port_from: int | None = None
    port_to: int | None = None
    icmp_type: int | None = None  # -1: all
    icmp_code: int | None = None

    @property
    def label(self) -> str:
        return "*" if self.rule_number == DEFAULT_RULE_NUMBER else str(self.rule_number)


@dataclass(frozen=True)
class NetworkAcl:
    acl_id: str
    vpc_id: str = ""
    is_default: bool = False
    subnet_ids: tuple[str, ...] = ()
    entries: tuple[AclEntry, ...] = ()

    def rules(self, egress: bool) -> list[AclEntry]:
        """Entries of one direction in evaluation order (rule number ascending)."""
        return sorted((e for e in self.entries if e.egress == egress), key=lambda e: e.rule_number)


@dataclass(frozen=True)
class NetworkInterface:
    interface_id: str
    subnet_id: str = ""
    vpc_id: str = ""
    group_ids: tuple[str, ...] = ()
    addresses: frozenset[str] = frozenset()  # private IPv4 and IPv6 addresses, normalised
    description: str = ""
    kind: str = (
        ""  # instance, nat-gateway, application-load-balancer, ... (vpcflow.store.inventory)
    )
    interface_type: str = ""  # EC2's InterfaceType
    instance_id: str = ""
    label: str = ""  # what reports print next to the id: "web-4, i-0abc", "NAT gateway nat-0abc"
    requester_managed: bool = False  # created by an AWS service (RequesterManaged)

    @property
    def has_security_groups(self) -> bool:
        """False for the kinds AWS gives no security groups (NAT gateway, TGW attachment,
        Gateway Load Balancer and its endpoints), whatever ``Groups`` lists, and for a Network
        Load Balancer created without any."""
        if self.kind == "network-load-balancer":  # its groups are optional, and fixed at creation
            return bool(self.group_ids)
        if self.requester_managed and not self.group_ids:
            return False  # a service's interface that EC2 lists without groups has none
        return self.kind not in NO_SECURITY_GROUP_KINDS

    def shown(self) -> str:
        return f"{self.interface_id} ({self.label})" if self.label else self.interface_id


@dataclass
class Configs:
    """Everything the rule evaluation needs; any part may be empty."""

    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    network_acls: dict[str, NetworkAcl] = field(default_factory=dict)
    interfaces: dict[str, NetworkInterface] = field(default_factory=dict)
    # The store's inventory look-ups (``vpcflow.store.inventory.Names``), when there is one:
    # who held an address at the time of the records.
    names: object | None = field(default=None, repr=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.security_groups or self.network_acls or self.interfaces)

    def acl_for(self, subnet_id: str | None, vpc_id: str | None) -> NetworkAcl | None:
        """The ACL associated with ``subnet_id``; else the default ACL of ``vpc_id``."""
        if subnet_id:
            for acl in self.network_acls.values():
                if subnet_id in acl.subnet_ids:
                    return acl
        if vpc_id:
            for acl in self.network_acls.values():
                if acl.is_default and acl.vpc_id == vpc_id:
                    return acl
        return None

    def interfaces_by_address(self) -> dict[str, list[NetworkInterface]]:
        # asked once per conversation end: built once for the interfaces as they are now
        key = (id(self.interfaces), len(self.interfaces))
        cached = self.__dict__.get("_by_address")
        if cached is not None and cached[0] == key:
            return cached[1]
        out: dict[str, list[NetworkInterface]] = {}
        for eni in self.interfaces.values():
            for a in eni.addresses:
                out.setdefault(a, []).append(eni)
        self.__dict__["_by_address"] = (key, out)
        return out


# --- JSON walking with paths -------------------------------------------------------------------


class _Reader:
    """Typed access to a JSON document that names ``file: $.path`` in every error."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {path}: {message}")

    def obj(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_show(value)}")
        return value

    def lst(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_show(value)}")
        return value

    def get(self, o: dict, key: str, path: str, kind: str, required: bool = True, default=None):
        p = f"{path}.{key}"
        if key not in o or o[key] is None:
            if required:
                raise self.fail(p, f"missing (expected {kind})")
            return default
        v = o[key]
        if kind == "string":
            # EC2 prints "" for optional strings it has no value for ("Description": "").
            if not isinstance(v, str) or (required and not v):
                raise self.fail(p, f"expected a non-empty string, got {_show(v)}")
        elif kind == "integer":
            if isinstance(v, bool) or not isinstance(v, int):
                raise self.fail(p, f"expected an integer, got {_show(v)}")
        elif kind == "boolean":
            if not isinstance(v, bool):
                raise self.fail(p, f"expected true or false, got {_show(v)}")
        elif kind == "list":
            return self.lst(v, p)
        elif kind == "object":
            return self.obj(v, p)
        return v

    def network(self, value: Any, path: str, version: int) -> Network:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except (TypeError, ValueError):
            raise self.fail(path, f"not an IPv{version} CIDR block: {_show(value)}") from None
        if net.version != version:
            raise self.fail(path, f"not an IPv{version} CIDR block: {_show(value)}")
        return net

    def address(self, value: Any, path: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except (TypeError, ValueError):
            raise self.fail(path, f"not an IP address: {_show(value)}") from None


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _load(data: Any, source: str, key: str) -> tuple[_Reader, list]:
    r = _Reader(source)
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{source}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from None
    if isinstance(data, list):  # a bare list of items is accepted too
        return r, data
    if not isinstance(data, dict) or key not in data:
        found = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{source}: $: expected the output of 'aws ec2 {_COMMAND[key]}' "
            f"(an object with a {key!r} list), found {found or 'an empty object'}"
        )
    return r, r.lst(data[key], f"$.{key}")


_COMMAND = {
    "SecurityGroups": "describe-security-groups",
    "NetworkAcls": "describe-network-acls",
    "NetworkInterfaces": "describe-network-interfaces",
}

_SG_PROTOCOLS = {"-1", "tcp", "udp", "icmp", "icmpv6"}


# --- security groups ---------------------------------------------------------------------------


def parse_security_groups(data: Any, source: str = "<security groups>") -> dict[str, SecurityGroup]:
    """Parse ``describe-security-groups`` output (text, bytes or decoded JSON)."""
    r, items = _load(data, source, "SecurityGroups")
    out: dict[str, SecurityGroup] = {}
    for i, item in enumerate(items):
        path = f"$.SecurityGroups[{i}]"
        o = r.obj(item, path)
        gid = r.get(o, "GroupId", path, "string")
        perms = {}
        for key in ("IpPermissions", "IpPermissionsEgress"):
            rules = r.get(o, key, path, "list", required=False, default=[])
            perms[key] = tuple(_permission(r, p, f"{path}.{key}[{j}]") for j, p in enumerate(rules))
        out[gid] = SecurityGroup(
            group_id=gid,
            name=r.get(o, "GroupName", path, "string", required=False, default=""),
            vpc_id=r.get(o, "VpcId", path, "string", required=False, default=""),
            ingress=perms["IpPermissions"],
            egress=perms["IpPermissionsEgress"],
        )
    return out


def _permission(r: _Reader, item: Any, path: str) -> Permission:
    o = r.obj(item, path)
    proto = str(r.get(o, "IpProtocol", path, "string")).lower()
    if proto not in _SG_PROTOCOLS and not (proto.isdigit() and 0 <= int(proto) <= 255):
        raise r.fail(
            f"{path}.IpProtocol",
            f"expected -1, tcp, udp, icmp, icmpv6 or a protocol number, got {proto!r}",
        )
    proto = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(proto, proto)
    from_port = r.get(o, "FromPort", path, "integer", required=False)
    to_port = r.get(o, "ToPort", path, "integer", required=False)
    if proto in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise r.fail(path, f"a {proto} rule needs FromPort and ToPort")
        for name, v in (("FromPort", from_port), ("ToPort", to_port)):
            if not 0 <= v <= 65535:
                raise r.fail(f"{path}.{name}", f"port out of range 0-65535: {v}")
        if from_port > to_port:
            raise r.fail(path, f"FromPort {from_port} is greater than ToPort {to_port}")
    cidrs: list[Network] = []
    for j, rng in enumerate(r.get(o, "IpRanges", path, "list", required=False, default=[])):
        p = f"{path}.IpRanges[{j}]"
        cidrs.append(r.network(r.get(r.obj(rng, p), "CidrIp", p, "string"), f"{p}.CidrIp", 4))
    for j, rng in enumerate(r.get(o, "Ipv6Ranges", path, "list", required=False, default=[])):
        p = f"{path}.Ipv6Ranges[{j}]"
        cidrs.append(r.network(r.get(r.obj(rng, p), "CidrIpv6", p, "string"), f"{p}.CidrIpv6", 6))
    groups = []
    for j, pair in enumerate(
        r.get(o, "UserIdGroupPairs", path, "list", required=False, default=[])
    ):
        p = f"{path}.UserIdGroupPairs[{j}]"
        groups.append(r.get(r.obj(pair, p), "GroupId", p, "string"))
    prefix_lists = []
    for j, pl in enumerate(r.get(o, "PrefixListIds", path, "list", required=False, default=[])):
        p = f"{path}.PrefixListIds[{j}]"
        prefix_lists.append(r.get(r.obj(pl, p), "PrefixListId", p, "string"))
    return Permission(proto, from_port, to_port, tuple(cidrs), tuple(groups), tuple(prefix_lists))


# --- network ACLs ------------------------------------------------------------------------------


def parse_network_acls(data: Any, source: str = "<network ACLs>") -> dict[str, NetworkAcl]:
    """Parse ``describe-network-acls`` output (text, bytes or decoded JSON)."""
    r, items = _load(data, source, "NetworkAcls")
    out: dict[str, NetworkAcl] = {}
    for i, item in enumerate(items):
        path = f"$.NetworkAcls[{i}]"
        o = r.obj(item, path)
        acl_id = r.get(o, "NetworkAclId", path, "string")
        subnets = []
        for j, assoc in enumerate(
            r.get(o, "Associations", path, "list", required=False, default=[])
        ):
            p = f"{path}.Associations[{j}]"
            subnets.append(r.get(r.obj(assoc, p), "SubnetId", p, "string"))
        entries = tuple(
            _acl_entry(r, e, f"{path}.Entries[{j}]")
            for j, e in enumerate(r.get(o, "Entries", path, "list"))
        )
        out[acl_id] = NetworkAcl(
            acl_id=acl_id,
            vpc_id=r.get(o, "VpcId", path, "string", required=False, default=""),
            is_default=r.get(o, "IsDefault", path, "boolean", required=False, default=False),
            subnet_ids=tuple(subnets),
            entries=entries,
        )
    return out


def _acl_entry(r: _Reader, item: Any, path: str) -> AclEntry:
    o = r.obj(item, path)
    number = r.get(o, "RuleNumber", path, "integer")
    if not 1 <= number <= DEFAULT_RULE_NUMBER + 1:  # some tools print the IPv6 "*" as 32768
        raise r.fail(f"{path}.RuleNumber", f"expected 1-32766 (or 32767 for *), got {number}")
    number = min(number, DEFAULT_RULE_NUMBER)
    proto = str(r.get(o, "Protocol", path, "string")).lower()
    proto = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1"}.get(proto, proto)
    if proto != "-1" and not (proto.isdigit() and 0 <= int(proto) <= 255):
        raise r.fail(f"{path}.Protocol", f"expected -1 or a protocol number, got {proto!r}")
    action = r.get(o, "RuleAction", path, "string")
    if action not in ("allow", "deny"):
        raise r.fail(f"{path}.RuleAction", f"expected 'allow' or 'deny', got {action!r}")
    egress = r.get(o, "Egress", path, "boolean")
    if o.get("CidrBlock") is not None:
        cidr = r.network(o["CidrBlock"], f"{path}.CidrBlock", 4)
    elif o.get("Ipv6CidrBlock") is not None:
        cidr = r.network(o["Ipv6CidrBlock"], f"{path}.Ipv6CidrBlock", 6)
    else:
        raise r.fail(path, "missing CidrBlock or Ipv6CidrBlock")
    port_from = port_to = icmp_type = icmp_code = None
    if proto in ("6", "17"):
        pr = r.get(o, "PortRange", path, "object", required=number < DEFAULT_RULE_NUMBER)
        if pr is not None:
            port_from = r.get(pr, "From", f"{path}.PortRange", "integer")
            port_to = r.get(pr, "To", f"{path}.PortRange", "integer")
            if port_from > port_to:
                raise r.fail(f"{path}.PortRange", f"From {port_from} is greater than To {port_to}")
    if proto in ("1", "58"):
        itc = r.get(o, "IcmpTypeCode", path, "object", required=False)
        if itc is not None:
            icmp_type = r.get(itc, "Type", f"{path}.IcmpTypeCode", "integer", required=False)
            icmp_code = r.get(itc, "Code", f"{path}.IcmpTypeCode", "integer", required=False)
    return AclEntry(
        number, proto, action == "allow", egress, cidr, port_from, port_to, icmp_type, icmp_code
    )


# --- network interfaces ------------------------------------------------------------------------


def parse_network_interfaces(
    data: Any, source: str = "<network interfaces>"
) -> dict[str, NetworkInterface]:
    """Parse ``describe-network-interfaces`` output (text, bytes or decoded JSON)."""
    r, items = _load(data, source, "NetworkInterfaces")
    out: dict[str, NetworkInterface] = {}
    for i, item in enumerate(items):
        path = f"$.NetworkInterfaces[{i}]"
        o = r.obj(item, path)
        eni = r.get(o, "NetworkInterfaceId", path, "string")
        groups = []
        for j, g in enumerate(r.get(o, "Groups", path, "list", required=False, default=[])):
            p = f"{path}.Groups[{j}]"
            groups.append(r.get(r.obj(g, p), "GroupId", p, "string"))
        addrs = set()
        if o.get("PrivateIpAddress") is not None:
            addrs.add(r.address(o["PrivateIpAddress"], f"{path}.PrivateIpAddress"))
        for j, a in enumerate(
            r.get(o, "PrivateIpAddresses", path, "list", required=False, default=[])
        ):
            p = f"{path}.PrivateIpAddresses[{j}]"
            v = r.get(r.obj(a, p), "PrivateIpAddress", p, "string")
            addrs.add(r.address(v, f"{p}.PrivateIpAddress"))
        for j, a in enumerate(r.get(o, "Ipv6Addresses", path, "list", required=False, default=[])):
            p = f"{path}.Ipv6Addresses[{j}]"
            v = r.get(r.obj(a, p), "Ipv6Address", p, "string")
            addrs.add(r.address(v, f"{p}.Ipv6Address"))
        description = r.get(o, "Description", path, "string", required=False, default="") or ""
        attachment = r.get(o, "Attachment", path, "object", required=False, default={})
        instance_id = r.get(attachment, "InstanceId", f"{path}.Attachment", "string", False, "")
        itype = r.get(o, "InterfaceType", path, "string", required=False, default="") or ""
        requester = r.get(o, "RequesterId", path, "string", required=False, default="") or ""
        k = classify(itype, description, requester, instance_id)
        tags = r.get(o, "TagSet", path, "list", required=False, default=[])
        name = next(
            (t.get("Value") for t in tags if isinstance(t, dict) and t.get("Key") == "Name"), None
        )
        row = {
            "interface_id": eni,
            "kind": k.kind,
            "resource_id": k.resource_id or instance_id or None,
            "instance_id": instance_id or None,
        }
        row["name"] = name or resolve_name(row)
        out[eni] = NetworkInterface(
            interface_id=eni,
            subnet_id=r.get(o, "SubnetId", path, "string", required=False, default=""),
            vpc_id=r.get(o, "VpcId", path, "string", required=False, default=""),
            group_ids=tuple(groups),
            addresses=frozenset(addrs),
            description=description,
            kind=k.kind,
            interface_type=itype,
            instance_id=instance_id or "",
            label=label(row) if k.kind != "interface" or name else "",
            requester_managed=r.get(o, "RequesterManaged", path, "boolean", False, False),
        )
    return out


def interfaces_from_inventory(rows) -> dict[str, NetworkInterface]:
    """:class:`NetworkInterface` objects from inventory rows (``Inventory.latest()`` values)."""
    out = {}
    for r in rows:
        out[r["interface_id"]] = NetworkInterface(
            interface_id=r["interface_id"],
            subnet_id=r.get("subnet_id") or "",
            vpc_id=r.get("vpc_id") or "",
            group_ids=tuple(r.get("security_groups") or ()),
            addresses=frozenset(r.get("private_addresses") or ()),
            description=r.get("description") or "",
            kind=r.get("kind") or "",
            interface_type=r.get("interface_type") or "",
            instance_id=r.get("instance_id") or "",
            label=r.get("label") or label(r),
            requester_managed=bool(r.get("requester_managed")),
        )
    return out


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; expected JSON from the AWS CLI") from None


def load_configs(
    security_groups: list[str | Path] | str | Path | None = None,
    network_acls: list[str | Path] | str | Path | None = None,
    network_interfaces: list[str | Path] | str | Path | None = None,
) -> Configs:
    """Read ``describe-*`` JSON files (each argument: one path or several) into :class:`Configs`."""

    def paths(v) -> list:
        if v is None:
            return []
        return [v] if isinstance(v, (str, Path)) else list(v)

    c = Configs()
    for p in paths(security_groups):
        c.security_groups.update(parse_security_groups(_read(p), str(p)))
    for p in paths(network_acls):
        c.network_acls.update(parse_network_acls(_read(p), str(p)))
    for p in paths(network_interfaces):
        c.interfaces.update(parse_network_interfaces(_read(p), str(p)))
    return c
