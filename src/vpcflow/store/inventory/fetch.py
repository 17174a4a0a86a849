"""Describe every network interface of an account and region with boto3, and name each one.

    ec2:DescribeNetworkInterfaces          all interfaces (paginated): the inventory rows
    ec2:DescribeInstances                  Name tags of the instances they are attached to
    ec2:DescribeNatGateways                which interface is which NAT gateway, its Name tag
    ec2:DescribeVpcEndpoints               which interfaces are which endpoint, service, Name tag
    ec2:DescribeTransitGatewayAttachments  Name tags of the attachments
    elasticloadbalancing:DescribeLoadBalancers   names and types of ALBs/NLBs/GWLBs
    rds:DescribeDBInstances                the DB instance behind an "RDSNetworkInterface"

Only the first call is required; the others add names, and one that is denied or unsupported
is logged and skipped (the interface keeps its kind and resource id from EC2's description).
The interfaces go through the same parser as a ``--file`` (:func:`.describe.parse_describe`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ... import aws
from ...errors import SourceError, VpcflowError
from .describe import classify, parse_describe

log = logging.getLogger("vpcflow.inventory")

__all__ = ["fetch_interfaces"]

_CHUNK = 200  # most values in one EC2 filter


def _pages(cl, method: str, key: str, **kwargs) -> list[dict]:
    out: list[dict] = []
    for page in cl.get_paginator(method).paginate(**kwargs):
        out.extend(page.get(key) or [])
    return out


def _optional(what: str, fn: Callable[[], list[dict]]) -> list[dict]:
    try:
        return fn()
    except VpcflowError as exc:
        log.warning("%s skipped: %s", what, exc)
    except Exception as exc:  # boto3 errors of an optional look-up never fail the sync
        log.warning("%s skipped: %s", what, aws.translate(exc, what))
    return []


def _name(tags) -> str | None:
    for t in tags or ():
        if isinstance(t, dict) and t.get("Key") == "Name" and t.get("Value"):
            return str(t["Value"])
    return None


def fetch_interfaces(
    profile: str | None = None,
    region: str | None = None,
    *,
    client_factory: Callable[[str], object] | None = None,
) -> tuple[list[dict], str]:
    """Inventory rows of every interface in the region, named; and a description of the source."""
    if client_factory is None:
        sess = aws.session(profile, region)

        def client_factory(service: str):
            return aws.client(service, sess=sess)

    ec2 = client_factory("ec2")
    where = ec2.meta.region_name
    with aws.aws_errors(f"ec2:DescribeNetworkInterfaces in {where}"):
        enis = _pages(ec2, "describe_network_interfaces", "NetworkInterfaces")
    source = f"ec2:DescribeNetworkInterfaces ({where})"
    if not enis:
        raise SourceError(
            f"no network interfaces in {where}: check --aws-region and --profile (the account "
            "that owns the VPC)"
        )
    rows = parse_describe({"NetworkInterfaces": enis}, source)
    by_id = {r["interface_id"]: r for r in rows}

    def each_chunk(values):
        values = sorted(set(values))
        for i in range(0, len(values), _CHUNK):
            yield values[i : i + _CHUNK]

    # Instances: their Name tag names their interfaces.
    instance_ids = [r["instance_id"] for r in rows if r["instance_id"]]
    instance_names: dict[str, str] = {}
    for chunk in each_chunk(instance_ids):
        reservations = _optional(
            "ec2:DescribeInstances",
            lambda c=chunk: _pages(
                ec2,
                "describe_instances",
                "Reservations",
                Filters=[{"Name": "instance-id", "Values": c}],
            ),
        )
        for res in reservations:
            for inst in res.get("Instances") or []:
                if name := _name(inst.get("Tags")):
                    instance_names[inst["InstanceId"]] = name
    for r in rows:
        if r["instance_id"] in instance_names and r["kind"] == "instance":
            r["name"] = instance_names[r["instance_id"]]

    # NAT gateways: the API names their interfaces even when the description does not.
    for nat in _optional(
        "ec2:DescribeNatGateways", lambda: _pages(ec2, "describe_nat_gateways", "NatGateways")
    ):
        for a in nat.get("NatGatewayAddresses") or []:
            r = by_id.get(a.get("NetworkInterfaceId"))
            if r is not None:
                r["kind"], r["resource_id"] = "nat-gateway", nat.get("NatGatewayId")
                r["name"] = r["name"] or _name(nat.get("Tags")) or nat.get("NatGatewayId")

    # VPC endpoints: interface and Gateway Load Balancer endpoints list their interfaces.
    for ep in _optional(
        "ec2:DescribeVpcEndpoints", lambda: _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints")
    ):
        gwlb = (ep.get("VpcEndpointType") or "").lower() == "gatewayloadbalancer"
        for eni in ep.get("NetworkInterfaceIds") or []:
            r = by_id.get(eni)
            if r is not None:
                r["kind"] = "gateway-load-balancer-endpoint" if gwlb else "vpc-endpoint"
                r["resource_id"] = ep.get("VpcEndpointId")
                r["name"] = r["name"] or _name(ep.get("Tags")) or ep.get("ServiceName")

    # Transit gateway attachments: the description names the attachment.
    tgw = {r["resource_id"]: r for r in rows if r["kind"] == "transit-gateway-attachment"}
    for chunk in each_chunk(k for k in tgw if k):
        for att in _optional(
            "ec2:DescribeTransitGatewayAttachments",
            lambda c=chunk: _pages(
                ec2,
                "describe_transit_gateway_attachments",
                "TransitGatewayAttachments",
                Filters=[{"Name": "transit-gateway-attachment-id", "Values": c}],
            ),
        ):
            r = tgw.get(att.get("TransitGatewayAttachmentId"))
            if r is not None:
                r["name"] = r["name"] or _name(att.get("Tags"))

    # Load balancers: "ELB app/NAME/ID" in the description is the tail of the ARN.
    lb_rows = [
        r for r in rows if "load-balancer" in r["kind"] and r["kind"] != "classic-load-balancer"
    ]
    lb_rows = [r for r in lb_rows if "endpoint" not in r["kind"]]
    if lb_rows:
        elb = client_factory("elbv2")
        lbs = _optional(
            "elasticloadbalancing:DescribeLoadBalancers",
            lambda: _pages(elb, "describe_load_balancers", "LoadBalancers"),
        )
        by_tail = {}
        for lb in lbs:
            arn = lb.get("LoadBalancerArn") or ""
            if "loadbalancer/" in arn:
                by_tail[arn.split("loadbalancer/", 1)[1]] = lb
        kinds = {
            "application": "application-load-balancer",
            "network": "network-load-balancer",
            "gateway": "gateway-load-balancer",
        }
        for r in lb_rows:
            lb = by_tail.get(r["resource_id"] or "")
            if lb is not None:
                r["name"] = r["name"] or lb.get("LoadBalancerName")
                r["kind"] = kinds.get(lb.get("Type") or "", r["kind"])

    # RDS: its interfaces say only "RDSNetworkInterface"; the DB instance whose subnet group
    # holds the interface's subnet and whose security groups are the interface's is the one.
    rds_rows = [r for r in rows if r["kind"] == "rds"]
    if rds_rows:
        rds = client_factory("rds")
        dbs = _optional(
            "rds:DescribeDBInstances", lambda: _pages(rds, "describe_db_instances", "DBInstances")
        )
        for r in rds_rows:
            groups = set(r["security_groups"])
            matches = []
            for db in dbs:
                db_groups = {g.get("VpcSecurityGroupId") for g in db.get("VpcSecurityGroups") or []}
                sng = db.get("DBSubnetGroup") or {}
                subnets = {s.get("SubnetIdentifier") for s in sng.get("Subnets") or []}
                if sng.get("VpcId") not in (None, r["vpc_id"]):
                    continue
                if (not subnets or r["subnet_id"] in subnets) and groups and groups == db_groups:
                    matches.append(db["DBInstanceIdentifier"])
            if len(matches) == 1:
                r["resource_id"] = r["name"] = r["name"] or matches[0]
            elif matches:
                r["name"] = r["name"] or " or ".join(sorted(matches))

    # Whatever the services said, re-derive the kind for rows none of them claimed.
    for r in rows:
        if r["kind"] == "interface" and r["instance_id"]:
            r["kind"] = classify(None, None, None, r["instance_id"]).kind
    log.info("described %d interfaces in %s", len(rows), where)
    return rows, source
