"""Account, region and time-range filters shared by the S3 and CloudWatch sources.

``since``/``until`` accept a ``datetime`` (naive = UTC), a ``date``, Unix seconds, an ISO-8601
string (``2024-05-01``, ``2024-05-01T12:00Z``) or a duration back from now (``90m``, ``6h``,
``7d``, ``2w``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def to_datetime(value, *, name: str = "time", now: datetime | None = None) -> datetime | None:
    """Normalise a ``--since``/``--until`` value to an aware UTC datetime (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value).strip()
    m = _DURATION.match(text)
    if m:
        now = now or datetime.now(UTC)
        return now - timedelta(**{_UNITS[m[2].lower()]: float(m[1])})
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"cannot read --{name} {text!r}: use ISO-8601 (2024-05-01, 2024-05-01T12:00Z) "
            "or a duration back from now (90m, 6h, 7d)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _as_set(value) -> frozenset[str] | None:
    if value is None or value == "" or value == ():
        return None
    items: Iterable[str] = [value] if isinstance(value, str) else value
    out = {p.strip() for item in items for p in str(item).split(",") if p.strip()}
    return frozenset(out) or None


@dataclass(frozen=True)
class Filters:
    """What ``--account``, ``--region``, ``--since`` and ``--until`` ask for."""

    accounts: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_options(cls, account=None, region=None, since=None, until=None) -> Filters:
        f = cls(
            _as_set(account),
            _as_set(region),
            to_datetime(since, name="since"),
            to_datetime(until, name="until"),
        )
        if f.since and f.until and f.since >= f.until:
            raise ConfigError("--since must be earlier than --until")
        return f

    @property
    def active(self) -> bool:
        return any((self.accounts, self.regions, self.since, self.until))

    def account_ok(self, account: str | None) -> bool:
        return self.accounts is None or account is None or account in self.accounts

    def region_ok(self, region: str | None) -> bool:
        return self.regions is None or region is None or region in self.regions

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """Could data in [start, end) fall in [since, until)? Unknown bounds never exclude."""
        if self.since and end and end <= self.since:
            return False
        return not (self.until and start and start >= self.until)

    @property
    def since_ms(self) -> int | None:
        return int(self.since.timestamp() * 1000) if self.since else None

    @property
    def until_ms(self) -> int | None:
        return int(self.until.timestamp() * 1000) if self.until else None
