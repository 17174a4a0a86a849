"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _own_cache_dir(tmp_path_factory):
    """Not the user's cache (the translated SQL of each query) either, from the first fixture on:
    session- and module-scoped fixtures that run queries are set up before a test's own."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    # Nor the AWS ranges snapshot shipped with vpcflow, whose contents change with each release,
    # from the first fixture on too: a test of the ranges loads its own fixture, tests of the
    # snapshot turn it on.
    mp.setenv("VPCFLOW_IP_RANGES_BUNDLED", "false")
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch, tmp_path_factory):
    """No test may reach real AWS: drop every AWS_* variable and hide ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no 169.254.169.254 lookups
    # Nor the user's data directory (downloaded ip-ranges, a note that a warning was given).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))


@pytest.fixture(scope="session")
def _moto_server():
    from moto_server import MotoEndpoint

    server = MotoEndpoint()
    yield server
    server.stop()


@pytest.fixture
def moto_endpoint(_moto_server, monkeypatch):
    """A fresh moto server on 127.0.0.1 with boto3 pointed at it through AWS_ENDPOINT_URL."""
    _moto_server.reset()
    for name, value in _moto_server.env().items():
        monkeypatch.setenv(name, value)
    return _moto_server


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every Spark test of this process (the engine reuses it)."""
    from vpcflow.engines import spark as spark_engine

    session = spark_engine.session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.memory": "1g",
        },
    )
    yield session
    spark_engine.stop_session()


@pytest.fixture(scope="module")
def every_rollup():
    """Ingest keeps every rollup (by default only ``traffic``), for a module whose tests read
    them all: ``pytestmark = pytest.mark.usefixtures("every_rollup")``."""
    old = os.environ.get("VPCFLOW_ROLLUPS")
    os.environ["VPCFLOW_ROLLUPS"] = "all"
    yield
    if old is None:
        os.environ.pop("VPCFLOW_ROLLUPS", None)
    else:
        os.environ["VPCFLOW_ROLLUPS"] = old
