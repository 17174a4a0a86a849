"""Reading the times users give (``--since``, ``--until``, API arguments), in one place.

A time is a ``datetime`` (naive means UTC), a ``date``, Unix seconds (number or digits), an
ISO-8601 string (``2024-05-01``, ``2024-05-01T12:00Z``) or a duration back from now (``90m``,
``6h``, ``7d``, ``2w``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from .errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def to_datetime(value, *, name: str = "time", now: datetime | None = None) -> datetime | None:
    """An aware UTC datetime for ``value`` (None and "" stay None)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"cannot read {name}={value!r} as a time")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    if isinstance(value, int | float) or text.isdigit():
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ConfigError(f"{name}={text!r} is out of range for Unix seconds") from None
    m = _DURATION.match(text)
    if m:
        now = now or datetime.now(UTC)
        return now - timedelta(**{_UNITS[m[2].lower()]: float(m[1])})
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"cannot read {name}={text!r} as a time: use ISO-8601 (2024-05-01, 2024-05-01T12:00Z), "
            "Unix seconds, or a duration back from now (90m, 6h, 7d)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def to_epoch(value, *, name: str = "time", now: datetime | None = None) -> int | None:
    """Unix seconds for ``value`` (None and "" stay None)."""
    dt = to_datetime(value, name=name, now=now)
    return None if dt is None else int(dt.timestamp())
