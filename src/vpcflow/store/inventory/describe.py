"""From ``aws ec2 describe-network-interfaces`` JSON to inventory rows: what is behind each ENI.

EC2 says what created an interface in three places, none of them complete on its own:

    InterfaceType   interface, natGateway / nat_gateway, network_load_balancer, vpc_endpoint,
                    gateway_load_balancer(_endpoint), transit_gateway, lambda, efa, trunk, ...
                    (an ALB's or an RDS instance's interfaces are plain "interface")
    RequesterId     the service that manages it: amazon-elb, amazon-rds, amazon-elasticache, ...
    Description     written by that service: "ELB app/shop-prod/50dc6c495c0c9188",
                    "Interface for NAT Gateway nat-0a8b0e0d28266841f", "RDSNetworkInterface",
                    "VPC Endpoint Interface vpce-0f00567fa8477a1e6", "AWS Lambda VPC ENI-fn-…",
                    "Network Interface for Transit Gateway Attachment tgw-attach-…", ...

``classify`` combines them into a ``kind`` (the words the inventory, the SQL table and the
reports use) and the id of the resource the interface belongs to. Names come later, from the
Name tags of instances and NAT gateways and from the load balancers', endpoints' and databases'
own APIs (:mod:`.fetch`), or from the interface's own Name tag.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError

__all__ = [
    "KINDS",
    "NO_SECURITY_GROUP_KINDS",
    "classify",
    "kind_title",
    "parse_describe",
]

#: kind -> how a person calls it (used in labels: "NAT gateway nat-0abc").
KINDS = {
    "instance": "instance",
    "load-balancer": "load balancer",
    "application-load-balancer": "ALB",
    "network-load-balancer": "NLB",
    "classic-load-balancer": "classic load balancer",
    "gateway-load-balancer": "GWLB",
    "gateway-load-balancer-endpoint": "GWLB endpoint",
    "nat-gateway": "NAT gateway",
    "vpc-endpoint": "VPC endpoint",
    "transit-gateway-attachment": "transit gateway attachment",
    "lambda": "Lambda",
    "rds": "RDS",
    "elasticache": "ElastiCache",
    "redshift": "Redshift",
    "efs-mount-target": "EFS mount target",
    "ecs-task": "ECS task",
    "workspaces": "WorkSpaces",
    "directory-service": "Directory Service",
    "api-gateway": "API Gateway",
    "global-accelerator": "Global Accelerator",
    "quicksight": "QuickSight",
    "aws-managed": "AWS-managed",
    "interface": "interface",  # an unattached interface of one's own
}

#: Kinds whose interfaces have no security groups, whatever ``Groups`` lists: a REJECT on them
#: can only come from the subnet's network ACL (or, in version-8 records, ``reject-reason``).
NO_SECURITY_GROUP_KINDS = frozenset(
    {
        "nat-gateway",
        "transit-gateway-attachment",
        "gateway-load-balancer",
        "gateway-load-balancer-endpoint",
    }
)

_BY_TYPE = {
    "natgateway": "nat-gateway",
    "nat_gateway": "nat-gateway",
    "network_load_balancer": "network-load-balancer",
    "load_balancer": "load-balancer",
    "gateway_load_balancer": "gateway-load-balancer",
    "gateway_load_balancer_endpoint": "gateway-load-balancer-endpoint",
    "vpc_endpoint": "vpc-endpoint",
    "transit_gateway": "transit-gateway-attachment",
    "lambda": "lambda",
    "quicksight": "quicksight",
    "global_accelerator_managed": "global-accelerator",
    "api_gateway_managed": "api-gateway",
}

_BY_REQUESTER = {
    "amazon-elb": "load-balancer",
    "amazon-rds": "rds",
    "amazon-elasticache": "elasticache",
    "amazon-redshift": "redshift",
    "amazon-aws": "aws-managed",
}

# (pattern on Description, kind, group holding the resource id); first match wins.
_DESCRIPTIONS: tuple[tuple[re.Pattern, str, int | None], ...] = tuple(
    (re.compile(p, re.IGNORECASE), kind, group)
    for p, kind, group in (
        (r"^ELB (app/[^/\s]+/[0-9a-f]+)$", "application-load-balancer", 1),
        (r"^ELB (net/[^/\s]+/[0-9a-f]+)$", "network-load-balancer", 1),
        (r"^ELB (gwy/[^/\s]+/[0-9a-f]+)$", "gateway-load-balancer", 1),
        (r"^ELB ([A-Za-z0-9-]+)$", "classic-load-balancer", 1),
        (r"NAT Gateway (nat-[0-9a-f]+)", "nat-gateway", 1),
        (r"Transit Gateway Attachment (tgw-attach-[0-9a-f]+)", "transit-gateway-attachment", 1),
        (r"^VPC Endpoint Interface:? ?(vpce-[0-9a-f]+)", "vpc-endpoint", 1),
        (r"^AWS Lambda VPC ENI[-: ]+(.+?)(?:-[0-9a-f]{8}-[0-9a-f-]{27})?$", "lambda", 1),
        (r"^RDSNetworkInterface$", "rds", None),
        (r"^ElastiCache (\S+)", "elasticache", 1),
        (r"^RedshiftNetworkInterface$", "redshift", None),
        (r"^EFS mount target for (fs-[0-9a-f]+)", "efs-mount-target", 1),
        (r"^arn:aws[a-z-]*:ecs:", "ecs-task", None),
        (r"directory (d-[0-9a-f]+)", "directory-service", 1),
        (r"WorkSpaces", "workspaces", None),
    )
)


@dataclass(frozen=True)
class Kind:
    kind: str
    resource_id: str | None  # nat-…, app/name/id, vpce-…, tgw-attach-…, function name, …


def classify(
    interface_type: str | None,
    description: str | None,
    requester_id: str | None = None,
    instance_id: str | None = None,
) -> Kind:
    """What kind of thing an interface belongs to, from what EC2 says about it."""
    description = (description or "").strip()
    t = (interface_type or "").strip().lower()
    for pattern, kind, group in _DESCRIPTIONS:
        m = pattern.search(description)
        if m:
            # The description names the resource; the type, when specific, wins on the kind
            # (a gateway load balancer endpoint's description reads like any endpoint's).
            by_type = _BY_TYPE.get(t)
            if by_type and by_type not in ("load-balancer", "vpc-endpoint"):
                kind = by_type
            return Kind(kind, m.group(group) if group else None)
    if t in _BY_TYPE:
        return Kind(_BY_TYPE[t], None)
    if instance_id:
        return Kind("instance", instance_id)
    if requester_id in _BY_REQUESTER:
        return Kind(_BY_REQUESTER[requester_id], None)
    return Kind("interface", None)


def kind_title(kind: str | None) -> str:
    return KINDS.get(kind or "", kind or "interface")


# --- parsing -----------------------------------------------------------------------------------


def _fail(source: str, path: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: {path}: {message}")


def _str(o: dict, key: str, source: str, path: str, required: bool = False) -> str | None:
    v = o.get(key)
    if v is None or v == "":
        if required:
            raise _fail(source, f"{path}.{key}", "missing (expected a non-empty string)")
        return None
    if not isinstance(v, str):
        raise _fail(
            source, f"{path}.{key}", f"expected a string, got {json.dumps(v, default=str)[:60]}"
        )
    return v


def _list(o: dict, key: str, source: str, path: str) -> list:
    v = o.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise _fail(
            source, f"{path}.{key}", f"expected a list, got {json.dumps(v, default=str)[:60]}"
        )
    return v


def _obj(v: Any, source: str, path: str) -> dict:
    if not isinstance(v, dict):
        raise _fail(source, path, f"expected an object, got {json.dumps(v, default=str)[:60]}")
    return v


def _addr(v: Any, source: str, path: str) -> str:
    try:
        return str(ipaddress.ip_address(v))
    except (TypeError, ValueError):
        raise _fail(source, path, f"not an IP address: {json.dumps(v, default=str)[:60]}") from None


def _tags(o: dict, source: str, path: str) -> dict[str, str]:
    out = {}
    for key in ("TagSet", "Tags"):
        for j, t in enumerate(_list(o, key, source, path)):
            t = _obj(t, source, f"{path}.{key}[{j}]")
            if isinstance(t.get("Key"), str):
                out[t["Key"]] = str(t.get("Value") or "")
    return out


def load_json(data: Any, source: str) -> Any:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not UTF-8 text; expected JSON from the AWS CLI") from None
    if isinstance(data, str):
        try:
            return json.loads(data)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{source}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from None
    return data


def parse_describe(data: Any, source: str = "<network interfaces>") -> list[dict]:
    """Rows of the inventory (one per interface) from ``describe-network-interfaces`` output.

    ``data``: the JSON text, bytes, or decoded object (``{"NetworkInterfaces": [...]}``, a bare
    list, or several pages concatenated in a list of such objects). Anything not in the shape
    EC2 documents raises :class:`ConfigError` naming the file and the JSON path.
    """
    data = load_json(data, source)
    if isinstance(data, dict) and "NetworkInterfaces" in data:
        items, base = data["NetworkInterfaces"], "$.NetworkInterfaces"
        if not isinstance(items, list):
            raise _fail(source, base, "expected a list")
    elif isinstance(data, list):
        items, base = data, "$"
    else:
        found = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{source}: $: expected the output of 'aws ec2 describe-network-interfaces' (an "
            f"object with a 'NetworkInterfaces' list), found {found or 'an empty object'}"
        )
    rows: list[dict] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"{base}[{i}]"
        o = _obj(item, source, path)
        eni = _str(o, "NetworkInterfaceId", source, path, required=True)
        if not eni.startswith("eni-"):
            raise _fail(source, f"{path}.NetworkInterfaceId", f"not an eni- id: {eni!r}")
        if eni in seen:
            continue
        seen.add(eni)
        attachment = o.get("Attachment")
        attachment = _obj(attachment, source, f"{path}.Attachment") if attachment else {}
        instance_id = _str(attachment, "InstanceId", source, f"{path}.Attachment")
        attach_time = attachment.get("AttachTime")  # text from the CLI, a datetime from boto3
        if not hasattr(attach_time, "isoformat"):
            attach_time = _str(attachment, "AttachTime", source, f"{path}.Attachment")
        groups = []
        for j, g in enumerate(_list(o, "Groups", source, path)):
            g = _obj(g, source, f"{path}.Groups[{j}]")
            groups.append(_str(g, "GroupId", source, f"{path}.Groups[{j}]", required=True))
        private, public = [], []
        if o.get("PrivateIpAddress"):
            private.append(_addr(o["PrivateIpAddress"], source, f"{path}.PrivateIpAddress"))
        assoc = o.get("Association")
        if assoc:
            a = _obj(assoc, source, f"{path}.Association")
            if a.get("PublicIp"):
                public.append(_addr(a["PublicIp"], source, f"{path}.Association.PublicIp"))
        for j, a in enumerate(_list(o, "PrivateIpAddresses", source, path)):
            p = f"{path}.PrivateIpAddresses[{j}]"
            a = _obj(a, source, p)
            if a.get("PrivateIpAddress"):
                private.append(_addr(a["PrivateIpAddress"], source, f"{p}.PrivateIpAddress"))
            if a.get("Association") and _obj(a["Association"], source, p).get("PublicIp"):
                public.append(_addr(a["Association"]["PublicIp"], source, f"{p}.Association"))
        for j, a in enumerate(_list(o, "Ipv6Addresses", source, path)):
            p = f"{path}.Ipv6Addresses[{j}]"
            a = _obj(a, source, p)
            if a.get("Ipv6Address"):
                private.append(_addr(a["Ipv6Address"], source, f"{p}.Ipv6Address"))
        requester = _str(o, "RequesterId", source, path)
        managed = o.get("RequesterManaged")
        if managed is not None and not isinstance(managed, bool):
            raise _fail(source, f"{path}.RequesterManaged", "expected true or false")
        interface_type = _str(o, "InterfaceType", source, path)
        description = _str(o, "Description", source, path)
        k = classify(interface_type, description, requester, instance_id)
        tags = _tags(o, source, path)
        rows.append(
            {
                "interface_id": eni,
                "kind": k.kind,
                "interface_type": interface_type,
                "name": tags.get("Name") or None,
                "resource_id": k.resource_id or instance_id,
                "instance_id": instance_id,
                "description": description,
                "owner_id": _str(o, "OwnerId", source, path),
                "requester_id": requester,
                "requester_managed": bool(managed),
                "status": _str(o, "Status", source, path),
                "availability_zone": _str(o, "AvailabilityZone", source, path),
                "subnet_id": _str(o, "SubnetId", source, path),
                "vpc_id": _str(o, "VpcId", source, path),
                "security_groups": groups,
                "private_addresses": list(dict.fromkeys(private)),
                "public_addresses": list(dict.fromkeys(public)),
                "attached_at": attach_time,
            }
        )
    return rows


def parse_instance_names(data: Any, source: str = "<instances>") -> dict[str, str]:
    """Instance id -> Name tag, from ``aws ec2 describe-instances`` output."""
    data = load_json(data, source)
    if not isinstance(data, dict) or "Reservations" not in data:
        found = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{source}: $: expected the output of 'aws ec2 describe-instances' (an object with "
            f"a 'Reservations' list), found {found or 'an empty object'}"
        )
    out: dict[str, str] = {}
    reservations = data["Reservations"]
    if not isinstance(reservations, list):
        raise _fail(source, "$.Reservations", "expected a list")
    for i, res in enumerate(reservations):
        path = f"$.Reservations[{i}]"
        res = _obj(res, source, path)
        for j, inst in enumerate(_list(res, "Instances", source, path)):
            p = f"{path}.Instances[{j}]"
            inst = _obj(inst, source, p)
            iid = _str(inst, "InstanceId", source, p, required=True)
            name = _tags(inst, source, p).get("Name")
            if name:
                out[iid] = name
    return out
