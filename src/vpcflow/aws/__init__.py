"""AWS access for vpcflow: one place that makes boto3 clients and translates their errors.

Clients use the standard boto3 credential chain (environment, shared config/credentials files,
SSO, instance roles), an optional ``profile`` and ``region``, and botocore's own support for
``AWS_ENDPOINT_URL`` and the per-service ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``
... variables, so S3-compatible stores and local emulators work without code changes.

Every botocore exception crosses into vpcflow through :func:`translate` (or the
:func:`aws_errors` context manager), which turns it into a one-line ``SourceError`` or
``ConfigError`` that says what to fix. boto3 is the optional ``aws`` extra and is imported lazily.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import ConfigError, MissingDependency, SourceError, VpcflowError

log = logging.getLogger("vpcflow.aws")

__all__ = [
    "DEFAULT_REGION",
    "session",
    "client",
    "translate",
    "aws_errors",
    "is_throttle",
    "with_backoff",
    "account_id",
    "partition",
    "S3_SCHEMES",
    "s3_url",
]

# Used only when neither --region, AWS_REGION/AWS_DEFAULT_REGION nor the profile name one:
# S3 listing works from any region, and S3-compatible stores usually ignore it.
DEFAULT_REGION = "us-east-1"

# Hadoop's names for the same buckets and keys (Spark users type ``s3a://``; EMR ``s3://``).
S3_SCHEMES = ("s3://", "s3a://", "s3n://")


def s3_url(spec) -> str | None:
    """``spec`` as an ``s3://`` URL when it names S3 under any of ``S3_SCHEMES``, else None: the
    manifest, messages and the store name every object one way, whichever scheme was typed."""
    if not isinstance(spec, str):
        return None
    for scheme in S3_SCHEMES:
        if spec.startswith(scheme):
            return "s3://" + spec[len(scheme) :]
    return None


# botocore retries throttling and 5xx itself with exponential back-off; "adaptive" also slows
# the client down when the service keeps throttling (CloudWatch Logs' GetLogEvents is 10-25 TPS).
_RETRIES = {"mode": "adaptive", "max_attempts": 10}

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "RequestThrottled",
        "RequestThrottledException",
        "LimitExceededException",
    }
)
_ACCESS_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"}
)
_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidToken",
    }
)
_NOT_FOUND_HINTS = {
    "NoSuchBucket": "no such S3 bucket{where}: check the bucket name and the endpoint/region",
    "NoSuchKey": "no such S3 object{where}: it may have been deleted since it was listed",
    "ResourceNotFoundException": "not found{where}: check the log group name and --region",
    "NoSuchEntity": "no such IAM entity{where}",
    "NoSuchBucketPolicy": "bucket has no policy{where}",
    "InvalidVpcID.NotFound": "no such VPC{where}: check the ID and --region",
    "InvalidSubnetID.NotFound": "no such subnet{where}: check the ID and --region",
    "InvalidNetworkInterfaceID.NotFound": "no such network interface{where}: check the ID and --region",
}


def _boto3():
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependency("boto3", "aws") from exc
    return boto3


def session(profile: str | None = None, region: str | None = None):
    """A boto3 session from the standard credential chain, ``profile`` and ``region``."""
    boto3 = _boto3()
    with aws_errors("opening AWS session"):
        s = boto3.Session(profile_name=profile or None, region_name=region or None)
    if not s.region_name:
        s = boto3.Session(profile_name=profile or None, region_name=DEFAULT_REGION)
    return s


def client(service: str, *, profile: str | None = None, region: str | None = None, sess=None):
    """A boto3 client for ``service`` with vpcflow's retry policy.

    The endpoint comes from botocore's configuration chain, so ``AWS_ENDPOINT_URL`` and
    ``AWS_ENDPOINT_URL_<SERVICE>`` are honoured.
    """
    from botocore.config import Config

    s = sess or session(profile, region)
    cfg = Config(retries=dict(_RETRIES), user_agent_extra="vpcflow")
    with aws_errors(f"creating {service} client"):
        return s.client(service, config=cfg)


def account_id(sess) -> str:
    """The account of the caller (STS GetCallerIdentity)."""
    with aws_errors("looking up the AWS account (sts:GetCallerIdentity)"):
        return sess.client("sts").get_caller_identity()["Account"]


def partition(sess) -> str:
    """The ARN partition of the session's region: ``aws``, ``aws-cn``, ``aws-us-gov``..."""
    try:
        return sess.get_partition_for_region(sess.region_name or DEFAULT_REGION)
    except Exception:  # unknown regions of S3-compatible stores
        return "aws"


