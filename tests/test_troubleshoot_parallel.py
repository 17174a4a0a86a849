"""troubleshoot decides a busy day's interfaces in forked processes (troubleshoot/parallel.py):
the verdicts and their order must be exactly those of one process, whatever the records, and a
failing or interrupted child must cost nothing but time."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from test_troubleshoot_folding import CONFIGS, TableStore, records, table
from vpcflow import open_store
from vpcflow.generate import generate
from vpcflow.troubleshoot import flows_query, parallel, troubleshoot


def _forking(monkeypatch, jobs: int, min_flows: int = 1) -> None:
    monkeypatch.setenv("VPCFLOW_THREADS", str(jobs))
    monkeypatch.setattr(parallel, "MIN_FLOWS", min_flows)


@pytest.mark.parametrize("configs", CONFIGS.values(), ids=CONFIGS.keys())
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records)
def test_verdicts_in_forked_parts_are_those_of_one_process(rows, configs):
    store = TableStore(table(rows, with_direction=True))
    with pytest.MonkeyPatch.context() as mp:
        _forking(mp, 1)
        alone = [v.to_dict() for v in troubleshoot(store, configs=configs)]
    with pytest.MonkeyPatch.context() as mp:
        _forking(mp, 2)
        forked = [v.to_dict() for v in troubleshoot(store, configs=configs)]
    assert forked == alone


class F:
    def __init__(self, interface_id: str, i: int):
        self.interface_id, self.i = interface_id, i


def test_parts_hold_whole_interfaces_in_their_order_and_the_parent_takes_more(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FLOWS", 1)
    sizes = {"eni-a": 40, "eni-b": 30, "eni-c": 20, "eni-d": 10}
    flows = [F(eni, i) for i in range(40) for eni, n in sizes.items() if i < n]
    parts = parallel.by_interface(flows, 2)
    assert len(parts) == 2
    assert sorted(f.i for p in parts for f in p) == sorted(f.i for f in flows)
    for p in parts:
        assert p == [f for f in flows if f.interface_id in {g.interface_id for g in p}]
    assert {f.interface_id for f in parts[0]}.isdisjoint({f.interface_id for f in parts[1]})
    assert len(parts[0]) >= len(parts[1])  # the child also pickles what it found
    assert parallel.by_interface(flows, 1) == [flows]
    assert parallel.by_interface([F("eni-a", 0), F("eni-a", 1)], 4)[0][1].i == 1
    monkeypatch.setattr(parallel, "MIN_FLOWS", 1000)
    assert parallel.by_interface(flows, 2) == [flows]  # too few to be worth a fork


def test_worker_start_exec_keeps_everything_in_this_process(monkeypatch):
    monkeypatch.setenv("VPCFLOW_WORKER_START", "exec")
    parent = os.getpid()
    assert parallel.map_parts(lambda p: (os.getpid(), p), [[1], [2]]) == [
        (parent, [1]),
        (parent, [2]),
    ]
    monkeypatch.setenv("VPCFLOW_WORKER_START", "auto")
    assert parallel.map_parts(lambda p: os.getpid(), [[1], [2]])[1] != parent


def test_a_failing_child_has_its_part_done_by_the_parent(caplog):
    parent = os.getpid()

    def work(part):
        if os.getpid() != parent:
            raise RuntimeError("a child fails")
        return [x * 2 for x in part]

    with caplog.at_level(logging.WARNING, logger="vpcflow"):
        got = parallel.map_parts(work, [[1, 2], [3], [4, 5]])
    assert got == [[2, 4], [6], [8, 10]]
    assert "decided here" in caplog.text


def test_an_error_in_the_parent_stops_and_reaps_its_children(monkeypatch):
    started = []
    fork = parallel._fork

    def recording(func, part):
        pid, fd = fork(func, part)
        started.append(pid)
        return pid, fd

    monkeypatch.setattr(parallel, "_fork", recording)
    parent = os.getpid()

    def work(part):
        if os.getpid() == parent:
            raise KeyboardInterrupt  # Ctrl-C while the children still work
        import time

        time.sleep(30)
        return part

    with pytest.raises(KeyboardInterrupt):
        parallel.map_parts(work, [[1], [2], [3]])
    assert len(started) == 2
    for pid in started:  # killed and reaped: no process, not even a zombie
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("busy")
    generate(root / "logs", records=400_000, seed=5, attacks="all")
    store = open_store(root / "store")
    store.ingest([str(root / "logs")])
    store.close()
    return root / "store"


def test_troubleshoot_command_is_the_same_on_one_core_and_two(busy_store):
    store = open_store(busy_store, create=False)
    flows = store.sql(flows_query(only_rejected=True)).num_rows
    store.close()
    assert flows >= parallel.MIN_FLOWS  # so that the command forks
    exe = Path(sys.executable).parent / "vpcflow"
    out = {}
    for jobs in (1, 2):
        proc = subprocess.run(
            [str(exe), "-vv", "troubleshoot", "--store", str(busy_store), "--format", "json",
             "--limit", "0"],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "VPCFLOW_THREADS": str(jobs)},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out[jobs] = proc.stdout
        assert ("in 2 processes" in proc.stderr) == (jobs == 2)
    verdicts = json.loads(out[1])
    assert len(verdicts) > 1000
    assert out[2] == out[1]


def test_when_no_worker_can_start_the_parent_does_every_part(monkeypatch, caplog):
    def no_fork(func, part):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(parallel, "_fork", no_fork)
    with caplog.at_level(logging.WARNING, logger="vpcflow"):
        got = parallel.map_parts(lambda p: [x + 1 for x in p], [[1], [2], [3]])
    assert got == [[2], [3], [4]]
    assert "could not start a worker" in caplog.text
