"""The interface inventory in SQL: two tables and three functions on every connection.

    interfaces              one row per interface and state (``vpcflow.store.inventory`` columns)
    interface_addresses     one row per address and holder: address, interface_id, kind, name,
                            label, instance_id, subnet_id, vpc_id, public, held_from, held_until
    interface_name(eni)             the name of what is behind an interface (NULL: unknown)
    address_owner(addr [, at])      the name of what held an address at ``at`` (Unix seconds,
                                    e.g. ``start``; without it, the latest holder)
    address_interface(addr [, at])  the interface that held it

The functions are vectorised: addresses that only one interface ever held are looked up in one
Arrow ``index_in``; only the rows of addresses that moved are resolved one by one, by time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["register", "state"]


def state(store) -> list[str]:
    """What the connection's inventory tables depend on (the snapshot files)."""
    inv = getattr(store, "inventory", None)
    return [str(p) for p in inv.files()] if inv is not None else []


def _array(values) -> pa.Array:
    return pa.array(values, type=pa.string())


def _address_fn(names, field: str):
    latest: dict[str, str] = {}
    for a in names._spans:
        e = names.address(a)
        latest[a] = getattr(e, field)
    keys, vals = _array(list(latest)), _array(list(latest.values()))
    moved = names.moved()
    moved_set = _array(sorted(moved))

    def fn(addr: pa.Array, at: pa.Array | None = None) -> pa.Array:
        if isinstance(addr, pa.ChunkedArray):
            addr = addr.combine_chunks()
        out = pc.take(vals, pc.index_in(addr, value_set=keys))
        if not moved or at is None:
            return out
        if isinstance(at, pa.ChunkedArray):
            at = at.combine_chunks()
        mask = pc.fill_null(pc.is_in(addr, value_set=moved_set), False)
        if not pc.any(mask).as_py():
            return out
        positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        result = out.to_pylist()
        a_list, t_list = addr.take(positions).to_pylist(), at.take(positions).to_pylist()
        for p, a, t in zip(positions, a_list, t_list, strict=True):
            if t is not None:
                result[p] = getattr(names.address(a, t), field)
        return _array(result)

    return fn


def register(con, store) -> None:
    """Add the inventory tables and functions to ``con`` (empty tables for a store without)."""
    from ..store.inventory.history import Names, interfaces_table

    inv = getattr(store, "inventory", None)
    history = inv.history() if inv is not None else []
    names = Names(history)
    con.register("interfaces", interfaces_table(history))
    con.register("interface_addresses", names.addresses_table())

    by_eni = {e: names.interface(e).name for e in names._by_eni}
    eni_keys, eni_vals = _array(list(by_eni)), _array(list(by_eni.values()))

    def interface_name(ids: pa.Array) -> pa.Array:
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        return pc.take(eni_vals, pc.index_in(ids, value_set=eni_keys))

    owner = _address_fn(names, "name")
    holder = _address_fn(names, "interface_id")
    s, d = "VARCHAR", "DOUBLE"
    opts = {"type": "arrow", "null_handling": "special", "side_effects": False}
    con.create_function("interface_name", interface_name, [s], s, **opts)
    con.create_function("_vpcflow_address_owner", owner, [s, d], s, **opts)
    con.create_function("_vpcflow_address_interface", holder, [s, d], s, **opts)
    for name, impl in (
        ("address_owner", "_vpcflow_address_owner"),
        ("address_interface", "_vpcflow_address_interface"),
    ):
        con.execute(
            f"CREATE OR REPLACE MACRO {name}(a) AS {impl}(a, NULL), "
            f"(a, ts) AS {impl}(a, CAST(ts AS DOUBLE))"
        )
