"""What every detector shares: the :class:`Detector` base (thresholds as SQL values, the
records query behind a finding) and the helpers that write SQL conditions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources

from .. import settings
from .finding import Finding, action_of, iso

REMOTE_LOGIN_PORTS = {22: "SSH", 3389: "RDP", 5985: "WinRM", 5986: "WinRM over TLS"}


def read_sql(name: str) -> str:
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text()


def _setting(name: str):
    """A threshold whose default is the setting ``name`` (read when the detector is made)."""
    if name == "brute_force_ports":
        return field(default_factory=lambda: tuple(int(p) for p in settings.get_list(name)))
    return field(default_factory=lambda: settings.get(name))


def crossed(name: str, rule: str, threshold, observed) -> dict:
    """One threshold a finding crossed: what it is, its value and what was observed."""
    return {"threshold": name, "rule": rule, "value": threshold, "observed": observed}


def _sorted(values) -> list:
    return sorted(v for v in values or [] if v is not None)


def _direction(row: dict) -> str:
    si, di = row.get("src_internal"), row.get("dst_internal")
    if si and di:
        return "internal"
    return "outbound" if si else "inbound"


@dataclass(frozen=True)
class Detector:
    """Base: ``name``, the thresholds dataclass and the SQL file of the same name."""

    name = ""
    sql_file = ""

    def params(self) -> dict:
        """The thresholds as SQL template values: ``window`` is the template's ``step``, a
        list of ports a SQL list, a switch TRUE or FALSE."""
        d = dataclasses.asdict(self)
        if "window" in d:
            d["step"] = d.pop("window")
        return {k: _sql_value(v) for k, v in d.items()}

    def queries(self) -> list[str]:
        """SQL templates to run (``{flows}`` and thresholds filled in by the caller)."""
        return [read_sql(self.sql_file)]

    def finding(self, row: dict) -> Finding | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def records_where(self, f: Finding) -> str:  # pragma: no cover - abstract
        """The SQL condition on ``vpc_flow_logs`` that selects every record behind ``f``."""
        raise NotImplementedError

    def records_query(self, f: Finding) -> str:
        """The ``vpcflow sql`` (Athena) query that lists every record behind ``f``."""
        return f"SELECT * FROM vpc_flow_logs WHERE {self.records_where(f)} ORDER BY start"

    def sample_where(self, f: Finding) -> str:
        """A cheaper condition for a few sample records (the requests of the first target)."""
        return self.records_where(f)

    def _base(self, row: dict, severity: str, summary: str, **details) -> Finding:
        records = int(row["records"])
        thresholds = details.pop("thresholds", [])
        return Finding(
            type=self.name,
            severity=severity,
            source=str(row["source"]),
            targets=[str(t) for t in _sorted(row["targets"])],
            ports=[int(p) for p in _sorted(row["ports"])],
            first_seen=iso(row["first_seen"]),
            last_seen=iso(row["last_seen"]),
            records=records,
            bytes=int(row["bytes"] or 0),
            action=action_of(
                int(row["accepted"] or 0),
                records,
                None if row.get("rejected") is None else int(row["rejected"]),
            ),
            summary=summary,
            direction=_direction(row),
            details=details,
            thresholds=thresholds,
        )


def _sql_value(v):
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, tuple | list):
        return ", ".join(str(int(x)) for x in v)
    return v


def _in(column: str, values) -> str:
    values = list(values)
    if len(values) == 1:
        v = values[0]
        return f"{column} = {v}" if isinstance(v, int) else f"{column} = '{v}'"
    inner = ", ".join(str(v) if isinstance(v, int) else f"'{v}'" for v in values)
    return f"{column} IN ({inner})"


def _epoch(text: str | None, default: int) -> int:
    import datetime as dt

    if not text:
        return default
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _time(f: Finding) -> str:
    return f"start BETWEEN {_epoch(f.first_seen, 0)} AND {_epoch(f.last_seen, 2**62)}"


def _pair_query(f: Finding, sources, targets, ports) -> str:
    """Every record of the conversations behind ``f``: the requests and their answers."""
    sources = [s for s in sources if "/" not in s] or sources
    req = f"{_in('srcaddr', sources)} AND {_in('dstaddr', targets)} AND {_in('dstport', ports)}"
    ans = f"{_in('srcaddr', targets)} AND {_in('dstaddr', sources)} AND {_in('srcport', ports)}"
    return f"{_time(f)} AND (({req}) OR ({ans}))"
