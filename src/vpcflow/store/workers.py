"""Worker processes of an ingest: each reads, parses and writes Parquet for the objects it is
sent, into the open transaction's staging directory, and reports counts and bad lines.

On Linux they are forked from the ingest itself (``os.fork``: ready in milliseconds, with the
parser and PyArrow already imported, where a fresh interpreter spends a third of a second
importing them, longer on a loaded machine); elsewhere, or with ``VPCFLOW_WORKER_START=exec``,
they are plain subprocesses (``python -m vpcflow.store._worker``). Either way they talk pickle
over a socket pair (never multiprocessing's spawn, which would re-import the caller's
``__main__``), ignore Ctrl-C in a process group of their own, and die with the parent
(``PR_SET_PDEATHSIG``); the parent turns a dead or failing worker into one ``VpcflowError``, and
nothing of the open transaction is committed.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path

import pyarrow as pa

from .. import settings
from ..errors import StoreWriteError, VpcflowError
from ..processes import die_with_parent
from ..sources import RawObject
from . import rollups
from .nopandas import hide_pandas
from .parts import ObjectResult, PartWriter, read_object

log = logging.getLogger("vpcflow")


def _describe(obj: RawObject) -> dict:
    """A picklable description of ``obj``: local files by path, anything else by content."""
    d = {
        "uri": obj.uri,
        "kind": obj.kind,
        "account": obj.account,
        "region": obj.region,
        "day": obj.day,
        "log_format": obj.log_format,
    }
    if obj.path:
        d["path"] = obj.path
    else:
        with obj.open() as fh:
            d["data"] = fh.read()
    return d


def _undescribe(d: dict) -> RawObject:
    if "path" in d:
        opener = lambda p=d["path"]: open(p, "rb")  # noqa: E731
    else:
        opener = lambda b=d["data"]: io.BytesIO(b)  # noqa: E731
    return RawObject(
        uri=d["uri"],
        open=opener,
        kind=d["kind"],
        account=d["account"],
        region=d["region"],
        day=d["day"],
        log_format=d["log_format"],
    )


def worker_main(argv: list[str]) -> None:
    """Entry point of an ingest worker process (``python -m vpcflow.store._worker``)."""
    fd, stage_root, log_format, wid, parent = argv
    _worker(Connection(int(fd)), stage_root, log_format or None, int(wid), int(parent))


def _worker(
    conn, stage_root: str, log_format: str | None, wid: int, parent: int, announce: bool = True
) -> None:
    die_with_parent(parent)
    hide_pandas()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    # The C allocator, not Arrow's mimalloc: mimalloc asks for transparent huge pages and
    # returns freed memory to the system, so every row group's buffers fault in fresh 2 MB
    # pages that the kernel zeroes first (a quarter of a worker's CPU time went there).
    pa.set_memory_pool(pa.system_memory_pool())
    if announce:  # a forked worker is ready by construction
        conn.send(("ready",))
    writer = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if msg[0] == "obj":
                _, seq, txn, desc = msg
                if writer is None:
                    writer = PartWriter(Path(stage_root) / txn, f"{txn}-w{wid}")
                obj = _undescribe(desc)
                res = read_object(obj, log_format, lambda t, w=writer, d=obj.day: w.add(t, d))
                conn.send(("done", seq, res))
            elif msg[0] == "flush":
                files = writer.close() if writer is not None else []
                writer = None
                conn.send(("flushed", files))
            else:
                return
        except StoreWriteError as exc:  # a full disk: the parent rolls the transaction back
            if writer is not None:
                writer.abort()
            conn.send(("write-error", str(exc)))
            return
        except Exception:  # report, then stop: the parent discards the open transaction
            conn.send(("crash", traceback.format_exc()))
            return


def start_method() -> str:
    """``fork`` or ``exec`` (a fresh interpreter per worker), as the ``worker_start`` setting
    says; ``auto`` forks on Linux only (on macOS, forking a process that has loaded system
    frameworks is unsafe; Windows cannot fork), and only while the process has one thread: a
    lock that a thread holds at the fork (an S3 download pool's, a DuckDB or Arrow worker
    thread's) stays held in the child, which then hangs or crashes. Native threads (DuckDB's,
    Arrow's thread pool, started by a query run earlier in the same process) are counted too."""
    chosen = str(settings.get("worker_start")).lower()
    if chosen == "auto":
        alone = threading.active_count() == 1 and _os_threads() <= _BASELINE_THREADS
        chosen = "fork" if sys.platform.startswith("linux") and alone else "exec"
    return "fork" if chosen == "fork" and hasattr(os, "fork") else "exec"


def _os_threads() -> int:
    """Threads of this process, native ones included (Linux: /proc/self/task)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1 << 30  # cannot tell: do not fork


# The threads a process has once the parser and PyArrow are loaded (jemalloc's background thread
# among them), which fork safely; any thread started since (a query's) makes auto choose exec.
_BASELINE_THREADS = _os_threads()


class _Forked:
    """A forked worker, with the part of ``subprocess.Popen`` that ``Workers`` uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"ingest worker {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Workers:
    """N worker processes, each with at most ``depth`` objects in flight."""

    def __init__(self, n: int, stage_root: Path, log_format: str | None, depth: int = 2):
        self.conns = []
        self.procs = []
        forked = start_method() == "fork"
        if forked and rollups.enabled():
            import duckdb  # noqa: F401 - the rollups' engine, imported once for every worker
        log.debug("ingest workers: %s (%d threads)", "forked" if forked else "exec", _os_threads())
        for wid in range(n):
            parent_end, child_end = socket.socketpair()
            if forked:
                p = self._fork(child_end, parent_end, stage_root, log_format, wid)
            else:
                p = self._exec(child_end, stage_root, log_format, wid)
            child_end.close()
            self.conns.append(Connection(parent_end.detach()))
            self.procs.append(p)
        self.inflight = [0] * n
        self.ready = [forked] * n  # a worker is sent work once it has booted
        self.depth = depth
        self.pending: dict[int, RawObject] = {}
        self.flushing: list = []

    @staticmethod
    def _exec(child_end, stage_root: Path, log_format: str | None, wid: int):
        fd = child_end.fileno()
        cmd = [
            sys.executable,
            "-m",
            "vpcflow.store._worker",
            str(fd),
            str(stage_root),
            log_format or "",
            str(wid),
            str(os.getpid()),
        ]
        # Their own process group: Ctrl-C at the terminal (SIGINT to the foreground group)
        # reaches the parent only, which stops them and reports once.
        return subprocess.Popen(cmd, pass_fds=(fd,), stdin=subprocess.DEVNULL, process_group=0)

    def _fork(self, child_end, parent_end, stage_root: Path, log_format: str | None, wid: int):
        parent = os.getpid()
        pid = os.fork()
        if pid:
            try:  # the child does the same; whichever runs first wins the race
                os.setpgid(pid, pid)
            except OSError:
                pass
            return _Forked(pid)
        # The child: never returns into the caller's code, never runs its exit handlers.
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            os.setpgid(0, 0)
            parent_end.close()
            for conn in self.conns:  # the other workers' ends: their EOF is theirs alone
                conn.close()
            _worker(Connection(child_end.detach()), str(stage_root), log_format, wid, parent, False)
        except BaseException:  # noqa: BLE001 - a forked child must end here, whatever happens
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)

    def _poll_ready(self) -> None:
        for i, conn in enumerate(self.conns):
            if not self.ready[i] and conn.poll():
                msg = self._recv(conn)
                if msg[0] != "ready":
                    raise VpcflowError(f"ingest worker sent {msg[0]!r} before it was ready")
                self.ready[i] = True

    def submit(self, seq: int, txn: str, obj: RawObject) -> None:
        ready = [i for i in range(len(self.conns)) if self.ready[i]]
        i = min(ready, key=lambda k: self.inflight[k])
        self._send(self.conns[i], ("obj", seq, txn, _describe(obj)))
        self.inflight[i] += 1
        self.pending[seq] = obj

    def booting(self) -> bool:
        """True while no worker has finished starting (the parent parses meanwhile)."""
        self._poll_ready()
        return not any(self.ready)

    def full(self) -> bool:
        self._poll_ready()
        return min(n for n, r in zip(self.inflight, self.ready, strict=True) if r) >= self.depth

    def busy(self) -> bool:
        return any(self.inflight)

    def results(self) -> Iterator[tuple[RawObject, ObjectResult]]:
        """Block until at least one object is done; yield what is done."""
        for conn in wait([c for c, n in zip(self.conns, self.inflight, strict=True) if n]):
            i = self.conns.index(conn)
            msg = self._recv(conn)
            if msg[0] != "done":
                raise VpcflowError(f"ingest worker sent {msg[0]!r} while objects were in flight")
            self.inflight[i] -= 1
            yield self.pending.pop(msg[1]), msg[2]

    def flush(self) -> list[dict]:
        """Have every worker close its files; their manifest entries."""
        self.flush_start()
        return self.flush_wait()

    def flush_start(self) -> None:
        """Ask every worker to close its files (the parent may close its own meanwhile)."""
        self.flushing = [c for c, r in zip(self.conns, self.ready, strict=True) if r]
        for conn in self.flushing:  # workers still booting hold nothing
            self._send(conn, ("flush",))

    def flush_wait(self) -> list[dict]:
        files: list[dict] = []
        for conn in self.flushing:
            msg = self._recv(conn)
            files.extend(msg[1])
        self.flushing = []
        return files

    def _died(self, conn) -> VpcflowError:
        """The error for a worker whose connection broke, saying how it ended."""
        how = ""
        if conn in self.conns:
            p = self.procs[self.conns.index(conn)]
            try:
                code = p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None and code < 0:
                how = f" (killed by signal {-code})"
            elif code:
                how = f" (exit status {code})"
        return VpcflowError(
            f"an ingest worker process died{how}; nothing of the current batch was committed: "
            "run the ingest again"
        )

    def _send(self, conn, msg) -> None:
        try:
            conn.send(msg)
        except OSError:
            raise self._died(conn) from None

    def _recv(self, conn):
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            raise self._died(conn) from None
        if msg[0] == "write-error":
            raise StoreWriteError(msg[1])
        if msg[0] == "crash":
            log.error("ingest worker failed:\n%s", msg[1])
            last = msg[1].strip().splitlines()[-1]
            raise VpcflowError(
                f"an ingest worker failed ({last}); nothing of the current batch was committed: "
                "run the ingest again, with -v for the traceback"
            )
        return msg

    def close(self) -> None:
        for conn, p, ready in zip(self.conns, self.procs, self.ready, strict=True):
            if not ready:  # still starting: nothing to finish
                p.kill()
                continue
            try:
                conn.send(("stop",))
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for conn in self.conns:
            conn.close()
