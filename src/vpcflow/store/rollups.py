"""Rollups: summaries of a table's records at a fixed grain, kept by ingest beside each data file.

A rollup is a named, versioned summary (keys plus additive aggregates: sum, count, min, max) of
the records of one data file. Ingest computes it from the records it already holds in memory
(``PartWriter`` adds each row group's partial summary and merges them when the file is closed),
writes it to ``_vpcflow/rollups/<name>/<data file's path>`` and records it in the data file's
manifest entry, in the same transaction as the file:

    {"path": "data/date=2026-01-01/part-X.parquet", "rows": ..., "size": ..., "crc32": ...,
     "rollups": {"conversations": {"path": "_vpcflow/rollups/conversations/data/date=…/…",
                                   "rows": ..., "size": ..., "crc32": ...,
                                   "fingerprint": "1-…", "params": {...}}}}

So a crash commits both or neither; compaction writes the merged file's rollups and removes the
old ones with the old files; ``check`` verifies them like data files; ``Store.rebuild_rollups``
(``vpcflow rollup rebuild``) computes them for files written without them (older stores, a Spark
ingest) or with other parameters. A reader merges the rollup rows of every file (``merge_sql``:
the sums and counts summed, the mins and maxes taken again) and gets what one GROUP BY over all
the records would give -- provided every data file of its time range has the rollup with the
current ``fingerprint`` (``Store.rollup_coverage``); otherwise it reads the records.

The fingerprint is the definition's version and a hash of its SQL and of the parameters it baked
in (``params``: e.g. what counts as a probe), so a rollup written under other settings is never
read as if it were current. Adding a rollup is one entry in ``ROLLUPS``; the storage layer owns
the definitions as data summaries and knows nothing of who reads them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import networks, schema, settings
from ..errors import SettingError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Aggregate", "Rollup", "ROLLUPS", "register", "rollups_for", "Summariser"]

ROLLUP_DIR = "_vpcflow/rollups"

# How each kind of aggregate combines partial results: additive, so per-file rollups merge.
_MERGE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}


@dataclass(frozen=True)
class Aggregate:
    """One aggregate column: ``kind`` (sum, count, min, max) of the SQL expression ``expr``."""

    name: str
    kind: str
    expr: str = "*"
    type: str = "BIGINT"

    def __post_init__(self):
        if self.kind not in _MERGE:
            raise ValueError(f"aggregate {self.name}: kind {self.kind!r} is not one of {_MERGE}")

    def compute(self) -> str:
        inner = "*" if self.kind == "count" else self.expr
        return f'CAST({self.kind}({inner}) AS {self.type}) AS "{self.name}"'

    def merge(self) -> str:
        return f'CAST({_MERGE[self.kind]}("{self.name}") AS {self.type}) AS "{self.name}"'


@dataclass(frozen=True)
class Rollup:
    """A summary of ``table``'s records (``schema.Table.name``).

    ``source`` is a SELECT over the table ``records`` (a batch of records with the store's
    columns) that derives what ``keys`` and ``aggregates`` use; ``{name}`` placeholders in it are
    filled from ``params()``, the parameters it bakes in. ``keys`` are (column, DuckDB type).
    ``time_column`` holds each row's time bucket, ``time_unit`` seconds per unit of it, and
    ``grain`` the seconds a time range's ends must be multiples of to be answered exactly.
    """

    name: str
    version: int
    description: str
    source: str
    keys: tuple[tuple[str, str], ...]
    aggregates: tuple[Aggregate, ...]
    time_column: str
    time_unit: int
    grain: int
    table: str = "vpc_flow_logs"
    params: Callable[[], dict] = field(default=dict, compare=False)
    #: (column, DuckDB type, SQL over the keys): columns that are functions of a row's keys,
    #: computed once per rollup row (not per record) and carried through merges
    derived: tuple[tuple[str, str, str], ...] = ()

    def current_params(self) -> dict:
        return {k: self.params()[k] for k in sorted(self.params())}

    def source_sql(self, params: dict | None = None) -> str:
        sql = self.source
        for k, v in (self.current_params() if params is None else params).items():
            sql = sql.replace("{" + k + "}", _sql_value(v))
        return sql

    def compute_sql(self, params: dict | None = None) -> str:
        """The SQL that summarises the table ``records`` into this rollup's rows."""
        keys = ", ".join(f'CAST("{k}" AS {t}) AS "{k}"' for k, t in self.keys)
        aggs = ", ".join(a.compute() for a in self.aggregates)
        group = ", ".join(f'"{k}"' for k, _ in self.keys)
        sql = f"SELECT {keys}, {aggs} FROM ({self.source_sql(params)}) s GROUP BY {group}"
        if not self.derived:
            return sql
        extra = ", ".join(f'CAST({e} AS {t}) AS "{n}"' for n, t, e in self.derived)
        return f"SELECT *, {extra} FROM ({sql}) g"

    def merge_sql(self, relation: str, where: str = "") -> str:
        """The SQL that merges rollup rows of ``relation`` (several files' rows) into one row
        per key, as one GROUP BY over all their records would give."""
        keys = ", ".join(f'"{k}"' for k, _ in self.keys)
        aggs = ", ".join(a.merge() for a in self.aggregates)
        aggs += "".join(f', CAST(max("{n}") AS {t}) AS "{n}"' for n, t, _ in self.derived)
        cond = f" WHERE {where}" if where else ""
        return f"SELECT {keys}, {aggs} FROM {relation}{cond} GROUP BY {keys}"

    def columns(self) -> list[tuple[str, str]]:
        """(column, DuckDB type) of the rollup's rows."""
        return (
            list(self.keys)
            + [(a.name, a.type) for a in self.aggregates]
            + [(n, t) for n, t, _ in self.derived]
        )

    def fingerprint(self, params: dict | None = None) -> str:
        """The version and a hash of the definition with its parameters: a rollup file is
        current only if its recorded fingerprint is this."""
        text = json.dumps(
            [self.compute_sql(params), self.current_params() if params is None else params]
        )
        return f"{self.version}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def path_for(self, data_path: str, tag: str = "") -> str:
        """Where the rollup of the data file ``data_path`` goes (``tag`` keeps a rebuilt file's
        name apart from the one it replaces)."""
        stem = data_path.removesuffix(".parquet")
        return f"{ROLLUP_DIR}/{self.name}/{stem}{'.' + tag if tag else ''}.parquet"

    def answers(self, since: int | None, until: int | None) -> bool:
        """Whether the rollup answers the time range [since, until) exactly (ends on its grain)."""
        return all(t is None or t % self.grain == 0 for t in (since, until))


