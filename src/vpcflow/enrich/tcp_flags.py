"""Names of the bits of the ``tcp_flags`` field (version 3+).

A flow record ORs the flags of every packet in the aggregation interval, so 18 is ``SYN,ACK``
(the answer of an open port, which AWS writes as SYN-ACK) and 19 is ``FIN,SYN,ACK``. Names are
listed in bit order.
"""

from __future__ import annotations

FLAGS: tuple[tuple[int, str], ...] = (
    (1, "FIN"),
    (2, "SYN"),
    (4, "RST"),
    (8, "PSH"),
    (16, "ACK"),
    (32, "URG"),
    (64, "ECE"),
    (128, "CWR"),
)


def names(flags: int | None, sep: str = ",") -> str | None:
    """``18 -> 'SYN,ACK'``, ``0 -> ''``, ``None -> None``."""
    if flags is None:
        return None
    return sep.join(name for bit, name in FLAGS if int(flags) & bit)


def sql_macro() -> str:
    """A DuckDB macro body over the integer argument ``f`` (pure SQL, vectorised)."""
    parts = ", ".join(f"CASE WHEN (f & {bit}) <> 0 THEN '{name}' END" for bit, name in FLAGS)
    return f"CASE WHEN f IS NOT NULL THEN concat_ws(',', {parts}) END"