def _error_code(exc: BaseException) -> str:
    resp = getattr(exc, "response", None) or {}
    code = str((resp.get("Error") or {}).get("Code") or "")
    if not code:
        status = (resp.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = str(status or "")
    return code


def is_throttle(exc: BaseException) -> bool:
    """True for the throttling errors AWS services return under load."""
    return _error_code(exc) in THROTTLE_CODES


def translate(exc: BaseException, what: str = "") -> VpcflowError:
    """Turn a botocore/boto3 exception into a one-line vpcflow error that says what to fix.

    ``what`` names the thing being accessed (``s3://bucket/key``, ``log group /vpc/flow``) and
    is woven into the message.
    """
    if isinstance(exc, VpcflowError):
        return exc
    from botocore import exceptions as bx

    where = f" ({what})" if what else ""
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ConfigError(
            f"no AWS credentials found{where}: run 'aws configure', set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or give a profile (--profile, profile=)"
        )
    if isinstance(exc, bx.ProfileNotFound):
        return ConfigError(
            f"{exc}: check the profile (--profile, profile=, AWS_PROFILE) against ~/.aws/config"
        )
    if isinstance(exc, bx.NoRegionError):
        return ConfigError(
            f"no AWS region{where}: set AWS_REGION or give one (--aws-region, aws_region=)"
        )
    if isinstance(exc, bx.CredentialRetrievalError | bx.UnknownCredentialError):
        return ConfigError(f"cannot load AWS credentials{where}: {exc}")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionError):
        return SourceError(
            f"cannot reach AWS{where}: {exc}; check the network, the AWS region and AWS_ENDPOINT_URL"
        )
    if isinstance(exc, bx.ParamValidationError):
        return ConfigError(f"invalid AWS request{where}: {exc}".replace("\n", " "))
    if isinstance(exc, bx.ClientError):
        code = _error_code(exc)
        message = str((exc.response.get("Error") or {}).get("Message") or code)
        op = getattr(exc, "operation_name", "") or "request"
        if code in _CREDENTIAL_CODES:
            return ConfigError(
                f"AWS rejected the credentials{where}: {code}; refresh them "
                "(aws sso login, new keys) or pick another profile"
            )
        if code in _ACCESS_CODES:
            return SourceError(
                f"access denied{where}: the AWS identity in use needs permission for {op}; "
                "grant it in IAM or use a profile with a role that has it"
            )
        if code in THROTTLE_CODES:
            return SourceError(
                f"AWS is throttling {op}{where} ({code}) even after retries: "
                "wait a minute and re-run; ingest resumes where it stopped"
            )
        if code in _NOT_FOUND_HINTS:
            return SourceError(_NOT_FOUND_HINTS[code].format(where=where))
        if code in ("404", "NotFound"):
            return SourceError(f"not found{where}: check the name, the AWS region and the endpoint")
        return SourceError(f"AWS {op} failed{where}: {code}: {message}".replace("\n", " "))
    if isinstance(exc, bx.BotoCoreError):
        return SourceError(f"AWS error{where}: {exc}".replace("\n", " "))
    raise exc


@contextmanager
def aws_errors(what: str = "") -> Iterator[None]:
    """Translate any botocore exception raised inside the block (see :func:`translate`)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:  # pragma: no cover
        raise MissingDependency("boto3", "aws") from exc
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, what) from exc


T = TypeVar("T")


def with_backoff(
    fn: Callable[..., T],
    /,
    *args: Any,
    attempts: int = 8,
    base: float = 0.2,
    cap: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> T:
    """Call ``fn`` and retry throttling errors with capped exponential back-off and full jitter.

    botocore already retries; this is the outer loop for long paginations (CloudWatch Logs)
    where giving up would throw away a resume position.
    """
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_throttle(exc) or attempt == attempts - 1:
                raise
            delay = random.uniform(0, min(cap, base * 2**attempt))
            log.info("throttled (%s), retrying in %.2fs", _error_code(exc), delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# Filter values per Describe* request (EC2 takes up to 200 values per filter).
DESCRIBE_CHUNK = 200


def describe(ec2, method: str, key: str, filter_name: str, values: Iterable[str]) -> list[dict]:
    """Every item of a paginated ``Describe*`` call filtered on ``filter_name`` in ``values``."""
    values = sorted(set(values))
    op = "".join(w.capitalize() for w in method.split("_"))
    out: list[dict] = []
    with aws_errors(f"ec2:{op} in {ec2.meta.region_name}"):
        paginator = ec2.get_paginator(method)
        for i in range(0, len(values), DESCRIBE_CHUNK):
            chunk = values[i : i + DESCRIBE_CHUNK]
            for page in paginator.paginate(Filters=[{"Name": filter_name, "Values": chunk}]):
                out.extend(page.get(key) or [])
    return out
