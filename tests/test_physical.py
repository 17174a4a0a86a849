"""The store's physical design (sorted row groups, dictionaries, delta-coded times) changes no
answer: queries on the store give what DuckDB gives on the raw text of the same files."""

import gzip
import json
import random

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from vpcflow.cli import main
from vpcflow.store import parts, physical

HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)

# The bench's queries, with a tie-break so that each answer is one exact list of rows.
QUERIES = [
    "SELECT srcaddr, dstaddr, sum(bytes) AS total FROM vpc_flow_logs "
    "GROUP BY srcaddr, dstaddr ORDER BY total DESC, srcaddr, dstaddr LIMIT 10",
    "SELECT srcaddr, count(*) AS n FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6 "
    "GROUP BY srcaddr ORDER BY n DESC, srcaddr NULLS FIRST LIMIT 10",
    "SELECT dstaddr, sum(bytes) AS total, count(*) AS n FROM vpc_flow_logs WHERE dstport = 443 "
    "GROUP BY dstaddr ORDER BY total DESC, dstaddr LIMIT 10",
    'SELECT "start" - "start" % 3600 AS hour, count(*) AS n FROM vpc_flow_logs '
    "WHERE action = 'REJECT' GROUP BY 1 ORDER BY 1",
    "SELECT srcaddr, count(DISTINCT dstport) AS ports FROM vpc_flow_logs "
    "GROUP BY srcaddr ORDER BY ports DESC, srcaddr NULLS FIRST LIMIT 10",
    # every record, every value: nothing lost, nothing changed
    "SELECT * EXCLUDE (date) FROM vpc_flow_logs ORDER BY ALL",
]


def _records(rnd: random.Random, n: int, day_start: int) -> list[str]:
    """Records over a small address pool (so that grouping matters), with NODATA/SKIPDATA
    records whose fields are '-', and times across two days."""
    clients = [f"198.51.100.{i}" for i in range(1, 40)] + ["2001:db8::7", "2001:db8::1:0"]
    servers = [f"10.0.{i // 8}.{i % 8 + 4}" for i in range(24)]
    out = []
    for _ in range(n):
        t = day_start + rnd.randint(0, 2 * 86400 - 600)
        eni = f"eni-{rnd.randint(0, 5):017x}"
        if rnd.random() < 0.03:
            status = rnd.choice(["NODATA", "SKIPDATA"])
            out.append(f"2 123456789012 {eni} - - - - - - - {t} {t + 600} - {status}")
            continue
        src, dst = rnd.choice(clients), rnd.choice(servers)
        sport, dport = rnd.randint(1024, 65535), rnd.choice([22, 80, 443, 443, 3389, 5432])
        if rnd.random() < 0.5:  # the response direction
            src, dst, sport, dport = dst, src, dport, sport
        proto = rnd.choice([6, 6, 6, 17, 1])
        action = rnd.choice(["ACCEPT", "ACCEPT", "REJECT"])
        pk = rnd.randint(1, 5000)
        out.append(
            f"2 123456789012 {eni} {src} {dst} {sport} {dport} {proto} {pk} "
            f"{pk * rnd.randint(40, 1500)} {t} {t + rnd.randint(0, 600)} {action} OK"
        )
    return out


@pytest.fixture
def logs(tmp_path):
    rnd = random.Random(15)
    d = tmp_path / "logs"
    d.mkdir()
    files = []
    for k in range(6):
        lines = _records(rnd, 1500, 1_714_521_600)
        f = d / f"part-{k}.log.gz"
        f.write_bytes(gzip.compress(("\n".join([HEADER, *lines]) + "\n").encode()))
        files.append(str(f))
    return files


def _raw_answers(files: list[str]) -> list:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE vpc_flow_logs AS SELECT *, NULL AS date FROM read_csv($files, delim=' ', "
        "header=true, nullstr='-', columns={'version': 'INT', 'account_id': 'VARCHAR', "
        "'interface_id': 'VARCHAR', 'srcaddr': 'VARCHAR', 'dstaddr': 'VARCHAR', "
        "'srcport': 'INT', 'dstport': 'INT', 'protocol': 'BIGINT', 'packets': 'BIGINT', "
        "'bytes': 'BIGINT', 'start': 'BIGINT', 'end': 'BIGINT', 'action': 'VARCHAR', "
        "'log_status': 'VARCHAR'})",
        {"files": files},
    )
    return [con.execute(q).fetchall() for q in QUERIES]


def _store_answers(store: str) -> list:
    out = []
    for q in QUERIES:
        q = q.replace("SELECT * EXCLUDE (date)", "SELECT " + ", ".join(_V2))
        r = CliRunner().invoke(
            main,
            ["sql", q, "--store", store, "--dialect", "duckdb", "--format", "json", "--limit", "0"],
        )
        assert r.exit_code == 0, r.output
        out.append([tuple(row.values()) for row in json.loads(r.output)])
    return out


_V2 = [
    "version", "account_id", "interface_id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", '"start"', '"end"', "action", "log_status",
]  # fmt: skip


