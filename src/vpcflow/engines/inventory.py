"""The interface inventory in SQL: two tables and three functions on every connection.

    interfaces              one row per interface and state (``vpcflow.store.inventory`` columns)
    interface_addresses     one row per address and holder: address, interface_id, kind, name,
                            label, instance_id, subnet_id, vpc_id, public, held_from, held_until
    interface_name(eni)             the name of what is behind an interface (NULL: unknown)
    address_owner(addr [, at])      the name of what held an address at ``at`` (Unix seconds,
                                    e.g. ``start``; without it, the latest holder)
    address_interface(addr [, at])  the interface that held it

The functions are SQL macros over two small lookup tables (``_vpcflow_interface_names``,
``_vpcflow_address_latest``), so the engine joins them like any table. Only the rows of addresses
that moved between interfaces are resolved by time, by a function over their spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["NAMES", "register", "state"]

#: Every name ``register`` defines. The DuckDB engine registers them on a connection only when a
#: query uses one (they load the snapshots, and pyarrow, which other queries do not need).
NAMES = (
    "interfaces",
    "interface_addresses",
    "interface_name",
    "address_owner",
    "address_interface",
    "_vpcflow_interface_names",
    "_vpcflow_address_latest",
)


def state(store) -> list[str]:
    """What the connection's inventory tables depend on (the snapshot files)."""
    files = getattr(store, "inventory_files", None)
    if files is not None:  # a local store lists them without loading the inventory package
        return [str(p) for p in files()]
    inv = getattr(store, "inventory", None)
    return [str(p) for p in inv.files()] if inv is not None else []


def _lookup_tables(names) -> dict[str, pa.Table]:
    """The small tables the functions join against (one row per key, or per address and span)."""
    import pyarrow as pa

    enis = list(names._by_eni.values())
    latest = []
    for addr in names._spans:
        e = names.address(addr)
        latest.append((addr, e.name, e.interface_id))

    def table(rows, cols, types):
        return pa.table(
            {
                c: pa.array([r[i] for r in rows], type=t)
                for i, (c, t) in enumerate(zip(cols, types, strict=True))
            }
        )

    s = pa.string()
    return {
        "_vpcflow_interface_names": table(
            [(e.interface_id, e.name) for e in enis], ("interface_id", "name"), (s, s)
        ),
        "_vpcflow_address_latest": table(latest, ("address", "name", "interface_id"), (s, s, s)),
    }


def _duckdb_types():
    import pyarrow as pa

    return {
        pa.string(): "VARCHAR",
        pa.bool_(): "BOOLEAN",
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.list_(pa.string()): "VARCHAR[]",
        pa.timestamp("ms", tz="UTC"): "TIMESTAMPTZ",
    }


def _empty_view(con, name: str, columns) -> None:
    """An empty table ``name`` with ``columns`` ((name, Arrow type)), made in SQL: building an
    empty Arrow table loads pandas when it is installed, a second of start-up for nothing."""
    types = _duckdb_types()
    cols = ", ".join(f'CAST(NULL AS {types[t]}) AS "{c}"' for c, t in columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} WHERE false")


