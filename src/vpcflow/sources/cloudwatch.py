"""``cloudwatch://LOG_GROUP``: flow logs published to CloudWatch Logs (one stream per ENI).

Every stream of the group is read with ``GetLogEvents`` (oldest first, following
``nextForwardToken``), every call retried with back-off when throttled. Events become
header-less text objects of at most ``CHUNK_EVENTS`` records, one stream at a time, so memory
stays bounded. Their field order is ``log_format`` when given (``--log-format``), else the
``LogFormat`` that DescribeFlowLogs reports for flow logs publishing to this group.

Resuming: each object's ``state`` (saved in the store manifest) holds the stream's last event
timestamp and fingerprints of the events at that instant. The next ingest starts every stream
there, drops the events it already has, and skips streams that received nothing since (their
``lastIngestionTime``). Events that CloudWatch receives later with a timestamp before that
position are not picked up; ``--since`` reads a range again.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator

from .. import aws
from ..errors import ConfigError, SourceError
from . import RawObject
from ._filters import Filters, _as_set

log = logging.getLogger("vpcflow.sources.cloudwatch")

__all__ = ["iter_cloudwatch", "flow_log_format", "CHUNK_EVENTS"]

CHUNK_EVENTS = 50_000
CHUNK_BYTES = 16 << 20
PAGE_LIMIT = 10_000  # GetLogEvents maximum
_FUTURE_SLACK_MS = 2 * 3600 * 1000  # CloudWatch accepts event timestamps up to 2 h ahead


def _fingerprint(ts: int, message: str) -> str:
    return hashlib.blake2b(f"{ts}\0{message}".encode(), digest_size=8).hexdigest()


def flow_log_format(group: str, *, sess) -> str | None:
    """The ``LogFormat`` of the flow logs that publish to ``group`` (None when unknown).

    Several flow logs with different formats in one group cannot be told apart per stream:
    that is a ``ConfigError`` asking for ``--log-format``.
    """
    ec2 = aws.client("ec2", sess=sess)
    try:
        with aws.aws_errors(f"ec2 DescribeFlowLogs for log group {group}"):
            formats = set()
            for page in ec2.get_paginator("describe_flow_logs").paginate(
                Filters=[{"Name": "log-group-name", "Values": [group]}]
            ):
                for fl in page.get("FlowLogs", []):
                    if fl.get("LogGroupName", group) == group and fl.get("LogFormat"):
                        formats.add(fl["LogFormat"])
    except SourceError as exc:  # e.g. no ec2:DescribeFlowLogs permission: guess by field count
        log.warning("%s; records are read by field count (pass --log-format to be exact)", exc)
        return None
    if len(formats) > 1:
        raise ConfigError(
            f"log group {group} receives flow logs with {len(formats)} different formats: "
            "pass --log-format to say which one to read"
        )
    return formats.pop() if formats else None


def _resume_states(manifest, group: str) -> dict[str, dict]:
    """stream name -> the latest saved state (manifest entries come in commit order)."""
    if manifest is None:
        return {}
    prefix = f"cloudwatch://{group}/"
    states: dict[str, dict] = {}
    for entry in manifest.entries(prefix):
        st = entry.get("state") or {}
        if st.get("stream") and entry.get("uri", "").startswith(prefix):
            states[st["stream"]] = st
    return states


def _group_arn(logs, group: str, api_region: str) -> str:
    kw = {"logGroupNamePrefix": group}
    while True:
        with aws.aws_errors(f"log group {group}"):
            page = aws.with_backoff(logs.describe_log_groups, **kw)
        for g in page.get("logGroups", []):
            if g.get("logGroupName") == group:
                return g.get("arn", "")
        if not page.get("nextToken"):
            break
        kw["nextToken"] = page["nextToken"]
    raise SourceError(
        f"no such log group {group!r} in {api_region}: check the name and the AWS region"
    )


def _streams(logs, group: str) -> Iterator[dict]:
    kw = {"logGroupName": group}
    while True:
        with aws.aws_errors(f"log streams of {group}"):
            page = aws.with_backoff(logs.describe_log_streams, **kw)
        yield from page.get("logStreams", [])
        if not page.get("nextToken"):
            return
        kw["nextToken"] = page["nextToken"]


def _events(logs, group: str, stream: str, start_ms, end_ms, page_limit: int) -> Iterator[dict]:
    kw = {
        "logGroupName": group,
        "logStreamName": stream,
        "startFromHead": True,
        "limit": page_limit,
    }
    if start_ms is not None:
        kw["startTime"] = start_ms
    if end_ms is not None:
        kw["endTime"] = end_ms
    while True:
        with aws.aws_errors(f"cloudwatch://{group}/{stream}"):
            page = aws.with_backoff(logs.get_log_events, **kw)
        yield from page.get("events", [])
        token = page.get("nextForwardToken")
        if not token or token == kw.get("nextToken"):
            return  # the same token back means the end of the stream
        kw["nextToken"] = token


def iter_cloudwatch(
    spec: str,
    *,
    since=None,
    until=None,
    account=None,
    region=None,
    profile: str | None = None,
    aws_region: str | None = None,
    log_format: str | None = None,
    manifest=None,
    page_limit: int = PAGE_LIMIT,
    chunk_events: int = CHUNK_EVENTS,
    **_options,
) -> Iterator[RawObject]:
    """Objects of new events from every stream of ``cloudwatch://LOG_GROUP``.

    ``aws_region`` is the group's region (a single ``region`` filter is used when it is not
    given); ``account``/``region`` filters skip the group when it is elsewhere. ``manifest``
    (the store's) supplies resume positions.
    """
    group = spec[len("cloudwatch://") :]
    if not group:
        raise ConfigError(f"no log group in {spec!r}: use cloudwatch://LOG_GROUP")
    flt = Filters.from_options(account, region, since, until)
    regions = _as_set(region)
    if aws_region is None and regions and len(regions) == 1:
        aws_region = next(iter(regions))
    sess = aws.session(profile, aws_region)
    api_region = sess.region_name
    if not flt.region_ok(api_region):
        return
    logs = aws.client("logs", sess=sess)
    arn = _group_arn(logs, group, api_region)
    acct = arn.split(":")[4] if arn.count(":") >= 5 else None
    if not flt.account_ok(acct):
        return
    fmt = log_format or flow_log_format(group, sess=sess)
    states = _resume_states(manifest, group)

    for st in _streams(logs, group):
        name = st["logStreamName"]
        prev = states.get(name, {})
        last_ingested = st.get("lastIngestionTime")
        if prev and last_ingested is not None and last_ingested <= prev.get("ingested_upto", -1):
            continue  # nothing arrived since the last ingest
        if (
            flt.since_ms is not None
            and last_ingested is not None
            and (last_ingested + _FUTURE_SLACK_MS < flt.since_ms)
        ):
            continue
        first_ts = st.get("firstEventTimestamp")
        if flt.until_ms is not None and first_ts is not None and first_ts >= flt.until_ms:
            continue
        start = prev.get("last_ts")
        if flt.since_ms is not None:
            start = max(start or 0, flt.since_ms)
        end = flt.until_ms  # GetLogEvents' endTime is exclusive (_chunks re-checks for emulators)
        yield from _chunks(
            logs,
            group,
            name,
            start,
            end,
            prev,
            last_ingested,
            fmt,
            acct,
            api_region,
            page_limit,
            chunk_events,
        )


def _chunks(
    logs,
    group,
    stream,
    start,
    end,
    prev,
    last_ingested,
    fmt,
    acct,
    api_region,
    page_limit,
    chunk_events,
) -> Iterator[RawObject]:
    uri = f"cloudwatch://{group}/{stream}"
    seen = (
        set(prev.get("seen", [])) if start is not None and start == prev.get("last_ts") else set()
    )
    last_ts = prev.get("last_ts")
    at_last: list[str] = list(prev.get("seen", [])) if last_ts is not None else []
    lines: list[str] = []
    size = 0
    first = None

    def emit(final: bool) -> RawObject:
        data = ("\n".join(lines) + "\n").encode()
        digest = hashlib.blake2b(data, digest_size=6).hexdigest()
        state = {"stream": stream, "last_ts": last_ts, "seen": sorted(set(at_last))}
        if final:  # only the last chunk may mark the stream read up to its ingestion time
            state["ingested_upto"] = last_ingested
        return RawObject(
            uri=uri,
            open=lambda d=data: io.BytesIO(d),
            version=f"{first}-{last_ts}-{len(lines)}-{digest}",
            size=len(data),
            kind="text",
            account=acct,
            region=api_region,
            log_format=fmt,
            state=state,
        )

    for ev in _events(logs, group, stream, start, end, page_limit):
        ts, msg = int(ev["timestamp"]), ev.get("message", "").rstrip("\n")
        if end is not None and ts >= end:
            break
        fp = _fingerprint(ts, msg)
        if fp in seen:
            continue  # delivered by the previous ingest
        if ts != last_ts:
            last_ts, at_last = ts, []
        at_last.append(fp)
        if first is None:
            first = ts
        lines.append(msg.replace("\n", " "))
        size += len(msg) + 1
        if len(lines) >= chunk_events or size >= CHUNK_BYTES:
            yield emit(final=False)
            lines, size, first = [], 0, None
    if lines:
        yield emit(final=True)
