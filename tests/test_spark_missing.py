"""Without PySpark or without Java, the Spark engine is one line saying what to install."""

import os
import subprocess
import sys

import pytest

import vpcflow
from flowdata import write_s3_layout


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("spark-missing")
    write_s3_layout(d / "logs", files=1, per_file=20)
    with vpcflow.open_store(str(d / "store")) as st:
        assert st.ingest([str(d / "logs")]).records == 20
    return str(d / "store")


def _vpcflow(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


def _sql_on_spark(store: str) -> str:
    return (
        "from vpcflow.cli import main\n"
        f"main(['sql', 'SELECT 1', '--store', {store!r}, '--engine', 'spark'], prog_name='vpcflow')\n"
    )


def test_no_java_is_one_line_naming_what_to_install(store, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # an empty directory: no `java` anywhere
    r = _vpcflow(_sql_on_spark(store), env)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "needs a Java runtime (17 or newer)" in lines[0] and "JAVA_HOME" in lines[0]


def test_no_pyspark_is_one_line_naming_the_extra(store):
    block = (
        "import sys\n"
        "class _NoPySpark:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyspark' or name.startswith('pyspark.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'pyspark'\", name='pyspark')\n"
        "sys.meta_path.insert(0, _NoPySpark())\n"
    )
    r = _vpcflow(block + _sql_on_spark(store), dict(os.environ))
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "pip install 'vpcflow[spark]'" in lines[0]
