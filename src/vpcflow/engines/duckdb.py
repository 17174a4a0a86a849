"""The embedded DuckDB engine (the default).

The connection is sandboxed: after the ``vpc_flow_logs`` view is defined, external access is
limited to the store's own data directory and the configuration is locked, so a query cannot
read other files, write, or attach databases.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import duckdb
import pyarrow as pa

from .. import schema, settings
from ..errors import QueryError, QueryRefused
from . import TABLE, Engine, QueryResult, functions
from .dialects import to_engine_sql

log = logging.getLogger("vpcflow")

# Further callables run on every new connection before it is locked (for users' own functions).
CONNECT_HOOKS: list[Callable[[duckdb.DuckDBPyConnection], None]] = []


def _register_functions(con: duckdb.DuckDBPyConnection) -> None:
    functions.register(con)
    for hook in CONNECT_HOOKS:
        hook(con)


def _sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def view_sql(files: list[str]) -> str:
    """The ``vpc_flow_logs`` view over ``files`` (an empty store gets an empty view)."""
    cols = ", ".join(f'"{c}"' for c in schema.COLUMNS)
    if not files:
        typed = ", ".join(
            f'CAST(NULL AS {"VARCHAR" if f.athena_type == "string" else f.athena_type.upper()}) AS "{f.column}"'
            for f in schema.FIELDS
        )
        return f'CREATE OR REPLACE VIEW {TABLE} AS SELECT {typed}, CAST(NULL AS DATE) AS "date" WHERE false'
    listing = "[" + ", ".join(_sql_literal(f) for f in files) + "]"
    return (
        f'CREATE OR REPLACE VIEW {TABLE} AS SELECT {cols}, "date" FROM read_parquet({listing}, '
        "hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true)"
    )


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, store):
        self.store = store
        self._con: duckdb.DuckDBPyConnection | None = None
        self._files: list[str] | None = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        files = [str(p) for p in self.store.files()]
        if self._con is not None and files == self._files:
            return self._con
        if self._con is not None:
            self._con.close()
        con = duckdb.connect(
            ":memory:",
            config={
                "threads": settings.threads(),
                "memory_limit": str(settings.get("memory_limit")),
            },
        )
        con.execute("SET TimeZone = 'UTC'")
        con.execute(view_sql(files))
        _register_functions(con)
        data_dir = str(self.store.path / "data")
        con.execute(f"SET allowed_directories = [{_sql_literal(data_dir)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        self._con, self._files = con, files
        return con

    def refresh(self) -> None:
        self._files = None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def query(
        self,
        query: str,
        *,
        dialect: str = "athena",
        limit: int | None = None,
        timeout: float | None = None,
    ) -> QueryResult:
        sql = to_engine_sql(query, dialect, self.dialect)
        con = self._connect()
        timer = None
        if timeout:
            timer = threading.Timer(timeout, con.interrupt)
            timer.daemon = True
            timer.start()
        try:
            rel = con.sql(sql)
            if rel is None:
                raise QueryRefused("only read queries (SELECT ...) run on the store")
            if limit:
                reader = rel.to_arrow_reader(min(limit + 1, 100_000))
                batches, n = [], 0
                for b in reader:
                    batches.append(b)
                    n += b.num_rows
                    if n > limit:
                        break
                table = (
                    pa.Table.from_batches(batches, schema=reader.schema)
                    if batches
                    else reader.read_all()
                )
                truncated = table.num_rows > limit
                table = table.slice(0, limit)
            else:
                table = rel.to_arrow_table()
                truncated = False
        except duckdb.InterruptException as exc:
            raise QueryError(
                f"query cancelled after the {timeout:g} s time limit (--timeout)"
            ) from exc
        except duckdb.PermissionException as exc:
            raise QueryRefused(
                f"query refused: it may only read the store's table {TABLE} ({str(exc).splitlines()[0]})"
            ) from exc
        except duckdb.Error as exc:
            msg = str(exc).strip().splitlines()[0]
            raise QueryError(f"{msg}\nSQL run: {sql}") from exc
        finally:
            if timer is not None:
                timer.cancel()
        return QueryResult(table, truncated, sql)
