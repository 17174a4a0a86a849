"""Athena DDL: snapshots (reviewed by eye against the AWS Athena docs), sqlglot parses them, and
the columns are the log format's fields in order even when `region` is one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from vpcflow import schema
from vpcflow.cli import main
from vpcflow.queries import athena

SNAPSHOTS = Path(__file__).parent / "snapshots"

CASES = {
    "text-default": ["--location", "s3://amzn-s3-demo-bucket/prefix", "--account", "123456789012"],
    "text-all-hive-hourly": [
        "--location",
        "s3://amzn-s3-demo-bucket/prefix/",
        "--account",
        "123456789012",
        "--fields",
        "all",
        "--hive",
        "--hourly",
        "--key-region",
        "us-east-1",
        "--key-region",
        "eu-west-1",
    ],
    "parquet-v5-accounts": [
        "--location",
        "s3://amzn-s3-demo-bucket/AWSLogs/",
        "--format",
        "parquet",
        "--fields",
        " ".join(f.name for f in schema.fields_of_version(5)),
        "--account",
        "123456789012",
        "--hourly",
    ],
    "text-no-projection": ["--location", "s3://amzn-s3-demo-bucket/prefix", "--no-projection"],
    "store": ["--store", "s3://amzn-s3-demo-bucket/vpcflow-store", "--start", "2024-01-01"],
    "store-tgw": ["--store", "s3://amzn-s3-demo-bucket/vpcflow-store", "--tgw"],
    "text-tgw": [
        "--location",
        "s3://amzn-s3-demo-bucket/tgw",
        "--tgw",
        "--account",
        "123456789012",
        "--key-region",
        "eu-west-1",
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_snapshot(case):
    res = CliRunner().invoke(main, ["athena-ddl", *CASES[case]])
    assert res.exit_code == 0, res.output
    snap = SNAPSHOTS / f"athena-ddl-{case}.sql"
    if os.environ.get("VPCFLOW_UPDATE_SNAPSHOTS") or not snap.exists():
        snap.parent.mkdir(exist_ok=True)
        snap.write_text(res.stdout)
    assert res.stdout == snap.read_text()


def _columns(ddl: str) -> tuple[list[str], list[str]]:
    tree = sqlglot.parse(ddl, read="athena")[0]  # the CREATE TABLE (a view may follow)
    assert isinstance(tree, exp.Create)
    cols = [c.name for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
    parts = tree.find(exp.PartitionedByProperty)
    keys = [c.name for c in parts.this.expressions] if parts else []
    return cols, keys


@pytest.mark.parametrize("case", sorted(CASES))
def test_parses_with_sqlglot_athena(case):
    res = CliRunner().invoke(main, ["athena-ddl", *CASES[case]])
    cols, keys = _columns(res.stdout)
    assert cols and not set(cols) & set(keys)


def test_region_field_keeps_its_place():
    # AWS's projection example names a partition `region` and drops the column; with ${region}
    # in the format the columns after it would shift. Ours keep every field in order.
    fmt = "${version} ${account-id} ${region} ${az-id} ${srcaddr} ${action}"
    ddl = athena.flow_log_ddl("s3://b/p", fields=fmt, accounts=["1"])
    cols, keys = _columns(ddl)
    assert cols == ["version", "account_id", "region", "az_id", "srcaddr", "action"]
    assert "region" not in keys and "aws_region" in keys
    cols, _ = _columns(
        athena.flow_log_ddl("s3://b/p", fields="all", hive=True, hourly=True, projection=False)
    )
    assert cols == list(schema.COLUMNS)


def test_storage_template_matches_aws_key_layouts():
    ddl = athena.flow_log_ddl("s3://b/p", hourly=True, accounts=["1"])
    assert "'s3://b/p/AWSLogs/${aws_account_id}/vpcflowlogs/${aws_region}/${day}/${hour}'" in ddl
    ddl = athena.flow_log_ddl("s3://b/p", hive=True, accounts=["1"])
    assert (
        "aws-account-id=${aws_account_id}/aws-service=vpcflowlogs/aws-region=${aws_region}/"
        "year=${year}/month=${month}/day=${day}'"
    ) in ddl


def test_bad_input():
    res = CliRunner().invoke(main, ["athena-ddl", "--location", "/local/dir"])
    assert res.exit_code == 1 and "s3://" in res.output
    res = CliRunner().invoke(main, ["athena-ddl", "--location", "s3://b/p", "--fields", "nosuch"])
    assert res.exit_code == 1 and "unknown flow-log field" in res.output
    res = CliRunner().invoke(main, ["athena-ddl"])
    assert res.exit_code == 2
    # projection without the accounts to project is refused (injected would make Athena refuse
    # every query that lacks WHERE aws_account_id = ...)
    res = CliRunner().invoke(main, ["athena-ddl", "--location", "s3://b/p"])
    assert res.exit_code == 1 and "--account" in res.output


def test_no_injected_projection_anywhere():
    for case, args in CASES.items():
        res = CliRunner().invoke(main, ["athena-ddl", *args])
        assert "injected" not in res.stdout, case


def _view_columns(ddl: str) -> list[str]:
    view = sqlglot.parse_one(ddl.split(";\n\n")[1], read="trino")  # the view is Trino SQL
    return [e.alias_or_name for e in view.expression.expressions]


def test_view_has_the_local_views_columns(tmp_path):
    import vpcflow

    store = vpcflow.open_store(tmp_path / "s")
    local = store.sql("SELECT * FROM vpc_flow_logs LIMIT 0").column_names
    for fields in ("default", "all", "${srcaddr} ${dstaddr} ${start}"):
        for hive in (False, True):
            ddl = athena.flow_log_ddl("s3://b/p", fields=fields, hive=hive, accounts=["1"])
            assert _view_columns(ddl) == local, (fields, hive)
    store_cols, _ = _columns(athena.store_ddl("s3://b/st"))
    assert [*store_cols, "date"] == local
    tgw_local = store.sql("SELECT * FROM tgw_flow_logs LIMIT 0").column_names
    assert _view_columns(athena.flow_log_ddl("s3://b/p", tgw=True, accounts=["1"])) == tgw_local


def test_view_answers_like_the_local_store(tmp_path):
    """Run the generated view on DuckDB over the same delivered files (the records table filled
    as Athena would read it: text columns, partitions from the key) and compare answers."""
    import duckdb

    import vpcflow
    from flowdata import write_s3_layout
    from vpcflow import queries as named_queries

    write_s3_layout(tmp_path / "logs", files=6, per_file=50)
    store = vpcflow.open_store(tmp_path / "s")
    store.ingest(str(tmp_path / "logs"))
    ddl = athena.flow_log_ddl("s3://b/p", accounts=["123456789012"])
    view = sqlglot.parse_one(ddl.split(";\n\n")[1], read="trino").sql("duckdb")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cols = ", ".join(
        f'CAST(NULLIF("{f.name}", \'-\') AS {"VARCHAR" if f.athena_type == "string" else f.athena_type.upper()}) AS "{f.column}"'
        for f in schema.DEFAULT_FORMAT
    )
    glob = str(tmp_path / "logs" / "**" / "*.log.gz")
    con.execute(
        f"CREATE TABLE vpc_flow_logs_records AS SELECT {cols}, "
        "regexp_extract(filename, 'AWSLogs/([0-9]+)/', 1) AS aws_account_id, "
        "regexp_extract(filename, 'vpcflowlogs/([a-z0-9-]+)/', 1) AS aws_region, "
        "regexp_extract(filename, '/([0-9]{4}/[0-9]{2}/[0-9]{2})/', 1) AS day "
        f"FROM read_csv('{glob}', delim=' ', header=true, all_varchar=true, filename=true)"
    )
    con.execute(view)
    everything = "SELECT * FROM vpc_flow_logs ORDER BY interface_id, start, srcaddr, srcport"
    assert con.sql(everything).fetchall() == [
        tuple(r.values()) for r in store.sql(everything).to_pylist()
    ]
    # the named query from the Athena docs filters on date: it runs on the view, same answer
    q = named_queries.get("athena-https-top-servers").render({"days": "100000", "limit": "1000"})
    on_athena_view = sorted((int(n), a) for n, a in con.sql(q).fetchall())
    local = sorted((int(r["packetcount"]), r["dstaddr"]) for r in store.sql(q).to_pylist())
    assert on_athena_view == local and len(local) > 1
