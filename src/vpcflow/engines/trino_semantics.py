"""Trino meanings that sqlglot's translation does not keep: integer division, ``cardinality`` of
a map, ``format_datetime`` with a Joda pattern.

* ``7 / 2`` is 3 in Athena (an integer divided by an integer is an integer, truncated toward
  zero) and 3.5 in DuckDB and Spark. A division whose two sides are integers becomes an integer
  division (``//`` in DuckDB, ``DIV`` in Spark). A side is an integer when it is an integer
  literal, a cast to an integer type, an integer column of the catalogue read straight from a
  flow-log table, a column of a subquery or ``WITH`` whose expression is an integer, or
  ``+ - * %``, ``sum``, ``min``, ``max``, ``count`` of integers. When that cannot be told, the
  division is left as it is.
* ``cardinality(map)`` (``cardinality(extra_fields)``) counts the entries of a map or an array.
* ``format_datetime(ts, 'yyyy-MM-dd HH:mm')`` formats with Joda letters; DuckDB's ``strftime``
  takes ``%`` codes.
"""

from __future__ import annotations

import re

from sqlglot import exp

from .. import schema
from ..errors import QueryError

_INT_TYPES = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}
_TABLES = {
    t.name: {f.column for f in t.fields if f.athena_type in ("int", "bigint")}
    for t in schema.TABLES
}
_INT_AGGREGATES = (exp.Sum, exp.Min, exp.Max)


def _select_of(node: exp.Expression) -> exp.Select | None:
    return node.find_ancestor(exp.Select)


def _ctes(select: exp.Select) -> dict[str, exp.Expression]:
    """The ``WITH`` queries visible from ``select`` (its own and its ancestors')."""
    found: dict[str, exp.Expression] = {}
    node: exp.Expression | None = select
    while node is not None:
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if with_ is not None:
            for cte in with_.expressions:
                found.setdefault(cte.alias_or_name.lower(), cte.this)
        node = node.parent
    return found


def _sources(select: exp.Select) -> list[tuple[str, exp.Expression | str]]:
    """(alias, source) per FROM/JOIN source of ``select``: a table name or a query."""
    out = []
    from_ = select.args.get("from_")
    items = ([from_.this] if from_ is not None else []) + [
        j.this for j in select.args.get("joins") or []
    ]
    ctes = _ctes(select)
    for item in items:
        if isinstance(item, exp.Table):
            name = item.name.lower()
            src: exp.Expression | str = ctes.get(name, name)
            out.append(((item.alias_or_name or name).lower(), src))
        elif isinstance(item, exp.Subquery):
            out.append((item.alias_or_name.lower(), item.this))
        else:
            return []  # UNNEST, VALUES, table functions: unknown
    return out


def _projection(query: exp.Expression, name: str) -> exp.Expression | None:
    while isinstance(query, exp.SetOperation):
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    for e in query.expressions:
        if e.alias_or_name.lower() == name:
            return e.this if isinstance(e, exp.Alias) else e
    return None


def _column_is_int(col: exp.Column, depth: int) -> bool:
    select = _select_of(col)
    if select is None:
        return False
    name = col.name.lower()
    sources = _sources(select)
    if col.table:
        sources = [s for s in sources if s[0] == col.table.lower()]
    candidates = []
    for _alias, src in sources:
        if isinstance(src, str):
            if src in _TABLES:
                candidates.append(name in _TABLES[src] if name in _known(src) else None)
            else:
                candidates.append(None)
        else:
            proj = _projection(src, name)
            if proj is not None:
                candidates.append(is_int(proj, depth + 1))
    found = [c for c in candidates if c is not None]
    return len(found) == 1 and found[0]


def _known(table: str) -> set[str]:
    t = schema.TABLE_BY_NAME[table]
    return {f.column for f in t.fields}


def is_int(node: exp.Expression, depth: int = 0) -> bool:
    """Whether ``node`` is an integer in Trino's typing (False when it cannot be told)."""
    if depth > 20:
        return False
    if isinstance(node, exp.Literal):
        return not node.is_string and re.fullmatch(r"\d+", node.this) is not None
    if isinstance(node, exp.Paren | exp.Neg):
        return is_int(node.this, depth + 1)
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.this in _INT_TYPES
    if isinstance(node, exp.Column):
        return _column_is_int(node, depth)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.IntDiv):
        return is_int(node.this, depth + 1) and is_int(node.expression, depth + 1)
    if isinstance(node, exp.Div):
        return (
            bool(node.args.get("typed"))
            and is_int(node.this, depth + 1)
            and is_int(node.expression, depth + 1)
        )
    if isinstance(node, exp.Count | exp.ApproxDistinct):
        return True
    if isinstance(node, _INT_AGGREGATES):
        return is_int(node.this, depth + 1)
    return False