def test_store_answers_equal_duckdb_on_the_raw_text(logs, tmp_path, monkeypatch):
    monkeypatch.setenv("VPCFLOW_THREADS", "1")  # in-process, so that the row group size holds
    monkeypatch.setattr(parts, "ROW_GROUP_ROWS", 1000)  # several sorted row groups per file
    store = str(tmp_path / "store")
    r = CliRunner().invoke(main, ["ingest", *logs, "--store", store, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["records"] == 9000
    expected = _raw_answers(logs)
    assert len(expected[-1]) == 9000 and expected[0]  # the reference itself saw the records
    assert _store_answers(store) == [[tuple(row) for row in rows] for rows in expected]

    # and the files are laid out as designed, with plain logical types for other readers
    files = sorted((tmp_path / "store" / "data").rglob("*.parquet"))
    assert len(files) == 2  # two days
    for f in files:
        pf = pq.ParquetFile(f)
        assert pf.schema_arrow.field("srcaddr").type == "string"  # not a dictionary type
        assert pf.metadata.num_row_groups > 1
        col = {pf.metadata.schema.column(i).name: i for i in range(pf.metadata.num_columns)}
        rg = pf.metadata.row_group(0)
        for c in ("srcport", "dstport"):  # PLAIN, left to zstd
            enc = rg.column(col[c]).encodings
            assert "PLAIN" in enc and "RLE_DICTIONARY" not in enc, (c, enc)
            assert "DELTA_BINARY_PACKED" not in enc, (c, enc)
        for c in ("start", "end", "bytes"):  # delta-coded: times sorted in a pair, bytes read fast
            enc = rg.column(col[c]).encodings
            assert "DELTA_BINARY_PACKED" in enc and "RLE_DICTIONARY" not in enc, (c, enc)
        for c in ("srcaddr", "dstaddr", "action", "packets"):
            assert "RLE_DICTIONARY" in rg.column(col[c]).encodings, c
        for i in range(pf.metadata.num_row_groups):
            t = pf.read_row_group(i, columns=["srcaddr", "dstaddr"])
            pairs = list(
                zip(*(t.column(c).to_pylist() for c in ("srcaddr", "dstaddr")), strict=True)
            )
            runs = 1 + sum(1 for a, b in zip(pairs, pairs[1:], strict=False) if a != b)
            assert runs == len(set(pairs)), "records of one address pair are not together"


def test_compact_keeps_answers_and_layout(logs, tmp_path, monkeypatch):
    monkeypatch.setenv("VPCFLOW_THREADS", "1")
    store = str(tmp_path / "store")
    for f in logs:  # one file per ingest: several small files per day
        assert CliRunner().invoke(main, ["ingest", f, "--store", store]).exit_code == 0
    before = _store_answers(store)
    r = CliRunner().invoke(main, ["compact", "--store", store])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "store" / "data").rglob("*.parquet"))) == 2
    assert _store_answers(store) == before


def test_arrange_keeps_every_row_and_handles_empty_and_null_columns():
    import pyarrow as pa

    from vpcflow import schema

    empty = pa.Table.from_pylist([], schema=schema.arrow_schema())
    assert physical.arrange(empty).num_rows == 0
    rows = [
        {"srcaddr": "10.0.0.2", "dstaddr": None, "start": 5, "bytes": 1},
        {"srcaddr": None, "dstaddr": "10.0.0.1", "start": 3, "bytes": 2},
        {"srcaddr": "10.0.0.2", "dstaddr": None, "start": 1, "bytes": 3},
    ]
    t = pa.Table.from_pylist(rows, schema=schema.arrow_schema())
    out = physical.arrange(t)
    assert out.schema == physical.physical_schema()
    got = out.cast(schema.arrow_schema()).to_pylist()
    key = lambda r: (r["bytes"],)  # noqa: E731
    assert sorted(got, key=key) == sorted(t.to_pylist(), key=key)
    # the two records of one pair are adjacent and in time order
    i = [r["bytes"] for r in got]
    assert abs(i.index(3) - i.index(1)) == 1 and i.index(3) < i.index(1)


def test_records_of_two_formats_in_one_partition_keep_every_value(tmp_path, monkeypatch):
    """Row groups of one partition with values in different columns (records of two formats)
    are written to the partition's files with every value kept."""
    monkeypatch.setenv("VPCFLOW_THREADS", "1")
    monkeypatch.setattr(parts, "ROW_GROUP_ROWS", 500)
    day = 1714521600
    v2 = tmp_path / "v2.log"
    v2.write_text(
        HEADER
        + "\n"
        + "\n".join(
            f"2 123456789012 eni-0a{i % 3} 10.0.0.{i % 7} 10.0.1.{i % 5} {1024 + i} 443 6 "
            f"{i + 1} {100 * (i + 1)} {day + i} {day + i + 5} ACCEPT OK"
            for i in range(1200)
        )
        + "\n"
    )
    v5 = tmp_path / "v5.log"
    v5.write_text(
        HEADER
        + " vpc-id tcp-flags flow-direction\n"
        + "\n".join(
            f"5 123456789012 eni-0b{i % 2} 10.0.2.{i % 3} 10.0.3.1 {2000 + i} 22 6 1 60 "
            f"{day + i} {day + i + 1} REJECT OK vpc-0abc {i % 64} ingress"
            for i in range(700)
        )
        + "\n"
    )
    store = tmp_path / "store"
    r = CliRunner().invoke(main, ["ingest", str(v2), str(v5), "--store", str(store), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["records"] == 1900
    q = (
        "SELECT version, count(*) AS n, count(vpc_id) AS vpcs, sum(tcp_flags) AS flags, "
        "count(flow_direction) AS dirs, sum(bytes) AS b, count(pkt_srcaddr) AS pkt "
        "FROM vpc_flow_logs GROUP BY version ORDER BY version"
    )
    r = CliRunner().invoke(main, ["sql", q, "--store", str(store), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == [
        {"version": 2, "n": 1200, "vpcs": 0, "flags": None, "dirs": 0,
         "b": 100 * 1200 * 1201 // 2, "pkt": 0},
        {"version": 5, "n": 700, "vpcs": 700, "flags": sum(i % 64 for i in range(700)),
         "dirs": 700, "b": 60 * 700, "pkt": 0},
    ]  # fmt: skip
