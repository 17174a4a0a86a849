"""Enrichment: what an address, a protocol number or a TCP-flags value means.

Available three ways:

* SQL functions on every engine connection (``vpcflow.engines.functions`` registers
  ``ADDRESS_FUNCTIONS`` and ``MACROS``)::

      ip_country(addr)       'US', 'private', 'documentation', ... (geoip2fast, offline)
      ip_country_name(addr)  'United States'
      ip_asn(addr)           autonomous-system organisation, 'AMAZON-02'
      ip_scope(addr)         'public' or the special-purpose range name
      aws_service(addr)      'EC2', 'S3', 'AMAZON' (AWS ip-ranges.json, `vpcflow enrich update`)
      aws_region(addr)       'us-east-1'
      protocol_name(n)       'TCP'
      tcp_flag_names(n)      'SYN,ACK'

* :func:`lookup` for a list of addresses (``vpcflow enrich ip``), and
* extra fields of detection findings.

The address functions are vectorised Arrow UDFs: IPv4 is parsed and searched with NumPy, one
DuckDB vector at a time.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from . import aws_ranges, geo, ipaddr, protocols, tcp_flags

__all__ = ["lookup", "ADDRESS_FUNCTIONS", "MACROS", "aws_ranges", "geo", "protocols", "tcp_flags"]

log = logging.getLogger("vpcflow.enrich")

ADDRESS_FUNCTIONS = {
    "ip_country": geo.country,
    "ip_country_name": geo.country_name,
    "ip_asn": geo.asn,
    "ip_scope": ipaddr.scope,
    "aws_service": aws_ranges.service,
    "aws_region": aws_ranges.region,
}

MACROS = {
    "protocol_name": ("p", protocols.sql_macro),
    "tcp_flag_names": ("f", tcp_flags.sql_macro),
}


def lookup(addresses) -> pa.Table:
    """One row per address: scope, country, country name, AS organisation, AWS service, region.

    ``ConfigError`` names every value that is not an IPv4 or IPv6 address."""
    import ipaddress

    from ..errors import ConfigError

    texts = [str(a).strip() for a in addresses]
    bad = []
    for t in texts:
        try:
            ipaddress.ip_address(t)
        except ValueError:
            bad.append(t)
    if bad:
        raise ConfigError(
            f"not an IPv4 or IPv6 address: {', '.join(repr(b) for b in bad[:5])}"
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        )
    arr = pa.array(texts, type=pa.string())
    return pa.table(
        {
            "address": arr,
            **{name.removeprefix("ip_"): fn(arr) for name, fn in ADDRESS_FUNCTIONS.items()},
        }
    )