# Joda letters (Trino's format_datetime) -> strftime codes; longest first.
_JODA = [
    ("yyyy", "%Y"),
    ("YYYY", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("d", "%-d"),
    ("HH", "%H"),
    ("H", "%-H"),
    ("hh", "%I"),
    ("h", "%-I"),
    ("mm", "%M"),
    ("m", "%-M"),
    ("ss", "%S"),
    ("s", "%-S"),
    ("SSSSSS", "%f"),
    ("SSS", "%g"),
    ("a", "%p"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("E", "%a"),
    ("DDD", "%j"),
    ("ZZ", "%z"),
    ("Z", "%z"),
    ("zzzz", "%Z"),
    ("z", "%Z"),
]


def joda_to_strftime(pattern: str) -> str:
    """A Joda date pattern as a strftime format; a letter without an equivalent is an error."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise QueryError(f"format_datetime: unterminated quote in pattern {pattern!r}")
            text = pattern[i + 1 : end] or "'"
            out.append(text.replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            for token, code in _JODA:
                if pattern.startswith(token, i):
                    out.append(code)
                    i += len(token)
                    break
            else:
                raise QueryError(
                    f"format_datetime: pattern letter {ch!r} in {pattern!r} is not supported"
                )
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def fix(node: exp.Expression) -> exp.Expression:
    """One node of a Trino tree, with the meanings above kept."""
    if isinstance(node, exp.Div) and node.args.get("typed"):
        if is_int(node.this) and is_int(node.expression):
            return exp.IntDiv(this=node.this, expression=node.expression)
        return node
    if isinstance(node, exp.ApproxDistinct):
        # exact: within any error bound Athena allows, and the same answer on every engine
        # (DuckDB's and Spark's sketches differ from each other and from Trino's)
        return exp.Count(this=exp.Distinct(expressions=[node.this]))
    if isinstance(node, exp.ApproxQuantile):
        if node.args.get("weight") is not None or node.args.get("accuracy") is not None:
            raise QueryError(
                "approx_percentile with a weight or an accuracy is not supported; use "
                "approx_percentile(x, percentage) or approx_percentile(x, ARRAY[...])"
            )
        # exact, as above: the smallest value with at least that share of the rows at or below
        return exp.PercentileDisc(this=node.this, expression=node.args["quantile"])
    if isinstance(node, exp.ArraySize):
        # BIGINT as in Trino (DuckDB's is UBIGINT, Spark's INT)
        return exp.cast(
            exp.Anonymous(this="cardinality", expressions=[node.this]),
            exp.DataType.build("BIGINT"),
        )
    return node


def _format_datetime(node: exp.Expression) -> tuple[exp.Expression, str] | None:
    if (
        isinstance(node, exp.Anonymous)
        and str(node.this).lower() == "format_datetime"
        and len(node.expressions) == 2
        and isinstance(node.expressions[1], exp.Literal)
        and node.expressions[1].is_string
    ):
        return node.expressions[0], node.expressions[1].this
    return None


def for_duckdb(node: exp.Expression) -> exp.Expression:
    """``format_datetime(ts, joda)`` as DuckDB's ``strftime`` (a Trino tree on its way to DuckDB)."""
    found = _format_datetime(node)
    if found is None:
        return node
    ts, pattern = found
    fmt = joda_to_strftime(pattern)
    return exp.func(
        "strftime", exp.cast(ts, exp.DataType.build("TIMESTAMPTZ")), exp.Literal.string(fmt)
    )


def for_spark(node: exp.Expression) -> exp.Expression:
    """``format_datetime(ts, joda)`` as Spark's ``date_format`` (Java's letters are Joda's)."""
    found = _format_datetime(node)
    if found is None:
        return node
    ts, pattern = found
    joda_to_strftime(pattern)  # the same letters are refused on both engines
    return exp.Anonymous(this="date_format", expressions=[ts, exp.Literal.string(pattern)])
