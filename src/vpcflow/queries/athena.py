"""Athena ``CREATE EXTERNAL TABLE`` statements for flow logs, generated from the schema catalogue.

Two kinds of data:

* flow logs **as AWS delivers them to S3** (text or Parquet; the default key layout
  ``AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{MM}/{dd}/[{HH}/]`` or the Hive-compatible one
  ``AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/year=…/``);
* a **vpcflow store** uploaded to S3 (``data/date=YYYY-MM-DD/*.parquet``, ``tgw/date=…/``).

Either way the table queries see has the columns of the local view (``vpc_flow_logs``:
every field, ``extra_fields``, ``aws_account_id``, ``aws_region``, ``date``), so a query
answers the same on Athena as on ``vpcflow sql``. For delivered logs that takes two
statements: the external table ``<table>_records`` with the log format's columns and the key's
partitions, and the view ``<table>`` that adds the fields the format lacks (NULL) and ``date``
(the UTC day of ``start``, as in the store; the key's day when a record has no ``start``).

With partition projection (the default) Athena computes the partitions from the key layout, so
nobody runs ``ALTER TABLE ADD PARTITION`` or ``MSCK REPAIR TABLE`` again. Account and region are
projected as ``enum`` (the ``injected`` type would make Athena refuse every query without an
equality filter on both, which the AWS sample queries do not have): accounts must be given,
regions default to every AWS commercial region.

AWS's own projection example drops the ``region`` column because it names a partition key
``region``: with a log format that contains ``${region}`` every later text column then reads the
value of the field before it. Here partition keys never share a name with a field
(``aws_account_id``, ``aws_region``, ``day``, ``hour``, ``year``, ``month``), so the columns are
always exactly the fields of the log format, in its order.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import schema
from ..errors import FormatError

__all__ = ["flow_log_ddl", "store_ddl", "select_fields", "AWS_REGIONS"]

# AWS commercial regions: the default enum of the aws_region projection (--region overrides).
AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ca-central-1", "ca-west-1", "eu-central-1",
    "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2",
    "eu-north-1", "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
)  # fmt: skip

_PRESTO_TYPE = {"int": "integer", "bigint": "bigint", "string": "varchar"}

# Athena DDL uses Hive quoting; these column names need backticks.
_RESERVED = {"end", "date", "type", "version", "action", "start", "bytes", "protocol", "region"}


def _ident(name: str) -> str:
    return f"`{name}`" if name in _RESERVED or not name.isidentifier() else name


def select_fields(
    spec: str | Sequence[str] = "default", tbl: schema.Table = schema.VPC
) -> tuple[schema.Field, ...]:
    """``default`` (the 14 version-2 fields; all fields for Transit Gateway), ``all`` (every
    field, AWS order) or a log format / list of field names in the order the flow log writes
    them."""
    if isinstance(spec, str):
        if spec == "default":
            return tbl.default_format
        if spec == "all":
            return tbl.fields
        fields = schema.parse_log_format(spec.replace(",", " "), strict=True)
    else:
        fields = schema.parse_log_format(" ".join(spec), strict=True)
    if tbl is schema.TGW:  # names both tables have resolve to the Transit Gateway fields
        fields = tuple(schema.TGW.resolve(f.name) or f for f in fields)
    return fields


def _location(location: str) -> str:
    if not location.startswith("s3://"):
        raise FormatError(f"--location must be an s3:// URI, not {location!r}")
    loc = location.rstrip("/") + "/"
    if not loc.endswith("AWSLogs/"):
        loc += "AWSLogs/"
    return loc


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _props(props: list[tuple[str, str]]) -> str:
    return (
        "TBLPROPERTIES (\n" + ",\n".join(f"  {_quote(k)} = {_quote(v)}" for k, v in props) + "\n)"
    )


def _columns(fields: Sequence[schema.Field]) -> str:
    return ",\n".join(f"  {_ident(f.column)} {f.athena_type}" for f in fields)


def _enum(key: str, values: Sequence[str]) -> list[tuple[str, str]]:
    return [(f"projection.{key}.type", "enum"), (f"projection.{key}.values", ",".join(values))]


def _view(table: str, records: str, tbl: schema.Table, cols, day_sql: str) -> str:
    """The view with the local view's columns over the ``_records`` table."""
    present = {f.column for f in cols}
    out = []
    for f in tbl.fields:
        c = f'"{f.column}"'
        out.append(
            c if f.column in present else f"CAST(NULL AS {_PRESTO_TYPE[f.athena_type]}) AS {c}"
        )
    out.append(f'CAST(NULL AS map(varchar, varchar)) AS "{schema.EXTRA_COLUMN}"')
    out += [f'"{c}"' for c, _ in schema.KEY_COLUMNS]
    if "start" in present:
        date_sql = f'coalesce(CAST(from_unixtime("start") AS date), {day_sql})'
    else:
        date_sql = day_sql
    out.append(f'{date_sql} AS "{schema.PARTITION_COLUMN}"')
    body = ",\n  ".join(out)
    return f'CREATE OR REPLACE VIEW "{table}" AS\nSELECT\n  {body}\nFROM "{records}";\n'


