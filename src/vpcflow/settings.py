"""Settings in one place: (name, default, help) feeds CLI flags, ``VPCFLOW_*`` env vars and docs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str

    @property
    def env(self) -> str:
        return "VPCFLOW_" + self.name.upper()

    def get(self):
        raw = os.environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        if isinstance(self.default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(self.default, int):
            return int(raw)
        if isinstance(self.default, float):
            return float(raw)
        return raw


def data_dir() -> Path:
    """The per-user data directory (``$XDG_DATA_HOME/vpcflow``, else ``~/.local/share/vpcflow``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vpcflow"


def _default_store() -> str:
    return str(data_dir() / "store")


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "store", _default_store(), "Store directory (Hive-partitioned Parquet + manifest)."
        ),
        Setting("row_limit", 10_000, "Most rows a query returns to the CLI (0: no limit)."),
        Setting(
            "time_limit", 60.0, "Seconds a query may run before it is cancelled (0: no limit)."
        ),
        Setting("memory_limit", "2GB", "Memory the embedded DuckDB may use."),
        Setting(
            "engine",
            "duckdb",
            "Query engine: duckdb (embedded) or spark (pip install 'vpcflow[spark]').",
        ),
        Setting(
            "spark_master",
            "local[*]",
            "Spark master URL of the spark engine: local[N], spark://HOST:PORT, yarn, k8s://...",
        ),
        Setting("threads", 0, "Worker threads for ingest and queries (0: one per core)."),
        Setting(
            "batch_rows",
            1_000_000,
            "Records an ingest commits at a time (a crash re-does at most this many).",
        ),
        Setting(
            "ip_ranges_url",
            "https://ip-ranges.amazonaws.com/ip-ranges.json",
            "Where 'vpcflow enrich update' downloads AWS's IP ranges.",
        ),
        Setting(
            "ip_ranges_file",
            "",
            "The AWS IP ranges file aws_service() reads (default: ip-ranges.json in the data directory).",
        ),
    )
}


def get(name: str):
    """The value of a setting: its ``VPCFLOW_*`` variable if set, else the default."""
    return SETTINGS[name].get()


def threads() -> int:
    n = int(get("threads"))
    return n if n > 0 else (os.cpu_count() or 1)
