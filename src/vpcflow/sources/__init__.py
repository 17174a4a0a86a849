"""Sources: where flow-log objects come from.

A source turns a user's SOURCE argument into ``RawObject``s (bytes + provenance). Local files
and directories are built in; ``s3://`` and ``cloudwatch://`` register themselves with
``register_scheme``. The store decides from ``(uri, version)`` whether an object was already
ingested, so a source lists cheaply and opens lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

__all__ = ["RawObject", "resolve", "register_scheme"]


@dataclass
class RawObject:
    """One flow-log object and where it came from.

    ``version`` changes when the object's content does (S3 ETag, local size+mtime): the store
    skips an object whose ``(uri, version)`` it has already ingested. ``open()`` returns a
    binary stream of the object as stored (gzip or not: the store detects gzip and Parquet
    by their magic bytes). ``kind`` is ``text`` (header line or not,
    JSON lines detected by content) or ``parquet``. ``account``/``region``/``day`` come from the
    key and fill records that lack them. ``log_format`` is the field order for header-less
    lines when known (CloudWatch DescribeFlowLogs). ``state`` is saved in the manifest with the
    object (CloudWatch resume positions). ``path`` is set for local files.
    """

    uri: str
    open: Callable[[], BinaryIO]
    version: str = ""
    size: int | None = None
    kind: str = "text"
    account: str | None = None
    region: str | None = None
    day: date | None = None
    log_format: str | None = None
    state: dict = field(default_factory=dict)
    path: str | None = None  # a local file: worker processes open it themselves

    @property
    def defaults(self) -> dict[str, str]:
        """Column values for records that lack them, taken from the key."""
        out = {}
        if self.account:
            out["account_id"] = self.account
        if self.region:
            out["region"] = self.region
        return out


_SCHEMES: dict[str, Callable[..., Iterator[RawObject]] | str] = {
    "s3://": "vpcflow.sources.s3:iter_s3",
    "cloudwatch://": "vpcflow.sources.cloudwatch:iter_cloudwatch",
}


def register_scheme(prefix: str, fn: Callable[..., Iterator[RawObject]] | str) -> None:
    """Make ``resolve`` hand specs starting with ``prefix`` to ``fn(spec, **options)``
    (a callable or a ``"module:function"`` string imported on first use)."""
    _SCHEMES[prefix] = fn


def resolve(spec: str, **options) -> Iterator[RawObject]:
    """The objects of one SOURCE argument: a path, glob, ``-``, ``s3://…`` or ``cloudwatch://…``."""
    for prefix, fn in _SCHEMES.items():
        if spec.startswith(prefix):
            if isinstance(fn, str):
                mod, _, name = fn.partition(":")
                try:
                    fn = getattr(importlib.import_module(mod), name)
                except ModuleNotFoundError as exc:
                    from ..errors import SourceError

                    raise SourceError(f"{prefix} sources are not available: {exc}") from exc
            return fn(spec, **options)
    from .local import iter_local

    return iter_local(spec, **options)
