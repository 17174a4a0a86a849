"""Check and repair a store: every manifest line, and every data file against the manifest.

``check_store(store)`` reads the journal leniently (``Manifest.scan``) and verifies each live
data file: present, the size and CRC-32 recorded when it was committed (files committed before
checksums were recorded: a readable Parquet footer with the recorded row count). Nothing is
changed.

``check_store(store, repair=True)``, under the writer lock:

1. damaged manifest lines are set aside: the journal is rewritten without them (the original
   is kept as ``_vpcflow/manifest.jsonl.damaged-<time>``); a lost commit line means its
   objects are simply not ingested any more, so the next ingest stores them again;
2. files that are missing or damaged are dropped from the manifest in one transaction, with
   every other file holding records of the same objects (an object's records may be spread
   over several files, and a compacted file mixes many objects), and those objects are marked
   for re-ingest: the next ``vpcflow ingest`` of their source stores them again, exactly once;
3. files under ``data/`` that the manifest does not name (left by a lost commit line, or
   copied in) are moved to ``_vpcflow/set-aside/<time>/``, so that engines reading ``data/``
   directly never count them twice. Nothing is deleted but what is damaged.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StoreError
from .manifest import Txn, live_files, rollup_paths
from .parts import file_crc32
from .rollups import ROLLUP_DIR, ROLLUPS

log = logging.getLogger("vpcflow")


def verify_file(root: Path, f: dict) -> str | None:
    """Why the data file of manifest entry ``f`` is damaged, or None if it is intact."""
    path = root / f["path"]
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if f.get("size") is not None and size != f["size"]:
        return f"{size:,} bytes, {f['size']:,} when committed"
    if f.get("crc32") is not None:
        try:
            _, crc = file_crc32(path)
        except OSError as exc:
            return f"cannot be read: {exc.strerror}"
        return None if crc == f["crc32"] else "checksum differs from the one recorded at commit"
    try:  # committed before checksums were recorded: the footer and row count at least
        rows = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        return f"not a readable Parquet file ({exc})"
    return None if rows == f["rows"] else f"{rows:,} rows, {f['rows']:,} when committed"


def check_store(store, repair: bool = False) -> dict:
    """Verify ``store`` (see the module docstring); with ``repair``, mend what is damaged."""
    result: dict = {
        "store": str(store.path),
        "manifest_damaged_lines": [],
        "files_checked": 0,
        "files_ok": 0,
        "damaged_files": [],
        "unreferenced_files": [],
        "repaired": False,
        "files_dropped": 0,
        "records_dropped": 0,
        "objects_to_reingest": [],
        "set_aside": None,
        "rollups_checked": 0,
        "damaged_rollups": [],
        "unreferenced_rollups": [],
        "rollups_rebuilt": 0,
    }
    if not repair:
        txns, damaged = store.manifest.scan()
        _report_manifest(result, damaged)
        _check_files(store, txns, result)
        return result
    with store._lock(blocking=False) as got:
        if not got:
            raise StoreError(
                f"{store.path}: another vpcflow process is writing to this store; "
                "try again when it ends"
            )
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        _, damaged = store.manifest.scan()
        _report_manifest(result, damaged)
        if damaged:
            _rewrite_manifest(store, {no for no, _ in damaged}, stamp)
        store._recover_locked()
        txns = store.manifest.transactions()
        _check_files(store, txns, result)
        aside = store.path / "_vpcflow" / "set-aside" / stamp
        if result["damaged_files"]:
            _drop(store, txns, result, aside)
        for rel in result["unreferenced_files"]:
            _move(store.path, rel, aside)
        # Rollups are derived from the data files: damaged ones are written again, stray ones
        # (left by a lost commit line) deleted.
        for rel in result["unreferenced_rollups"]:
            (store.path / rel).unlink(missing_ok=True)
        if result["damaged_rollups"]:
            _forget_rollups(store, result["damaged_rollups"])
            wanted = list(ROLLUPS.values())
            result["rollups_rebuilt"] = store._rebuild_rollups_locked(wanted)["rollups_written"]
        if result["damaged_files"] or result["unreferenced_files"]:
            result["set_aside"] = str(aside)
        result["repaired"] = bool(
            damaged
            or result["damaged_files"]
            or result["unreferenced_files"]
            or result["damaged_rollups"]
            or result["unreferenced_rollups"]
        )
        store._invalidate()
    return result


def _report_manifest(result: dict, damaged: list[tuple[int, str]]) -> None:
    result["manifest_damaged_lines"] = [{"line": no, "reason": why} for no, why in damaged]


def _check_files(store, txns: list[Txn], result: dict) -> None:
    live = live_files(txns)
    for f in live:
        result["files_checked"] += 1
        why = verify_file(store.path, f)
        if why is None:
            result["files_ok"] += 1
        else:
            result["damaged_files"].append({"path": f["path"], "rows": f["rows"], "reason": why})
        for name, r in f.get("rollups", {}).items():
            result["rollups_checked"] += 1
            why = verify_file(store.path, r)
            if why is not None:
                result["damaged_rollups"].append(
                    {"path": r["path"], "rollup": name, "file": f["path"], "reason": why}
                )
    pending = live_files(txns, include_pending=True)
    named = {f["path"] for f in pending}
    named_rollups = {p for f in pending for p in rollup_paths(f)}
    result["unreferenced_rollups"] += _not_in(store.path, ROLLUP_DIR, named_rollups)
    for top in ("data", "tgw"):  # VPC and Transit Gateway records
        result["unreferenced_files"] += _not_in(store.path, top, named)


def _not_in(root: Path, top: str, named: set[str]) -> list[str]:
    """The Parquet files under ``root/top`` (paths relative to ``root``) not in ``named``."""
    base = root / top
    if not base.exists():
        return []
    rels = (p.relative_to(root).as_posix() for p in sorted(base.rglob("*.parquet")))
    return [rel for rel in rels if rel not in named]


def _rewrite_manifest(store, drop: set[int], stamp: str) -> None:
    path = store.manifest.path
    data = path.read_bytes()
    backup = path.with_name(f"{path.name}.damaged-{stamp}")
    backup.write_bytes(data)
    lines = data.split(b"\n")
    torn = lines.pop()
    kept = [raw for no, raw in enumerate(lines, 1) if no not in drop]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(b"".join(raw + b"\n" for raw in kept) + torn)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    log.warning("%s: %d damaged lines set aside; the original is %s", path, len(drop), backup)


def _origins(txns: list[Txn]) -> dict[str, set[str]]:
    """Data file -> the ingest transactions whose records it holds (compaction merges them)."""
    made: dict[str, set[str]] = {}
    for t in txns:
        if t.objects:
            origin = {t.txn}
        else:  # compaction: the records of the files it replaced
            origin = set().union(*(made.get(p, set()) for p in t.remove)) if t.remove else set()
        for f in t.files:  # a file listed again (its rollups rebuilt) keeps its origin
            made[f["path"]] = origin or made.get(f["path"], set())
    return made


def _drop(store, txns: list[Txn], result: dict, aside: Path) -> None:
    made = _origins(txns)
    by_id = {t.txn: t for t in txns}
    bad_txns: set[str] = set()
    for d in result["damaged_files"]:
        bad_txns |= made.get(d["path"], set())
    # An object streamed over several transactions is re-ingested whole: take them all.
    keys: set[tuple[str, str]] = set()
    while True:
        keys |= {(o["uri"], o.get("version", "")) for t in bad_txns for o in by_id[t].objects}
        more = {
            t.txn
            for t in txns
            if t.txn not in bad_txns
            and any((o["uri"], o.get("version", "")) in keys for o in t.objects)
        }
        if not more:
            break
        bad_txns |= more
    drop = [f for f in live_files(txns) if made.get(f["path"], set()) & bad_txns]
    damaged_paths = {d["path"] for d in result["damaged_files"]}
    drop += [
        f for f in live_files(txns) if f["path"] in damaged_paths and f not in drop
    ]  # a file of unknown origin
    latest = store.manifest.ingested()
    marked = []
    for key in sorted(keys):
        e = {
            k: v
            for k, v in latest.get(key, {"uri": key[0], "version": key[1]}).items()
            if k not in ("resume", "state", "error")
        }
        e.update(
            records=0,
            bad_lines=0,
            complete=False,
            time=time.time(),
            reingest="its records were in a damaged data file dropped by check --repair",
        )
        marked.append(e)
    for f in drop:
        _move(store.path, f["path"], aside)
    gone = [p for f in drop for p in [f["path"], *rollup_paths(f)]]
    txn = Txn(uuid.uuid4().hex[:16], marked, [], gone, None, time.time())
    store._commit(txn)
    result["files_dropped"] = len(drop)
    result["records_dropped"] = sum(f["rows"] for f in drop)
    result["objects_to_reingest"] = [e["uri"] for e in marked]


def _forget_rollups(store, damaged: list[dict]) -> None:
    """Take damaged rollups out of their files' manifest entries (readers fall back to the
    records until they are written again)."""
    bad = {(d["file"], d["rollup"]) for d in damaged}
    entries = []
    for f in store.manifest.live_files():
        names = [n for n in f.get("rollups", {}) if (f["path"], n) in bad]
        if names:
            keep = {n: r for n, r in f["rollups"].items() if n not in names}
            entries.append({**f, "rollups": keep})
    gone = [d["path"] for d in damaged]
    store._commit(Txn(uuid.uuid4().hex[:16], [], entries, gone, None, time.time()))


def _move(root: Path, rel: str, aside: Path) -> None:
    src = root / rel
    if not src.exists():
        return
    rp = Path(rel)
    dst = aside / (rp.relative_to("data") if rp.parts[0] == "data" else rp)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
