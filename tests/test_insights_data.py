"""A small flow-log table for the Logs Insights tests, built without the vpcflow parser.

The first seven records are the AWS documentation's example records (default format); the
rest add UDP, a /24 subnet, a repeated connection and scan-like rejects.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from vpcflow import schema

LINES = [
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
    "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
    "2 123456789010 eni-0123456789abcdef0 192.0.2.1 192.0.2.2 40000 443 6 10 5000 1700000000 1700000060 ACCEPT OK",
    "2 123456789010 eni-0123456789abcdef0 192.0.2.2 192.0.2.1 443 40000 6 12 9000 1700000000 1700000060 ACCEPT OK",
    "2 123456789010 eni-0123456789abcdef0 192.0.2.1 192.0.2.2 40000 443 6 3 200 1700000060 1700000120 ACCEPT OK",
    "2 123456789010 eni-0123456789abcdef0 192.0.2.77 198.51.100.7 53000 53 17 1 80 1700000100 1700000160 ACCEPT OK",
    "2 123456789010 eni-0123456789abcdef0 198.51.100.9 192.0.2.1 5353 53 17 2 160 1700003700 1700003760 ACCEPT OK",
    "2 123456789010 eni-0123456789abcdef0 198.51.100.9 192.0.2.1 41000 23 6 1 40 1700003700 1700003760 REJECT OK",
    "2 123456789010 eni-0123456789abcdef0 198.51.100.9 192.0.2.1 41001 8080 6 1 40 1700003710 1700003760 REJECT OK",
    "2 123456789010 eni-0123456789abcdef0 10.0.0.5 192.0.2.1 41002 3306 6 1 40 1700003720 1700003760 REJECT OK",
    "2 123456789010 eni-0123456789abcdef0 - - - - - - - 1700007300 1700007360 - SKIPDATA",
]


def table() -> pa.Table:
    """The records as a table with the store's columns plus ``date``."""
    fields = schema.DEFAULT_FORMAT
    target = schema.arrow_schema(with_partition=True)
    cols: dict[str, list] = {f.name: [] for f in target}
    for line in LINES:
        values = line.split()
        row = {
            f.column: (None if v == "-" else (int(v) if f.athena_type != "string" else v))
            for f, v in zip(fields, values, strict=True)
        }
        for name in cols:
            if name == "date":
                cols[name].append(dt.datetime.fromtimestamp(row["start"], dt.UTC).date())
            else:
                cols[name].append(row.get(name))
    return pa.table({k: pa.array(v, target.field(k).type) for k, v in cols.items()})


def connect() -> duckdb.DuckDBPyConnection:
    from vpcflow.engines.functions import register_insights_helpers

    con = duckdb.connect()
    con.register("_flows_arrow", table())
    con.execute("CREATE TABLE vpc_flow_logs AS SELECT * FROM _flows_arrow")
    con.unregister("_flows_arrow")
    register_insights_helpers(con)
    return con
