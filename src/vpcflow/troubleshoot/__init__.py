"""Why was this traffic rejected: security group or network ACL?

    records (pyarrow Table or the store)
      └─ flows.sql         aggregate per interface + 5-tuple + action (in the engine)
          └─ conversations pair request and response, decide direction and initiator
              └─ verdicts  the decision table; with configurations, the rule that decided

``explain(table)`` answers for records given directly; ``troubleshoot(store)`` for the store,
folding repeated conversations (the same client, server and port) into one ranked row.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import heapq
import operator
import re
from contextlib import contextmanager
from importlib import resources

import pyarrow as pa

from .. import settings
from ..errors import ConfigError
from ..timeparse import to_epoch
from . import parallel
from .configs import Configs, interfaces_from_inventory, load_configs
from .conversations import SERVICE_PORTS, Conversation, Flow, pair_flows
from .fetch import fetch_configs, store_interface_ids
from .verdicts import ALLOWED, BPA, NACL, SG, SG_OR_NACL, Verdict, decide, greatest, least

__all__ = [
    "ALLOWED",
    "BPA",
    "NACL",
    "SG",
    "SG_OR_NACL",
    "Configs",
    "Conversation",
    "Verdict",
    "collector_paused",
    "explain",
    "fetch_configs",
    "flows_query",
    "load_configs",
    "store_interface_ids",
    "troubleshoot",
    "verdicts_table",
    "with_inventory",
]

_FLOW_COLUMNS = (
    "interface_id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "action",
    "flow_direction",
    "subnet_id",
    "vpc_id",
    "records",
    "packets",
    "bytes",
    "first_start",
    "last_end",
    "syn",
    "syn_ack",
    "reject_reason",
)
# Only in the folded rows of flows_rejected.sql (absent: one conversation, its own port).
_FOLD_COLUMNS = ("conversations", "ports_varied")


#: The records troubleshoot reads: complete ones, of an interface, with both addresses.
USABLE_RECORDS = (
    "(log_status = 'OK' OR log_status IS NULL)",
    "interface_id IS NOT NULL",
    "srcaddr IS NOT NULL",
    "dstaddr IS NOT NULL",
    "action IS NOT NULL",
)

# A flow (or record) from the first of its conversation's two ends as pair_flows orders them:
# by address, then by port as a number (no port is 0).
_FORWARD = (
    "CASE WHEN srcaddr < dstaddr OR (srcaddr = dstaddr AND coalesce(srcport, 0) <= "
    "coalesce(dstport, 0)) THEN 1 ELSE 0 END"
)


def _ends_sql(prefix: str) -> str:
    """A conversation's two ends, the first as ``{prefix}forward`` says (``_FORWARD``), as
    columns ``{prefix}a_addr``, ``{prefix}a_port``, ``{prefix}b_addr``, ``{prefix}b_port`` (no
    port is 0)."""
    fwd = f"{prefix}forward = 1"
    return ", ".join(
        (
            f"CASE WHEN {fwd} THEN srcaddr ELSE dstaddr END AS {prefix}a_addr",
            f"coalesce(CASE WHEN {fwd} THEN srcport ELSE dstport END, 0) AS {prefix}a_port",
            f"CASE WHEN {fwd} THEN dstaddr ELSE srcaddr END AS {prefix}b_addr",
            f"coalesce(CASE WHEN {fwd} THEN dstport ELSE srcport END, 0) AS {prefix}b_port",
        )
    )


# What the flows of one side of a folded group (of probes or of replies) come to together: the
# columns a flow has whatever it is folded with (flows_rejected.sql's {side_totals}).
_SIDE_TOTALS = (
    "max(action) AS action, max(flow_direction) AS flow_direction, "
    "max(subnet_id) AS subnet_id, max(vpc_id) AS vpc_id, "
    "CAST(sum(records) AS bigint) AS records, sum(packets) AS packets, sum(bytes) AS bytes"
)


def record_filters(
    interface_id: str | None = None, since: int | None = None, until: int | None = None
) -> list[str]:
    """SQL conditions on ``vpc_flow_logs`` for an interface and a time range (validated)."""
    conditions = []
    if interface_id is not None:
        if not re.fullmatch(r"[A-Za-z0-9-]+", interface_id):
            raise ConfigError(f"not a network interface id: {interface_id!r} (expected eni-...)")
        conditions.append(f"interface_id = '{interface_id}'")
    if since is not None:
        conditions.append(f"start >= {int(since)}")
    if until is not None:
        conditions.append(f"start < {int(until)}")
    return conditions


def flows_query(
    interface_id: str | None = None,
    since: int | None = None,
    until: int | None = None,
    only_rejected: bool = False,
    exact_client_ports: bool = False,
    fold: bool = True,
    materialize: bool = False,
) -> str:
    """The SQL (Athena dialect, portable) that reduces ``vpc_flow_logs`` to flows.

    ``only_rejected``: only conversations with a REJECT, the repeated kinds folded (see
    flows_rejected.sql). ``exact_client_ports``: fold replies only over one client port, as
    network ACL rules given check it (else: the same when below 1024, else ephemeral).
    ``fold=False``: every flow as it is (the same verdicts, much slower on a busy day).
    ``materialize``: the engine computes a ``MATERIALIZED`` CTE once (``Engine.materializes_ctes``)."""
    sql = resources.files(__package__).joinpath("flows.sql").read_text(encoding="utf-8")
    conditions = "\n  AND ".join([*USABLE_RECORDS, *record_filters(interface_id, since, until)])
    sql = sql.replace("{conditions}", conditions)
    if only_rejected:
        wrap = resources.files(__package__).joinpath("flows_rejected.sql").read_text("utf-8")
        wrap = wrap.replace("{conditions}", conditions).replace("{forward}", _FORWARD)
        wrap = wrap.replace("{side_totals}", _SIDE_TOTALS)
        wrap = wrap.replace("{record_ends}", _ends_sql("r_"))
        wrap = wrap.replace("{flow_ends}", _ends_sql(""))
        sql = sql.replace("{source}", "kept")
        port_key = (
            "client_port"
            if exact_client_ports
            else "CASE WHEN client_port >= 1024 THEN 1024 ELSE client_port END"
        )
        sql = (
            wrap.replace("{flows}", sql)
            .replace("{service_source_port}", _service_port_sql())
            .replace("{client_port_key}", port_key)
            .replace("{no_fold}", "1 = 0" if fold else "1 = 1")
            .replace("{materialized}", "MATERIALIZED" if materialize else "")
            .replace("{inline}", "NOT MATERIALIZED" if materialize else "")
        )
    return sql.replace("{source}", "vpc_flow_logs")


def _service_port_sql() -> str:
    """``conversations.is_service_port(srcport)`` as SQL (1 or 0)."""
    listed = ", ".join(str(p) for p in sorted(SERVICE_PORTS))
    return f"CASE WHEN (srcport > 0 AND srcport < 1024) OR srcport IN ({listed}) THEN 1 ELSE 0 END"


_ORDER = ("interface_id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action")


def _flows_table(table: pa.Table) -> list[Flow]:
    """Flows from the flows query's result, in one order whatever order the engine used
    (pairing and folding keep the first they meet)."""
    keys = (*_ORDER, "first_start")
    try:
        table = table.sort_by([(k, "ascending", "at_end") for k in keys])
    except (TypeError, ValueError):  # pyarrow before 25: one null placement for all keys
        table = table.sort_by([(k, "ascending") for k in keys], null_placement="at_end")
    names = (*_FLOW_COLUMNS, *_FOLD_COLUMNS)
    absent = [None] * table.num_rows
    cols = [table.column(n).to_pylist() if n in table.column_names else absent for n in names]
    out = []
    for (
        interface_id, srcaddr, dstaddr, srcport, dstport, protocol, action, flow_direction,
        subnet_id, vpc_id, records, packets, nbytes, first_start, last_end, syn, syn_ack,
        reject_reason, conversations, ports_varied,
    ) in zip(*cols, strict=True):  # fmt: skip
        out.append(
            Flow(
                interface_id=interface_id,
                srcaddr=srcaddr,
                dstaddr=dstaddr,
                srcport=srcport,
                dstport=dstport,
                protocol=int(protocol if protocol is not None else -1),
                action=action,
                flow_direction=flow_direction,
                subnet_id=subnet_id,
                vpc_id=vpc_id,
                records=int(records or 0),
                packets=int(packets or 0),
                bytes=int(nbytes or 0),
                first_start=first_start,
                last_end=last_end,
                syn=bool(syn),
                syn_ack=bool(syn_ack),
                reject_reason=reject_reason,
                conversations=int(conversations or 1),
                ports_varied=bool(ports_varied),
            )
        )
    return out


def _complete(table: pa.Table) -> pa.Table:
    """Add NULL columns for fields the table lacks, so the flows query runs on any subset."""
    from ..schema import arrow_schema

    for f in arrow_schema():
        if f.name not in table.column_names:
            table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
    return table


def _run_local(table: pa.Table, query: str) -> pa.Table:
    import duckdb
    import sqlglot

    con = duckdb.connect()
    try:
        con.register("vpc_flow_logs", _complete(table))
        sql = sqlglot.transpile(query, read="athena", write="duckdb")[0]
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def explain(records: pa.Table, configs: Configs | None = None) -> list[Verdict]:
    """One verdict per conversation in ``records`` (a table with ``vpc_flow_logs`` columns)."""
    flows = _flows_table(_run_local(records, flows_query()))
    return [decide(c, configs) for c in pair_flows(flows, configs)]


def troubleshoot(
    store,
    interface_id: str | None = None,
    since=None,
    until=None,
    configs: Configs | None = None,
    include_allowed: bool = False,
) -> list[Verdict]:
    """Verdicts over ``store`` (from ``vpcflow.open_store``), most frequent blocked
    conversation first.

    Conversations that differ only in the client's ephemeral port or in time are folded into
    one row whose ``occurrences`` counts them (``srcport`` is then None when the ports varied).
    ``since``/``until``: unix seconds, datetimes, dates, ISO strings or ``15m``/``2h``/``7d``.
    """
    configs = with_inventory(store, configs)
    query = flows_query(
        interface_id,
        to_epoch(since, name="since"),
        to_epoch(until, name="until"),
        only_rejected=not include_allowed,
        exact_client_ports=bool(configs and configs.network_acls),
        materialize=getattr(getattr(store, "engine", None), "materializes_ctes", False),
    )
    return _verdicts(store.sql(query), configs, include_allowed)


def _verdicts(table: pa.Table, configs: Configs | None, include_allowed: bool) -> list[Verdict]:
    """The folded verdicts of the flows query's result: its interfaces decided in parallel
    (``parallel``; ``VPCFLOW_THREADS`` processes at most), the same verdicts in the same order
    as in one process."""
    with collector_paused():
        flows = _flows_table(table)
        parts = parallel.by_interface(flows, settings.threads())
        del flows
        work = functools.partial(_decide_part, configs=configs, include_allowed=include_allowed)
        decided = parallel.map_parts(work, parts, pack=_to_rows, unpack=_from_rows)
        # Each part's folded verdicts come in the order their first conversations have in the
        # whole list (pair_flows sorts by first request, then interface: keys no two parts
        # share), so merging on that key restores the one-process order before the ranking.
        merged = heapq.merge(*decided, key=lambda tagged: tagged[0])
        return _ranked(v for _, v in merged)


def _decide_part(flows: list[Flow], configs: Configs | None, include_allowed: bool) -> list:
    """The folded verdicts of some interfaces' flows, in the order they were first met, each
    with the sort key of the conversation that opened it."""
    conversations = pair_flows(flows, configs)
    if not include_allowed:  # skip the explanations nobody asked for
        conversations = [c for c in conversations if c.request.rejected or c.response.rejected]
    tagged = (((c.request.first or 0, c.interface_id), decide(c, configs)) for c in conversations)
    return _folded(tagged)


_VERDICT_VALUES = operator.attrgetter(*(f.name for f in dataclasses.fields(Verdict)))


def _to_rows(tagged: list[tuple]) -> list[tuple]:
    """(tag, Verdict) pairs as (tag, field values in the fields' order) to send from a child
    process: a third less time to pickle than the objects, half to unpickle."""
    return [(tag, _VERDICT_VALUES(v)) for tag, v in tagged]


def _from_rows(rows: list[tuple]) -> list[tuple]:
    return [(tag, Verdict(*values)) for tag, values in rows]


@contextmanager
def collector_paused():
    """Pause Python's cycle collector while flows, conversations and verdicts are built (or
    their rows, by the caller): they hold no cycles, and its passes over the growing heap took
    half the time of a busy day (and three quarters of making their rows for the dashboard).
    What was made meanwhile then joins the oldest generation unexamined (``gc.freeze`` and
    ``gc.unfreeze``), as a collection of the youngest would go through all of it at once."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def with_inventory(store, configs: Configs | None) -> Configs | None:
    """``configs`` with the interfaces of the store's inventory added (kinds and names).

    Interfaces given explicitly win; the inventory fills in those missing and the names and
    kinds a bare describe-network-interfaces entry lacks."""
    inv = getattr(store, "inventory", None)
    if not inv:
        return configs
    known = interfaces_from_inventory(inv.latest().values())
    if configs is None:
        return Configs(interfaces=known, names=inv.names())
    merged = dict(known)
    for eni_id, eni in configs.interfaces.items():
        inv_eni = known.get(eni_id)
        if inv_eni is not None and not eni.label:
            kind = eni.kind if eni.kind not in ("", "interface") else inv_eni.kind
            eni = dataclasses.replace(eni, label=inv_eni.label, kind=kind)
        merged[eni_id] = eni
    return Configs(configs.security_groups, configs.network_acls, merged, names=inv.names())


