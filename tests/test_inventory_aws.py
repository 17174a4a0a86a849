"""`vpcflow interfaces sync --from-aws` against moto's EC2, ELBv2 and RDS on 127.0.0.1.

The scenario (built with boto3 over HTTP before any vpcflow code runs):

    VPC 10.0.0.0/16, subnets public 10.0.1.0/24 and db 10.0.2.0/24
      instances web-1 and web-2 (Name tags) in public
      a NAT gateway in public (moto gives its interface no description: the NAT API names it)
      an ALB "shop-prod"; its interface carries the description AWS writes ("ELB app/…/…")
      an RDS instance "orders-db" in a subnet group, and an "RDSNetworkInterface" in its group
      an interface VPC endpoint for SSM
      a worker interface that is deleted and its address 10.0.1.50 given to a new one between
      two syncs
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from click.testing import CliRunner

from vpcflow.cli import main

T1 = dt.datetime(2024, 5, 1, 0, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture
def vpc(moto_endpoint):
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")
    public = public["Subnet"]["SubnetId"]
    db = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")
    db = db["Subnet"]["SubnetId"]
    web_sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    db_sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instances = {}
    for name, ip in (("web-1", "10.0.1.11"), ("web-2", "10.0.1.12")):
        inst = ec2.run_instances(
            ImageId=ami,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": public,
                    "PrivateIpAddress": ip,
                    "Groups": [web_sg],
                }
            ],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )["Instances"][0]
        instances[name] = (inst["InstanceId"], inst["NetworkInterfaces"][0]["NetworkInterfaceId"])

    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=public,
        AllocationId=eip,
        TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "egress"}]}
        ],
    )["NatGateway"]
    nat_eni = ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0][
        "NatGatewayAddresses"
    ][0]["NetworkInterfaceId"]

    elb = boto3.client("elbv2")
    lb = elb.create_load_balancer(Name="shop-prod", Subnets=[public, db], Type="application")
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    alb_eni = ec2.create_network_interface(
        SubnetId=public,
        PrivateIpAddress="10.0.1.200",
        Groups=[web_sg],
        Description="ELB " + arn.split("loadbalancer/", 1)[1],
    )["NetworkInterface"]["NetworkInterfaceId"]

    rds = boto3.client("rds")
    rds.create_db_subnet_group(
        DBSubnetGroupName="orders", DBSubnetGroupDescription="orders", SubnetIds=[public, db]
    )
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        DBSubnetGroupName="orders",
        VpcSecurityGroupIds=[db_sg],
    )
    rds_eni = ec2.create_network_interface(
        SubnetId=db, PrivateIpAddress="10.0.2.30", Groups=[db_sg], Description="RDSNetworkInterface"
    )["NetworkInterface"]["NetworkInterfaceId"]

    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.ssm",
        VpcEndpointType="Interface",
        SubnetIds=[db],
    )["VpcEndpoint"]
    endpoint_eni = endpoint["NetworkInterfaceIds"][0]

    worker = ec2.create_network_interface(
        SubnetId=public,
        PrivateIpAddress="10.0.1.50",
        Groups=[web_sg],
        TagSpecifications=[
            {"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "old-worker"}]}
        ],
    )["NetworkInterface"]["NetworkInterfaceId"]
    return {
        "ec2": ec2,
        "public": public,
        "web_sg": web_sg,
        "instances": instances,
        "nat": (nat["NatGatewayId"], nat_eni),
        "alb_eni": alb_eni,
        "rds_eni": rds_eni,
        "endpoint": (endpoint["VpcEndpointId"], endpoint_eni),
        "worker": worker,
    }


def _records(rows) -> str:
    return "".join(
        f"2 123456789012 {eni} {src} {dst} {sp} {dp} 6 1 60 {t} {t + 60} {action} OK\n"
        for eni, src, dst, sp, dp, t, action in rows
    )


def test_sync_from_aws_names_every_kind_and_follows_a_moved_address(vpc, tmp_path):
    st = tmp_path / "store"
    out = json.loads(
        run(
            "interfaces",
            "sync",
            "--from-aws",
            "--store",
            st,
            "--taken-at",
            T1.isoformat(),
            "--json",
        )
    )
    assert out["source"].startswith("ec2:DescribeNetworkInterfaces (us-east-1)")

    # The worker's interface goes away and a new one gets its address.
    ec2 = vpc["ec2"]
    ec2.delete_network_interface(NetworkInterfaceId=vpc["worker"])
    new_worker = ec2.create_network_interface(
        SubnetId=vpc["public"],
        PrivateIpAddress="10.0.1.50",
        Groups=[vpc["web_sg"]],
        TagSpecifications=[
            {"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "new-worker"}]}
        ],
    )["NetworkInterface"]["NetworkInterfaceId"]
    out = json.loads(
        run(
            "interfaces",
            "sync",
            "--from-aws",
            "--store",
            st,
            "--taken-at",
            T2.isoformat(),
            "--json",
        )
    )
    assert (out["new"], out["gone"]) == (1, 1)

    web1_id, web1_eni = vpc["instances"]["web-1"]
    nat_id, nat_eni = vpc["nat"]
    ep_id, ep_eni = vpc["endpoint"]
    res = json.loads(
        run(
            "interfaces", "show", web1_eni, "10.0.1.12", nat_eni, vpc["alb_eni"], vpc["rds_eni"],
            ep_eni, "--store", st, "--format", "json",
        )
    )  # fmt: skip
    assert [r["is"] for r in res] == [
        f"web-1, {web1_id}",
        f"web-2, {vpc['instances']['web-2'][0]}",
        f"NAT gateway egress ({nat_id})",
        "ALB app/shop-prod",
        "RDS orders-db",
        f"VPC endpoint com.amazonaws.us-east-1.ssm ({ep_id})",
    ]

    # Flow logs of those interfaces, before and after the address moved.
    morning, afternoon = int(T1.timestamp()) + 3600, int(T2.timestamp()) + 3600
    logs = tmp_path / "flows.log"
    logs.write_text(
        _records(
            [
                (web1_eni, "203.0.113.7", "10.0.1.11", 50000, 22, morning, "REJECT"),
                (vpc["alb_eni"], "198.51.100.9", "10.0.1.200", 50001, 443, morning, "ACCEPT"),
                (vpc["worker"], "10.0.1.50", "10.0.2.30", 40000, 5432, morning, "ACCEPT"),
                (new_worker, "10.0.1.50", "10.0.2.30", 40001, 5432, afternoon, "ACCEPT"),
            ]
        )
    )
    run("ingest", logs, "--store", st)
    rows = json.loads(
        run(
            "sql",
            "SELECT interface_name(interface_id) AS iface, address_owner(srcaddr, start) AS src, "
            "address_owner(dstaddr, start) AS dst FROM vpc_flow_logs ORDER BY start, dstport",
            "--store", st, "--format", "json",
        )
    )  # fmt: skip
    assert rows == [
        {"iface": "web-1", "src": None, "dst": "web-1"},
        {"iface": "shop-prod", "src": None, "dst": "shop-prod"},
        {"iface": "old-worker", "src": "old-worker", "dst": "orders-db"},
        {"iface": "new-worker", "src": "new-worker", "dst": "orders-db"},
    ]
    verdicts = json.loads(run("troubleshoot", "--store", st, "--format", "json"))
    assert [(v["interface_id"], v["interface_name"]) for v in verdicts] == [
        (web1_eni, f"web-1, {web1_id}")
    ]


def test_sync_from_aws_with_no_interfaces_is_one_clear_error(moto_endpoint, tmp_path):
    res = CliRunner().invoke(
        main, ["interfaces", "sync", "--from-aws", "--store", str(tmp_path / "st")]
    )
    assert res.exit_code == 1
    assert "no network interfaces in us-east-1: check --aws-region and --profile" in res.output