def _sql_value(v) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_sql_value(x) for x in v) or "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(int(v)) if isinstance(v, bool) else str(v)


# -- the registry ----------------------------------------------------------------------------

ROLLUPS: dict[str, Rollup] = {}


def register(rollup: Rollup) -> Rollup:
    """Add a rollup to the registry: every file ingest writes from now on gets it."""
    ROLLUPS[rollup.name] = rollup
    return rollup


def enabled() -> list[str]:
    """The names of the rollups ingest keeps (the ``rollups`` setting: names, ``all``, ``none``)."""
    raw = str(settings.get("rollups")).strip().lower()
    if raw in ("all", "true", "1", "yes", "on"):
        return list(ROLLUPS)
    if raw in ("none", "false", "0", "no", "off", ""):
        return []
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROLLUPS]
    if unknown:
        raise SettingError(
            f"VPCFLOW_ROLLUPS={raw!r}: no rollup named {', '.join(unknown)}; "
            f"known: {', '.join(ROLLUPS)}, or all or none"
        )
    return names


def rollups_for(table: str) -> list[Rollup]:
    """The enabled rollups of the table named ``table`` (``vpc_flow_logs``, …)."""
    wanted = set(enabled())
    return [r for r in ROLLUPS.values() if r.table == table and r.name in wanted]


