"""What earlier ``detect --new`` runs reported on a store, so a cron job reports each incident
once: ``<store>/detect/reported.jsonl``, one finding a line (id, type, source, targets, ports,
first and last seen). A finding is old when an earlier one of the same type and source shared
a port or a target and overlapped it in time (two hours of slack: a sweep still running at the
next run is the same sweep)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..errors import StoreError

FILE = Path("detect") / "reported.jsonl"
SLACK = dt.timedelta(hours=2)


def _t(s: str | None) -> dt.datetime:
    if not s:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _path(store) -> Path:
    root = getattr(store, "path", None)
    if root is None:
        raise StoreError("--new needs a store directory to remember what it reported")
    return Path(root) / FILE


def reported(store) -> list[dict]:
    path = _path(store)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StoreError(
                    f"{path} line {n}: not JSON ({exc.msg}); delete the line or the file"
                ) from exc
    return out


def _same(f, e: dict) -> bool:
    return (
        f.type == e["type"]
        and f.source == e["source"]
        and bool(set(f.ports) & set(e["ports"]) or set(f.targets) & set(e["targets"]))
        and _t(f.first_seen) - SLACK <= _t(e["last_seen"])
        and _t(e["first_seen"]) - SLACK <= _t(f.last_seen)
    )


def new_findings(store, findings: list) -> list:
    """The findings no earlier run reported; they are remembered as reported."""
    old = reported(store)
    new = [f for f in findings if not any(_same(f, e) for e in old)]
    path = _path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            for f in new:
                out.write(
                    json.dumps(
                        {
                            "id": f.id,
                            "type": f.type,
                            "source": f.source,
                            "targets": f.targets,
                            "ports": f.ports,
                            "first_seen": f.first_seen,
                            "last_seen": f.last_seen,
                        }
                    )
                    + "\n"
                )
    except OSError as exc:
        raise StoreError(
            f"cannot remember reported findings in {path}: {exc.strerror or exc} "
            "(--new needs write access to the store)"
        ) from exc
    return new
