"""SQL functions on every DuckDB connection: the enrichment functions (``vpcflow.enrich``) and
the helpers the Logs Insights translation relies on.

IPv4 tests are SQL macros over string and integer arithmetic (fast, vectorised by DuckDB);
IPv6 tests are vectorised Python functions over Arrow arrays using :mod:`ipaddress`. Nothing here
needs a DuckDB extension, so nothing is downloaded.
"""

from __future__ import annotations

import ipaddress
import logging

log = logging.getLogger("vpcflow")

# The Python functions load pyarrow (and the enrichment functions their data), which a query that
# does not call them never needs: the DuckDB engine registers a group on a connection when a
# query calls one of its functions (``group_of`` the missing name). The SQL macros are always
# there.
# ``tests/test_engines.py`` checks the enrichment names against ``vpcflow.enrich``.
GROUPS: dict[str, tuple[str, ...]] = {
    "ipv6": ("vpcflow_is_ipv6", "vpcflow_ipv6_in_subnet"),
    "enrichment": (
        "ip_country",
        "ip_country_name",
        "ip_asn",
        "ip_scope",
        "aws_service",
        "aws_region",
        "protocol_name",
        "tcp_flag_names",
    ),
}
_GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"{_OCTET}(\.{_OCTET}){{3}}"

MACROS = (
    f"""CREATE OR REPLACE MACRO vpcflow_ipv4_int(s) AS
        CASE WHEN regexp_full_match(CAST(s AS VARCHAR), '{IPV4_RE}') THEN
            CAST(split_part(s, '.', 1) AS BIGINT) * 16777216
          + CAST(split_part(s, '.', 2) AS BIGINT) * 65536
          + CAST(split_part(s, '.', 3) AS BIGINT) * 256
          + CAST(split_part(s, '.', 4) AS BIGINT) END""",
    """CREATE OR REPLACE MACRO vpcflow_is_ipv4(s) AS
        coalesce(vpcflow_ipv4_int(s) IS NOT NULL, false)""",
    # cidr 'a.b.c.d/len': the address masked to len bits equals the network.
    """CREATE OR REPLACE MACRO vpcflow_ipv4_in_subnet(s, cidr) AS
        coalesce(
          vpcflow_ipv4_int(s) // CAST(pow(2, 32 - CAST(split_part(cidr, '/', 2) AS INTEGER)) AS BIGINT)
          = vpcflow_ipv4_int(split_part(cidr, '/', 1))
            // CAST(pow(2, 32 - CAST(split_part(cidr, '/', 2) AS INTEGER)) AS BIGINT),
          false)""",
)


def _is_ipv6(values):
    import pyarrow as pa

    out = []
    for v in values.to_pylist():
        try:
            out.append(v is not None and isinstance(ipaddress.ip_address(v), ipaddress.IPv6Address))
        except ValueError:
            out.append(False)
    return pa.array(out, pa.bool_())


def _ipv6_in_subnet(values, cidrs):
    import pyarrow as pa

    nets: dict[str, object] = {}
    out = []
    for v, c in zip(values.to_pylist(), cidrs.to_pylist(), strict=True):
        ok = False
        if v is not None and c is not None:
            net = nets.get(c)
            if net is None:
                try:
                    net = ipaddress.ip_network(c, strict=False)
                except ValueError:
                    net = False
                nets[c] = net
            if net is not False and net.version == 6:
                try:
                    addr = ipaddress.ip_address(v)
                    ok = addr.version == 6 and addr in net
                except ValueError:
                    ok = False
        out.append(ok)
    return pa.array(out, pa.bool_())


def add_arrow_function(con, name: str, fn, params, returns) -> None:
    """Register a vectorised Python SQL function (Arrow arrays in, Arrow array out)."""
    con.create_function(
        name, fn, params, returns, type="arrow", null_handling="special", side_effects=False
    )


def group_of(name: str) -> str | None:
    """The group of ``GROUPS`` that defines function ``name`` (lower case), None if none."""
    return _GROUP_OF.get(name)


def register_group(con, group: str) -> None:
    """Create the functions of one of ``GROUPS`` on a DuckDB connection."""
    if group == "ipv6":
        register_ipv6(con)
    elif group == "enrichment":
        register_enrichment(con)
    else:
        raise KeyError(group)


def register_macros(con) -> None:
    """Create the SQL macros of the Logs Insights helpers (``vpcflow_ipv4_*``)."""
    for macro in MACROS:
        con.execute(macro)


def register_ipv6(con) -> None:
    """Create the IPv6 helpers (vectorised Python functions)."""
    from duckdb import sqltypes  # type: ignore[attr-defined]

    for name, fn, params in (
        ("vpcflow_is_ipv6", _is_ipv6, [sqltypes.VARCHAR]),
        ("vpcflow_ipv6_in_subnet", _ipv6_in_subnet, [sqltypes.VARCHAR, sqltypes.VARCHAR]),
    ):
        add_arrow_function(con, name, fn, params, sqltypes.BOOLEAN)


def register_insights_helpers(con) -> None:
    """Create the Logs Insights helper functions (``vpcflow_*``) on a new DuckDB connection."""
    register_macros(con)
    register_ipv6(con)


def register_enrichment(con) -> None:
    """Create the enrichment functions (``ip_country``, ``aws_service``, ...) of ``vpcflow.enrich``."""
    try:
        from .. import enrich
    except ImportError as exc:  # an optional dependency is missing
        log.debug("enrichment SQL functions not available: %s", exc)
        return
    for fname, fn in enrich.ADDRESS_FUNCTIONS.items():
        add_arrow_function(con, fname, fn, ["VARCHAR"], "VARCHAR")
    for mname, (arg, body) in enrich.MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {mname}({arg}) AS {body()}")


def register(con) -> None:
    """Every vpcflow SQL function, on a new DuckDB connection (before it is locked)."""
    register_insights_helpers(con)
    register_enrichment(con)