def _conversation_params() -> dict:
    return {
        "probe_packets": int(settings.get("probe_packets")),
        "probe_bytes": int(settings.get("probe_bytes")),
        "login_ports": [int(p) for p in settings.get_list("brute_force_ports")] or [-1],
        "login_min_bytes": int(settings.get("brute_force_min_bytes")),
        "login_max_bytes": int(settings.get("brute_force_max_bytes")),
    }


# The records of a conversation classified (request or answer, client, server, service port,
# probe, login attempt, the eni and bucket a row sums into): the one definition both this rollup
# and detect's cells (``detect/sql/cells.sql``, when it reads the records) use.
CONVERSATION_RECORDS = """SELECT *,
    CASE WHEN action = 'REJECT' THEN interface_id END AS eni,
    CASE WHEN action = 'REJECT' THEN b ELSE b - b % {per_bucket} END AS bucket,
    CASE WHEN req = 1 THEN srcaddr ELSE dstaddr END AS client,
    CASE WHEN req = 1 THEN dstaddr ELSE srcaddr END AS server,
    CASE WHEN req = 1 THEN dstport ELSE srcport END AS port,
    CASE WHEN packets <= {probe_packets} AND bytes <= {probe_bytes} THEN 1 ELSE 0 END AS probe,
    CASE WHEN req = 1 AND action = 'ACCEPT' AND protocol = 6 AND dstport IN ({login_ports})
        AND bytes BETWEEN {login_min_bytes} AND {login_max_bytes} THEN 1 ELSE 0 END AS login
FROM (
    SELECT interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start,
        "end", action,
        CAST(floor(start / {bucket}) AS BIGINT) AS b,
        CASE
            WHEN protocol = 6 AND tcp_flags IS NOT NULL AND (tcp_flags & 2) <> 0
                THEN (CASE WHEN (tcp_flags & 16) = 0 THEN 1 ELSE 0 END)
            WHEN coalesce(srcport > dstport, false) THEN 1
            ELSE 0
        END AS req
    FROM {source}
    WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND start IS NOT NULL{where}
) r"""


def conversation_records(source: str, *, bucket: int, per_bucket: int, where: str = "") -> str:
    """``CONVERSATION_RECORDS`` over ``source`` in buckets of ``bucket`` seconds (accepted
    records summed over ``per_bucket`` of them), with an extra ``where`` condition; the probe
    and login parameters stay ``{placeholders}``."""
    return (
        CONVERSATION_RECORDS.replace("{source}", source)
        .replace("{where}", where)
        .replace("{bucket}", str(bucket))
        .replace("{per_bucket}", str(per_bucket))
    )


# Which side is ours, under the default internal networks (the rollup's derived columns).
_CLIENT_OURS = networks.internal_sql("client")

