"""vpcflow: turn AWS VPC Flow Logs into answers.

    >>> import vpcflow
    >>> store = vpcflow.open_store("flows")
    >>> report = store.ingest(["AWSLogs/"])
    >>> store.sql("SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY 1").to_pylist()
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ConfigError,
    FormatError,
    MissingDependency,
    ParseError,
    QueryError,
    QueryRefused,
    SourceError,
    StoreError,
    VpcflowError,
)

__all__ = [
    "__version__",
    "open_store",
    "Store",
    "IngestReport",
    "VpcflowError",
    "FormatError",
    "ParseError",
    "SourceError",
    "StoreError",
    "QueryError",
    "QueryRefused",
    "ConfigError",
    "MissingDependency",
]


def __getattr__(name):  # keep `import vpcflow` cheap: the store pulls in DuckDB lazily
    if name in ("open_store", "Store", "IngestReport"):
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module 'vpcflow' has no attribute {name!r}")
