"""The interface inventory: describe-network-interfaces in, names everywhere out.

The sample file (tests/data/inventory) is written in the shape ``aws ec2
describe-network-interfaces`` prints, one interface of each kind, with the descriptions AWS
services give their interfaces. Expected names and kinds below are written by hand from it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import vpcflow
from vpcflow.cli import main
from vpcflow.errors import ConfigError
from vpcflow.store.inventory import names_for, parse_describe, sync

SAMPLE = Path(__file__).parent / "data" / "inventory" / "describe-network-interfaces.json"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_every_kind_is_recognised_from_what_ec2_says():
    rows = {r["interface_id"]: r for r in parse_describe(SAMPLE.read_text(), str(SAMPLE))}
    got = {i: (r["kind"], r["resource_id"]) for i, r in rows.items()}
    assert got == {
        "eni-0b21a3c4d5e6f7081": ("instance", "i-0abc1234def567890"),
        "eni-0c0000000000000a1": ("nat-gateway", "nat-0a8b0e0d28266841f"),
        "eni-0c0000000000000a2": ("application-load-balancer", "app/shop-prod/50dc6c495c0c9188"),
        "eni-0c0000000000000a3": ("network-load-balancer", "net/edge-nlb/1a2b3c4d5e6f7890"),
        "eni-0c0000000000000a4": ("rds", None),
        "eni-0c0000000000000a5": ("vpc-endpoint", "vpce-0f00567fa8477a1e6"),
        "eni-0c0000000000000a6": ("gateway-load-balancer-endpoint", "vpce-0d8ddce4be80e4474"),
        "eni-0c0000000000000a7": ("transit-gateway-attachment", "tgw-attach-0b2c3d4e5f6a7b8c9"),
        "eni-0c0000000000000a8": ("lambda", "resize-images"),
    }
    web = rows["eni-0b21a3c4d5e6f7081"]
    assert web["private_addresses"] == ["10.0.1.14", "10.0.1.114", "2001:db8:1234:1a00::14"]
    assert web["public_addresses"] == ["198.51.100.14"]
    assert web["security_groups"] == ["sg-0aa11bb22cc33dd44"]
    assert web["name"] == "web-4"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json", "not valid JSON (line 1 column 1"),
        ('{"SecurityGroups": []}', "expected the output of 'aws ec2 describe-network-interfaces'"),
        ('{"NetworkInterfaces": [{"Description": "x"}]}', "$.NetworkInterfaces[0].NetworkInterfaceId: missing"),
        (
            '{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.999"}]}',
            "$.NetworkInterfaces[0].PrivateIpAddress: not an IP address",
        ),
        (
            '{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Groups": {"GroupId": "sg-1"}}]}',
            "$.NetworkInterfaces[0].Groups: expected a list",
        ),
    ],
)  # fmt: skip
def test_bad_input_names_the_file_and_the_json_path(doc, message):
    with pytest.raises(ConfigError) as exc:
        parse_describe(doc, "enis.json")
    assert str(exc.value).startswith("enis.json: ")
    assert message in str(exc.value)


def _store(tmp_path, records: str = ""):
    store = vpcflow.open_store(tmp_path / "store")
    if records:
        path = tmp_path / "records.log"
        path.write_text(records)
        store.ingest([str(path)])
    return store


def _doc(*enis) -> dict:
    return {
        "NetworkInterfaces": [
            {
                "NetworkInterfaceId": eni,
                "PrivateIpAddress": addr,
                "SubnetId": "subnet-0a1",
                "VpcId": vpc,
                "Groups": [{"GroupId": "sg-1"}],
                "TagSet": [{"Key": "Name", "Value": name}],
            }
            for eni, addr, name, vpc in enis
        ]
    }


T1 = dt.datetime(2024, 5, 1, 0, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_an_address_that_moved_is_attributed_by_time(tmp_path):
    # 10.0.1.50 is on eni-a (old-worker) in the morning and on eni-b (new-worker) from noon.
    morning, afternoon = int(T1.timestamp()) + 3600, int(T2.timestamp()) + 3600
    records = "".join(
        f"2 111122223333 {eni} 203.0.113.9 10.0.1.50 40000 443 6 1 60 {t} {t + 60} ACCEPT OK\n"
        for eni, t in (("eni-0aaa", morning), ("eni-0bbb", afternoon))
    )
    store = _store(tmp_path, records)
    a = tmp_path / "a.json"
    a.write_text(json.dumps(_doc(("eni-0aaa", "10.0.1.50", "old-worker", "vpc-1"))))
    b = tmp_path / "b.json"
    b.write_text(json.dumps(_doc(("eni-0bbb", "10.0.1.50", "new-worker", "vpc-1"))))
    sync(store, file=a, taken_at=T1)
    report = sync(store, file=b, taken_at=T2)
    assert (report["new"], report["gone"]) == (1, 1)

    rows = store.sql(
        "SELECT start, address_owner(dstaddr, start) AS then_, address_owner(dstaddr) AS now_, "
        "address_interface(dstaddr, start) AS eni, interface_name(interface_id) AS iface "
        "FROM vpc_flow_logs ORDER BY start"
    ).to_pylist()
    assert [(r["then_"], r["now_"], r["eni"], r["iface"]) for r in rows] == [
        ("old-worker", "new-worker", "eni-0aaa", "old-worker"),
        ("new-worker", "new-worker", "eni-0bbb", "new-worker"),
    ]
    hist = store.sql(
        "SELECT interface_id, name, seen_from, seen_until FROM interfaces ORDER BY seen_from"
    ).to_pylist()
    assert [(r["interface_id"], r["seen_until"]) for r in hist] == [
        ("eni-0aaa", T2),
        ("eni-0bbb", None),
    ]
    assert names_for(store, ["10.0.1.50"], at=morning) == {"10.0.1.50": "old-worker"}
    assert names_for(store, ["10.0.1.50"], at=afternoon) == {"10.0.1.50": "new-worker"}


def test_a_resync_adds_history_and_another_vpc_ends_nothing(tmp_path):
    store = _store(tmp_path)
    one = tmp_path / "one.json"
    one.write_text(json.dumps(_doc(("eni-0aaa", "10.0.1.5", "a", "vpc-1"))))
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_doc(("eni-0ccc", "10.9.0.5", "c", "vpc-2"))))
    sync(store, file=one, taken_at=T1)
    files = store.inventory.files()
    before = {f: f.read_bytes() for f in files}
    sync(store, file=other, taken_at=T2)  # vpc-2 only: says nothing about vpc-1
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(_doc(("eni-0aaa", "10.0.1.5", "a-renamed", "vpc-1"))))
    sync(store, file=renamed, taken_at=T2 + dt.timedelta(hours=1))
    assert all(f.read_bytes() == data for f, data in before.items())  # never rewritten
    assert len(store.inventory.files()) == 3
    hist = store.sql(
        "SELECT interface_id, name, seen_until FROM interfaces ORDER BY interface_id, seen_from"
    ).to_pylist()
    assert [(r["interface_id"], r["name"], r["seen_until"]) for r in hist] == [
        ("eni-0aaa", "a", T2 + dt.timedelta(hours=1)),
        ("eni-0aaa", "a-renamed", None),
        ("eni-0ccc", "c", None),
    ]


def test_an_interrupted_sync_leaves_the_inventory_as_it_was(tmp_path):
    store = _store(tmp_path)
    sync(store, file=SAMPLE, taken_at=T1)
    # What a crash between writing and renaming leaves: a temporary file, never read.
    (store.inventory.dir / ".snapshot-x.parquet.tmp").write_bytes(b"PAR1 half written")
    assert store.sql("SELECT count(*) AS n FROM interfaces").to_pylist() == [{"n": 9}]
    sync(store, file=SAMPLE, taken_at=T2)
    assert not list(store.inventory.dir.glob("*.tmp"))


def test_sql_joins_interfaces_and_names_unknowns_null(tmp_path):
    records = (
        "2 111122223333 eni-0b21a3c4d5e6f7081 10.0.0.20 10.0.1.14 40000 443 6 1 60 1714550000 1714550060 ACCEPT OK\n"
        "2 111122223333 eni-0ffffffffffffffff 8.8.8.8 10.7.7.7 53 40000 17 1 60 1714550000 1714550060 ACCEPT OK\n"
    )  # fmt: skip
    store = _store(tmp_path, records)
    sync(store, file=SAMPLE)
    rows = store.sql(
        "SELECT f.srcaddr, address_owner(f.srcaddr) AS src, i.kind, i.label, "
        "interface_name(f.interface_id) AS iface "
        "FROM vpc_flow_logs f LEFT JOIN interfaces i ON i.interface_id = f.interface_id "
        "ORDER BY f.srcaddr"
    ).to_pylist()
    assert rows == [
        {
            "srcaddr": "10.0.0.20",
            "src": "shop-prod",
            "kind": "instance",
            "label": "web-4, i-0abc1234def567890",
            "iface": "web-4",
        },
        {"srcaddr": "8.8.8.8", "src": None, "kind": None, "label": None, "iface": None},
    ]
    by_addr = store.sql(
        "SELECT label FROM interface_addresses WHERE address = '198.51.100.14' AND public"
    ).to_pylist()
    assert by_addr == [{"label": "web-4, i-0abc1234def567890"}]


def test_a_store_without_inventory_still_has_the_table_and_functions(tmp_path):
    store = _store(
        tmp_path,
        "2 111122223333 eni-0aaa 10.0.0.1 10.0.0.2 1 2 6 1 60 1714550000 1714550060 ACCEPT OK\n",
    )
    assert store.sql(
        "SELECT interface_name(interface_id) AS a, address_owner(srcaddr, start) AS b, "
        "(SELECT count(*) FROM interfaces) AS n FROM vpc_flow_logs"
    ).to_pylist() == [{"a": None, "b": None, "n": 0}]


def test_labels_read_as_a_person_would_say_them(tmp_path):
    store = _store(tmp_path)
    sync(store, file=SAMPLE)
    ids = [f"eni-0c0000000000000a{i}" for i in range(1, 9)] + [
        "10.0.1.114",
        "2001:db8:1234:1a00::14",
    ]
    assert names_for(store, ids) == {
        "eni-0c0000000000000a1": "NAT gateway nat-0a8b0e0d28266841f",
        "eni-0c0000000000000a2": "ALB app/shop-prod",
        "eni-0c0000000000000a3": "NLB net/edge-nlb",
        "eni-0c0000000000000a4": "RDS",
        "eni-0c0000000000000a5": "VPC endpoint vpce-0f00567fa8477a1e6",
        "eni-0c0000000000000a6": "GWLB endpoint vpce-0d8ddce4be80e4474",
        "eni-0c0000000000000a7": "transit gateway attachment tgw-attach-0b2c3d4e5f6a7b8c9",
        "eni-0c0000000000000a8": "Lambda resize-images",
        "10.0.1.114": "web-4, i-0abc1234def567890",
        "2001:db8:1234:1a00::14": "web-4, i-0abc1234def567890",
    }  # fmt: skip


def test_cli_sync_list_show_and_sql(tmp_path):
    st = tmp_path / "store"
    res = run("interfaces", "sync", "--file", SAMPLE, "--store", st, "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["interfaces"] == 9
    assert report["kinds"]["nat-gateway"] == 1
    res = run(
        "interfaces",
        "show",
        "10.0.0.10",
        "eni-0c0000000000000a2",
        "--store",
        st,
        "--format",
        "json",
    )
    assert json.loads(res.stdout) == [
        {"value": "10.0.0.10", "is": "NAT gateway nat-0a8b0e0d28266841f"},
        {"value": "eni-0c0000000000000a2", "is": "ALB app/shop-prod"},
    ]
    res = run("interfaces", "list", "--store", st, "--format", "json")
    assert {r["interface_id"] for r in json.loads(res.stdout)} >= {"eni-0c0000000000000a8"}
    out = tmp_path / "enis.jsonl"
    res = run("interfaces", "list", "--all", "--store", st, "--format", "jsonl", "-o", out)
    assert len(out.read_text().splitlines()) == 9
    res = run(
        "sql", "SELECT name FROM interfaces WHERE kind = 'lambda'", "--store", st, "--format", "csv"
    )
    assert res.stdout.splitlines() == ["name", "resize-images"]


def test_cli_sync_errors_are_one_line(tmp_path):
    st = tmp_path / "store"
    res = CliRunner().invoke(main, ["interfaces", "sync", "--store", str(st)])
    assert res.exit_code == 2 and "--file FILE" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"NetworkInterfaces": [{"NetworkInterfaceId": "sg-1"}]}')
    res = CliRunner().invoke(main, ["interfaces", "sync", "--file", str(bad), "--store", str(st)])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        f"Error: {bad}: $.NetworkInterfaces[0].NetworkInterfaceId: not an eni- id: 'sg-1'"
    ]
    assert not (st / "_vpcflow" / "interfaces").exists() or not list(
        (st / "_vpcflow" / "interfaces").glob("snapshot-*")
    )


def test_insights_queries_name_interfaces(tmp_path):
    records = (
        "2 111122223333 eni-0b21a3c4d5e6f7081 10.0.0.20 10.0.1.14 40000 443 6 1 60 1714550000 1714550060 REJECT OK\n"
    )  # fmt: skip
    st = tmp_path / "store"
    store = _store(tmp_path, records)
    sync(store, file=SAMPLE)
    store.close()
    res = run(
        "insights",
        "fields interface_name(interfaceId) as iface, address_owner(srcAddr, @timestamp) as src"
        " | stats count(*) as n by iface, src",
        "--store",
        st,
        "--format",
        "json",
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [{"iface": "web-4", "src": "shop-prod", "n": 1}]


def test_python_api_sync_and_names(tmp_path):
    store = vpcflow.open_store(tmp_path / "store")
    report = store.sync_interfaces(file=SAMPLE, taken_at="2024-05-01T00:00:00Z")
    assert report["taken_at"] == "2024-05-01T00:00:00Z"
    assert store.names_for(["10.0.4.5", "192.0.2.1"]) == {
        "10.0.4.5": "transit gateway attachment tgw-attach-0b2c3d4e5f6a7b8c9"
    }
    with pytest.raises(ConfigError, match="either a describe-network-interfaces JSON file"):
        store.sync_interfaces()


def test_generate_writes_the_vpcs_interfaces_and_the_demo_path_names_them(tmp_path):
    from vpcflow.generate import topology

    out, st = tmp_path / "flows", tmp_path / "store"
    run("generate", out, "--records", 20000, "--seed", 5, "--attacks", "port-scan,brute-force")
    doc = json.loads((out / "describe-network-interfaces.json").read_text())
    kinds = {r["interface_id"]: r["kind"] for r in parse_describe(doc, "generated")}
    for e in topology.INTERFACES:  # every interface of the logs is described
        assert kinds[e.id] == ("nat-gateway" if e.role == "nat" else "instance"), e
    assert set(kinds.values()) == {
        "instance", "nat-gateway", "application-load-balancer", "rds", "vpc-endpoint"
    }  # fmt: skip
    res = run("ingest", out, "--store", st, "--json")
    assert json.loads(res.stdout)["records"] == 20000  # the JSON beside the logs is no record
    run("interfaces", "sync", "--file", out / "describe-network-interfaces.json", "--store", st)
    web4 = next(e for e in topology.INTERFACES if e.name == "web-4")
    res = run(
        "sql",
        f"SELECT DISTINCT interface_name(interface_id) AS n, address_owner('{web4.ip}') AS o "
        f"FROM vpc_flow_logs WHERE interface_id = '{web4.id}'",
        "--store",
        st,
        "--format",
        "json",
    )
    assert json.loads(res.stdout) == [{"n": "web-4", "o": "web-4"}]
    res = run("detect", "--store", st, "--format", "json")
    named = [f for f in json.loads(res.stdout) if f["names"]]
    assert named and all(
        f"{v} ({d})" in f["summary"]
        for f in named
        for v, d in f["names"].items()
        if v == f["source"]
    )


@pytest.mark.parametrize(
    ("attached", "owner_at_9"),
    [
        ("2024-05-01T08:00:00.000Z", "new-worker"),  # attached after the morning sync: from 08:00
        ("2024-04-01T08:00:00.000Z", "old-worker"),  # before a sync that saw the old one: ignored
    ],
)
def test_the_attachment_time_moves_a_holder_back_but_not_past_a_sync(
    tmp_path, attached, owner_at_9
):
    store = _store(tmp_path)
    a = tmp_path / "a.json"
    a.write_text(json.dumps(_doc(("eni-0aaa", "10.0.1.50", "old-worker", "vpc-1"))))
    doc = _doc(("eni-0bbb", "10.0.1.50", "new-worker", "vpc-1"))
    doc["NetworkInterfaces"][0]["Attachment"] = {"AttachTime": attached, "InstanceId": "i-0b"}
    b = tmp_path / "b.json"
    b.write_text(json.dumps(doc))
    sync(store, file=a, taken_at=T1)
    sync(store, file=b, taken_at=T2)
    at = lambda h: int((T1 + dt.timedelta(hours=h)).timestamp())  # noqa: E731
    got = [
        store.sql(f"SELECT address_owner('10.0.1.50', {at(h)}) AS o").to_pylist()[0]["o"]
        for h in (1, 9, 13)
    ]
    assert got == ["old-worker", owner_at_9, "new-worker"]


def test_a_damaged_snapshot_is_left_out_and_queries_go_on(tmp_path, caplog):
    store = _store(tmp_path)
    sync(store, file=SAMPLE, taken_at=T1)
    (store.inventory.dir / "snapshot-20240502T000000000Z-deadbeef.parquet").write_bytes(b"junk")
    assert store.sql("SELECT count(*) AS n FROM interfaces").to_pylist() == [{"n": 9}]
    assert "inventory snapshot is unreadable" in caplog.text


def test_sync_file_names_instances_from_describe_instances(tmp_path):
    enis = tmp_path / "enis.json"
    enis.write_text(
        json.dumps(
            {
                "NetworkInterfaces": [
                    {
                        "NetworkInterfaceId": "eni-0aaa",
                        "PrivateIpAddress": "10.0.1.5",
                        "Attachment": {
                            "InstanceId": "i-0aaa",
                            "AttachTime": "2015-05-21T20:02:20.000Z",
                        },
                    }
                ]
            }
        )
    )
    instances = tmp_path / "instances.json"
    instances.write_text(
        json.dumps(
            {
                "Reservations": [
                    {
                        "Instances": [
                            {"InstanceId": "i-0aaa", "Tags": [{"Key": "Name", "Value": "api-1"}]}
                        ]
                    }
                ]
            }
        )
    )
    st = tmp_path / "store"
    res = run("interfaces", "sync", "--file", enis, "--instances", instances, "--store", st)
    assert res.exit_code == 0, res.output
    res = run("interfaces", "show", "10.0.1.5", "--store", st, "--format", "json")
    assert json.loads(res.stdout) == [{"value": "10.0.1.5", "is": "api-1, i-0aaa"}]
    instances.write_text('{"Reservations": [{"Instances": [{"Tags": []}]}]}')
    res = CliRunner().invoke(
        main,
        [
            "interfaces",
            "sync",
            "--file",
            str(enis),
            "--instances",
            str(instances),
            "--store",
            str(st),
        ],
    )
    assert res.exit_code == 1
    assert f"{instances}: $.Reservations[0].Instances[0].InstanceId: missing" in res.output


def test_an_unwritable_inventory_is_one_line_and_nothing_is_lost(tmp_path):
    store = _store(tmp_path)
    (store.path / "_vpcflow").mkdir(exist_ok=True)
    (store.path / "_vpcflow" / "interfaces").write_text("in the way")  # not a directory
    res = CliRunner().invoke(
        main, ["interfaces", "sync", "--file", str(SAMPLE), "--store", str(store.path)]
    )
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and "cannot write the inventory" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert (store.path / "_vpcflow" / "interfaces").read_text() == "in the way"


@pytest.mark.spark
def test_the_inventory_answers_the_same_on_spark(tmp_path, spark):
    """The tables and the three functions on the Spark engine: the same rows and types as on
    DuckDB, an address that moved attributed by time, through the CLI as well."""
    morning, afternoon = int(T1.timestamp()) + 3600, int(T2.timestamp()) + 3600
    records = "".join(
        f"2 111122223333 {eni} 203.0.113.9 10.0.1.50 40000 443 6 1 60 {t} {t + 60} ACCEPT OK\n"
        for eni, t in (("eni-0aaa", morning), ("eni-0bbb", afternoon), ("eni-0ccc", afternoon))
    )
    store = _store(tmp_path, records)
    a = tmp_path / "a.json"
    a.write_text(json.dumps(_doc(("eni-0aaa", "10.0.1.50", "old-worker", "vpc-1"))))
    b = tmp_path / "b.json"
    b.write_text(json.dumps(_doc(("eni-0bbb", "10.0.1.50", "new-worker", "vpc-1"))))
    sync(store, file=a, taken_at=T1)
    sync(store, file=b, taken_at=T2)
    sync(store, file=SAMPLE, taken_at=T2 + dt.timedelta(hours=1))
    queries = [
        "SELECT start, interface_id, address_owner(dstaddr, start) AS then_, "
        "address_owner(dstaddr) AS now_, address_interface(dstaddr, start) AS eni, "
        "address_interface(dstaddr) AS eni_now, interface_name(interface_id) AS iface, "
        "address_owner('10.0.1.14') AS web FROM vpc_flow_logs ORDER BY start, interface_id",
        "SELECT * FROM interfaces ORDER BY interface_id, seen_from",
        "SELECT * FROM interface_addresses ORDER BY address, held_from, interface_id",
        "SELECT i.kind, count(*) AS n FROM vpc_flow_logs f LEFT JOIN interfaces i "
        "ON i.interface_id = f.interface_id AND i.seen_until IS NULL GROUP BY 1 ORDER BY 1",
    ]
    duck = [store.sql(q) for q in queries]
    other = vpcflow.open_store(tmp_path / "store", create=False)
    other.use_engine("spark")
    on_spark = [other.sql(q) for q in queries]
    for q, d, s in zip(queries, duck, on_spark, strict=True):
        assert [(f.name, f.type) for f in s.schema] == [(f.name, f.type) for f in d.schema], q
        assert s.to_pylist() == d.to_pylist(), q
    assert [(r["then_"], r["now_"], r["eni"], r["iface"]) for r in on_spark[0].to_pylist()] == [
        ("old-worker", "new-worker", "eni-0aaa", "old-worker"),
        ("new-worker", "new-worker", "eni-0bbb", "new-worker"),
        ("new-worker", "new-worker", "eni-0bbb", None),  # eni-0ccc is not in the inventory
    ]
    assert on_spark[0].to_pylist()[0]["web"] == "web-4"
    out = {}
    for engine in ("duckdb", "spark"):
        res = run(
            "insights", "fields interface_name(interfaceId) as iface | sort iface", "--store",
            tmp_path / "store", "--engine", engine, "--format", "json",
        )  # fmt: skip
        out[engine] = [r["iface"] for r in json.loads(res.stdout)]
    assert out["spark"] == out["duckdb"]
    assert sorted(out["spark"], key=str) == [None, "new-worker", "old-worker"]
    with pytest.raises(vpcflow.VpcflowError, match="takes 1 or 2 argument"):
        other.sql("SELECT address_owner('a', 1, 2) FROM vpc_flow_logs")
