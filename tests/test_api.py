"""The public Python API: a small, deliberate surface (pinned here) that mirrors the CLI."""

import pyarrow as pa

import vpcflow

EXPECTED = {
    "__version__",
    "open_store",
    "Store",
    "IngestReport",
    "parse_records",
    "explain",
    "load_configs",
    "athena_ddl",
    "generate_logs",
    "VpcflowError",
    "FormatError",
    "ParseError",
    "SourceError",
    "StoreError",
    "QueryError",
    "QueryRefused",
    "ConfigError",
    "MissingDependency",
}


def test_exported_members():
    assert set(vpcflow.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(vpcflow, name) is not None, name


def test_errors_share_one_root():
    for name in EXPECTED:
        obj = getattr(vpcflow, name)
        if isinstance(obj, type) and name.endswith(("Error", "Refused", "Dependency")):
            assert issubclass(obj, vpcflow.VpcflowError), name


def test_the_readme_walkthrough_in_python(tmp_path):
    import vpcflow.detect  # noqa: F401 - submodules never shadow the API names
    import vpcflow.insights  # noqa: F401

    gen = vpcflow.generate_logs(tmp_path / "logs", records=20_000, seed=3)
    assert gen.records == 20_000
    store = vpcflow.open_store(tmp_path / "store")
    report = store.ingest([str(tmp_path / "logs")])
    assert report.records == 20_000 and report.bad_lines == 0
    by_action = store.sql("SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY action")
    assert isinstance(by_action, pa.Table) and sum(by_action.column("n").to_pylist()) == 20_000
    top = store.insights("stats count(*) as n by srcAddr | sort n desc | limit 3")
    want = store.sql(
        "SELECT srcaddr, count(*) AS n FROM vpc_flow_logs GROUP BY srcaddr ORDER BY n DESC LIMIT 3"
    )
    assert top.column("n").to_pylist() == want.column("n").to_pylist()
    rejects = store.named_query("rejects-by-source")
    assert rejects.num_rows > 0
    ddl = vpcflow.athena_ddl(location="s3://bucket/prefix/", accounts=["123456789012"])
    assert ddl.startswith("CREATE EXTERNAL TABLE")
    ping = vpcflow.parse_records(
        "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n"
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK\n"
    )
    assert [v.verdict for v in vpcflow.explain(ping.table)] == ["network-acl"]
    assert isinstance(store.detect(), list)
    assert all(v.verdict != "allowed" for v in store.troubleshoot())
