"""Athena ``CREATE EXTERNAL TABLE`` statements for flow logs, generated from the schema catalogue.

Two kinds of data:

* flow logs **as AWS delivers them to S3** (text or Parquet; the default key layout
  ``AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{MM}/{dd}/[{HH}/]`` or the Hive-compatible one
  ``AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/year=…/``);
* a **vpcflow store** uploaded to S3 (``data/date=YYYY-MM-DD/*.parquet``).

With partition projection (the default) Athena computes the partitions from the key layout, so
nobody runs ``ALTER TABLE ADD PARTITION`` or ``MSCK REPAIR TABLE`` again.

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

__all__ = ["flow_log_ddl", "store_ddl", "select_fields"]

# Athena DDL uses Hive quoting; these column names need backticks.
_RESERVED = {"end", "date", "type", "version", "action", "start", "bytes", "protocol", "region"}


def _ident(name: str) -> str:
    return f"`{name}`" if name in _RESERVED or not name.isidentifier() else name


def select_fields(spec: str | Sequence[str] = "default") -> tuple[schema.Field, ...]:
    """``default`` (the 14 version-2 fields), ``all`` (every field, AWS order) or a log format /
    list of field names in the order the flow log writes them."""
    if isinstance(spec, str):
        if spec == "default":
            return schema.DEFAULT_FORMAT
        if spec == "all":
            return schema.FIELDS
        return schema.parse_log_format(spec.replace(",", " "))
    return schema.parse_log_format(" ".join(spec))


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


def _enum_or_injected(key: str, values: Sequence[str]) -> list[tuple[str, str]]:
    if values:
        return [(f"projection.{key}.type", "enum"), (f"projection.{key}.values", ",".join(values))]
    # injected: every query must say which one, e.g. WHERE aws_region = 'eu-west-1'
    return [(f"projection.{key}.type", "injected")]


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
) -> str:
    """The ``CREATE EXTERNAL TABLE`` for flow logs as AWS delivers them under ``location``
    (the bucket and prefix given as the flow log's destination)."""
    if file_format not in ("text", "parquet"):
        raise FormatError(f"file format must be text or parquet, not {file_format!r}")
    cols = select_fields(fields)
    loc = _location(location)
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

    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS {_ident(table)} (", _columns(cols), ")"]
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
        props += _enum_or_injected("aws_account_id", accounts)
        props += _enum_or_injected("aws_region", regions)
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
    return "\n".join(lines) + ";\n"


def store_ddl(
    location: str,
    *,
    table: str = "vpc_flow_logs",
    projection: bool = True,
    start_date: str = "2020-01-01",
) -> str:
    """The ``CREATE EXTERNAL TABLE`` for a vpcflow store copied to ``location`` (the store
    directory on S3: it holds ``data/date=YYYY-MM-DD/``)."""
    if not location.startswith("s3://"):
        raise FormatError(f"--location must be an s3:// URI, not {location!r}")
    loc = location.rstrip("/") + "/"
    if not loc.endswith("data/"):
        loc += "data/"
    lines = [
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {_ident(table)} (",
        _columns(schema.FIELDS),
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
