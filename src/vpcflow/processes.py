"""Child processes that must not outlive the process that forked or started them (ingest's
workers, troubleshoot's parts)."""

from __future__ import annotations

import os
import signal

__all__ = ["die_with_parent"]


def die_with_parent(parent: int) -> None:
    """In a child of ``parent``: be killed when it dies (Linux ``PR_SET_PDEATHSIG``; elsewhere
    the child still ends when its pipe to the parent closes), and end now if it already has."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)
