"""The AWS client factory and error mapping, against a moto server on 127.0.0.1."""

from __future__ import annotations

import pytest

from vpcflow import aws
from vpcflow.errors import ConfigError, SourceError


def test_client_honours_aws_endpoint_url(moto_endpoint):
    s3 = aws.client("s3")
    assert s3.meta.endpoint_url == moto_endpoint.url
    s3.create_bucket(Bucket="bkt1")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bkt1"]


def test_per_service_endpoint_variable_wins(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint.url)
    assert aws.client("s3").meta.endpoint_url == moto_endpoint.url
    assert aws.client("logs").meta.endpoint_url == "http://127.0.0.1:9"


def test_region_option_and_default(moto_endpoint, monkeypatch):
    assert aws.client("logs", region="eu-west-1").meta.region_name == "eu-west-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert aws.client("logs").meta.region_name == aws.DEFAULT_REGION


def test_unknown_profile_is_a_config_error():
    with pytest.raises(ConfigError, match="--profile"):
        aws.session(profile="nope-not-a-profile")


def test_no_credentials_is_one_clear_line(moto_endpoint, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError) as info, aws.aws_errors("s3://bkt1/"):
        aws.client("s3").list_objects_v2(Bucket="bkt1")
    msg = str(info.value)
    assert "no AWS credentials" in msg and "s3://bkt1/" in msg and "\n" not in msg


def test_no_such_bucket(moto_endpoint):
    expected = r"no such S3 bucket \(s3://missing/\)"
    with pytest.raises(SourceError, match=expected), aws.aws_errors("s3://missing/"):
        aws.client("s3").list_objects_v2(Bucket="missing")


def test_unreachable_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    from botocore.config import Config

    s3 = aws.session().client("s3", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(SourceError, match="AWS_ENDPOINT_URL"), aws.aws_errors("s3://b/"):
        s3.list_objects_v2(Bucket="b")


def _client_error(code, op="ListObjectsV2"):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"}}, op)


@pytest.mark.parametrize(
    ("code", "cls", "words"),
    [
        ("AccessDenied", SourceError, "access denied"),
        ("AccessDeniedException", SourceError, "access denied"),
        ("ExpiredToken", ConfigError, "refresh"),
        ("ThrottlingException", SourceError, "throttling"),
        ("ResourceNotFoundException", SourceError, "log group"),
        ("SomethingElse", SourceError, "SomethingElse: m"),
    ],
)
def test_translate_client_errors(code, cls, words):
    err = aws.translate(_client_error(code), "thing")
    assert type(err) is cls
    assert words in str(err) and "(thing)" in str(err)


def test_with_backoff_retries_throttling_then_succeeds():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _client_error("ThrottlingException")
        return "ok"

    assert aws.with_backoff(flaky, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2


def test_with_backoff_gives_up_and_does_not_retry_other_errors():
    calls = []

    def denied():
        calls.append(1)
        raise _client_error("AccessDenied")

    with pytest.raises(Exception, match="AccessDenied"):
        aws.with_backoff(denied, sleep=lambda s: None)
    assert len(calls) == 1

    def throttled():
        calls.append(1)
        raise _client_error("Throttling")

    calls.clear()
    with pytest.raises(Exception, match="Throttling"):
        aws.with_backoff(throttled, attempts=4, sleep=lambda s: None)
    assert len(calls) == 4
