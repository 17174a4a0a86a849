"""A cache of translated SQL, so that running a query again does not load the translator.

Translating Athena SQL (``dialects.to_engine_sql``) loads sqlglot, which takes longer than
running a typical query on a small store. The translation of a query depends only on its text,
its dialect, the engine's dialect, which ends of the time window are set, the translator's code
(vpcflow's version and the source of ``dialects``, ``trino_semantics`` and ``schema``), the
sqlglot release and the columns the store's files have. All of that is the key; the entry is
the engine SQL. An entry is one small JSON file under ``$XDG_CACHE_HOME/vpcflow/sql/``
(``VPCFLOW_CACHE_DIR``), written to a temporary name and renamed, so readers never see half of
one; a file that cannot be read or does not match its key is ignored and replaced.

Only SQL that passed the read-only guard is stored, and an entry is never trusted: before it
runs, the engine checks that DuckDB's own parser reads it as exactly one SELECT (``verify``), so
a file planted in the cache cannot run anything the guard refuses. The window's bounds are not
part of the key: the SQL is translated with placeholder bounds, which are replaced by the real
ones, so ``--since 24h`` (a new bound every run) still finds its entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
from pathlib import Path

from .. import __version__, settings

log = logging.getLogger("vpcflow")

FORMAT = 1
MAX_ENTRIES = 4096  # beyond this, the oldest entries go (checked now and then on a write)
# Placeholder window bounds: translated as these numbers, replaced by the real bounds after.
SINCE, UNTIL = -7_777_777_771, -7_777_777_772
_SOURCES = ("dialects.py", "trino_semantics.py", "../schema.py")

_memo: dict[str, str] = {}
_code: str | None = None


def directory() -> Path:
    """Where entries live: ``$VPCFLOW_CACHE_DIR/sql``, else ``$XDG_CACHE_HOME/vpcflow/sql``,
    else ``~/.cache/vpcflow/sql``."""
    return settings.cache_dir() / "sql"


def enabled() -> bool:
    return bool(settings.get("sql_cache"))


def _code_version() -> str:
    """vpcflow's version, the translator's source and sqlglot's release, as one hash."""
    global _code
    if _code is None:
        import importlib.util

        h = hashlib.sha256(__version__.encode())
        here = Path(__file__).parent
        for name in _SOURCES:
            try:
                h.update((here / name).read_bytes())
            except OSError:
                h.update(name.encode())
        spec = importlib.util.find_spec("sqlglot")
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        for p in (origin.with_name("_version.py"), origin) if origin else ():
            try:
                st = p.stat()
                h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
                if p.name == "_version.py":
                    h.update(p.read_bytes())
            except OSError:
                pass
        _code = h.hexdigest()
    return _code


def key(
    query: str, dialect: str, engine_dialect: str, window, columns: tuple[str, ...] = ()
) -> str:
    """The cache key of one translation (a hex digest)."""
    ends = None if window is None else [window[0] is not None, window[1] is not None]
    material = [FORMAT, _code_version(), query, dialect.lower(), engine_dialect, ends, columns]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def placeholder_window(window):
    """``window`` with placeholder bounds (None stays None)."""
    if window is None:
        return None
    return (
        SINCE if window[0] is not None else None,
        UNTIL if window[1] is not None else None,
    )


def bind_window(sql: str, window) -> str:
    """The SQL translated with ``placeholder_window`` for the real ``window``."""
    if window is None:
        return sql
    if window[0] is not None:
        sql = sql.replace(str(SINCE), str(int(window[0])))
    if window[1] is not None:
        sql = sql.replace(str(UNTIL), str(int(window[1])))
    return sql


def cacheable(query: str) -> bool:
    # A query that names a placeholder itself would have it replaced: translate it every time.
    return str(SINCE)[1:] not in query and str(UNTIL)[1:] not in query


def _path(k: str) -> Path:
    return directory() / k[:2] / f"{k}.json"


def get(k: str, query: str, check=None) -> str | None:
    """The SQL stored under ``k`` for ``query``, None when there is none or it is unusable;
    ``check(sql)`` must accept an entry read from its file."""
    if k in _memo:
        return _memo[k]
    try:
        entry = json.loads(_path(k).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.debug("SQL cache entry %s ignored: %s", k, exc)
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("format") != FORMAT
        or entry.get("key") != k
        or entry.get("query") != query
        or not isinstance(entry.get("sql"), str)
    ):
        log.debug("SQL cache entry %s ignored: it does not match its key", k)
        return None
    if check is not None and not check(entry["sql"]):
        log.warning("SQL cache entry %s ignored: it is not one read-only query", _path(k))
        return None
    _memo[k] = entry["sql"]
    return entry["sql"]


def put(k: str, query: str, sql: str) -> None:
    """Store ``sql`` under ``k``; a cache that cannot be written is only logged."""
    _memo[k] = sql
    path = _path(k)
    entry = {"format": FORMAT, "key": k, "query": query, "sql": sql}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with open(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("SQL cache not written (%s): %s", path, exc)
        return
    if random.random() < 1 / 64:
        prune()


def prune(keep: int = MAX_ENTRIES) -> None:
    """Remove the oldest entries beyond ``keep``."""
    try:
        entries = sorted((p for p in directory().glob("*/*.json")), key=lambda p: p.stat().st_mtime)
        for p in entries[: max(0, len(entries) - keep)]:
            p.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("SQL cache not pruned: %s", exc)


def verify(con, sql: str) -> bool:
    """Whether DuckDB reads ``sql`` as exactly one SELECT (the check a cached entry passes)."""
    try:
        statements = con.extract_statements(sql)
    except Exception:  # noqa: BLE001 - any parse failure: not usable
        return False
    return len(statements) == 1 and statements[0].type.name == "SELECT"


def clear_memo() -> None:
    """Forget the entries read in this process (tests)."""
    global _code
    _memo.clear()
    _code = None
