"""Start-up: a command imports what it uses and nothing more (import lists, not timings)."""

import json
import subprocess
import sys

import click

import vpcflow
from flowdata import write_s3_layout
from vpcflow import cli

# Modules that take tens of milliseconds or more to import, none of which `--help` needs.
HEAVY = ("pyarrow", "numpy", "duckdb", "sqlglot", "rich", "boto3", "botocore", "isal", "polars")


def imported_by(*argv: str, full: bool = False) -> set[str]:
    """Packages (``full``: modules) in sys.modules after `vpcflow ARGV` in a fresh interpreter."""
    code = (
        "import sys, json\n"
        "from vpcflow.cli import main\n"
        "try:\n"
        f"    main({list(argv)!r}, prog_name='vpcflow')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    mods = json.loads(r.stderr.strip().splitlines()[-1])
    return set(mods) if full else {m.split(".")[0] for m in mods}


def test_help_imports_no_heavy_module():
    mods = imported_by("--help")
    assert "click" in mods and "vpcflow" in mods  # the probe itself works
    assert mods.isdisjoint(HEAVY), sorted(mods & set(HEAVY))


def test_a_command_help_loads_only_its_own_module():
    mods = imported_by("settings", "--help")
    assert mods.isdisjoint({"boto3", "botocore", "rich", "polars"}), mods


def test_sql_imports_neither_aws_clients_nor_the_write_path(tmp_path):
    write_s3_layout(tmp_path / "logs", files=1, per_file=20)
    store = str(tmp_path / "store")
    with vpcflow.open_store(store) as st:
        assert st.ingest([str(tmp_path / "logs")]).records == 20
    mods = imported_by("sql", "SELECT count(*) FROM vpc_flow_logs", "--store", store, full=True)
    assert "duckdb" in mods and "vpcflow.engines.duckdb" in mods
    # a query loads neither AWS clients nor the write path (the parser, the ingest loop), nor
    # Arrow's compute functions and Parquet reader (DuckDB reads the files itself)
    unwanted = {
        "boto3",
        "botocore",
        "vpcflow.parse",
        "vpcflow.store.ingest",
        "pyarrow.compute",
        "pyarrow.parquet",
    }
    assert mods.isdisjoint(unwanted), sorted(mods & unwanted)


def test_command_table_matches_the_commands():
    group = click.Group(name="probe")
    for name in cli._COMMAND_MODULES:
        __import__(f"vpcflow.cli.{name}", fromlist=["register"]).register(group)
    assert set(group.commands) == set(cli.COMMANDS)
    for name, cmd in group.commands.items():
        module, text = cli.COMMANDS[name]
        assert cmd.callback.__module__ == f"vpcflow.cli.{module}", name
        for limit in (30, 45, 80, 300):
            assert cmd.get_short_help_str(limit) == click.Command(
                name, help=text
            ).get_short_help_str(limit), name


def test_the_ingest_command_hides_pandas_and_the_library_does_not(tmp_path):
    """PyArrow imports pandas (0.3 s and more) to check Python values it converts; the ingest
    command never hands it pandas objects, so it hides pandas. A library caller keeps it."""
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        import pytest

        pytest.skip("pandas is not installed: nothing to hide")
    logs = tmp_path / "logs"
    n = write_s3_layout(logs, files=3, per_file=100, seed=3)
    code = (
        "import sys, json\n"
        "from vpcflow.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], prog_name='vpcflow')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps('pandas' in sys.modules), file=sys.stderr)\n"
    )
    env = {**__import__("os").environ, "VPCFLOW_THREADS": "1"}  # parsed in this process
    argv = ["ingest", str(logs), "--store", str(tmp_path / "s"), "--json"]
    r = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["records"] == n == 300
    assert json.loads(r.stderr.strip().splitlines()[-1]) is False
    lib = (
        "import sys, vpcflow\n"
        "r = vpcflow.open_store(sys.argv[1]).ingest([sys.argv[2]])\n"
        "import pandas\n"
        "print(r.records, pandas.__name__)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", lib, str(tmp_path / "s2"), str(logs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["300", "pandas"]