def register(con, store) -> None:
    """Add the inventory tables and functions to ``con`` (empty tables for a store without)."""
    from ..store.inventory.history import _ADDRESS_COLUMNS, INTERFACE_COLUMNS, Names

    inv = getattr(store, "inventory", None)
    history = inv.history() if inv is not None else []
    names = Names(history)
    if history:
        from ..store.inventory.history import interfaces_table

        con.register("interfaces", interfaces_table(history))
        con.register("interface_addresses", names.addresses_table())
        for name, table in _lookup_tables(names).items():
            con.register(name, table)
    else:
        import pyarrow as pa

        s = pa.string()
        _empty_view(con, "interfaces", [(n, t) for n, t, _ in INTERFACE_COLUMNS])
        _empty_view(con, "interface_addresses", _ADDRESS_COLUMNS)
        _empty_view(con, "_vpcflow_interface_names", [("interface_id", s), ("name", s)])
        _empty_view(
            con, "_vpcflow_address_latest", [("address", s), ("name", s), ("interface_id", s)]
        )
    # Scalar subqueries over the small tables: DuckDB turns them into hash joins, which cost
    # about a fifth of a Python function called per batch.
    con.execute(
        "CREATE OR REPLACE MACRO interface_name(x) AS "
        "(SELECT name FROM _vpcflow_interface_names WHERE interface_id = x)"
    )
    moved = sorted(names.moved())
    for fn, col in (("address_owner", "name"), ("address_interface", "interface_id")):
        latest = f"(SELECT {col} FROM _vpcflow_address_latest WHERE address = a)"
        if moved:
            # Only addresses that changed hands need the time: those rows (and only those, CASE
            # evaluates a branch on its rows alone) go to a function that bisects their spans.
            impl = f"_vpcflow_{fn}_at"
            con.create_function(
                impl,
                _at_function(names, col),
                ["VARCHAR", "DOUBLE"],
                "VARCHAR",
                type="arrow",
                null_handling="special",
                side_effects=False,
            )
            listed = ", ".join("'" + m.replace("'", "''") + "'" for m in moved)
            timed = (
                f"CASE WHEN a IN ({listed}) THEN {impl}(a, CAST(ts AS DOUBLE)) ELSE {latest} END"
            )
        else:
            timed = latest  # every address had one holder: the time changes nothing
        con.execute(f"CREATE OR REPLACE MACRO {fn}(a) AS {latest}, (a, ts) AS {timed}")


def _at_function(names, col: str):
    field = "name" if col == "name" else "interface_id"

    def fn(addr, at):
        import pyarrow as pa

        out = []
        for a, t in zip(addr.to_pylist(), at.to_pylist(), strict=True):
            e = names.address(a, t)
            out.append(getattr(e, field) if e is not None else None)
        return pa.array(out, type=pa.string())

    return fn


# -- on Spark -------------------------------------------------------------------------------
# Spark has no SQL macros and no overloading by arity: the three functions are expanded (by
# ``dialects``, as the other macros are) into calls of vectorised Arrow functions registered per
# session, which look up the same ``Names`` the DuckDB macros join against.

SPARK_MACROS: dict[str, list[tuple[list[str], str]]] = {
    "interface_name": [(["x"], "_vpcflow_interface_name(x)")],
    "address_owner": [
        (["a"], "_vpcflow_address_owner(a, CAST(NULL AS DOUBLE))"),
        (["a", "ts"], "_vpcflow_address_owner(a, CAST(ts AS DOUBLE))"),
    ],
    "address_interface": [
        (["a"], "_vpcflow_address_interface(a, CAST(NULL AS DOUBLE))"),
        (["a", "ts"], "_vpcflow_address_interface(a, CAST(ts AS DOUBLE))"),
    ],
}


def spark_tables(store) -> dict[str, pa.Table]:
    """The inventory tables a Spark session registers as temporary views."""
    from ..store.inventory.history import Names, interfaces_table

    inv = getattr(store, "inventory", None)
    history = inv.history() if inv is not None else []
    names = Names(history)
    return {"interfaces": interfaces_table(history), "interface_addresses": names.addresses_table()}


def spark_functions(store) -> dict[str, tuple[object, str, int]]:
    """name -> (Arrow function, return type, arity) of the functions ``SPARK_MACROS`` call."""
    from ..store.inventory.history import Names

    inv = getattr(store, "inventory", None)
    names = Names(inv.history() if inv is not None else [])
    by_eni = {k: e.name for k, e in names._by_eni.items()}
    import pyarrow as pa

    def interface_name(eni):
        return pa.array([by_eni.get(x) for x in eni.to_pylist()], type=pa.string())

    def lookup(col: str):
        def fn(addr, at):
            out = []
            for a, t in zip(addr.to_pylist(), at.to_pylist(), strict=True):
                e = names.address(a, t)
                out.append(getattr(e, col) if e is not None else None)
            return pa.array(out, type=pa.string())

        return fn

    return {
        "_vpcflow_interface_name": (interface_name, "VARCHAR", 1),
        "_vpcflow_address_owner": (lookup("name"), "VARCHAR", 2),
        "_vpcflow_address_interface": (lookup("interface_id"), "VARCHAR", 2),
    }
