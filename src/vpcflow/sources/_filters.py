"""Account, region and time-range filters shared by the S3 and CloudWatch sources.

``since``/``until`` accept what ``vpcflow.timeparse`` reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..errors import ConfigError
from ..timeparse import to_datetime


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
            raise ConfigError("since must be earlier than until")
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
