"""Named queries: documented Athena SQL files under ``vpcflow/queries/``.

Each file starts with a header of ``--`` comments::

    -- name: ci-top-talkers
    -- description: One line for `vpcflow queries`.
    -- source: https://docs.aws.amazon.com/...
    -- param: limit (int) = 10: most rows to return
    -- param: eni (string, required): the network interface ID

and uses ``{{name}}`` where a parameter goes. Values are checked against their type and
inserted as SQL literals (``int``: a whole number; ``string``: a quoted string; ``cidr``: an
IPv4 CIDR block, which also defines ``{{name_first}}`` and ``{{name_last}}`` as the numbers of
its first and last address). The SQL is Athena (Trino) SQL, transpiled for the engine.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from importlib import resources

from ..errors import QueryError

__all__ = ["NamedQuery", "Param", "all_queries", "get", "render"]

_HEADER = re.compile(r"^--\s*(name|description|source):\s*(.*?)\s*$")
_PARAM = re.compile(
    r"^--\s*param:\s*(\w+)\s*\((int|string|cidr)(\s*,\s*required)?\)\s*(?:=\s*(\S*)\s*)?:\s*(.*?)\s*$"
)
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None  # None: required
    description: str

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    source: str
    params: tuple[Param, ...]
    sql: str = field(repr=False)

    def render(self, values: dict[str, str] | None = None) -> str:
        return render(self, values)


def _load(text: str, filename: str) -> NamedQuery:
    meta: dict[str, str] = {}
    params = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = _PARAM.match(line)
        if m:
            name, typ, required, default, desc = m.groups()
            if not required and default is None:
                raise QueryError(
                    f"named query {filename}: parameter {name} has neither a default nor 'required'"
                )
            params.append(Param(name, typ, None if required else default, desc))
            continue
        m = _HEADER.match(line)
        if m:
            meta[m.group(1)] = m.group(2)
    missing = {"name", "description", "source"} - set(meta)
    if missing:
        raise QueryError(
            f"named query {filename} lacks header line(s): {', '.join(sorted(missing))}"
        )
    return NamedQuery(meta["name"], meta["description"], meta["source"], tuple(params), text)


def all_queries() -> list[NamedQuery]:
    """Every named query, sorted by name."""
    out = []
    for entry in resources.files("vpcflow.queries").iterdir():
        if entry.name.endswith(".sql"):
            out.append(_load(entry.read_text(encoding="utf-8"), entry.name))
    return sorted(out, key=lambda q: q.name)


def get(name: str) -> NamedQuery:
    """The named query ``name``; ``QueryError`` listing the names when there is none."""
    queries = {q.name: q for q in all_queries()}
    if name not in queries:
        raise QueryError(
            f"no named query {name!r}; run 'vpcflow queries' to list them ({', '.join(sorted(queries))})"
        )
    return queries[name]


def _literals(p: Param, value: str) -> dict[str, str]:
    if p.type == "int":
        if not re.fullmatch(r"-?\d+", value.strip()):
            raise QueryError(f"parameter {p.name} must be a whole number, not {value!r}")
        return {p.name: str(int(value))}
    if p.type == "cidr":
        try:
            net = ipaddress.IPv4Network(value.strip(), strict=False)
        except ValueError:
            raise QueryError(
                f"parameter {p.name} must be an IPv4 CIDR block like 10.0.1.0/24, not {value!r}"
            ) from None
        return {
            p.name: "'" + str(net) + "'",
            p.name + "_first": str(int(net.network_address)),
            p.name + "_last": str(int(net.broadcast_address)),
        }
    return {p.name: "'" + value.replace("'", "''") + "'"}


def render(query: NamedQuery, values: dict[str, str] | None = None) -> str:
    """The query's SQL with parameters (defaults for those not given) as SQL literals."""
    values = dict(values or {})
    known = {p.name for p in query.params}
    unknown = set(values) - known
    if unknown:
        raise QueryError(
            f"named query {query.name} has no parameter {', '.join(sorted(unknown))}; "
            f"its parameters: {', '.join(sorted(known)) or 'none'}"
        )
    missing = [p for p in query.params if p.required and p.name not in values]
    if missing:
        raise QueryError(
            f"named query {query.name} needs "
            + ", ".join(f"parameter {p.name} ({p.description})" for p in missing)
        )
    literals: dict[str, str] = {}
    for p in query.params:
        literals.update(_literals(p, values.get(p.name, p.default)))
    body = "\n".join(line for line in query.sql.splitlines() if not line.startswith("--"))

    def sub(m: re.Match) -> str:
        if m.group(1) not in literals:
            raise QueryError(
                f"named query {query.name} uses {{{{{m.group(1)}}}}} but declares no such parameter"
            )
        return literals[m.group(1)]

    return _PLACEHOLDER.sub(sub, body).strip()


def run(store, name: str, params: dict[str, str] | None = None):
    """Run the named query ``name`` on ``store`` with ``params``; returns a ``pyarrow.Table``."""
    return store.sql(get(name).render(params), dialect="athena")
