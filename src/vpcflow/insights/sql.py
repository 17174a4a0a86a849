"""SQL generation: Logs Insights commands -> one DuckDB ``WITH`` query over ``vpc_flow_logs``.

Each command becomes one common table expression over the previous one; names the user sees
(``srcAddr``, an alias, a parsed field) map to SQL expressions of the current relation, so that
renaming never collides with the table's own columns.

Field mapping (see docs/insights.md): ``@timestamp`` is the flow's ``start`` (Logs Insights
shows the ingestion time of the event, which for flow logs delivered to CloudWatch is within
the capture window); ``@message`` is the record rebuilt in the default format with ``-`` for
NULL; ``@logStream`` is ``interface_id`` (CloudWatch writes one stream per network interface).
"""

from __future__ import annotations

import re

from .. import schema
from .expressions import DISCOVERED, Expressions, Rel, _kind_of_column, lit, q
from .parser import Command, Field, Regex


class Translator(Expressions):
    """Commands -> one ``WITH`` query: each command a common table expression over the last."""

    # -- the base relation ---------------------------------------------------------------------
    def needs_message(self) -> bool:
        if "@message" in self.query or any(c.name == "parse" for c in self.commands):
            return True
        return not any(c.name in ("fields", "display", "stats") for c in self.commands)

    def base(self, where: list[str]) -> Rel:
        cols: dict[str, tuple[str, str]] = {}
        for c in (*schema.COLUMNS, schema.PARTITION_COLUMN):
            cols[c] = (q(c), _kind_of_column(c))
        for name, col in DISCOVERED.items():
            cols[name] = (q(col), _kind_of_column(col))
        message = " || ' ' || ".join(
            f"coalesce(CAST({q(f.column)} AS VARCHAR), '-')" for f in schema.DEFAULT_FORMAT
        )
        extra = [f"epoch_ms(CAST({q('start')} AS BIGINT) * 1000) AS {q('@timestamp')}"]
        cols["@timestamp"] = (q("@timestamp"), "ts")
        if self.needs_message():
            extra.append(f"({message}) AS {q('@message')}")
            cols["@message"] = (q("@message"), "str")
        if "@ingestionTime" in self.query:
            extra.append(f"epoch_ms(CAST({q('end')} AS BIGINT) * 1000) AS {q('@ingestionTime')}")
            cols["@ingestionTime"] = (q("@ingestionTime"), "ts")
        body = f"SELECT *, {', '.join(extra)} FROM vpc_flow_logs"
        if where:
            body += " WHERE " + " AND ".join(where)
        return Rel(self.add_cte(body), cols)

    # -- commands ------------------------------------------------------------------------------
    def run(self, where: list[str]) -> tuple[str, list[str]]:
        rel = self.base(where)
        for cmd in self.commands:
            rel = getattr(self, "cmd_" + cmd.name)(cmd, rel)
        visible = rel.visible if rel.visible is not None else ["@timestamp", "@message"]
        select = []
        seen = set()
        for name in visible:
            if name in seen:
                continue
            seen.add(name)
            sql, _ = rel.cols.get(name, ("NULL", "null"))
            select.append(f"{sql} AS {q(name)}")
        final = f"SELECT {', '.join(select)} FROM {rel.name}"
        if rel.order:
            final += " ORDER BY " + self.order_sql(rel)
        with_ = ",\n".join(f"{n} AS (\n  {body}\n)" for n, body in self.ctes)
        return f"WITH {with_}\n{final}", [n for n in visible if n in seen]

    @staticmethod
    def order_sql(rel: Rel) -> str:
        return ", ".join(f"{s} {'DESC' if d else 'ASC'} NULLS LAST" for s, d in rel.order)

    def derive(self, rel: Rel, select: str, tail: str = "", **changes) -> Rel:
        name = self.add_cte(f"SELECT {select} FROM {rel.name}{tail}")
        return Rel(
            name,
            changes.get("cols", dict(rel.cols)),
            changes.get("visible", rel.visible),
            changes.get("order", list(rel.order)),
            changes.get("after_stats", rel.after_stats),
        )

    def cmd_filter(self, cmd: Command, rel: Rel) -> Rel:
        s, k = self.expr(cmd.expr, rel)  # type: ignore[arg-type]
        return self.derive(rel, "*", f" WHERE {self.as_bool(s, k)}")

    def _items(self, cmd: Command, rel: Rel) -> tuple[Rel, list[str]]:
        computed = []
        cols = dict(rel.cols)
        names = []
        for item in cmd.items:
            if isinstance(item.expr, Field) and item.alias is None:
                self.field(item.expr, rel)  # warn on unknown names
                names.append(item.expr.name)
                continue
            s, k = self.expr(item.expr, rel)
            internal = self.fresh()
            computed.append(f"{s} AS {q(internal)}")
            cols[item.name] = (q(internal), k)
            names.append(item.name)
        if computed:
            rel = self.derive(rel, "*, " + ", ".join(computed), cols=cols)
        return rel, names

    def cmd_fields(self, cmd: Command, rel: Rel) -> Rel:
        rel, names = self._items(cmd, rel)
        rel.visible = (rel.visible or []) + [n for n in names if n not in (rel.visible or [])]
        return rel

    def cmd_display(self, cmd: Command, rel: Rel) -> Rel:
        rel, names = self._items(cmd, rel)
        rel.visible = names
        return rel

    def cmd_stats(self, cmd: Command, rel: Rel) -> Rel:
        select, cols, visible, group_pos = [], {}, [], []
        for item in cmd.by:
            if self.has_aggregate(item.expr):
                raise self.err("expected a field or bin() after 'by', not an aggregate", item.expr)
            s, k = self.expr(item.expr, rel)
            internal = self.fresh("g")
            select.append(f"{s} AS {q(internal)}")
            group_pos.append(str(len(select)))
            cols[item.name] = (q(internal), k)
            visible.append(item.name)
        scope = Rel(rel.name, dict(rel.cols))
        for item in cmd.items:
            if self.has_aggregate(item.expr):
                s, k = self.expr(item.expr, rel, agg=True)
            elif isinstance(item.expr, Field) and item.expr.name in cols:
                s, k = cols[item.expr.name]
            else:
                # An expression over earlier aggregates, e.g. `max(a) as x, min(a) as y, x - y`.
                s, k = self.expr(item.expr, scope)
                if not any(v[0] in s for v in cols.values()):
                    raise self.err(
                        "expected an aggregate function such as count(*), sum(bytes) or avg(bytes) in 'stats'",
                        item.expr,
                    )
            internal = self.fresh("a")
            select.append(f"{s} AS {q(internal)}")
            cols[item.name] = (q(internal), k)
            scope.cols[item.name] = (q(internal), k)
            visible.append(item.name)
        tail = f" GROUP BY {', '.join(group_pos)}" if group_pos else ""
        # After stats only its own columns exist, plus @timestamp for later bin()/earliest().
        return self.derive(
            rel, ", ".join(select), tail, cols=cols, visible=visible, order=[], after_stats=True
        )

    def cmd_sort(self, cmd: Command, rel: Rel) -> Rel:
        order = []
        for e, desc in cmd.keys:
            # `stats count(*) ... | sort count(*) desc`: a key written as a result column of
            # stats is that column (the aggregate is not computed again).
            name = " ".join(e.text.split())
            if not isinstance(e, Field) and name in rel.cols:
                order.append((rel.cols[name][0], desc))
                continue
            sql, kind = self.expr(e, rel)
            if kind == "null":
                # A field that does not exist here (e.g. @timestamp after a stats that did
                # not keep it): Logs Insights sorts by nothing; so do we, with the warning.
                continue
            order.append((sql, desc))
        rel.order = order
        return rel

    def cmd_limit(self, cmd: Command, rel: Rel) -> Rel:
        order = f" ORDER BY {self.order_sql(rel)}" if rel.order else ""
        return self.derive(rel, "*", f"{order} LIMIT {cmd.count}")

    def cmd_dedup(self, cmd: Command, rel: Rel) -> Rel:
        keys = [self.field(Field(cmd.pos, n, n), rel)[0] for n in cmd.names]
        order = (
            self.order_sql(rel)
            if rel.order
            else (f"{rel.cols['@timestamp'][0]} DESC" if "@timestamp" in rel.cols else "1")
        )
        nulls = " OR ".join(f"{k} IS NULL" for k in keys)
        window = f"row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY {order})"
        return self.derive(rel, "*", f" QUALIFY {window} = 1 OR {nulls}")

    def cmd_parse(self, cmd: Command, rel: Rel) -> Rel:
        src, k = self.field(cmd.source, rel)  # type: ignore[arg-type]
        if k not in ("str", "dyn"):
            src = f"CAST({src} AS VARCHAR)"
        if isinstance(cmd.pattern, Regex):
            pattern = self.regex(cmd.pattern)
            compiled = re.compile(pattern)
            if not compiled.groupindex:
                raise self.err(
                    "expected named groups like (?<name>...) in the parse regular expression",
                    cmd.pattern,
                )
            ngroups = compiled.groups
            pairs = sorted(compiled.groupindex.items(), key=lambda kv: kv[1])
        else:
            glob = str(cmd.pattern.value)  # type: ignore[union-attr]
            stars = glob.count("*")
            if stars != len(cmd.names):
                raise self.err(
                    f"expected {stars} name(s) after 'as', one for each '*' in the pattern, found {len(cmd.names)}",
                    cmd.pattern,  # type: ignore[arg-type]
                )
            parts = [re.escape(p) for p in glob.split("*")]
            pattern = ""
            for i, part in enumerate(parts[:-1]):
                # the last '*' of a pattern that ends with '*' takes the rest of the text
                last = i == len(parts) - 2 and parts[-1] == ""
                pattern += part + ("(.*)" if last else "(.*?)")
            pattern += parts[-1]
            ngroups = stars
            pairs = [(n, i + 1) for i, n in enumerate(cmd.names)]
        # One regexp_extract returning a struct of every group (the group-index form stops at 9).
        keys = "[" + ", ".join(f"'g{i}'" for i in range(1, ngroups + 1)) + "]"
        internal = self.fresh("p")
        cols = dict(rel.cols)
        for name, idx in pairs:
            cols[name] = (f"nullif({q(internal)}['g{idx}'], '')", "dyn")
        select = [f"regexp_extract({src}, {lit(pattern)}, {keys}) AS {q(internal)}"]
        return self.derive(rel, "*, " + ", ".join(select), cols=cols)