def fold(verdicts: list[Verdict]) -> list[Verdict]:
    """Fold verdicts of the same client, server, port and outcome; rank by occurrences."""
    return _ranked(v for _, v in _folded((None, v) for v in verdicts))


def _ranked(verdicts) -> list[Verdict]:
    """Blocked first, most occurrences first, then most records (ties in the order given)."""
    return sorted(verdicts, key=lambda v: (v.verdict == ALLOWED, -v.occurrences, -v.records))


def _folded(tagged) -> list[tuple]:
    """``(tag, verdict)`` pairs folded as ``fold`` says, in the order each group was first met,
    with the tag of the verdict that opened it."""
    groups: dict[tuple, tuple] = {}
    for tag, v in tagged:
        key = (
            v.interface_id,
            v.protocol,
            v.srcaddr,
            v.dstaddr,
            v.dstport,
            v.direction,
            v.verdict,
            v.stage,
            v.group_id,
            v.network_acl_id,
            v.rule_number,
        )
        got = groups.get(key)
        if got is None:
            groups[key] = (tag, v)
            continue
        g = got[1]
        g.occurrences += v.occurrences
        if g.srcport != v.srcport:
            g.srcport = None
        g.records += v.records
        g.packets += v.packets
        g.bytes += v.bytes
        g.first_seen = least(g.first_seen, v.first_seen)
        g.last_seen = greatest(g.last_seen, v.last_seen)
    return list(groups.values())


