"""Tiny hand-made flow-log data for the AWS tests (no dependency on the generator)."""

from __future__ import annotations

import gzip
import io
import random
from datetime import UTC, datetime

DEFAULT_FIELDS = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]
HEADER = " ".join(DEFAULT_FIELDS)


def records(
    n: int, *, seed: int, account: str, start: datetime, eni: str = "eni-0a1b2c3d"
) -> list[dict]:
    """``n`` default-format records starting at ``start`` (one every 10 s)."""
    rng = random.Random(seed)
    t0 = int(start.replace(tzinfo=UTC).timestamp())
    out = []
    for i in range(n):
        begin = t0 + 10 * i
        out.append(
            {
                "version": 2,
                "account-id": account,
                "interface-id": eni,
                "srcaddr": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "dstaddr": f"172.16.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "srcport": rng.randint(1024, 65535),
                "dstport": rng.choice([22, 80, 443, 3306]),
                "protocol": 6,
                "packets": rng.randint(1, 50),
                "bytes": rng.randint(40, 90000),
                "start": begin,
                "end": begin + 5,
                "action": rng.choice(["ACCEPT", "REJECT"]),
                "log-status": "OK",
            }
        )
    return out


def text_lines(recs: list[dict]) -> list[str]:
    return [" ".join(str(r[f]) for f in DEFAULT_FIELDS) for r in recs]


def text_gz(recs: list[dict], header: bool = True) -> bytes:
    lines = ([HEADER] if header else []) + text_lines(recs)
    return gzip.compress(("\n".join(lines) + "\n").encode())


def parquet_bytes(recs: list[dict]) -> bytes:
    """A Parquet object shaped like AWS's: one column per field, underscores in names."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ints = {"version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end"}
    cols = {}
    for f in DEFAULT_FIELDS:
        vals = [r[f] for r in recs]
        cols[f.replace("-", "_")] = pa.array(vals, pa.int64() if f in ints else pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf, compression="gzip")
    return buf.getvalue()


def file_name(
    account: str,
    region: str,
    when: datetime,
    flow_log_id: str = "fl-0123abcd",
    parquet: bool = False,
) -> str:
    ext = "log.parquet" if parquet else "log.gz"
    return f"{account}_vpcflowlogs_{region}_{flow_log_id}_{when:%Y%m%dT%H%MZ}_{int(when.timestamp()) % 16**8:08x}.{ext}"


def key(
    layout: str,
    account: str,
    region: str,
    when: datetime,
    *,
    parquet: bool = False,
    prefix: str = "",
) -> str:
    """The S3 key AWS would use for an object of ``layout``: plain, plain-hour, hive, hive-hour."""
    hive = layout.startswith("hive")
    hour = layout.endswith("hour")
    if hive:
        d = (
            f"AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/"
            f"year={when:%Y}/month={when:%m}/day={when:%d}/"
        )
        if hour:
            d += f"hour={when:%H}/"
    else:
        d = f"AWSLogs/{account}/vpcflowlogs/{region}/{when:%Y/%m/%d}/"
        if hour:
            d += f"{when:%H}/"
    return prefix + d + file_name(account, region, when, parquet=parquet)
