"""`vpcflow aws create-flow-log` / `list-flow-logs` against a moto server on 127.0.0.1."""

from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner

from vpcflow.aws import flowlogs as sf
from vpcflow.cli import main
from vpcflow.errors import ConfigError, FormatError

ACCOUNT = "123456789012"  # moto's account


@pytest.fixture
def net(moto_endpoint):
    """A VPC, a subnet, an ENI and a bucket in the moto account."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    boto3.client("s3").create_bucket(Bucket="flow-bucket")
    return {"vpc": vpc, "subnet": subnet, "eni": eni}


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def flow_log(flow_log_id):
    (fl,) = boto3.client("ec2").describe_flow_logs(FlowLogIds=[flow_log_id])["FlowLogs"]
    return fl


def bucket_statements():
    policy = boto3.client("s3").get_bucket_policy(Bucket="flow-bucket")["Policy"]
    return json.loads(policy)["Statement"]


@pytest.mark.parametrize("kind", ["vpc", "subnet", "eni"])
def test_cloudwatch_destination_creates_group_role_and_flow_log(net, kind):
    spec = sf.FlowLogSpec(
        resource_id=net[kind], destination="cloudwatch:///vpc/flows", traffic_type="REJECT"
    )
    result = sf.create_flow_log(spec)
    (fl_id,) = result.flow_log_ids
    fl = flow_log(fl_id)
    assert fl["ResourceId"] == net[kind]
    assert fl["TrafficType"] == "REJECT"
    assert fl["LogDestinationType"] == "cloud-watch-logs"
    assert fl["LogGroupName"] == "/vpc/flows"

    iam = boto3.client("iam")
    role = iam.get_role(RoleName="vpcflow-flow-logs-delivery")["Role"]
    assert fl["DeliverLogsPermissionArn"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert stmt["Action"] == "sts:AssumeRole"
    assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    doc = iam.get_role_policy(
        RoleName="vpcflow-flow-logs-delivery", PolicyName="vpcflow-flow-logs-delivery"
    )["PolicyDocument"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    assert set(doc["Statement"][0]["Action"]) == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
    }
    groups = boto3.client("logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/vpc/flows"]


def test_cloudwatch_reuses_existing_group_and_role(net):
    first = sf.create_flow_log(sf.FlowLogSpec(net["vpc"], "cloudwatch://g1"))
    assert [c.operation for c in first.calls] == [
        "CreateLogGroup",
        "CreateRole",
        "PutRolePolicy",
        "CreateFlowLogs",
    ]
    second = sf.create_flow_log(sf.FlowLogSpec(net["subnet"], "cloudwatch://g1"))
    assert [c.operation for c in second.calls] == ["CreateFlowLogs"]
    assert flow_log(second.flow_log_ids[0])["ResourceId"] == net["subnet"]


@pytest.mark.parametrize("kind", ["vpc", "subnet", "eni"])
def test_s3_destination_adds_bucket_policy_and_options(net, kind):
    spec = sf.FlowLogSpec(
        resource_id=net[kind],
        destination="s3://flow-bucket",
        fields="all",
        file_format="parquet",
        hive_partitions=True,
        per_hour=True,
        max_aggregation_interval=60,
    )
    (fl_id,) = sf.create_flow_log(spec).flow_log_ids
    fl = flow_log(fl_id)
    assert fl["ResourceId"] == net[kind]
    assert fl["LogDestinationType"] == "s3"
    assert fl["LogDestination"] == "arn:aws:s3:::flow-bucket"
    assert fl["MaxAggregationInterval"] == 60
    assert fl["LogFormat"].startswith("${version} ${account-id} ${interface-id}")
    assert "${reject-reason}" in fl["LogFormat"] and "${ecs-task-id}" in fl["LogFormat"]

    write, acl = bucket_statements()
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"arn:aws:s3:::flow-bucket/AWSLogs/aws-account-id={ACCOUNT}/*"
    assert write["Condition"]["StringEquals"] == {
        "aws:SourceAccount": ACCOUNT,
        "s3:x-amz-acl": "bucket-owner-full-control",
    }
    assert write["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:*"}
    assert sorted(acl["Action"]) == ["s3:GetBucketAcl", "s3:ListBucket"]
    assert acl["Resource"] == "arn:aws:s3:::flow-bucket"


def test_s3_keeps_existing_statements_and_adds_only_once(net):
    other = {
        "Sid": "Mine",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": "arn:aws:s3:::flow-bucket",
    }
    boto3.client("s3").put_bucket_policy(
        Bucket="flow-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [other]})
    )
    first = sf.create_flow_log(sf.FlowLogSpec(net["vpc"], "s3://flow-bucket"))
    assert [c.operation for c in first.calls] == ["PutBucketPolicy", "CreateFlowLogs"]
    sids = [s["Sid"] for s in bucket_statements()]
    assert sids == ["Mine", "AWSLogDeliveryWrite", "AWSLogDeliveryAclCheck"]
    assert bucket_statements()[1]["Resource"] == f"arn:aws:s3:::flow-bucket/AWSLogs/{ACCOUNT}/*"

    second = sf.create_flow_log(sf.FlowLogSpec(net["eni"], "s3://flow-bucket"))
    assert [c.operation for c in second.calls] == ["CreateFlowLogs"]
    # a Hive-prefixed flow log needs its own write statement, under a fresh Sid
    third = sf.create_flow_log(
        sf.FlowLogSpec(net["subnet"], "s3://flow-bucket", hive_partitions=True)
    )
    assert [c.operation for c in third.calls] == ["PutBucketPolicy", "CreateFlowLogs"]
    assert [s["Sid"] for s in bucket_statements()][-1] == "AWSLogDeliveryWrite2"


def test_cli_create_and_list(net):
    res = run(
        "aws",
        "create-flow-log",
        "--resource-id",
        net["eni"],
        "--destination",
        "cloudwatch://cli-group",
        "--traffic-type",
        "accept",
        "--fields",
        "version,interface-id,srcaddr,dstaddr,action",
    )
    assert res.exit_code == 0, res.output
    fl_id = res.stdout.strip()
    assert fl_id.startswith("fl-")
    assert flow_log(fl_id)["LogFormat"] == (
        "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}"
    )

    res = run("aws", "list-flow-logs", "--format", "json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["flow_log_id"] == fl_id
    assert row["resource_id"] == net["eni"]
    assert row["traffic_type"] == "ACCEPT"
    assert row["destination"] == "cloudwatch://cli-group"
    assert row["log_format"].startswith("${version} ${interface-id}")

    res = run("aws", "list-flow-logs")
    assert res.exit_code == 0 and fl_id in res.stdout and "cloudwatch://cli-group" in res.stdout


def test_cli_dry_run_changes_nothing(net):
    res = run(
        "aws",
        "create-flow-log",
        "--resource-id",
        net["vpc"],
        "--destination",
        "cloudwatch://dry",
        "--dry-run",
    )
    assert res.exit_code == 0, res.output
    out = res.stdout
    for op in ("logs CreateLogGroup", "iam CreateRole", "iam PutRolePolicy", "ec2 CreateFlowLogs"):
        assert op in out
    assert "vpc-flow-logs.amazonaws.com" in out and "logs:PutLogEvents" in out
    assert boto3.client("ec2").describe_flow_logs()["FlowLogs"] == []
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []
    assert boto3.client("iam").list_roles()["Roles"] == []

    res = run(
        "aws",
        "create-flow-log",
        "--resource-id",
        net["subnet"],
        "--destination",
        "s3://flow-bucket/team",
        "--dry-run",
    )
    assert res.exit_code == 0, res.output
    assert "delivery.logs.amazonaws.com" in res.stdout
    assert f"arn:aws:s3:::flow-bucket/team/AWSLogs/{ACCOUNT}/*" in res.stdout
    assert '"LogDestination": "arn:aws:s3:::flow-bucket/team/"' in res.stdout
    assert boto3.client("ec2").describe_flow_logs()["FlowLogs"] == []


def test_dry_run_without_credentials_shows_every_call(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached
    res = run(
        "aws",
        "create-flow-log",
        "--resource-id",
        "vpc-1",
        "--destination",
        "cloudwatch://g",
        "--dry-run",
    )
    assert res.exit_code == 0, res.output
    assert "could not read" in res.stderr and "credentials" in res.stderr
    assert "iam CreateRole" in res.stdout and "<account-id>" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resource-id", "i-123", "--destination", "s3://b"], "vpc-..., subnet-... or eni-"),
        (
            [
                "--resource-id",
                "vpc-1",
                "--destination",
                "cloudwatch://g",
                "--file-format",
                "parquet",
            ],
            "S3 destinations only",
        ),
        (["--resource-id", "vpc-1", "--destination", "ftp://x"], "s3://BUCKET"),
        (["--resource-id", "vpc-1", "--destination", "s3://b/AWSLogs"], "AWSLogs"),
        (["--resource-id", "vpc-1", "--destination", "s3://b", "--fields", "srcaddr,nope"], "nope"),
    ],
)
def test_cli_rejects_bad_options_in_one_line(args, message):
    res = run("aws", "create-flow-log", *args, "--dry-run")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: ") and message in res.stderr
    assert res.stderr.count("\n") == 1


def test_missing_bucket_is_one_clear_line(net):
    res = run(
        "aws",
        "create-flow-log",
        "--resource-id",
        net["vpc"],
        "--destination",
        "s3://no-such-bucket",
    )
    assert res.exit_code == 1
    assert "no such S3 bucket" in res.stderr and res.stderr.count("\n") == 1


def test_resolve_fields():
    assert sf.resolve_fields("default") is None
    assert sf.resolve_fields("srcaddr, dstaddr log_status") == "${srcaddr} ${dstaddr} ${log-status}"
    with pytest.raises(FormatError):
        sf.resolve_fields("srcaddr,bogus")
    with pytest.raises(ConfigError):
        sf.FlowLogSpec("vpc-1", "s3://b", max_aggregation_interval=300).validate()