_OUT_COLUMNS = (
    ("interface_id", pa.string()),
    ("direction", pa.string()),
    ("protocol", pa.int64()),
    ("srcaddr", pa.string()),
    ("srcport", pa.int32()),
    ("dstaddr", pa.string()),
    ("dstport", pa.int32()),
    ("verdict", pa.string()),
    ("stage", pa.string()),
    ("group_id", pa.string()),
    ("network_acl_id", pa.string()),
    ("rule_number", pa.int32()),
    ("egress", pa.bool_()),
    ("confidence", pa.string()),
    ("occurrences", pa.int64()),
    ("records", pa.int64()),
    ("packets", pa.int64()),
    ("bytes", pa.int64()),
    ("first_seen", pa.timestamp("s", tz="UTC")),
    ("last_seen", pa.timestamp("s", tz="UTC")),
    ("request_action", pa.string()),
    ("response_action", pa.string()),
    ("decided_by", pa.string()),
    ("explanation", pa.string()),
    ("fix", pa.string()),
    ("basis", pa.string()),
    ("interface_kind", pa.string()),  # from the inventory or describe-network-interfaces
    ("interface_name", pa.string()),
)


def verdicts_table(verdicts: list[Verdict]) -> pa.Table:
    """Verdicts as an Arrow table (one row per conversation), for output and queries."""
    with collector_paused():  # (a busy day's hundreds of thousands of rows: see there)
        rows = [v.to_dict() for v in verdicts]
    cols = {}
    for name, typ in _OUT_COLUMNS:
        vals = [d[name] for d in rows]
        if name in ("first_seen", "last_seen"):  # unix seconds: Arrow casts them
            cols[name] = pa.array(vals, type=pa.int64()).cast(typ)
        else:
            cols[name] = pa.array(vals, type=typ)
    return pa.table(cols)
