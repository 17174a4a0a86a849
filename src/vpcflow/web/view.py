"""What a dashboard URL asks for: a time range, filters and a unit, parsed and turned into SQL.

    /flows?range=24h&unit=bytes&f=dstport=443&f=srcaddr!=10.0.1.5

``range`` is ``1h``/``24h``/``7d``/``30d``/``all``, counted back from the newest record (a store of
last month's logs still opens on data); ``from``/``to`` (ISO-8601 or Unix seconds) give a custom
range instead. Each ``f`` is ``FIELD=VALUE`` or ``FIELD!=VALUE``: several values of one field are
alternatives (OR), different fields all apply (AND). ``VALUE`` ``-`` means absent (NULL, as the
logs write it); an address may be a ``/8``, ``/16``, ``/24`` or ``/32`` prefix. Every value is
checked and quoted here; nothing from the URL reaches SQL otherwise.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import schema
from ..errors import VpcflowError
from ..timeparse import to_epoch

__all__ = ["BadRequest", "Filter", "View", "FILTER_FIELDS", "UNITS", "RANGES", "parse_view"]

UNITS = ("bytes", "packets", "records")
RANGES = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": None}
DEFAULT_RANGE = "24h"
# A relative range ends on the first 5-minute boundary after the newest record (and "all" starts
# on the boundary before the oldest): the store's rollups answer ranges on their 5-minute buckets.
ALIGN = 300

_INT_TYPES = ("int", "bigint")
# Fields a filter may name: the table's columns plus a few derived ones.
FILTER_FIELDS: dict[str, tuple[str, str]] = {
    f.column: (f'"{f.column}"', "int" if f.athena_type in _INT_TYPES else "string")
    for f in schema.FIELDS
}
FILTER_FIELDS.update(
    {
        "addr": ("", "addr"),  # either end of the flow: the entity page of an address
        "src_country": ("ip_country(srcaddr)", "string"),
        "src_network": ("ip_asn(srcaddr)", "string"),
        "dst_country": ("ip_country(dstaddr)", "string"),
    }
)
_ADDRESS_FIELDS = ("srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr", "addr")
_FILTER = re.compile(r"^([a-z_0-9]+)(!?=)(.*)$", re.S)


class BadRequest(VpcflowError):
    """A dashboard URL or request body that cannot be answered (HTTP 400)."""


@dataclass(frozen=True)
class Filter:
    field: str
    value: str
    negate: bool = False

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negate else '='}{self.value}"


@dataclass
class View:
    """A resolved view: concrete ``start``/``end`` (Unix seconds, end exclusive), filters, unit."""

    start: int | None
    end: int | None
    range: str | None
    unit: str = "bytes"
    filters: list[Filter] = field(default_factory=list)

    @property
    def seconds(self) -> int:
        return max((self.end or 0) - (self.start or 0), 1)

    def measure(self) -> str:
        """The SQL aggregate of the chosen unit."""
        return "count(*)" if self.unit == "records" else f"coalesce(sum({self.unit}), 0)"

    def where(
        self, *, time: bool = True, shift: int = 0, extra: list[Filter] = (), bucket=None
    ) -> str:
        """The WHERE condition (no keyword) of this view; ``shift`` moves the range back.
        ``bucket`` (column, seconds per unit) bounds a rollup's time bucket instead of the
        records' ``start`` (the range must lie on its boundaries)."""
        parts = []
        if time and self.start is not None and bucket is not None:
            col, unit = bucket
            lo, hi = self.start - shift, self.end - shift
            parts.append(f'"{col}" >= {lo // unit} AND "{col}" < {-(-hi // unit)}')
        elif time and self.start is not None:
            parts.append(_time_sql(self.start - shift, self.end - shift))
        parts += _filters_sql([*self.filters, *extra])
        return " AND ".join(parts) or "true"

    def to_dict(self) -> dict:
        return {
            "from": _iso(self.start),
            "to": _iso(self.end),
            "range": self.range,
            "unit": self.unit,
            "filters": [str(f) for f in self.filters],
        }

    def query_string(self, **changes) -> str:
        """The URL query of this view (what the browser keeps in its address bar)."""
        from urllib.parse import urlencode

        items = []
        if self.range:
            items.append(("range", self.range))
        else:
            items += [("from", _iso(self.start)), ("to", _iso(self.end))]
        items.append(("unit", self.unit))
        items += [("f", str(f)) for f in changes.get("filters", self.filters)]
        return urlencode(items)