def flow_log_ddl(
    location: str,
    *,
    table: str = "vpc_flow_logs",
    file_format: str = "text",
    hive: bool = False,
    hourly: bool = False,
    projection: bool = True,
    fields: str | Sequence[str] = "default",
    accounts: Sequence[str] = (),
    regions: Sequence[str] = (),
    start_day: str = "2020/01/01",
    tgw: bool = False,
) -> str:
    """The statements that make ``table`` (a view with the local view's columns) over flow logs
    as AWS delivers them under ``location`` (the bucket and prefix given as the flow log's
    destination): ``CREATE EXTERNAL TABLE <table>_records`` and ``CREATE OR REPLACE VIEW``.
    ``tgw``: Transit Gateway flow logs (their fields; ``table`` defaults to tgw_flow_logs)."""
    if file_format not in ("text", "parquet"):
        raise FormatError(f"file format must be text or parquet, not {file_format!r}")
    tbl = schema.TGW if tgw else schema.VPC
    if tgw and table == "vpc_flow_logs":
        table = schema.TGW.name
    cols = select_fields(fields, tbl)
    loc = _location(location)
    if projection and not accounts:
        raise FormatError(
            "partition projection needs the account ids of the keys: give --account ID "
            "(repeatable), or --no-projection and add partitions yourself"
        )
    regions = tuple(regions) or AWS_REGIONS
    records = f"{table}_records"
    if hive:
        keys = ["aws_account_id", "aws_region", "year", "month", "day"] + (
            ["hour"] if hourly else []
        )
        template = (
            loc + "aws-account-id=${aws_account_id}/aws-service=vpcflowlogs/"
            "aws-region=${aws_region}/year=${year}/month=${month}/day=${day}"
            + ("/hour=${hour}" if hourly else "")
        )
    else:
        keys = ["aws_account_id", "aws_region", "day"] + (["hour"] if hourly else [])
        template = (
            loc
            + "${aws_account_id}/vpcflowlogs/${aws_region}/${day}"
            + ("/${hour}" if hourly else "")
        )
    clash = {f.column for f in cols} & set(keys)
    assert not clash, clash  # partition keys are chosen never to shift a field column
    if hive:
        day_sql = "CAST(date_parse(year || '/' || month || '/' || day, '%Y/%m/%d') AS date)"
    else:
        day_sql = "CAST(date_parse(day, '%Y/%m/%d') AS date)"

    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS {_ident(records)} (", _columns(cols), ")"]
    lines.append("PARTITIONED BY (" + ", ".join(f"{k} string" for k in keys) + ")")
    if file_format == "text":
        lines.append("ROW FORMAT DELIMITED\nFIELDS TERMINATED BY ' '")
    else:
        lines.append("STORED AS PARQUET")
    lines.append(f"LOCATION {_quote(loc)}")
    props: list[tuple[str, str]] = []
    if file_format == "text":
        props.append(("skip.header.line.count", "1"))  # each file starts with the field names
    if projection:
        props.append(("projection.enabled", "true"))
        props += _enum("aws_account_id", accounts)
        props += _enum("aws_region", regions)
        if hive:
            year = start_day[:4]
            props += [
                ("projection.year.type", "integer"),
                ("projection.year.range", f"{year},2099"),
                ("projection.month.type", "integer"),
                ("projection.month.range", "1,12"),
                ("projection.month.digits", "2"),
                ("projection.day.type", "integer"),
                ("projection.day.range", "1,31"),
                ("projection.day.digits", "2"),
            ]
        else:
            props += [
                ("projection.day.type", "date"),
                ("projection.day.format", "yyyy/MM/dd"),
                ("projection.day.range", f"{start_day},NOW"),
                ("projection.day.interval", "1"),
                ("projection.day.interval.unit", "DAYS"),
            ]
        if hourly:
            props += [
                ("projection.hour.type", "integer"),
                ("projection.hour.range", "0,23"),
                ("projection.hour.digits", "2"),
            ]
        props.append(("storage.location.template", template))
    if props:
        lines.append(_props(props))
    return "\n".join(lines) + ";\n\n" + _view(table, records, tbl, cols, day_sql)


def store_ddl(
    location: str,
    *,
    table: str = "vpc_flow_logs",
    projection: bool = True,
    start_date: str = "2020-01-01",
    tgw: bool = False,
) -> str:
    """The ``CREATE EXTERNAL TABLE`` for a vpcflow store copied to ``location`` (the store
    directory on S3: it holds ``data/date=YYYY-MM-DD/``, Transit Gateway records ``tgw/…``).
    The columns are the local view's, in its order."""
    if not location.startswith("s3://"):
        raise FormatError(f"--location must be an s3:// URI, not {location!r}")
    tbl = schema.TGW if tgw else schema.VPC
    if tgw and table == "vpc_flow_logs":
        table = schema.TGW.name
    loc = location.rstrip("/") + "/"
    for t in schema.TABLES:
        if loc.endswith(f"/{t.directory}/"):
            loc = loc[: -len(t.directory) - 1]
    loc += tbl.directory + "/"
    columns = _columns(tbl.fields) + ",\n" + f"  {schema.EXTRA_COLUMN} map<string,string>,\n"
    columns += ",\n".join(f"  {c} string" for c, _ in schema.KEY_COLUMNS)
    lines = [
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {_ident(table)} (",
        columns,
        ")",
        f"PARTITIONED BY ({_ident(schema.PARTITION_COLUMN)} date)",
        "STORED AS PARQUET",
        f"LOCATION {_quote(loc)}",
    ]
    if projection:
        lines.append(
            _props(
                [
                    ("projection.enabled", "true"),
                    ("projection.date.type", "date"),
                    ("projection.date.format", "yyyy-MM-dd"),
                    ("projection.date.range", f"{start_date},NOW"),
                    ("projection.date.interval", "1"),
                    ("projection.date.interval.unit", "DAYS"),
                    ("storage.location.template", loc + "date=${date}"),
                ]
            )
        )
    return "\n".join(lines) + ";\n"
