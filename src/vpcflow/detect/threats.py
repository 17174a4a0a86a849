"""Threat lists: plain files of IP addresses or CIDR blocks, one per line, ``#`` comments."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ThreatEntry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    path: str
    line: int
    comment: str = ""


def load_threat_list(path: str | os.PathLike) -> list[ThreatEntry]:
    """Parse one threat list; a bad line is a :class:`ConfigError` naming file and line."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read threat list: {reason}") from exc
    entries = []
    for number, raw in enumerate(lines, start=1):
        text, _, comment = raw.partition("#")
        text = text.strip()
        if not text:
            continue
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ConfigError(
                f"{path}:{number}: not an IP address or CIDR block: {text!r} "
                "(one address or CIDR per line, # starts a comment)"
            ) from None
        entries.append(ThreatEntry(net, path, number, comment.strip()))
    return entries


def load_threat_lists(paths) -> list[ThreatEntry]:
    entries: list[ThreatEntry] = []
    for p in paths:
        entries.extend(load_threat_list(p))
    return entries
