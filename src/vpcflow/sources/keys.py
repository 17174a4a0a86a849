"""The S3 key layouts AWS delivers flow logs in, shared by local directories and S3.

[prefix/]AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/[HH/]<file>
[prefix/]AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/
    year=YYYY/month=MM/day=DD/[hour=HH/]<file>
<file> = <account>_vpcflowlogs_<region>_<fl-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz | .log.parquet
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

_PLAIN = re.compile(
    r"(?:^|/)AWSLogs/(?P<account>\d{12}|[^/]+)/vpcflowlogs/(?P<region>[a-z0-9-]+)/"
    r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/(?:(?P<hour>\d{2})/)?[^/]+$"
)
_HIVE = re.compile(
    r"(?:^|/)AWSLogs/aws-account-id=(?P<account>[^/]+)/aws-service=vpcflowlogs/"
    r"aws-region=(?P<region>[^/]+)/year=(?P<year>\d{4})/month=(?P<month>\d{2})/"
    r"day=(?P<day>\d{2})/(?:hour=(?P<hour>\d{2})/)?[^/]+$"
)
_NAME = re.compile(
    r"(?P<account>\d{12})_vpcflowlogs_(?P<region>[a-z0-9-]+)_(?P<flow_log_id>fl-[0-9a-f]+)_"
    r"(?P<stamp>\d{8}T\d{4}Z)_(?P<hash>[0-9a-f]+)\.log(?P<ext>\.gz|\.parquet)?$"
)


@dataclass(frozen=True)
class KeyInfo:
    """What an S3 key (or a local path laid out like one) says about its flow logs."""

    account: str | None = None
    region: str | None = None
    day: date | None = None
    hour: int | None = None
    flow_log_id: str | None = None
    timestamp: datetime | None = None
    layout: str | None = None  # "plain", "hive" or None
    file_format: str | None = None  # "text" or "parquet"

    @property
    def is_flow_log(self) -> bool:
        return self.layout is not None or self.flow_log_id is not None


def parse_key(key: str) -> KeyInfo:
    """Read account, region, day, hour, flow-log id and file time from a key or path."""
    key = key.replace("\\", "/")
    info: dict = {}
    for layout, rx in (("hive", _HIVE), ("plain", _PLAIN)):
        m = rx.search(key)
        if m:
            info.update(
                layout=layout,
                account=m["account"],
                region=m["region"],
                hour=int(m["hour"]) if m["hour"] else None,
            )
            try:
                info["day"] = date(int(m["year"]), int(m["month"]), int(m["day"]))
            except ValueError:
                pass
            break
    name = key.rsplit("/", 1)[-1]
    n = _NAME.search(name)
    if n:
        info.setdefault("account", n["account"])
        info.setdefault("region", n["region"])
        info["flow_log_id"] = n["flow_log_id"]
        ts = datetime.strptime(n["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        info["timestamp"] = ts
        if "day" not in info:
            info["day"] = ts.date()
        info["file_format"] = "parquet" if n["ext"] == ".parquet" else "text"
    elif name.endswith(".parquet"):
        info["file_format"] = "parquet"
    return KeyInfo(**info)
