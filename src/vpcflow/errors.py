"""The vpcflow error tree. Library code raises these; the CLI and web layers translate them.

    VpcflowError                  every error vpcflow raises on purpose
    ├── FormatError               a log format or header vpcflow cannot use
    ├── ParseError                a bad record: path, line and field
    ├── SourceError               a source that cannot be read (missing path, S3, CloudWatch)
    ├── StoreError                a directory that is not a usable vpcflow store
    │   ├── StoreDamaged          a manifest line or data file is damaged: run `vpcflow check`
    │   └── StoreWriteError       the store cannot be written (full disk, read-only, permissions)
    ├── QueryError                SQL or a query language the engine rejects
    │   ├── QueryRefused          a query that tries to leave the store (files, writes, ATTACH)
    │   └── QueryTimeout          a query cancelled at its time limit
    ├── ConfigError               bad configuration input (security groups, threat lists, ...)
    │   └── SettingError          a VPCFLOW_* environment value that is not of the setting's form
    └── MissingDependency         an optional extra is not installed

Messages say what to do next.
"""

from __future__ import annotations


class VpcflowError(Exception):
    """Root of every error vpcflow raises on purpose."""


class FormatError(VpcflowError):
    """A log format string or header line vpcflow cannot use."""


class ParseError(VpcflowError):
    """A malformed record; carries where it is so a person can find it."""

    def __init__(self, reason: str, path: str = "", line: int | None = None, field: str = ""):
        self.reason = reason
        self.path = path
        self.line = line
        self.field = field
        where = path or "<input>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": field {field!r}"
        super().__init__(f"{where}: {reason}")


class SourceError(VpcflowError):
    """A source that cannot be read."""


class StoreError(VpcflowError):
    """A directory that is not a usable vpcflow store."""


class StoreDamaged(StoreError):
    """A store whose manifest or data files are damaged; ``vpcflow check --repair`` mends it."""


class StoreWriteError(StoreError):
    """The store could not be written (full disk, read-only file system, no permission).

    What was being written is rolled back; ``report`` (for an ingest) counts what was committed.
    """

    def __init__(self, message: str, report=None, committed: bool = False):
        super().__init__(message)
        self.report = report
        self.committed = committed


def write_failure(exc: OSError, where) -> StoreWriteError:
    """A ``StoreWriteError`` for an ``OSError`` raised while writing ``where``."""
    import errno

    reasons = {
        errno.ENOSPC: "no space left on the store's disk",
        errno.EDQUOT: "the disk quota of the store's file system is exhausted",
        errno.EROFS: "the store is on a read-only file system",
        errno.EACCES: "no permission to write to the store",
        errno.EPERM: "no permission to write to the store",
    }
    reason = reasons.get(exc.errno, exc.strerror or str(exc))
    return StoreWriteError(f"{where}: {reason}")


class QueryError(VpcflowError):
    """A query the engine rejects or that failed."""


class QueryRefused(QueryError):
    """A query that tries to read outside the store, write, or attach databases."""


class QueryTimeout(QueryError):
    """A query cancelled because it ran past its time limit."""


class ConfigError(VpcflowError):
    """Bad configuration input."""


class SettingError(ConfigError):
    """A ``VPCFLOW_*`` environment variable whose value is not of the setting's form."""


class MissingDependency(VpcflowError):
    """An optional extra is not installed."""

    def __init__(self, package: str, extra: str, message: str | None = None):
        super().__init__(
            message or f"this feature needs the {package!r} package: pip install 'vpcflow[{extra}]'"
        )