# Conversations: the records keyed by who asked whom -- client, server, service port, protocol --
# so that a request and its answer meet in one row. A record is a request when it is a SYN
# without ACK (TCP flags, version 3+), else when its source port is the higher one. Accepted
# records are summed per hour over the interfaces that logged them (eni NULL; eni_min/eni_max
# tell one interface from several); rejected ones per interface (eni) and 10 minutes. The
# parameters say what a probe is (a request of at most probe_packets packets and probe_bytes
# bytes) and what a login attempt is (an accepted request to login_ports of login_min_bytes to
# login_max_bytes bytes).
register(
    Rollup(
        name="conversations",
        # 2: which side is ours (the default internal networks) and an outside client's /24
        version=2,
        description="records per conversation (client, server, port, protocol) and hour; "
        "rejected ones per interface and 10 minutes",
        source=conversation_records("records", bucket=600, per_bucket=6),
        keys=(
            ("eni", "VARCHAR"),
            ("client", "VARCHAR"),
            ("server", "VARCHAR"),
            ("port", "INTEGER"),
            ("protocol", "BIGINT"),
            ("bucket", "BIGINT"),
        ),
        aggregates=(
            Aggregate("t0", "min", "start"),
            Aggregate("t1", "max", '"end"'),
            Aggregate("records", "count"),
            Aggregate("bytes", "sum", "bytes"),
            Aggregate("requests", "sum", "req"),
            Aggregate("request_bytes", "sum", "req * bytes"),
            Aggregate(
                "accepted", "sum", "CASE WHEN req = 1 AND action = 'ACCEPT' THEN 1 ELSE 0 END"
            ),
            Aggregate("rejected", "sum", "CASE WHEN action = 'REJECT' THEN 1 ELSE 0 END"),
            Aggregate("probes", "sum", "req * probe"),
            Aggregate("answers", "sum", "1 - req"),
            Aggregate("data_answers", "sum", "(1 - req) * (1 - probe)"),
            Aggregate("logins", "sum", "login"),
            Aggregate("eni_min", "min", "interface_id", "VARCHAR"),
            Aggregate("eni_max", "max", "interface_id", "VARCHAR"),
        ),
        time_column="bucket",
        time_unit=600,
        grain=3600,
        params=_conversation_params,
        derived=(
            ("client_internal", "BOOLEAN", _CLIENT_OURS),
            ("server_internal", "BOOLEAN", networks.internal_sql("server")),
            ("client_net", "VARCHAR", networks.slash24_sql("client", _CLIENT_OURS)),
        ),
    )
)

# The dashboard's volumes (records, bytes, packets) per 5 minutes, by what its KPI cards, time
# series, protocol and interface panels group and filter by.
_VOLUMES = (
    Aggregate("records", "count"),
    Aggregate("bytes", "sum", "bytes"),
    Aggregate("packets", "sum", "packets"),
)
register(
    Rollup(
        name="traffic",
        version=1,
        description="records, bytes and packets per 5 minutes, action, log status, protocol "
        "and interface",
        source="""
SELECT CAST(floor(start / 300) AS BIGINT) AS bucket, action, log_status, protocol, interface_id,
    bytes, packets
FROM records
WHERE start IS NOT NULL""",
        keys=(
            ("bucket", "BIGINT"),
            ("action", "VARCHAR"),
            ("log_status", "VARCHAR"),
            ("protocol", "BIGINT"),
            ("interface_id", "VARCHAR"),
        ),
        aggregates=_VOLUMES,
        time_column="bucket",
        time_unit=300,
        grain=300,
    )
)

# The dashboard's sources and destinations: the same volumes per 5 minutes and address, action
# and log status -- its distinct sources, top sources and destinations and the map. (The pairs
# of a conversation, with the destination port, are nearly as many as the records: the panels
# that group by them read the records.)
for _end in ("src", "dst"):
    register(
        Rollup(
            name="sources" if _end == "src" else "destinations",
            version=1,
            description=f"records, bytes and packets per 5 minutes, {_end}addr, action and log "
            "status",
            source=f"""
SELECT CAST(floor(start / 300) AS BIGINT) AS bucket, {_end}addr, action, log_status, bytes, packets
FROM records
WHERE start IS NOT NULL""",
            keys=(
                ("bucket", "BIGINT"),
                (f"{_end}addr", "VARCHAR"),
                ("action", "VARCHAR"),
                ("log_status", "VARCHAR"),
            ),
            aggregates=_VOLUMES,
            time_column="bucket",
            time_unit=300,
            grain=300,
        )
    )
del _end


# -- computing ---------------------------------------------------------------------------------

_local = threading.local()


