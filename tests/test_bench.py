"""The bench's measurement: each contender's own process tree, not the largest child so far."""

import sys

from bench.__main__ import _stats, run

BIG = "b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(1)"


def test_peak_rss_is_each_runs_own_process_tree():
    big = run([sys.executable, "-c", BIG])
    ballast = bytearray(300 << 20)  # the measuring process is large: a child must not inherit it
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run([sys.executable, "-c", "import time; time.sleep(0.3)"])
    del ballast
    # a grandchild's memory counts for the tree it belongs to
    tree = run(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BIG!r}])",
        ]
    )
    assert big["peak_rss_mb"] >= 200
    assert small["peak_rss_mb"] < 100  # neither the run before nor the measuring process
    assert tree["peak_rss_mb"] >= 200
    assert big["wall_s"] >= 1 and big["cpu_s"] > 0


def test_stats_are_median_and_spread():
    assert _stats([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
