"""Settings in one place: (name, default, help) feeds CLI flags, ``VPCFLOW_*`` env vars and docs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SettingError
from .networks import DEFAULT_INTERNAL

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
            # a quarter of RAM: 2 GB on an 8 GB laptop; on 24 GB, detection's pre-aggregation
            # of 20M records builds a quarter faster than in a fixed 2 GB
            "memory_limit",
            "25%",
            "Memory the embedded DuckDB may use (default: a quarter of RAM).",
            form="a size like 2GB, 512MB or 4GiB, or a percentage of RAM like 50%",
            pattern=_SIZE,
        ),
        Setting(
            "engine",
            "duckdb",
            "Query engine: duckdb (embedded) or spark (pip install 'vpcflow[spark]').",
            form="duckdb or spark",
            pattern=re.compile(r"duckdb|spark", re.I),
        ),
        Setting(
            "spark_master",
            "local[*]",
            "Spark master URL of the spark engine: local[N], spark://HOST:PORT, yarn, k8s://...",
        ),
        Setting("threads", 0, "Worker threads for ingest and queries (0: one per core)."),
        Setting(
            "sql_cache",
            True,
            "Keep the DuckDB SQL each query translates to, so that running it again skips the "
            "translation (and loading the translator).",
        ),
        Setting(
            "cache_dir",
            "",
            "Directory of vpcflow's caches (empty: $XDG_CACHE_HOME/vpcflow, else "
            "~/.cache/vpcflow).",
        ),
        Setting(
            "worker_start",
            "auto",
            "How ingest starts its worker processes: fork (ready at once), exec (a fresh "
            "interpreter each) or auto (fork on Linux while no other thread runs, else exec); "
            "exec also keeps troubleshoot in one process.",
            form="auto, fork or exec",
            pattern=re.compile(r"auto|fork|exec", re.I),
        ),
        Setting(
            "batch_rows",
            4_000_000,
            "Records an ingest commits at a time (a crash re-does at most this many).",
            minimum=1,
        ),
        Setting(
            "rollups",
            "traffic",
            "Which rollups (per-file summaries that detect and the dashboard read) ingest keeps "
            "with each data file: a comma-separated list of names, 'all' (or true) or 'none' "
            "(or false). The default, traffic, costs under 1 % of ingest time and store size; "
            "all adds about 65 % to the store and makes detect and the dashboard's top-N "
            "panels faster.",
            form="a comma-separated list of rollup names, all or none",
            pattern=re.compile(r"[a-z0-9_]+(\s*,\s*[a-z0-9_]+)*", re.I),
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
        Setting(
            "ip_ranges_bundled",
            True,
            "Until 'vpcflow enrich update' has loaded AWS's IP ranges, read the snapshot shipped "
            "with vpcflow (false: aws_service() is NULL without a downloaded file).",
        ),
        # Detection thresholds (each detector's docstring in detect/detectors.py says why).
        Setting(
            "internal_networks",
            ",".join(DEFAULT_INTERNAL),
            "Detection: the networks that are ours, comma-separated CIDR blocks (a VPC with "
            "public IPv4 ranges adds them).",
        ),
        Setting("probe_packets", 3, "Detection: most packets of a request that is a probe."),
        Setting("probe_bytes", 240, "Detection: most bytes of a request that is a probe."),
        Setting("port_scan_min_ports", 50, "port-scan: distinct ports probed on one host."),
        Setting("port_scan_window", 3600, "port-scan: window step in seconds (windows 2x long)."),
        Setting(
            "port_scan_min_probe_share",
            0.8,
            "port-scan: share of the ports reached that are probes.",
        ),
        Setting(
            "host_sweep_min_targets", 5, "host-sweep: distinct destinations probed on one port."
        ),
        Setting(
            "host_sweep_max_requests_per_target", 4, "host-sweep: most requests per destination."
        ),
        Setting(
            "host_sweep_min_probe_share",
            0.8,
            "host-sweep: share of the destinations reached that were only probed.",
        ),
        Setting(
            "host_sweep_public_min_clients",
            20,
            "host-sweep: outside clients exchanging data on a port that make it a public service.",
        ),
        Setting(
            "host_sweep_usual_hours", 3, "host-sweep: windows a pair recurs in to be a usual one."
        ),
        Setting("host_sweep_subnet_sweeps", True, "host-sweep: report sweeps split over a /24."),
        Setting("host_sweep_min_subnet_sources", 2, "host-sweep: addresses of a /24 sweep."),
        Setting(
            "host_sweep_min_subnet_targets_per_source",
            3.0,
            "host-sweep: destinations each address of a /24 sweep probes, on average (on one "
            "port, or on all the ports the /24 sweeps in the window together).",
        ),
        Setting("host_sweep_window", 3600, "host-sweep: window step in seconds (windows 2x long)."),
        Setting("brute_force_min_attempts", 30, "brute-force: login-sized connections per window."),
        Setting("brute_force_min_bytes", 1000, "brute-force: least bytes a login attempt sends."),
        Setting("brute_force_max_bytes", 10_000, "brute-force: most bytes a login attempt sends."),
        Setting("brute_force_ports", "22,3389,5985,5986", "brute-force: remote-login ports."),
        Setting("brute_force_window", 3600, "brute-force: window step in seconds."),
        Setting("exfiltration_factor", 10.0, "data-exfiltration: times the usual peak."),
        Setting("exfiltration_min_bytes", 100_000_000, "data-exfiltration: least bytes an hour."),
        Setting(
            "exfiltration_partner_windows", 3, "data-exfiltration: windows that make a partner."
        ),
        Setting(
            "exfiltration_shared_sources",
            5,
            "data-exfiltration: our addresses sending to a destination that make it shared.",
        ),
        Setting("exfiltration_window", 3600, "data-exfiltration: window in seconds."),
        Setting("rejected_spike_factor", 10.0, "rejected-spike: times the usual reject count."),
        Setting("rejected_spike_min_rejects", 100, "rejected-spike: least rejects in a window."),
        Setting("rejected_spike_window", 600, "rejected-spike: window in seconds."),
    )
}


def get(name: str):
    """The value of a setting: its ``VPCFLOW_*`` variable if set, else the default."""
    return SETTINGS[name].get()


def get_list(name: str) -> list[str]:
    """A comma-separated setting's items, spaces around them and empty ones dropped."""
    return [item.strip() for item in str(get(name)).split(",") if item.strip()]


def cache_dir() -> Path:
    """vpcflow's cache directory: the ``cache_dir`` setting, else ``$XDG_CACHE_HOME/vpcflow``,
    else ``~/.cache/vpcflow``."""
    base = str(get("cache_dir") or "")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(xdg) / "vpcflow")
    return Path(base)


def threads() -> int:
    n = int(get("threads"))
    return n if n > 0 else (os.cpu_count() or 1)
