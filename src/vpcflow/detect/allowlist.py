"""Allow-lists: findings a security team has decided are not incidents (an authorised
vulnerability scanner, a known service), one rule per line.

    # authorised scanner: nothing it does is reported
    10.0.9.10
    # our monitoring scrapes every host on 9100
    10.0.5.0/24 -> 10.0.0.0/16 port 9100
    # any source, this destination and ports
    * -> 10.0.20.31 port 5432,6432
    # only one detector; an interface for rejected-spike
    host-sweep 203.0.113.0/24
    rejected-spike eni-0a1b2c3d4e5f60718
    # a port, whoever the source
    port 33434-33534

A rule is ``[DETECTOR] [SOURCE] [-> DESTINATION] [port P[,P|P-Q...]]``: addresses or CIDRs (IPv4
or IPv6), ``*`` for any, an interface id as the source of a rejected spike. A finding is dropped
when one rule covers it: its detector, every source address of it in SOURCE, every target in
DESTINATION, every port in the ports. A reject spike is covered by a rule naming its interface, or
naming the sources that caused it: without their rejects the window would not have been a spike.
``* SOURCE`` (any detector) is the same as ``SOURCE``; ``* -> DESTINATION`` any source.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

_NAMES = (
    "port-scan",
    "host-sweep",
    "brute-force",
    "data-exfiltration",
    "known-bad-ip",
    "rejected-spike",
)


@dataclass(frozen=True)
class Rule:
    path: str
    line: int
    detector: str | None = None
    sources: tuple = ()  # networks or interface ids; empty: any
    targets: tuple = ()
    ports: frozenset = frozenset()
    text: str = ""

    def covers(self, f) -> bool:
        if self.detector and f.type != self.detector:
            return False
        if self.sources and f.type == "rejected-spike" and not _in(f.source, self.sources):
            if not self._caused(f):
                return False
        elif self.sources:
            srcs = list(f.details.get("sources") or []) if "/" in f.source else []
            srcs = [s for s in srcs if isinstance(s, str)] or [f.source]
            if not all(_in(s, self.sources) for s in srcs):
                return False
        if self.targets and not (f.targets and all(_in(t, self.targets) for t in f.targets)):
            return False
        return not self.ports or bool(f.ports and all(p in self.ports for p in f.ports))

    def _caused(self, f) -> bool:
        """A reject spike is the allowed sources' doing when, without their rejects, the window
        would not have been a spike."""
        srcs = f.details.get("sources") or []
        counts = f.details.get("source_rejects") or []
        if not isinstance(srcs, list) or len(counts) != len(srcs):
            return False
        allowed = sum(n for s, n in zip(srcs, counts, strict=True) if _in(str(s), self.sources))
        limit = float(f.details.get("spike_rejects") or 0)
        return allowed > 0 and f.records - allowed < limit


def _in(value: str, nets: tuple) -> bool:
    for n in nets:
        if isinstance(n, str):
            if value == n:
                return True
            continue
        try:
            if "/" in value:
                v = ipaddress.ip_network(value, strict=False)
                if v.version == n.version and v.subnet_of(n):
                    return True
            else:
                a = ipaddress.ip_address(value)
                if a.version == n.version and a in n:
                    return True
        except ValueError:
            continue
    return False


@dataclass
class AllowList:
    rules: list[Rule] = field(default_factory=list)

    def allows(self, f) -> bool:
        """True when a rule covers finding ``f`` (it is not reported)."""
        return any(r.covers(f) for r in self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)


def _word(token: str) -> bool:
    """A token that can only be meant as a word (a misspelt detector), not an address."""
    return token[:1].isalpha() and ":" not in token and not token.startswith("eni-")


def _addresses(token: str, where: str) -> tuple:
    if token == "*":
        return ()
    if token.startswith("eni-"):
        return (token,)
    try:
        return (ipaddress.ip_network(token, strict=False),)
    except ValueError:
        raise ConfigError(
            f"{where}: {token!r} is not an address, CIDR, interface id or *"
        ) from None


def _ports(token: str, where: str) -> frozenset:
    out: set[int] = set()
    for part in token.split(","):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ConfigError(f"{where}: port {part!r} is not a number or range") from None
        if not (0 <= a <= b <= 65535):
            raise ConfigError(f"{where}: port {part!r} is outside 0-65535")
        out.update(range(a, b + 1))
    return frozenset(out)


def parse_rule(text: str, path: str = "<allow-list>", line: int = 0) -> Rule | None:
    body = text.split("#", 1)[0].strip()
    if not body:
        return None
    where = f"{path} line {line}"
    tokens = body.replace("->", " -> ").split()
    detector = None
    if tokens[0] in _NAMES:
        detector = tokens.pop(0)
    elif tokens[0] == "*" and len(tokens) > 1 and tokens[1] not in ("->", "port"):
        tokens.pop(0)  # "* SOURCE ...": any detector
    elif tokens[0] not in ("*", "->", "port") and len(tokens) > 1 and _word(tokens[0]):
        raise ConfigError(
            f"{where}: {tokens[0]!r} is not a detector (known: {', '.join(_NAMES)}) "
            "nor an address, CIDR, interface id or *"
        )
    ports: frozenset = frozenset()
    if "port" in tokens:
        i = tokens.index("port")
        if i + 1 >= len(tokens):
            raise ConfigError(f"{where}: 'port' needs a port list (port 22 or port 80,443)")
        ports = _ports(tokens[i + 1], where)
        del tokens[i : i + 2]
    sources: tuple = ()
    targets: tuple = ()
    if "->" in tokens:
        i = tokens.index("->")
        left, right = tokens[:i], tokens[i + 1 :]
        if len(left) > 1 or len(right) != 1:
            raise ConfigError(
                f"{where}: write SOURCE -> DESTINATION, one address, CIDR or * on each side "
                f"(got {' '.join(left) or 'nothing'} -> {' '.join(right) or 'nothing'})"
            )
        if not left:
            left = ["*"]
        sources, targets = _addresses(left[0], where), _addresses(right[0], where)
    elif len(tokens) == 1:
        sources = _addresses(tokens[0], where)
    elif tokens:
        raise ConfigError(
            f"{where}: {' '.join(tokens)!r}: one SOURCE expected before '->' or 'port', "
            f"got {len(tokens)} (write SOURCE -> DESTINATION for a pair)"
        )
    if not (sources or targets or ports or detector):
        raise ConfigError(f"{where}: the rule would allow everything")
    return Rule(path, line, detector, sources, targets, ports, body)


def load_allow_list(path) -> AllowList:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"allow-list {p}: {exc.strerror or exc}") from exc
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        r = parse_rule(line, str(p), n)
        if r is not None:
            rules.append(r)
    return AllowList(rules)


def load_allow_lists(items) -> AllowList:
    """Files (or loaded :class:`AllowList`) into one list; errors name file and line."""
    out = AllowList()
    for item in items or ():
        al = item if isinstance(item, AllowList) else load_allow_list(item)
        out.rules.extend(al.rules)
    return out
