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
from . import Engine, QueryResult, functions
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


_DUCKDB_TYPE = {"int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR"}


def _column_types(tbl: schema.Table) -> list[tuple[str, str, schema.Field | None]]:
    """(column, DuckDB type, field or None) of every column of ``tbl``'s view, in order."""
    out = [(f.column, _DUCKDB_TYPE[f.athena_type], f) for f in tbl.fields]
    out.append((schema.EXTRA_COLUMN, "MAP(VARCHAR, VARCHAR)", None))
    out += [(c, "VARCHAR", None) for c, _ in schema.KEY_COLUMNS]
    out.append((schema.PARTITION_COLUMN, "DATE", None))
    return out


def view_sql(
    files: list[str], present: set[str] | None = None, tbl: schema.Table = schema.VPC
) -> str:
    """The view of ``tbl`` (``vpc_flow_logs``, ``tgw_flow_logs``) over ``files``.

    ``present`` is the set of columns the files have between them (all columns when None).
    A column no file has yet (written before the catalogue had it) reads NULL; a field added to
    the catalogue after a file was written is read from that file's ``extra_fields``, where the
    older vpcflow kept it, so adding a field to the catalogue needs no re-ingest.
    """
    cols = _column_types(tbl)
    if not files:
        typed = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t, _ in cols)
        return f"CREATE OR REPLACE VIEW {tbl.name} AS SELECT {typed} WHERE false"
    if present is None:
        present = {c for c, _, _ in cols}
    exprs = []
    for c, t, f in cols:
        e = f'"{c}"' if c in present else f"CAST(NULL AS {t})"
        if (
            f is not None
            and f.version > schema.STORED_COLUMNS_SINCE
            and schema.EXTRA_COLUMN in present
        ):
            e = f'coalesce({e}, TRY_CAST("{schema.EXTRA_COLUMN}"[{_sql_literal(f.name)}] AS {t}))'
        exprs.append(f'{e} AS "{c}"')
    listing = "[" + ", ".join(_sql_literal(f) for f in files) + "]"
    return (
        f"CREATE OR REPLACE VIEW {tbl.name} AS SELECT {', '.join(exprs)} FROM read_parquet({listing}, "
        "hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true)"
    )


def _present_columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> set[str]:
    listing = "[" + ", ".join(_sql_literal(f) for f in files) + "]"
    rows = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet({listing}, hive_partitioning = true, "
        "union_by_name = true)"
    ).fetchall()
    return {r[0] for r in rows}


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
        for tbl in schema.TABLES:
            root = str(self.store.path / tbl.directory) + "/"
            mine = [f for f in files if f.startswith(root)]
            present = _present_columns(con, mine) if mine else None
            con.execute(view_sql(mine, present, tbl))
        _register_functions(con)
        dirs = ", ".join(_sql_literal(str(self.store.path / t.directory)) for t in schema.TABLES)
        con.execute(f"SET allowed_directories = [{dirs}]")
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
                f"query refused: it may only read the store's tables "
                f"{', '.join(t.name for t in schema.TABLES)} ({str(exc).splitlines()[0]})"
            ) from exc
        except duckdb.Error as exc:
            msg = str(exc).strip().splitlines()[0]
            raise QueryError(f"{msg}\nSQL run: {sql}") from exc
        finally:
            if timer is not None:
                timer.cancel()
        return QueryResult(table, truncated, sql)
