"""The dashboard's answers kept on disk beside the store, by store version.

A freshly started ``vpcflow serve`` would otherwise compute every panel of the first page it is
asked for (seconds on a large store). The answers of the dashboard's queries are written to
``_vpcflow/web/answers/<mode>/<store version>/`` as they are computed, and read back by any
server of the same store at the same version: a restart finds the overview it answered before.
The store version is a digest of the live data files, so an ingest or a compaction makes every
saved answer stale (the directories of other versions are removed when the first answer of the
new one is written; ``vpcflow serve`` answers the default view again in the background).
``mode`` keeps the answers of ``--no-rollups`` apart. Losing the directory loses nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("vpcflow.web")

__all__ = ["SavedAnswers", "MISSING"]

MISSING = object()
ANSWERS_DIR = "_vpcflow/web/answers"


class SavedAnswers:
    """Answers by (store version, key) under ``root``; ``root`` None keeps nothing."""

    def __init__(self, root: Path | None, marker: Path | None = None):
        self.root = root
        self.marker = marker  # the store's own file: no answer is written once it is gone
        self._pruned: str | None = None

    @classmethod
    def for_store(cls, store, mode: str) -> SavedAnswers:
        path = getattr(store, "path", None)
        if not isinstance(path, Path) or not path.is_dir() or not os.access(path, os.W_OK):
            return cls(None)  # a store on S3, or one this process may not write
        return cls(path / ANSWERS_DIR / mode, path / "vpcflow-store.json")

    def _file(self, version: str, text: str) -> Path:
        return self.root / version / (hashlib.sha256(text.encode()).hexdigest()[:32] + ".json")

    def get(self, version: str, key):
        if self.root is None:
            return MISSING
        text = json.dumps(key)
        try:
            saved = json.loads(self._file(version, text).read_text())
        except (OSError, ValueError):
            return MISSING
        if not isinstance(saved, dict) or saved.get("key") != text:
            return MISSING
        return saved.get("value", MISSING)

    def put(self, version: str, key, value) -> None:
        if self.root is None:
            return
        text = json.dumps(key)
        try:
            body = json.dumps({"key": text, "value": value})
        except (TypeError, ValueError):  # not JSON: kept in memory only
            return
        path = self._file(version, text)
        if self.marker is not None and not self.marker.exists():
            return  # the store was removed (a temporary demo store): do not make it again
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            if self._pruned != version:
                self._prune(version)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(body)
            tmp.replace(path)  # a reader sees the whole answer or none
        except OSError as exc:
            log.info("saving a dashboard answer failed: %s", exc)
            with contextlib.suppress(OSError):  # a full disk: no partial file left behind
                tmp.unlink(missing_ok=True)

    def _prune(self, version: str) -> None:
        """Remove the answers of other store versions (stale since an ingest or compaction)."""
        self._pruned = version
        if self.root.is_dir():
            for d in self.root.iterdir():
                if d.name != version:
                    shutil.rmtree(d, ignore_errors=True)