def _connection():
    """One single-threaded DuckDB connection per thread (ingest workers are processes already)."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(":memory:", config={"threads": 1})
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con


def _pa():
    import pyarrow as pa  # the write path only: a query reads the rollup files through DuckDB

    return pa


def _run(sql: str, table: pa.Table) -> pa.Table:
    con = _connection()
    con.register("records", table)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister("records")


class Summariser:
    """The rollups of one data file, built row group by row group (``add``) and merged when
    the file is finished (``finish``)."""

    def __init__(self, rollups: Iterable[Rollup]):
        self.rollups = list(rollups)
        self.params = {r.name: r.current_params() for r in self.rollups}
        self.partials: dict[str, list[pa.Table]] = {r.name: [] for r in self.rollups}

    def add(self, records: pa.Table) -> None:
        for r in self.rollups:
            self.partials[r.name].append(_run(r.compute_sql(self.params[r.name]), records))

    def finish(self) -> dict[str, tuple[pa.Table, dict]]:
        """name -> (the rollup's rows, what its manifest entry records besides the file)."""
        out = {}
        for r in self.rollups:
            parts = self.partials.pop(r.name, [])
            if not parts:
                continue
            rows = (
                parts[0]
                if len(parts) == 1
                else _run(r.merge_sql("records"), _pa().concat_tables(parts))
            )
            params = self.params[r.name]
            out[r.name] = (rows, {"fingerprint": r.fingerprint(params), "params": params})
        return out


def write(path, table: pa.Table) -> None:
    """Write a rollup's rows (small, read whole: one row group, dictionary strings, zstd)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)


def empty_table(rollup: Rollup) -> pa.Table:
    logical = schema.TABLE_BY_NAME[rollup.table].arrow_schema()
    return _run(rollup.compute_sql() + " LIMIT 0", logical.empty_table())


# -- reading and maintaining a store's rollups -------------------------------------------------


def _table_dir(rollup: Rollup) -> str:
    return schema.TABLE_BY_NAME[rollup.table].directory


def _day_range(since: int | None, until: int | None) -> tuple[str | None, str | None]:
    """The partition dates (``YYYY-MM-DD``) that records starting in [since, until) can be in."""
    import datetime as dt

    def day(t):
        return dt.datetime.fromtimestamp(t, dt.UTC).date().isoformat()

    first = day(since) if since is not None and since > -(2**40) else None
    last = day(until - 1) if until is not None and until < 2**40 else None
    return first, last


def _in_range(path: str, first: str | None, last: str | None) -> bool:
    part = path.split("/")[1].split("=", 1)[-1]
    if not (len(part) == 10 and part[4] == "-"):  # not a date (records without a start)
        return True
    return (first is None or part >= first) and (last is None or part <= last)


def status(live: list[dict], rollup: Rollup, since=None, until=None) -> dict:
    """What the live files ``live`` of a time range have of ``rollup``: ``files`` (the data
    files of its table in the range), ``current`` (their rollup paths with this fingerprint),
    ``missing`` (data files without one: written before it existed, by Spark, or with other
    parameters), and ``complete`` (every file has its current rollup)."""
    fp = rollup.fingerprint()
    first, last = _day_range(since, until)
    top = _table_dir(rollup) + "/"
    mine = [f for f in live if f["path"].startswith(top) and _in_range(f["path"], first, last)]
    current, missing = [], []
    for f in mine:
        r = f.get("rollups", {}).get(rollup.name)
        if r is not None and r.get("fingerprint") == fp:
            current.append(r["path"])
        else:
            missing.append(f["path"])
    return {
        "rollup": rollup.name,
        "files": len(mine),
        "current": current,
        "missing": missing,
        "complete": not missing,
    }


def summarise_file(path, rollup_list: list[Rollup], logical: pa.Schema) -> Summariser:
    """The rollups of an existing data file, read row group by row group."""
    import pyarrow.parquet as pq

    summary = Summariser(rollup_list)
    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i)
        cols = [
            t.column(f.name).cast(f.type) if f.name in names else _pa().nulls(t.num_rows, f.type)
            for f in logical
        ]
        summary.add(_pa().Table.from_arrays(cols, schema=logical))
    return summary
