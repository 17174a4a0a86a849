"""Property-based fuzzing of the whole ingest (hypothesis): random valid and mutated lines of
every flow-log version, plain and gzip, with and without a header.

Invariants, whatever the input:
- every input line is accounted for exactly once: stored + quarantined + reported-skipped;
- every stored record holds exactly the values of its input line (typed, '-' as NULL);
- nothing crashes.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vpcflow
from vpcflow import schema
from vpcflow.schema import ADDR, ENUM, INT

LAYOUTS = sorted(schema.ALL_FIELDS_LAYOUTS.items())  # (field count, fields): versions 2 to 8
_TEXT = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/._", min_size=1)
_HEX = st.text("0123456789abcdef", min_size=8, max_size=17)


def _ipv4():
    return st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


def _ipv6():
    return st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(
        lambda g: ":".join(f"{x:x}" for x in g)
    )


def value(f) -> st.SearchStrategy[str]:
    """A valid token for field ``f`` (sometimes '-', AWS's NULL)."""
    if f.name == "bytes":  # the line's marker, set by the caller
        return st.just("?")
    if f.kind == INT:
        lo = f.min_value or 0
        hi = f.max_value if f.max_value is not None else 10**15
        if f.name in ("start", "end"):
            hi = 4_000_000_000
        v = st.integers(lo, hi).map(str)
    elif f.kind == ENUM:
        v = st.sampled_from(f.values)
    elif f.kind == ADDR:
        v = st.one_of(_ipv4(), _ipv6())
    elif f.name == "account-id":
        v = st.one_of(st.text("0123456789", min_size=12, max_size=12), st.just("unknown"))
    elif f.name == "interface-id":
        v = _HEX.map(lambda h: "eni-" + h)
    elif f.prefix:
        v = _HEX.map(lambda h, p=f.prefix: p + h)
    else:
        v = _TEXT.filter(lambda s: s != "-")
    if f.name in ("version", "start"):  # the partition needs a start; keep the version too
        return v
    return st.one_of(v, st.just("-"))


MUTATIONS = ["drop-token", "extra-tokens", "not-a-number", "binary", "too-long", "hash-record"]
SKIPS = ["blank", "comment"]


@st.composite
def flow_file(draw):
    count, layout = draw(st.sampled_from(LAYOUTS))
    header = count != 14 or draw(st.booleans())  # header-less only where counts are unambiguous
    n = draw(st.integers(1, 25))
    lines: list[bytes] = []
    expect: dict[int, list[str]] = {}  # marker -> tokens of a valid line
    kinds: list[str] = []
    for i in range(n):
        tokens = [draw(value(f)) for f in layout]
        marker = 1_000_000 + i
        tokens[[f.name for f in layout].index("bytes")] = str(marker)
        what = draw(st.sampled_from(["valid"] * 6 + MUTATIONS + SKIPS))
        sep = draw(st.sampled_from([" ", " ", "\t", "  "]))
        if what == "valid":
            expect[marker] = tokens
            line = sep.join(tokens).encode()
        elif what == "drop-token":
            line = " ".join(tokens[1:]).encode()
        elif what == "extra-tokens":
            line = " ".join([*tokens, "x", "y"]).encode()
        elif what == "not-a-number":
            ints = [j for j, f in enumerate(layout) if f.kind == INT and f.name != "bytes"]
            j = draw(st.sampled_from(ints))
            tokens[j] = draw(st.sampled_from(["x", "1.5", "-1", "1e3", "0x10", "9" * 19]))
            line = " ".join(tokens).encode()
        elif what == "binary":
            line = " ".join(tokens).encode() + draw(
                st.sampled_from([b"\xff", b"\xc3\x28", b"\x80"])
            )
        elif what == "too-long":
            line = " ".join(tokens).encode() + b" " + b"z" * 16400
        elif what == "hash-record":
            line = b"#" + " ".join(tokens).encode()
        elif what == "blank":
            line = draw(st.sampled_from([b"", b" ", b"\t"]))
        else:
            line = b"# " + draw(_TEXT).encode()
        kinds.append(what)
        lines.append(line)
    if header:
        lines.insert(0, " ".join(f.name for f in layout).encode())
        kinds.insert(0, "header")
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = end.join(lines) + (end if draw(st.booleans()) else b"")
    if draw(st.booleans()):
        body = gzip.compress(body)
    return body, layout, expect, kinds


def _typed(token: str, f):
    if token == "-":
        return None
    return int(token) if f.kind == INT else token


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(flow_file())
def test_every_line_is_stored_quarantined_or_skipped_and_values_round_trip(sample):
    body, layout, expect, kinds = sample
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "flows.log"
        src.write_bytes(body)
        with vpcflow.open_store(Path(tmp) / "s") as store:
            r = store.ingest([str(src)])
            files = store.files()
            quarantined = list(store.quarantined())
        assert r.failed_files == 0, r.problems
        skipped = sum(r.skipped_lines.values())
        assert r.records + r.bad_lines + skipped == len(kinds), (r.as_dict(), kinds)
        assert r.records == len(expect)
        assert len(quarantined) == r.bad_lines
        assert r.skipped_lines.get("header", 0) == kinds.count("header")
        assert r.skipped_lines.get("blank", 0) == kinds.count("blank")
        assert r.skipped_lines.get("comment", 0) == kinds.count("comment")
        table = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
    if table is None:
        assert not expect
        return
    rows = {row["bytes"]: row for row in table.to_pylist()}
    assert set(rows) == set(expect)
    for marker, tokens in expect.items():
        row = rows[marker]
        for f, token in zip(layout, tokens, strict=True):
            assert row[f.column] == _typed(token, f), (f.name, token, row[f.column])
