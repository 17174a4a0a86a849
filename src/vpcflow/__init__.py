"""vpcflow: turn AWS VPC Flow Logs into answers.

    >>> import vpcflow
    >>> store = vpcflow.open_store("flows")                 # a directory; created if new
    >>> report = store.ingest(["AWSLogs/"])                # files, dirs, globs, s3://, cloudwatch://
    >>> store.sql("SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY 1")   # -> pyarrow.Table
    >>> store.insights("stats count(*) by srcAddr | sort count(*) desc | limit 5")
    >>> store.named_query("rejects-by-source")
    >>> store.detect()                                      # -> list of findings
    >>> store.troubleshoot()                                # -> SG / NACL verdicts
    >>> vpcflow.explain(vpcflow.parse_records(open("records.log", "rb").read()).table)

Every error vpcflow raises on purpose is a ``vpcflow.VpcflowError``.
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
    # the store
    "open_store",
    "Store",
    "IngestReport",
    # records without a store
    "parse_records",
    "explain",
    "load_configs",
    # Athena and synthetic data
    "athena_ddl",
    "generate_logs",
    # errors
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

# Names resolved on first use, so that `import vpcflow` stays cheap. None may share a name with a
# submodule: importing the submodule would replace it.
_LAZY = {
    "open_store": ("api", "open_store"),
    "Store": ("api", "Store"),
    "IngestReport": ("store.ingest", "IngestReport"),
    "parse_records": ("parse", "parse_bytes"),
    "explain": ("troubleshoot", "explain"),
    "load_configs": ("troubleshoot", "load_configs"),
    "athena_ddl": ("queries.athena", "flow_log_ddl"),
    "generate_logs": ("generate", "generate"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vpcflow' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
