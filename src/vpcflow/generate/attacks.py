"""Labelled incidents injected into the background traffic, with their ground truth.

Each incident returns its records (logged on every interface they cross, like the background)
and one label. Labels are what a detector should find; ``targets`` are addresses as they appear in
the logs (the private address of an interface for inbound traffic).

Variants a detector must still catch: a scan spread over an hour, a sweep from several addresses
of one /24, and scans and sweeps *from* compromised instances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import intrusions, scans
from .incident import Ctx, iso
from .records import Batch

__all__ = ["TYPES", "THREAT_LIST_FILE", "parse_attacks", "incidents", "threat_list_text", "iso"]

TYPES = (
    "port-scan",
    "host-sweep",
    "brute-force",
    "data-exfiltration",
    "rejected-spike",
    "known-bad-ip",
)
THREAT_LIST_FILE = "threat-list.txt"
# Documentation and unused ranges a real feed would also carry: they must match nothing.
THREAT_DECOYS = ("192.0.2.1", "198.51.100.0/25", "2001:db8::/32")


def parse_attacks(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"all"``, ``"port-scan,brute-force"`` or a list -> the incident types, validated."""
    from ..errors import ConfigError

    if not spec:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item == "all":
            out.extend(TYPES)
        elif item in TYPES:
            out.append(item)
        else:
            raise ConfigError(f"unknown attack {item!r}: choose from {', '.join(TYPES)} or 'all'")
    return tuple(dict.fromkeys(out))


_BUILDERS: dict[str, list[Callable]] = {
    "port-scan": [
        lambda c: scans.inbound_scan(c, "fast", "web-1", 1000, 180),
        lambda c: scans.inbound_scan(c, "slow", "bastion", 250, 3600),
        scans.outbound_scan,
    ],
    "host-sweep": [scans.inbound_sweep, scans.outbound_sweep],
    "brute-force": [intrusions.brute_force],
    "data-exfiltration": [intrusions.exfiltration],
    "rejected-spike": [intrusions.spike_config_change, intrusions.spike_flood],
    "known-bad-ip": [intrusions.c2_beacon, intrusions.listed_scanner],
}
# Records per background sweep label: below this many records no sweeps are added (small
# test days stay small); above it one per hour of the span at most.
RECORDS_PER_BACKGROUND_SWEEP = 40_000


def incidents(
    types: tuple[str, ...],
    seed: int,
    t0: int,
    t1: int,
    avoid: set[int],
    records: int = 0,
    background: bool = True,
) -> tuple[list[tuple[Batch, dict]], list[tuple[str, str]]]:
    """The records and label of every incident of ``types``, placed in [t0, t1), then the
    background sweeps (present whatever ``types`` unless ``background`` is false); and the
    threat feed's entries."""
    rng = np.random.default_rng([seed, 3])
    ctx = Ctx(rng, t0, t1, avoid, records)
    out = []
    built = [(b, label) for kind in types for build in _BUILDERS[kind] for b, label in [build(ctx)]]
    hours = max((t1 - t0) // 3600, 1)
    sweeps = int(min(hours, records // RECORDS_PER_BACKGROUND_SWEEP)) if background else 0
    if sweeps:
        # own random stream: the attacks stay where they were whatever the number of sweeps
        bg = Ctx(np.random.default_rng([seed, 4]), t0, t1, ctx.avoid, records)
        built += scans.background_sweep(bg, sweeps)
    for b, label in built:
        out.append((b, {"id": f"incident-{len(out) + 1:02d}", **label}))
    return out, ctx.threats


def threat_list_text(threats: list[tuple[str, str]]) -> str:
    """The threat feed written beside the labels: the listed incidents' addresses and CIDRs,
    and decoys that match nothing."""
    lines = ["# synthetic threat feed for the known-bad-ip incidents (vpcflow generate)"]
    lines += [f"{entry}  # {comment}" for entry, comment in threats]
    lines += [f"{entry}  # decoy: never seen" for entry in THREAT_DECOYS]
    return "\n".join(lines) + "\n"
