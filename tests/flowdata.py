"""Small helpers that write flow-log files for the core tests (seeded, unique records)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def ingest_lines(root: Path, lines, log: str = "flows.log", store: str = "store") -> Path:
    """Write ``lines`` (version-2 records, each ending in a newline) under the default header
    to ``root/log``, ingest them into the store ``root/store`` and return its path."""
    from vpcflow import open_store

    path = root / log
    path.write_text(HEADER + "\n" + "".join(lines))
    s = open_store(root / store)
    s.ingest([str(path)])
    s.close()
    return root / store


def v2_lines(
    n: int, seed: int = 0, start: int = 1_700_000_000, eni: str = "eni-0a1b2c3d4e5f60718"
) -> list[str]:
    """``n`` distinct default-format records: (srcport, start) never repeats within a seed."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = start + i
        out.append(
            f"2 123456789012 {eni} 10.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)} "
            f"172.31.{rnd.randint(0, 255)}.{rnd.randint(1, 254)} {1024 + i % 60000} "
            f"{rnd.choice([22, 80, 443, 3389])} 6 {rnd.randint(1, 50)} {rnd.randint(40, 90000)} "
            f"{t} {t + 60} {rnd.choice(['ACCEPT', 'REJECT'])} OK"
        )
    return out


def write_s3_layout(root: Path, files: int, per_file: int, seed: int = 0) -> int:
    """Write ``files`` gzip objects in the AWS S3 key layout; returns the record count."""
    total = 0
    for k in range(files):
        day = 1 + k % 3
        d = (
            root
            / "AWSLogs"
            / "123456789012"
            / "vpcflowlogs"
            / "eu-west-1"
            / "2024"
            / "03"
            / f"{day:02d}"
        )
        d.mkdir(parents=True, exist_ok=True)
        name = f"123456789012_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_202403{day:02d}T{k % 24:02d}00Z_{k:08x}.log.gz"
        start = 1_709_251_200 + (day - 1) * 86400 + k * 1000
        lines = v2_lines(per_file, seed=seed * 1000 + k, start=start, eni=f"eni-{k:017x}")
        (d / name).write_bytes(gzip.compress(("\n".join([HEADER, *lines]) + "\n").encode()))
        total += per_file
    return total
