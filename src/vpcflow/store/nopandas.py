"""Hiding pandas from PyArrow in processes that hand it none: a module of its own, so that the
commands that hide it (detect, serve, ingest) need not import the ingest's workers to do so."""

from __future__ import annotations

import contextlib
import sys


class _NoPandas:
    """An import hook under which ``import pandas`` fails (see ``hide_pandas``)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is hidden from the native ingest (vpcflow.store.nopandas)")
        return None


@contextlib.contextmanager
def pandas_hidden(when: bool = True):
    """``hide_pandas`` for the block (when ``when``), undone after it: for a command that runs
    in a caller's process too (``main()`` called from Python)."""
    hook = hide_pandas() if when else None
    try:
        yield
    finally:
        show_pandas(hook)


def hide_pandas():
    """Make pandas unimportable in this process, unless it is imported already.

    PyArrow imports pandas (when installed) the first time it converts a Python value --
    ``pa.scalar``, ``pa.array([...])``, a compute function given a number -- to check whether
    it is a pandas object, and its C++ part tries again until it succeeds: 0.3 to 0.7 s of CPU
    per process, more than parsing a million records. The native ingest hands PyArrow no
    pandas objects, so its worker processes and the ``vpcflow ingest`` command (processes of
    their own, running no user code) hide pandas; a library caller's process is left alone.
    Returns the hook, for ``show_pandas`` (None if pandas was imported or hidden already)."""
    if "pandas" in sys.modules or any(isinstance(h, _NoPandas) for h in sys.meta_path):
        return None
    hook = _NoPandas()
    sys.meta_path.insert(0, hook)
    return hook


def show_pandas(hook) -> None:
    """Undo ``hide_pandas`` (given what it returned)."""
    if hook is not None and hook in sys.meta_path:
        sys.meta_path.remove(hook)
