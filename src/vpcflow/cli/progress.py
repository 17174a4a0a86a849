"""Progress of long commands: live on a terminal, one summary line otherwise (both on stderr).

``Activity`` is for work without a known size (detect, troubleshoot, compact): a spinner with
the elapsed time; ``Counter`` for work with a total (generate): a bar with counts and rate.
"""

from __future__ import annotations

import sys
import time

import click


def _live() -> bool:
    return sys.stderr.isatty()


class Activity:
    """``with Activity("detecting") as act: ...; act.done("12 findings")``."""

    def __init__(self, label: str):
        self.label = label
        self.summary = ""
        self._status = None
        self._t0 = 0.0

    def __enter__(self) -> Activity:
        self._t0 = time.perf_counter()
        if _live():
            from rich.console import Console

            self._status = Console(stderr=True).status(f"{self.label}…")
            self._status.__enter__()
        return self

    def done(self, summary: str) -> None:
        self.summary = summary

    def __exit__(self, exc_type, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(exc_type, *exc)
        if exc_type is None:
            secs = time.perf_counter() - self._t0
            click.echo(f"{self.label}: {self.summary or 'done'} in {secs:.1f} s", err=True)


class Counter:
    """A ``progress(done, total)`` callable with a bar on a terminal; a summary line at the end."""

    def __init__(self, label: str, unit: str = "records"):
        self.label = label
        self.unit = unit
        self.done = 0
        self._bar = None
        self._task = None
        self._t0 = 0.0

    def __enter__(self) -> Counter:
        self._t0 = time.perf_counter()
        if _live():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, exc_type, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, *exc)
