"""Realistic synthetic VPC Flow Logs, delivered as AWS delivers them to S3.

    >>> from vpcflow.generate import generate
    >>> report = generate("out", records=1_000_000, seed=7, attacks="all")
    >>> report.files[0]
    PosixPath('out/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-0d1e2f3a4b5c6d7e8_20240501T0000Z_....log.gz')

The traffic is a small production VPC (see ``topology``): public web servers with a long-tailed,
diurnal client population, CDN edges, health checkers and a busy API partner; private app,
database, cache, DNS, monitoring and batch hosts talking to each other; a NAT gateway; DNS and NTP
upstreams; internet scanners rejected on 22/23/3389/445/8080/...; NODATA and SKIPDATA records; a
network ACL that rejects responses to ephemeral ports. ``attacks`` injects labelled incidents and
writes their ground truth to ``labels.json`` beside the logs.

The output depends only on the arguments: the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..timeparse import to_epoch
from . import attacks as _attacks
from . import benign as _benign
from . import inventory as _inventory
from . import output, topology, traffic
from .attacks import TYPES as ATTACK_TYPES
from .attacks import parse_attacks
from .records import Batch

__all__ = [
    "generate",
    "GenerateReport",
    "ATTACK_TYPES",
    "parse_attacks",
    "DEFAULT_START",
    "LABELS_FILE",
    "THREAT_LIST_FILE",
]

log = logging.getLogger("vpcflow.generate")

DEFAULT_START = "2024-05-01T00:00:00Z"
LABELS_FILE = "labels.json"
THREAT_LIST_FILE = _attacks.THREAT_LIST_FILE  # beside the labels with known-bad-ip incidents
MAX_RECORDS_PER_FILE = 500_000  # AWS caps a delivered object (75 MB); larger windows split
VERSIONS = (2, 3, 4, 5)
FORMATS = ("text", "parquet")
LAYOUTS = ("s3", "hive", "flat")


@dataclass
class GenerateReport:
    """What ``generate`` wrote."""

    out_dir: Path
    files: list[Path]
    records: int
    bytes: int
    labels: Path | None
    seconds: float
    incidents: list[dict] = field(default_factory=list)
    start: str = ""
    end: str = ""
    interfaces: Path | None = None  # the describe-network-interfaces JSON of the VPC

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "files": len(self.files),
            "records": self.records,
            "bytes": self.bytes,
            "labels": str(self.labels) if self.labels else None,
            "incidents": len(self.incidents),
            "start": self.start,
            "end": self.end,
            "interfaces": str(self.interfaces) if self.interfaces else None,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second),
        }


def generate(
    out_dir: str | Path,
    *,
    records: int = 100_000,
    seed: int = 0,
    version: int = 2,
    fmt: str = "text",
    layout: str = "s3",
    hourly: bool = False,
    attacks: str | list[str] | tuple[str, ...] | None = None,
    start: str | int | datetime = DEFAULT_START,
    hours: float = 24.0,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    lookalikes: bool = False,
    benign_only: bool = False,
) -> GenerateReport:
    """Write ``records`` flow-log records covering ``hours`` from ``start`` under ``out_dir``.

    ``version`` 2 is the default format; 3-5 are "all fields of that version". ``fmt`` is
    ``text`` (gzip, header line) or ``parquet``; ``layout`` ``s3`` (AWSLogs/<account>/...),
    ``hive`` (aws-account-id=.../year=...) or ``flat``; ``hourly`` adds the hour level.
    ``attacks`` is ``"all"`` or a comma list of ``ATTACK_TYPES``. ``lookalikes`` adds the
    benign look-alikes of ``benign`` (labelled ``"type": "benign"``, with ``allow-list.txt`` for
    the authorised scanner); ``benign_only`` writes a day with them and no incident at all (not
    even the background sweeps). ``progress(done, total)`` is called after each file.

    ``out_dir`` must be new or empty unless ``force`` (then its contents are replaced). The
    logs are written beside it and moved into place when complete: an interrupted or failed
    run leaves ``out_dir`` as it was.
    """
    t_begin = time.perf_counter()
    if version not in VERSIONS:
        raise ConfigError(f"version must be one of {VERSIONS}, not {version!r}")
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, not {fmt!r}")
    if layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    if records < 1:
        raise ConfigError("records must be at least 1")
    final = Path(out_dir)
    if final.exists() and not final.is_dir():
        raise ConfigError(f"{final}: is a file, not a directory for the generated logs")
    if final.is_dir() and any(final.iterdir()) and not force:
        raise ConfigError(
            f"{final}: not empty; generate into a new or empty directory, or use force=True to "
            "replace its contents"
        )
    if not hours > 0:
        raise ConfigError("hours must be positive")
    types = parse_attacks(attacks)
    if benign_only and types:
        raise ConfigError("--benign-only writes a day without incidents: drop --attacks")
    lookalikes = lookalikes or benign_only
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.generating-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(out, 0o777 & ~umask)  # mkdtemp's 0700 would become the output directory's mode
    try:
        report = _generate(
            out, final, records, seed, version, fmt, layout, hourly, types, start, hours,
            workers, progress, t_begin, lookalikes=lookalikes, benign_only=benign_only,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    _move_into_place(out, final)
    return report


def _move_into_place(staged: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.replaced-{os.getpid()}")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _generate(
    out, final, records, seed, version, fmt, layout, hourly, types, start, hours, workers,
    progress, t_begin, lookalikes=False, benign_only=False,
) -> GenerateReport:  # fmt: skip
    t0 = to_epoch(start, name="start")
    t0 -= t0 % traffic.WINDOW
    n_windows = max(1, math.ceil(hours * 3600 / traffic.WINDOW))
    t1 = t0 + n_windows * traffic.WINDOW

    pop = traffic.Population.make(seed)
    injected, threats = _attacks.incidents(
        types,
        seed,
        t0,
        t1,
        avoid={*pop.clients.tolist(), *pop.scanners.tolist()},
        records=records,
        background=not benign_only,
    )
    allow: list[str] = []
    if lookalikes:
        used = {*pop.clients.tolist(), *pop.scanners.tolist()}
        for label in (lab for _, lab in injected):
            used.update(topo_ints(label))
        benign_batches, allow, _ = _benign.lookalikes(seed, t0, t1, used, records)
        injected += [
            (b, {"id": f"benign-{i + 1:02d}", **lab}) for i, (b, lab) in enumerate(benign_batches)
        ]
    labels = [label for _, label in injected]
    attack_cols = _merge([b for b, _ in injected])
    n_attack = len(attack_cols["eni"])
    if n_attack * 2 > records:
        raise ConfigError(
            f"the attacks and look-alikes add {n_attack} records: records must be "
            f"{n_attack * 2} or more so that the incidents are not most of the data"
        )
    attack_window = np.clip((attack_cols["start"] - t0) // traffic.WINDOW, 0, n_windows - 1)
    order = np.argsort(attack_window, kind="stable")
    attack_cols = {k: v[order] for k, v in attack_cols.items()}
    bounds = np.searchsorted(attack_window[order], np.arange(n_windows + 1))

    window_starts = t0 + traffic.WINDOW * np.arange(n_windows)
    weights = np.array([traffic.window_weight(t) for t in window_starts])
    budget = traffic.allocate(records - n_attack, weights)

    files: list[Path] = []
    total_bytes = 0
    done = 0
    pending: deque = deque()

    def finish_one() -> None:
        nonlocal total_bytes, done
        path, n, fut = pending.popleft()
        total_bytes += fut.result()
        files.append(path)
        done += n
        if progress is not None:
            progress(done, records)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for w in range(n_windows):
            t = int(window_starts[w])
            b = traffic.window_batch(pop, seed, w, t, int(budget[w]))
            cols = b.columns()
            lo, hi = bounds[w], bounds[w + 1]
            if hi > lo:
                cols = {k: np.concatenate([v, attack_cols[k][lo:hi]]) for k, v in cols.items()}
            n = len(cols["eni"])
            if n == 0:
                continue
            order = np.argsort(cols["start"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
            parts = math.ceil(n / MAX_RECORDS_PER_FILE)
            for p in range(parts):
                sl = slice(p * n // parts, (p + 1) * n // parts)
                part = {k: v[sl] for k, v in cols.items()}
                path = out / output.object_key(t, p, seed, layout, hourly, fmt)
                fut = pool.submit(output.write_file, path, part, version, fmt)
                pending.append((path, sl.stop - sl.start, fut))
                while len(pending) > 2 * max(1, workers):
                    finish_one()
        while pending:
            finish_one()

    labels_path = None
    if allow:
        (out / _benign.ALLOW_LIST_FILE).write_text(_benign.allow_list_text(allow))
    if types or lookalikes:
        labels_path = out / LABELS_FILE
        # one incident per line: easy to read, diff and grep
        body = ",\n".join("  " + json.dumps(label) for label in labels)
        labels_path.write_text("[\n" + body + "\n]\n")
        if threats:
            (out / THREAT_LIST_FILE).write_text(_attacks.threat_list_text(threats))
    # The VPC's interfaces as EC2 describes them, attached a month before the logs begin.
    interfaces_path = _inventory.write(out / _inventory.FILE, attached=t0 - 30 * 86400)
    report = GenerateReport(
        out_dir=final,
        interfaces=final / interfaces_path.relative_to(out),
        files=[final / f.relative_to(out) for f in files],
        records=done,
        bytes=total_bytes,
        labels=final / LABELS_FILE if labels_path else None,
        seconds=time.perf_counter() - t_begin,
        incidents=labels,
        start=_attacks.iso(t0),
        end=_attacks.iso(t1),
    )
    log.info(
        "generated %d records in %d files (%.0f records/s)",
        report.records,
        len(files),
        report.records_per_second,
    )
    return report


def topo_ints(label: dict) -> list[int]:
    """The incident's addresses as integers (look-alikes must not reuse them)."""
    addrs = label.get("source")
    addrs = (addrs if isinstance(addrs, list) else [addrs]) + list(label.get("targets", []))
    out = []
    for a in addrs:
        try:
            out.append(topology.ip_int(a))
        except (OSError, ValueError, TypeError):
            continue
    return out


def _merge(batches: list[Batch]) -> dict[str, np.ndarray]:
    merged = Batch()
    for b in batches:
        merged.extend(b)
    return merged.columns()


# Re-exported for callers that want the VPC's names (demo, tests, docs).
ACCOUNT, REGION, FLOW_LOG_ID = topology.ACCOUNT, topology.REGION, topology.FLOW_LOG_ID
