"""The embedded DuckDB engine (the default).

The connection is sandboxed: after the ``vpc_flow_logs`` view is defined, external access is
limited to the store's own data directory and the configuration is locked, so a query cannot
read other files, write, or attach databases. DuckDB also allows its temporary directory, so
that is a fresh empty directory of the engine's own (inside the store's ``_vpcflow/`` when the
store is writable), never the relative ``.tmp`` of the current directory.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from .. import schema, settings
from ..errors import QueryError, QueryRefused, QueryTimeout, StoreDamaged
from ..store import rollups
from . import Engine, QueryResult, functions, inventory, sqlcache

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("vpcflow")

# Further callables run on every new connection before it is locked (for users' own functions).
CONNECT_HOOKS: list[Callable[[duckdb.DuckDBPyConnection], None]] = []


def _register_functions(con: duckdb.DuckDBPyConnection) -> None:
    # The SQL macros now; the Python functions when a query first uses them (``_bind``).
    functions.register_macros(con)
    for hook in CONNECT_HOOKS:
        hook(con)


def to_engine_sql(query, dialect, engine_dialect="duckdb", window=None, macros=None) -> str:
    """``dialects.to_engine_sql``, imported on first use (it loads sqlglot)."""
    from .dialects import to_engine_sql as translate

    return translate(query, dialect, engine_dialect, window, macros)


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


def _rollup_files(store) -> dict[str, list[str]]:
    """Rollup name -> its current files (``store.rollups``); none for a store without them."""
    if not hasattr(store, "rollup_files"):
        return {}
    return {name: [str(p) for p in store.rollup_files(name)] for name in rollups.ROLLUPS}


def rollup_view_sql(name: str, files: list[str]) -> str:
    """The view ``rollup_<name>`` over the current files of rollup ``name``. A reader asks
    ``Store.rollup_status`` whether they cover its time range before it reads them."""
    r = rollups.ROLLUPS[name]
    if not files:
        typed = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in r.columns())
        return f"CREATE OR REPLACE VIEW rollup_{name} AS SELECT {typed} WHERE false"
    listing = "[" + ", ".join(_sql_literal(f) for f in files) + "]"
    cols = ", ".join(f'"{c}"' for c, _ in r.columns())
    return f"CREATE OR REPLACE VIEW rollup_{name} AS SELECT {cols} FROM read_parquet({listing})"


def _present_columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> set[str]:
    listing = "[" + ", ".join(_sql_literal(f) for f in files) + "]"
    rows = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet({listing}, hive_partitioning = true, "
        "union_by_name = true)"
    ).fetchall()
    return {r[0] for r in rows}


class DuckDBEngine(Engine):
    name = "duckdb"
    materializes_ctes = True
    dialect = "duckdb"
    reads_rollups = True

    def __init__(self, store):
        self.store = store
        self._con: duckdb.DuckDBPyConnection | None = None
        self._files: list[str] | None = None
        self._tmp: str | None = None
        self._columns: tuple[str, ...] = ()  # the columns the store's files have, by table
        self._lazy: set[str] = set()  # the groups of functions registered on the connection

    def _temp_directory(self) -> str:
        """A fresh, empty directory for DuckDB to spill to (and the only other one it may read)."""
        if self._tmp is None:
            try:
                base = Path(self.store.path) / "_vpcflow" / "tmp"
                base.mkdir(parents=True, exist_ok=True)
                self._tmp = tempfile.mkdtemp(prefix="duckdb-", dir=base)
            except OSError:  # a read-only store
                self._tmp = tempfile.mkdtemp(prefix="vpcflow-duckdb-")
            # Removed when the engine closes, is collected, or the process exits.
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def _connect(self) -> duckdb.DuckDBPyConnection:
        files = [str(p) for p in self.store.files()]
        rolled = _rollup_files(self.store)
        state = files + [p for ps in rolled.values() for p in ps] + inventory.state(self.store)
        if self._con is not None and state == self._files:
            return self._con
        if self._con is not None:
            self._con.close()
        self.store.assert_intact()  # a missing file: say which, not "No files found"
        con = duckdb.connect(
            ":memory:",
            config={
                "threads": settings.threads(),
                "memory_limit": str(settings.get("memory_limit")),
                "temp_directory": self._temp_directory(),
            },
        )
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB's own bar would write into a terminal from library calls; the CLI has its own
        con.execute("SET enable_progress_bar = false")
        columns: list[str] = []
        try:
            for tbl in schema.TABLES:
                root = str(self.store.path / tbl.directory) + "/"
                mine = [f for f in files if f.startswith(root)]
                present = _present_columns(con, mine) if mine else None
                columns.append(tbl.name + ":" + ",".join(sorted(present or ())))
                con.execute(view_sql(mine, present, tbl))
            for name, paths in rolled.items():
                con.execute(rollup_view_sql(name, paths))
        except duckdb.Error as exc:
            con.close()
            raise (self._damaged(exc, state) or sql_error(exc)) from None
        _register_functions(con)
        roots = [self.store.path / t.directory for t in schema.TABLES]
        roots.append(self.store.path / rollups.ROLLUP_DIR)
        dirs = ", ".join(_sql_literal(str(p)) for p in roots)
        con.execute(f"SET allowed_directories = [{dirs}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        self._con, self._files = con, state
        self._columns, self._lazy = tuple(columns), set()
        return con

    def _translate(self, con, query: str, dialect: str, window=None) -> str:
        """The engine SQL of ``query`` on ``con`` (this engine's connection, whose store columns
        the key holds): from the SQL cache (``sqlcache``) when it holds the translation, else
        translated (and refused unless it is a read) and stored there."""
        if not (sqlcache.enabled() and sqlcache.cacheable(query)):
            return to_engine_sql(query, dialect, self.dialect, window)
        key = sqlcache.key(query, dialect, self.dialect, window, self._columns)
        sql = sqlcache.get(key, query, check=lambda text: sqlcache.verify(con, text))
        if sql is None:
            sql = to_engine_sql(query, dialect, self.dialect, sqlcache.placeholder_window(window))
            if sqlcache.verify(con, sql):
                sqlcache.put(key, query, sql)
        return sqlcache.bind_window(sql, window)

    def _bind(self, con: duckdb.DuckDBPyConnection, run: Callable[[], object]):
        """``run()``; when it names a function or table registered on first use (the Python
        functions of ``functions.GROUPS``, the inventory's tables and functions) that ``con``
        does not have yet, register its group and run it again. A query that names none of
        them never loads what they need (pyarrow, the enrichment data, the snapshots)."""
        while True:
            try:
                return run()
            except duckdb.CatalogException as exc:
                m = _MISSING.search(str(exc))
                name = m.group(1).strip('"').lower() if m else ""
                group = functions.group_of(name) or (
                    "inventory" if name in inventory.NAMES else None
                )
                if group is None or group in self._lazy:
                    raise
                self._lazy.add(group)
                if group == "inventory":
                    inventory.register(con, self.store)
                else:
                    functions.register_group(con, group)

    def refresh(self) -> None:
        self._files = None

    def create_temp_table(self, name: str, query: str, dialect: str = "duckdb") -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise QueryError(f"temporary table name {name!r}: use lower-case letters, digits, _")
        con = self._connect()
        sql = self._translate(con, query, dialect)  # a read, or refused
        try:
            self._bind(con, lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}"))
        except duckdb.Error as exc:
            damaged = self._damaged(exc)  # a damaged file of the store: say which, and the fix
            if damaged is not None:
                raise damaged from None
            msg = str(exc).strip().splitlines()[0]
            raise QueryError(f"{msg}\nSQL run: {sql}") from exc

    def drop_temp_table(self, name: str) -> None:
        if self._con is not None and re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            self._con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._tmp is not None:
            self._cleanup()
            self._tmp = None

    def _damaged(self, exc: BaseException, files: list[str] | None = None) -> StoreDamaged | None:
        """The store is damaged: a DuckDB error naming one of its files, or a read error naming
        none (a damaged page, "Corrupted file?") when a data file's checksum says which."""
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        for f in files or self._files or []:
            if f in msg:
                kind = "rollup" if f"/{rollups.ROLLUP_DIR}/" in f else "data"
                return StoreDamaged(
                    f"{f}: {kind} file is damaged ({msg}); "
                    f"run 'vpcflow check --repair --store {self.store.path}'"
                )
        if type(exc) is duckdb.Error or isinstance(exc, _READ_ERRORS):
            found = self.store.first_damaged()
            if found:
                path, why = found
                return StoreDamaged(
                    f"{path}: data file is damaged ({why}; {msg}); "
                    f"run 'vpcflow check --repair --store {self.store.path}'"
                )
        return None

    def stream(
        self,
        query: str,
        *,
        dialect: str = "athena",
        limit: int | None = None,
        timeout: float | None = None,
        batch_rows: int = 10_000,
        window: tuple[int | None, int | None] | None = None,
        python: bool = False,
    ) -> ResultStream:
        """See ``Engine.stream``. ``python=True`` (the CLI's printing): when a ``limit`` is set and
        every result column is a number, a string, a boolean, a date or a timestamp, the stream
        yields each chunk as one list of Python values per column (the values Arrow's
        ``to_pylist`` gives; ``stream.python`` is then True) and pyarrow is not loaded;
        otherwise it yields Arrow record batches as usual."""
        con = self._connect()
        sql = self._translate(con, query, dialect, window)
        stream = ResultStream(con, sql, limit, timeout)
        stream.damaged = self._damaged
        try:
            rel = self._bind(con, lambda: con.sql(sql))
            if rel is None:
                raise QueryRefused("only read queries (SELECT ...) run on the store")
            if python and limit and _plain_types(rel.types):
                stream.start_rows(rel, batch_rows)
            else:
                stream.start(rel.to_arrow_reader(batch_rows))
        except BaseException as exc:
            stream.close()
            if isinstance(exc, duckdb.Error) or _interrupted(exc):
                raise stream.error(exc) from None
            raise
        return stream

    def query(
        self,
        query: str,
        *,
        dialect: str = "athena",
        limit: int | None = None,
        timeout: float | None = None,
        window: tuple[int | None, int | None] | None = None,
    ) -> QueryResult:
        import pyarrow as pa

        batch = min(limit + 1, 100_000) if limit else 100_000
        with self.stream(
            query, dialect=dialect, limit=limit, timeout=timeout, batch_rows=batch, window=window
        ) as res:
            table = pa.Table.from_batches(list(res), schema=res.schema)
        return QueryResult(table, res.truncated, res.sql)


class ResultStream:
    """The batches of a running query, at most ``limit`` rows, within ``timeout`` seconds.

    The time limit covers the whole life of the stream (also the time the caller spends on
    each batch), so a slow consumer cannot keep a query running past it. Sums that DuckDB
    computes as HUGEINT come out as int64, as Athena's bigint.
    """

    def __init__(self, con, sql: str, limit: int | None, timeout: float | None):
        self.con = con
        self.sql = sql
        self.limit = limit or None
        self.timeout = timeout or None
        self.truncated = False
        self.rows = 0
        self.schema: pa.Schema | None = None
        self.names: list[str] = []  # the result's column names
        self.python = False  # chunks are lists of Python values per column, not Arrow batches
        self._reader = None
        self._chunks: Iterator[list[list]] | None = None
        self.damaged: Callable[[BaseException], StoreDamaged | None] | None = None
        self._deadline = time.monotonic() + timeout if timeout else None
        self._timer = None
        if timeout:
            self._timer = threading.Timer(timeout, con.interrupt)
            self._timer.daemon = True
            self._timer.start()

    def start(self, reader) -> None:
        self._reader = reader
        self.schema = _bigint_schema(reader.schema)
        self.names = list(self.schema.names)

    def start_rows(self, rel, batch_rows: int) -> None:
        """Fetch at most ``limit + 1`` rows of ``rel`` as Python values (one run of the query)."""
        self.names = list(rel.columns)
        self.python = True
        wide = [i for i, t in enumerate(rel.types) if t.id in _WIDE_INTEGERS]
        rows = rel.limit(self.limit + 1).fetchall()
        self._chunks = _row_chunks(rows, len(self.names), batch_rows, wide)

    def __enter__(self) -> ResultStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def check_time(self) -> None:
        """``QueryTimeout`` if the time limit has passed (for consumers doing long work)."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise QueryTimeout(f"query cancelled after the {self.timeout:g} s time limit")

    def error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, duckdb.InterruptException) or _interrupted(exc):
            if self._deadline is not None and time.monotonic() >= self._deadline - 0.05:
                return QueryTimeout(f"query cancelled after the {self.timeout:g} s time limit")
            # Not the time limit: the user pressed Ctrl-C while DuckDB was running.
            return KeyboardInterrupt()
        if isinstance(exc, duckdb.PermissionException):
            return QueryRefused(
                f"query refused: it may only read the store's tables "
                f"{', '.join(t.name for t in schema.TABLES)} "
                f"({str(exc).splitlines()[0]})"
            )
        damaged = self.damaged(exc) if self.damaged is not None else None
        return damaged or sql_error(exc)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._chunks is not None:
            yield from self._iter_rows()
            return
        if self._reader is None:
            return
        try:
            for batch in self._reader:
                self.check_time()
                if self.limit is not None and self.rows + batch.num_rows > self.limit:
                    keep = self.limit - self.rows
                    self.truncated = True
                    if keep > 0:
                        self.rows += keep
                        yield _to_bigint(batch.slice(0, keep), self.schema)
                    break
                self.rows += batch.num_rows
                yield _to_bigint(batch, self.schema)
                self.check_time()
            else:
                return
            # Stopped at the limit: the batch that crossed it already showed there is more.
        except (duckdb.Error, RuntimeError, OSError) as exc:
            # DuckDB's error in a later batch reaches Python through the Arrow stream as OSError
            if isinstance(exc, (duckdb.Error, OSError)) or _interrupted(exc):
                raise self.error(exc) from None
            raise
        finally:
            self.close()

    def _iter_rows(self) -> Iterator[list[list]]:
        chunks, self._chunks = self._chunks, None
        for cols in chunks:
            self.check_time()
            n = len(cols[0]) if cols else 0
            if self.rows + n > self.limit:
                self.truncated = True
                keep = self.limit - self.rows
                if keep > 0:
                    self.rows += keep
                    yield [c[:keep] for c in cols]
                return
            self.rows += n
            yield cols
            self.check_time()


# Result types the Python path prints exactly as the Arrow path does (the same Python values).
_PLAIN_TYPES = {
    "boolean",
    "tinyint",
    "smallint",
    "integer",
    "bigint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "float",
    "double",
    "varchar",
    "date",
    "timestamp",
    "timestamp_s",
    "timestamp_ms",
    "timestamp with time zone",
    "null",
}
# Sums of integers (HUGEINT, DECIMAL(p, 0)): bigint, as Athena's, or an error beyond its range.
_WIDE_INTEGERS = {"hugeint", "decimal"}
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def _plain_types(types) -> bool:
    for t in types:
        if t.id in _PLAIN_TYPES:
            continue
        if t.id == "hugeint" or (t.id == "decimal" and str(t).replace(" ", "").endswith(",0)")):
            continue
        return False
    return True


def _row_chunks(rows: list[tuple], width: int, size: int, wide: list[int]) -> Iterator[list[list]]:
    for i in range(0, len(rows), size):
        part = rows[i : i + size]
        cols = [list(c) for c in zip(*part, strict=True)] if part else [[] for _ in range(width)]
        for j in wide:
            cols[j] = [_bigint(v) for v in cols[j]]
        yield cols


def _bigint(v):
    if v is None:
        return None
    v = int(v)
    if not _BIGINT_MIN <= v <= _BIGINT_MAX:
        # The words of Arrow's cast on the other path, so that both say the same.
        raise QueryError(
            "a result value exceeds the bigint range (-2^63 .. 2^63-1): Integer value out of bounds"
        )
    return v


# What DuckDB raises when a file's content cannot be read (besides its plain ``Error``; OSError:
# any of them in a later batch of an Arrow stream); a query's own mistakes (parser, binder,
# catalog, conversion errors) are none of these.
_READ_ERRORS = (
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.InternalException,
    OSError,
)


def _interrupted(exc: BaseException) -> bool:
    # DuckDB reports an interrupted query (Ctrl-C, or the time limit's interrupt()) as a plain
    # RuntimeError on some builds, as InterruptException on others.
    return isinstance(exc, RuntimeError) and str(exc).startswith("Query interrupted")


def _bigint_schema(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    fields = []
    for f in schema:
        if pa.types.is_decimal(f.type) and f.type.scale == 0:
            f = f.with_type(pa.int64())
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def _to_bigint(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, OverflowError) as exc:
        raise QueryError(
            f"a result value exceeds the bigint range (-2^63 .. 2^63-1): {exc}"
        ) from None


_MISSING = re.compile(r"with name (\S+) does not exist")
_DUCKDB_KIND = re.compile(r"^[A-Za-z ]*Error:\s*")
_NO_TABLE = re.compile(r"Table with name (\S+) does not exist", re.I)
_NO_FUNCTION = re.compile(
    r"(?:Scalar |Aggregate |Table )?Function with name (\S+) does not exist", re.I
)
_NO_COLUMN = re.compile(r'Referenced column "?([^"\s]+)"? not found')


def sql_error(exc: Exception) -> QueryError:
    """A DuckDB error as a one-line SQL error (without the engine's own prefixes and context)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    msg = _DUCKDB_KIND.sub("", first).rstrip("!")
    m = _NO_TABLE.search(msg)
    if m:
        return QueryError(
            f"SQL error: table {m.group(1)} does not exist; the tables are {', '.join(t.name for t in schema.TABLES)}"
        )
    m = _NO_FUNCTION.search(msg)
    if m:
        return QueryError(f"SQL error: function {m.group(1)} is not known")
    m = _NO_COLUMN.search(msg)
    if m:
        hint = ""
        cand = re.search(r"Candidate bindings: (.*)", text)
        if cand:
            hint = f" (did you mean {cand.group(1).strip()}?)"
        return QueryError(f"SQL error: column {m.group(1)} does not exist{hint}")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryError(f"SQL error: out of memory ({msg}); raise VPCFLOW_MEMORY_LIMIT")
    return QueryError(f"SQL error: {msg}")
