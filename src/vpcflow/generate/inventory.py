"""The synthetic VPC's interfaces as ``aws ec2 describe-network-interfaces`` prints them.

``generate`` writes this beside the logs (``describe-network-interfaces.json``) so that the
demo and the tests name interfaces the way a user does: ``vpcflow interfaces sync --file``.
Every interface of the topology is there (instances with their Name tags, the NAT gateway as
EC2 describes a NAT gateway's interface), plus the AWS-managed interfaces a real VPC of this
shape has: an application load balancer in both public subnets, an RDS instance and an
interface endpoint for SSM.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from . import topology

__all__ = ["FILE", "describe_network_interfaces", "write"]

FILE = "describe-network-interfaces.json"

NAT_GATEWAY_ID = "nat-0f1e2d3c4b5a69788"
ALB = "app/shop-prod/50dc6c495c0c9188"
ALB_GROUP = "sg-0a1b2c3d4e5f6a7b0"
RDS_GROUP = "sg-0b2c3d4e5f6a7b8c1"
ENDPOINT_ID = "vpce-0d8ddce4be80e4474"
ENDPOINT_GROUP = "sg-0c3d4e5f6a7b8c9d2"

# Role -> security group (id, name) of the topology's instances.
_GROUPS = {
    "web": ("sg-0e1f2a3b4c5d6e7f1", "web"),
    "fleet": ("sg-0e1f2a3b4c5d6e7f1", "web"),  # the look-alikes' web fleet (generate/benign.py)
    "bastion": ("sg-0e1f2a3b4c5d6e7f2", "bastion"),
    "mail": ("sg-0e1f2a3b4c5d6e7f3", "mail"),
    "vpn": ("sg-0e1f2a3b4c5d6e7f4", "vpn"),
    "app": ("sg-0e1f2a3b4c5d6e7f5", "app"),
    "monitor": ("sg-0e1f2a3b4c5d6e7f6", "monitor"),
    "dns": ("sg-0e1f2a3b4c5d6e7f7", "dns"),
    "batch": ("sg-0e1f2a3b4c5d6e7f8", "batch"),
    "db": ("sg-0e1f2a3b4c5d6e7f9", "db"),
    "cache": ("sg-0e1f2a3b4c5d6e7fa", "cache"),
}

# The AWS-managed interfaces: (id, subnet, address, type, description, requester, group).
_MANAGED = (
    ("eni-0f2a3b4c5d6e7f801", "public-a", "10.0.0.200", "interface", f"ELB {ALB}", "amazon-elb", (ALB_GROUP, "shop-prod-alb")),
    ("eni-0f2a3b4c5d6e7f802", "public-b", "10.0.1.200", "interface", f"ELB {ALB}", "amazon-elb", (ALB_GROUP, "shop-prod-alb")),
    ("eni-0f2a3b4c5d6e7f803", "db-a", "10.0.20.200", "interface", "RDSNetworkInterface", "amazon-rds", (RDS_GROUP, "orders-db")),
    ("eni-0f2a3b4c5d6e7f804", "app-a", "10.0.10.200", "vpc_endpoint", f"VPC Endpoint Interface {ENDPOINT_ID}", "727180483921", (ENDPOINT_GROUP, "endpoints")),
)  # fmt: skip


def _mac(n: int) -> str:
    return "02:" + ":".join(f"{(n >> s) & 0xFF:02x}" for s in (32, 24, 16, 8, 0))


def describe_network_interfaces(attached: int | None = None) -> dict:
    """The JSON document (decoded); ``attached``: Unix seconds of the instances' AttachTime."""
    when = dt.datetime.fromtimestamp(
        attached if attached is not None else 1714521600 - 30 * 86400, dt.UTC
    )
    attach_time = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    subnets = {s.name: s for s in topology.SUBNETS}
    out = []

    def base(eni_id, subnet, ip, n):
        s = subnets[subnet]
        az = {"use1-az1": "us-east-1a", "use1-az2": "us-east-1b"}[s.az_id]
        return {
            "AvailabilityZone": az,
            "Description": "",
            "Groups": [],
            "InterfaceType": "interface",
            "Ipv6Addresses": [],
            "MacAddress": _mac(n),
            "NetworkInterfaceId": eni_id,
            "OwnerId": topology.ACCOUNT,
            "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
            "PrivateIpAddress": ip,
            "PrivateIpAddresses": [
                {
                    "Primary": True,
                    "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
                    "PrivateIpAddress": ip,
                }
            ],
            "RequesterManaged": False,
            "SourceDestCheck": True,
            "Status": "in-use",
            "SubnetId": s.id,
            "TagSet": [],
            "VpcId": topology.VPC_ID,
        }

    for n, e in enumerate(topology.INTERFACES):
        o = base(e.id, e.subnet, e.ip, n + 1)
        if e.public_ip:
            assoc = {
                "IpOwnerId": "amazon",
                "PublicDnsName": f"ec2-{e.public_ip.replace('.', '-')}.compute-1.amazonaws.com",
                "PublicIp": e.public_ip,
            }
            o["Association"] = assoc
            o["PrivateIpAddresses"][0]["Association"] = assoc
        if e.role == "nat":
            o.update(
                Description=f"Interface for NAT Gateway {NAT_GATEWAY_ID}",
                InterfaceType="nat_gateway",
                RequesterId="amazon-aws",  # a NAT gateway's interface has no security groups
                RequesterManaged=True,
                SourceDestCheck=False,
                Attachment={
                    "AttachmentId": "ela-attach-0a1b2c3d4e5f60718",
                    "DeleteOnTermination": False,
                    "DeviceIndex": 1,
                    "InstanceOwnerId": "amazon-aws",
                    "Status": "attached",
                },
            )
        else:
            gid, gname = _GROUPS[e.role]
            o.update(
                Groups=[{"GroupId": gid, "GroupName": gname}],
                Attachment={
                    "AttachTime": attach_time,
                    "AttachmentId": f"eni-attach-{e.id[4:]}",
                    "DeleteOnTermination": True,
                    "DeviceIndex": 0,
                    "InstanceId": e.instance_id,
                    "InstanceOwnerId": topology.ACCOUNT,
                    "NetworkCardIndex": 0,
                    "Status": "attached",
                },
                TagSet=[{"Key": "Name", "Value": e.name}],
            )
        out.append(o)
    for n, (eni, subnet, ip, itype, desc, requester, (gid, gname)) in enumerate(_MANAGED):
        o = base(eni, subnet, ip, 100 + n)
        o.update(
            Description=desc,
            Groups=[{"GroupId": gid, "GroupName": gname}],
            InterfaceType=itype,
            # Requester-managed interfaces take tags; people tag the database's to find it.
            TagSet=[{"Key": "Name", "Value": "orders-db"}] if requester == "amazon-rds" else [],
            RequesterId=requester,
            RequesterManaged=True,
            Attachment={
                "AttachmentId": f"ela-attach-{eni[4:]}",
                "DeleteOnTermination": False,
                "DeviceIndex": 1,
                "InstanceOwnerId": requester if not requester.isdigit() else "amazon-aws",
                "Status": "attached",
            },
        )
        out.append(o)
    return {"NetworkInterfaces": out}


def write(path: str | Path, attached: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(describe_network_interfaces(attached), indent=4) + "\n")
    return path
