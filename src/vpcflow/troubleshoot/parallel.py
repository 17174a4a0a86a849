"""Deciding a busy day's conversations on every core.

After the flows query, troubleshoot's work is Python's: pairing flows into conversations,
deciding and wording each verdict, folding alike ones (about 40 s for the 950k flows of a
20M-record day on one core). Conversations never cross interfaces (a conversation is what one
interface logged), so the flows are split by interface into parts of about equal size, each
part is decided in a forked child process (the flows are inherited, not sent) and the verdicts
come back pickled through a pipe, while the parent decides the first part itself.

A child runs Python code only, on Python objects built before the fork: no DuckDB, no Arrow,
so that a lock another thread held at the fork (the engine's, the web server's) is never
needed. A child that fails or dies is not fatal: its part is decided again in the parent.
The parent stops its children on any exception, Ctrl-C included.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

from .. import settings
from ..processes import die_with_parent

log = logging.getLogger("vpcflow")

__all__ = ["by_interface", "map_parts"]

#: Fewer flows than this are decided in one process: a fork and the verdicts' trip back cost
#: more than they save (tens of milliseconds).
MIN_FLOWS = 20_000


#: The share of the work a child gets, against 1 for the parent's part: a child also pickles
#: its verdicts (about an eighth of the time it takes to decide them) while the parent waits.
CHILD_SHARE = 0.88


def by_interface(flows: Sequence, jobs: int, key=lambda f: f.interface_id) -> list[list]:
    """``flows`` split into at most ``jobs`` parts of whole interfaces, each keeping the flows'
    order: the largest interfaces first, each to the part the least loaded for its share (the
    first part, the parent's, 1; the others ``CHILD_SHARE``). One part when ``jobs`` < 2 or
    there are too few flows."""
    if jobs < 2 or len(flows) < MIN_FLOWS:
        return [list(flows)] if flows else []
    sizes: dict[str, int] = {}
    for f in flows:
        k = key(f)
        sizes[k] = sizes.get(k, 0) + 1
    if len(sizes) < 2:
        return [list(flows)]
    loads = [0] * min(jobs, len(sizes))
    shares = [1.0] + [CHILD_SHARE] * (len(loads) - 1)
    part_of: dict[str, int] = {}
    for k, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        i = min(range(len(loads)), key=lambda j: (loads[j] + n) / shares[j])
        part_of[k] = i
        loads[i] += n
    parts: list[list] = [[] for _ in loads]
    for f in flows:
        parts[part_of[key(f)]].append(f)
    return [p for p in parts if p]


def forks() -> bool:
    """Whether parts go to forked children: on Linux, unless the ``worker_start`` setting is
    ``exec`` (which keeps troubleshoot in one process: its flows cannot be sent to a fresh
    interpreter for less than deciding them costs)."""
    chosen = str(settings.get("worker_start")).lower()
    return chosen != "exec" and hasattr(os, "fork") and sys.platform.startswith("linux")


def _same(x):
    return x


def map_parts(
    func: Callable, parts: Sequence, pack: Callable = _same, unpack: Callable = _same
) -> list:
    """``[func(p) for p in parts]``, the parts after the first in forked children (on systems
    that fork), the first in this process meanwhile. A child sends ``pack(func(p))`` pickled,
    which this process turns back with ``unpack``."""
    if len(parts) < 2 or not forks():
        return [func(p) for p in parts]
    children: list[tuple[int, io.RawIOBase]] = []  # (pid, read end) of those not yet reaped
    try:
        for part in parts[1:]:
            try:
                children.append(_fork(lambda p: pack(func(p)), part))
            except OSError as exc:  # no memory or processes left for one: do the rest here
                log.warning("troubleshoot could not start a worker (%s): deciding here", exc)
                break
        log.debug("troubleshoot: parts of %s flows in %d processes", [len(p) for p in parts],
                  len(children) + 1)  # fmt: skip
        results = [func(parts[0])]
        for part in parts[1:]:
            if not children:  # not forked
                results.append(func(part))
                continue
            pid, pipe = children[0]
            with pipe:
                data = pipe.readall()
            code = _reap(pid)
            children.pop(0)
            if code == 0 and data:
                results.append(unpack(pickle.loads(data)))
            else:  # a child killed (out of memory, say) or failing: its part is done here
                log.warning("a troubleshoot worker ended with %s; its part is decided here", code)
                results.append(func(part))
        return results
    finally:
        for pid, pipe in children:  # an exception or Ctrl-C: stop the children still running
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pipe.close()
            _reap(pid)


def _fork(func: Callable, part) -> tuple[int, io.RawIOBase]:
    r, w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(w)
        return pid, open(r, "rb", buffering=0)
    # The child: never returns into the caller's code, never runs its exit handlers.
    code = 0
    try:
        os.close(r)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        die_with_parent(parent)
        data = pickle.dumps(func(part), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(w, view) :]
    except BaseException:  # noqa: BLE001 - a forked child must end here, whatever happens
        if log.isEnabledFor(logging.DEBUG):  # (the parent says it and does the part itself)
            traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _reap(pid: int) -> int | None:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)
