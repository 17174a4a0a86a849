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
    key: account and region go to the ``aws_account_id``/``aws_region`` columns, the day is
    the partition of records without a ``start``. ``log_format`` is the field order for header-less
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
        """The key's account and region, for their own columns (``aws_account_id``,
        ``aws_region``); the records' ``account_id``/``region`` stay what the records say."""
        out = {}
        if self.account:
            out["aws_account_id"] = self.account
        if self.region:
            out["aws_region"] = self.region
        return out


_SCHEMES: dict[str, Callable[..., Iterator[RawObject]] | str] = {
    "s3://": "vpcflow.sources.s3:iter_s3",
    "s3a://": "vpcflow.sources.s3:iter_s3",  # Hadoop's names for the same objects
    "s3n://": "vpcflow.sources.s3:iter_s3",
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