def _iso(t: int | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _time_sql(start: int, end: int) -> str:
    # The date bounds let the engine skip whole date partitions.
    d0 = dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat()
    d1 = dt.datetime.fromtimestamp(max(end - 1, start), dt.UTC).date().isoformat()
    return (
        f"\"date\" BETWEEN DATE '{d0}' AND DATE '{d1}' "
        f'AND "start" >= {int(start)} AND "start" < {int(end)}'
    )


def _prefix_like(name: str, value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadRequest(f"filter {name}: {value!r} is not an address or CIDR") from None
    if net.version != 4 or net.prefixlen not in (8, 16, 24, 32):
        raise BadRequest(
            f"filter {name}: {value!r}: only IPv4 /8, /16, /24 and /32 prefixes can filter"
        )
    if net.prefixlen == 32:
        return _lit(str(net.network_address))
    octets = str(net.network_address).split(".")[: net.prefixlen // 8]
    return "LIKE " + _lit(".".join(octets) + ".%")


def _one(f: Filter) -> str:
    expr, kind = FILTER_FIELDS[f.field]
    if f.value == "-":
        if kind == "addr":
            return "(srcaddr IS NULL OR dstaddr IS NULL)"
        return f"{expr} IS NULL"
    if kind == "int":
        try:
            return f"{expr} = {int(f.value)}"
        except ValueError:
            raise BadRequest(f"filter {f.field}: {f.value!r} is not a whole number") from None
    if f.field in _ADDRESS_FIELDS and "/" in f.value:
        like = _prefix_like(f.field, f.value)
        op = like if like.startswith("LIKE") else "= " + like
        if kind == "addr":
            return f"(srcaddr {op} OR dstaddr {op})"
        return f"{expr} {op}"
    if kind == "addr":
        return f"(srcaddr = {_lit(f.value)} OR dstaddr = {_lit(f.value)})"
    return f"{expr} = {_lit(f.value)}"


def _filters_sql(filters: list[Filter]) -> list[str]:
    by_field: dict[tuple[str, bool], list[str]] = {}
    for f in filters:
        by_field.setdefault((f.field, f.negate), []).append(_one(f))
    out = []
    for (_, negate), conds in by_field.items():
        if negate:  # none of them: NULL counts as "not equal"
            out += [f"({c}) IS NOT TRUE" for c in conds]
        else:
            out.append(conds[0] if len(conds) == 1 else "(" + " OR ".join(conds) + ")")
    return out


def parse_filter(text: str) -> Filter:
    m = _FILTER.match(text)
    if not m:
        raise BadRequest(f"filter {text!r}: expected FIELD=VALUE or FIELD!=VALUE")
    name, op, value = m.groups()
    if name not in FILTER_FIELDS:
        raise BadRequest(
            f"filter {text!r}: unknown field {name!r}; known: {', '.join(sorted(FILTER_FIELDS))}"
        )
    if len(value) > 200:
        raise BadRequest(f"filter {name}: value longer than 200 characters")
    f = Filter(name, value, op == "!=")
    _one(f)  # check the value now: a bad one is a 400, not a failed query later
    return f


def _time_param(params: Mapping, name: str) -> int | None:
    v = params.get(name)
    if v in (None, ""):
        return None
    try:
        t = to_epoch(v, name=name)
    except VpcflowError as exc:
        raise BadRequest(str(exc)) from None
    if t is None or not (0 <= t < 2**33):
        raise BadRequest(f"{name}: {v!r} is not a time vpcflow can use")
    return int(t)


def parse_view(params, extent: tuple[int | None, int | None]) -> View:
    """Parse a request's query parameters; ``extent`` is the store's (first start, last start)."""
    unit = params.get("unit") or "bytes"
    if unit not in UNITS:
        raise BadRequest(f"unit: {unit!r} is not one of {', '.join(UNITS)}")
    filters = [parse_filter(f) for f in params.getlist("f")] if hasattr(params, "getlist") else []
    start, end = _time_param(params, "from"), _time_param(params, "to")
    rng = None
    if start is None and end is None:
        rng = params.get("range") or DEFAULT_RANGE
        if rng not in RANGES:
            raise BadRequest(f"range: {rng!r} is not one of {', '.join(RANGES)}")
        first, last = extent
        if first is None:  # an empty store
            now = int(dt.datetime.now(dt.UTC).timestamp())
            first = last = now
        end = -(-(last + 1) // ALIGN) * ALIGN
        start = first - first % ALIGN if RANGES[rng] is None else max(end - RANGES[rng], 0)
    else:
        first, last = extent
        if start is None:
            start = first if first is not None else 0
        if end is None:
            end = (last + 1) if last is not None else start + 1
        if end <= start:
            raise BadRequest("to: the end of the range must be after its start (from)")
    return View(start, end, rng, unit, filters)
