"""Settings in one place: (name, default, help) feeds CLI flags, ``VPCFLOW_*`` env vars and docs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SettingError

# DuckDB's memory_limit: a number and a unit (KB, MiB, GB, ...), or a percentage of RAM.
_SIZE = re.compile(r"\s*\d+(\.\d+)?\s*([KMGT]i?B|B|%)?\s*", re.I)


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    form: str = ""  # the accepted form, for errors; derived from the default's type if empty
    pattern: re.Pattern | None = None
    minimum: float = 0

    @property
    def env(self) -> str:
        return "VPCFLOW_" + self.name.upper()

    @property
    def accepted(self) -> str:
        if self.form:
            return self.form
        if isinstance(self.default, bool):
            return "true or false"
        if isinstance(self.default, int):
            return f"a whole number >= {self.minimum:g}"
        if isinstance(self.default, float):
            return f"a number of seconds >= {self.minimum:g}"
        return "text"

    def get(self):
        """The value in force; ``SettingError`` naming the variable if it is malformed."""
        raw = os.environ.get(self.env)
        if raw is None or raw.strip() == "":
            return self.default
        raw = raw.strip()
        try:
            if isinstance(self.default, bool):
                if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(raw)
                return raw.lower() in ("1", "true", "yes", "on")
            if isinstance(self.default, int):
                value = int(raw)
            elif isinstance(self.default, float):
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError(raw)
            else:
                if self.pattern is not None and not self.pattern.fullmatch(raw):
                    raise ValueError(raw)
                return raw
            if value < self.minimum:
                raise ValueError(raw)
            return value
        except ValueError:
            raise SettingError(
                f"{self.env}={raw!r} is not valid: expected {self.accepted}; "
                f"unset it for the default ({self.default})"
            ) from None


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
        Setting(
            "memory_limit",
            "2GB",
            "Memory the embedded DuckDB may use.",
            form="a size like 2GB, 512MB or 4GiB, or a percentage of RAM like 50%",
            pattern=_SIZE,
        ),
        Setting("threads", 0, "Worker threads for ingest and queries (0: one per core)."),
        Setting(
            "batch_rows",
            1_000_000,
            "Records an ingest commits at a time (a crash re-does at most this many).",
            minimum=1,
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
