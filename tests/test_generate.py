"""The synthetic flow-log generator: S3 delivery format, determinism, realism, labelled attacks."""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from vpcflow import schema
from vpcflow.cli import main
from vpcflow.errors import ConfigError
from vpcflow.generate import generate

V2_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)
NAME = re.compile(
    r"^123456789012_vpcflowlogs_us-east-1_fl-[0-9a-f]+_(\d{8})T(\d{4})Z_[0-9a-f]{8}\.log\.gz$"
)


def read_records(root: Path) -> tuple[list[str], list[dict]]:
    """Every record under ``root`` as a dict keyed by AWS field name; and the header lines."""
    headers, rows = [], []
    for path in sorted(root.rglob("*.log.gz")):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        headers.append(lines[0])
        names = lines[0].split(" ")
        for line in lines[1:]:
            values = line.split(" ")
            assert len(values) == len(names), line
            rows.append(dict(zip(names, values, strict=True)))
    return headers, rows


def public(ip: str) -> bool:
    return ip != "-" and ipaddress.ip_address(ip).is_global


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """A day of a small VPC with every kind of incident (generated through the CLI)."""
    out = tmp_path_factory.mktemp("gen") / "logs"
    result = CliRunner().invoke(
        main, ["generate", str(out), "--records", "60000", "--seed", "11", "--attacks", "all"]
    )
    assert result.exit_code == 0, result.output
    headers, rows = read_records(out)
    labels = json.loads((out / "labels.json").read_text())
    return out, headers, rows, labels


def test_cli_writes_the_s3_layout_with_headers_and_exact_count(day):
    out, headers, rows, _ = day
    assert len(rows) == 60000
    files = sorted(out.rglob("*.log.gz"))
    assert len(files) == 24 * 12  # one file per 5 minutes
    for f in files:
        rel = f.relative_to(out).parts
        assert rel[:4] == ("AWSLogs", "123456789012", "vpcflowlogs", "us-east-1")
        m = NAME.match(rel[-1])
        assert m, rel[-1]
        assert m.group(1) == "".join(rel[4:7])  # YYYY/MM/DD matches the name's date
        assert f.read_bytes()[:2] == b"\x1f\x8b"
    assert set(headers) == {V2_HEADER}
    assert {r["version"] for r in rows} == {"2"}


def test_lead_parser_reads_every_line(day):
    from vpcflow.parse import parse_bytes

    out, *_ = day
    f = sorted(out.rglob("*.log.gz"))[150]
    res = parse_bytes(gzip.decompress(f.read_bytes()), path=str(f))
    assert res.bad_lines == []
    assert res.table.num_rows == len(gzip.decompress(f.read_bytes()).splitlines()) - 1


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate(tmp_path / "a", records=3000, seed=5, hours=1)
    b = generate(tmp_path / "b", records=3000, seed=5, hours=1)
    c = generate(tmp_path / "c", records=3000, seed=6, hours=1)
    assert len(a.files) == 12 and a.records == 3000

    def content(r):
        return [(p.name, p.read_bytes()) for p in sorted(r.files)]

    assert content(a) == content(b)
    assert [x[1] for x in content(a)] != [x[1] for x in content(c)]


def test_version_5_all_fields_hive_hourly(tmp_path):
    out = tmp_path / "v5"
    rep = generate(out, records=4000, seed=2, version=5, layout="hive", hourly=True, hours=2)
    names = [f.name for f in schema.fields_of_version(5)]
    assert len(names) == 29
    headers, rows = read_records(out)
    assert set(headers) == {" ".join(names)}
    assert len(rows) == 4000 == rep.records
    rel = rep.files[0].relative_to(out).parts
    assert rel[:4] == (
        "AWSLogs",
        "aws-account-id=123456789012",
        "aws-service=vpcflowlogs",
        "aws-region=us-east-1",
    )
    assert re.fullmatch(r"year=2024/month=05/day=01/hour=0[01]", "/".join(rel[4:8]))
    ok = [r for r in rows if r["log-status"] == "OK"]
    assert {r["version"] for r in rows} == {"5"}
    assert {r["flow-direction"] for r in ok} == {"ingress", "egress"}
    assert {r["traffic-path"] for r in ok if r["flow-direction"] == "ingress"} == {"-"}
    assert {r["traffic-path"] for r in ok if r["flow-direction"] == "egress"} <= set("12345678")
    assert all(r["vpc-id"].startswith("vpc-") and r["subnet-id"].startswith("subnet-") for r in ok)
    assert "S3" in {r["pkt-dst-aws-service"] for r in ok}
    assert {"CLOUDFRONT", "ROUTE53_HEALTHCHECKS"} <= {r["pkt-src-aws-service"] for r in ok}
    assert {r["type"] for r in ok} == {"IPv4"}


def test_parquet_format(tmp_path):
    rep = generate(tmp_path / "pq", records=2000, seed=1, fmt="parquet", layout="flat", hours=1)
    assert all(p.name.endswith(".log.parquet") and p.parent == tmp_path / "pq" for p in rep.files)
    t = pq.read_table(rep.files[0])
    assert t.column_names == [f.column for f in schema.DEFAULT_FORMAT]
    assert str(t.schema.field("srcport").type) == "int32"
    assert sum(pq.read_metadata(p).num_rows for p in rep.files) == 2000


def test_background_looks_like_a_vpc(day):
    _, _, rows, labels = day
    attackers = set()
    for inc in labels:
        src = inc["source"]
        attackers.update(src if isinstance(src, list) else [src])
    ok = [r for r in rows if r["log-status"] == "OK" and r["srcaddr"] not in attackers]
    # NODATA / SKIPDATA with '-' for the traffic fields
    status = Counter(r["log-status"] for r in rows)
    assert status["NODATA"] > 0 and status["SKIPDATA"] > 0
    nodata = next(r for r in rows if r["log-status"] == "NODATA")
    assert nodata["srcaddr"] == nodata["action"] == nodata["packets"] == "-"
    # web servers: most inbound public traffic is to 443/80
    inbound_accept = [
        r
        for r in ok
        if public(r["srcaddr"]) and r["action"] == "ACCEPT" and not public(r["dstaddr"])
    ]
    ports = Counter(r["dstport"] for r in inbound_accept)
    assert ports["443"] > ports["80"] > 0
    assert ports["443"] > 0.6 * len(inbound_accept)
    # scanners: rejected probes from the internet on classic ports
    rejected = Counter(r["dstport"] for r in ok if public(r["srcaddr"]) and r["action"] == "REJECT")
    for p in ("22", "23", "3389", "445", "8080", "8088"):
        assert rejected[p] > 0, p
    # private tiers talk to each other; the NAT gateway forwards outbound traffic
    assert any(
        r["srcaddr"].startswith("10.0.1")
        and r["dstaddr"].startswith("10.0.2")
        and r["dstport"] == "5432"
        for r in ok
    )
    assert any(r["srcaddr"] == "10.0.0.10" and public(r["dstaddr"]) for r in ok)
    assert any(r["dstport"] == "53" and r["protocol"] == "17" for r in ok)
    assert any(r["dstport"] == "123" and public(r["dstaddr"]) for r in ok)
    # long tail of clients: the busiest web client is far above the median one
    clients = Counter(r["srcaddr"] for r in inbound_accept if r["dstport"] in ("80", "443"))
    counts = sorted(clients.values())
    assert counts[-1] >= 20 * counts[len(counts) // 2]
    # diurnal: the afternoon (UTC) is busier than the small hours
    hours = Counter(datetime.fromtimestamp(int(r["start"]), UTC).hour for r in ok)
    assert sum(hours[h] for h in range(14, 18)) > 1.5 * sum(hours[h] for h in range(2, 6))


def test_misconfigured_acl_accepts_requests_and_rejects_responses(day):
    _, _, rows, labels = day
    # the injected config-change spike rejects internal requests on its interface
    spikes = {x["interface_id"] for x in labels if x["type"] == "rejected-spike"}
    ok = [r for r in rows if r["log-status"] == "OK"]
    by_eni = defaultdict(dict)
    for r in ok:
        key = (r["srcaddr"], r["srcport"], r["dstaddr"], r["dstport"], r["protocol"])
        by_eni[r["interface-id"]][key] = r
    pairs = 0
    out_rejects = [
        r
        for r in ok
        if r["action"] == "REJECT"
        and not public(r["srcaddr"])
        and r["srcaddr"].startswith("10.")
        and r["interface-id"] not in spikes
    ]
    assert out_rejects
    for r in out_rejects:  # an outbound REJECT is a response whose request was accepted
        req = by_eni[r["interface-id"]].get(
            (r["dstaddr"], r["dstport"], r["srcaddr"], r["srcport"], r["protocol"])
        )
        assert req is not None and req["action"] == "ACCEPT"
        assert int(r["dstport"]) >= 32768  # to the client's ephemeral port
        pairs += 1
    assert len({r["interface-id"] for r in out_rejects}) <= 3  # one subnet's interfaces
    assert pairs > 100


def test_labels_describe_incidents_found_in_the_logs(day):
    out, _, rows, labels = day
    assert [x["type"] for x in labels].count("port-scan") == 3
    assert {x["type"] for x in labels} == {
        "port-scan",
        "host-sweep",
        "brute-force",
        "data-exfiltration",
        "rejected-spike",
        "known-bad-ip",
    }
    assert {x["variant"] for x in labels} >= {"slow", "distributed", "outbound", "background"}
    ok = [r for r in rows if r["log-status"] == "OK"]
    for inc in labels:
        if inc["type"] == "rejected-spike":  # labelled by the interface that rejects
            start = datetime.fromisoformat(inc["start"].replace("Z", "+00:00")).timestamp()
            end = datetime.fromisoformat(inc["end"].replace("Z", "+00:00")).timestamp()
            spike = [
                r
                for r in ok
                if r["interface-id"] == inc["interface_id"] == inc["source"]
                and r["action"] == "REJECT"
                and start <= int(r["start"]) <= end
            ]
            assert len(spike) >= 300, inc["id"]
            assert {r["dstaddr"] for r in spike} == set(inc["targets"]), inc["id"]
            continue
        start = datetime.fromisoformat(inc["start"].replace("Z", "+00:00")).timestamp()
        end = datetime.fromisoformat(inc["end"].replace("Z", "+00:00")).timestamp()
        assert inc["direction"] in ("inbound", "outbound", "internal")
        assert inc["action"] in ("ACCEPT", "REJECT")
        sources = inc["source"] if isinstance(inc["source"], list) else [inc["source"]]
        mine = [
            r
            for r in ok
            if r["srcaddr"] in sources
            and r["dstaddr"] in inc["targets"]
            and start <= int(r["start"]) <= end
        ]
        assert mine, inc["id"]
        assert {int(r["dstport"]) for r in mine} == set(inc["ports"]), inc["id"]
        assert {r["dstaddr"] for r in mine} == set(inc["targets"]), inc["id"]
        assert all(public(s) == (inc["direction"] == "inbound") for s in sources)
        if inc["type"] == "host-sweep" and inc["variant"] == "distributed":
            assert len(sources) >= 3
            assert len({ipaddress.ip_network(s + "/24", strict=False) for s in sources}) == 1
        if inc["variant"] == "slow":
            assert end - start >= 45 * 60
        if inc["type"] == "brute-force":
            assert len(mine) >= 500
        if inc["type"] == "data-exfiltration":
            assert sum(int(r["bytes"]) for r in mine) > 1e9
        if inc["type"] == "port-scan":
            assert len(inc["ports"]) >= 100
    # outside attackers appear only during their incident (no accidental background overlap)
    for inc in labels:
        if inc["direction"] == "inbound" and inc["type"] != "rejected-spike":
            srcs = inc["source"] if isinstance(inc["source"], list) else [inc["source"]]
            lo = datetime.fromisoformat(inc["start"].replace("Z", "+00:00")).timestamp()
            hi = datetime.fromisoformat(inc["end"].replace("Z", "+00:00")).timestamp()
            seen = [int(r["start"]) for r in ok if r["srcaddr"] in srcs or r["dstaddr"] in srcs]
            assert seen and lo <= min(seen) and max(seen) <= hi + 600, inc["id"]
    # the threat feed lists what the known-bad-ip labels say, and decoys seen nowhere
    feed = (out / "threat-list.txt").read_text()
    nets = [
        ipaddress.ip_network(x.split("#")[0].strip(), strict=False)
        for x in feed.splitlines()
        if x.split("#")[0].strip()
    ]
    listed = {
        r[k]
        for r in ok
        for k in ("srcaddr", "dstaddr")
        if any(ipaddress.ip_address(r[k]) in n for n in nets)
    }
    assert listed == {x["listed_address"] for x in labels if x["type"] == "known-bad-ip"}
    # busy legitimate clients make many connections too (precision must mean something)
    attackers = {
        s
        for inc in labels
        for s in (inc["source"] if isinstance(inc["source"], list) else [inc["source"]])
    }
    per_source = Counter(
        (r["srcaddr"], r["dstport"])
        for r in ok
        if public(r["srcaddr"]) and r["srcaddr"] not in attackers
    )
    (_, port), n = per_source.most_common(1)[0]
    brute = next(inc for inc in labels if inc["type"] == "brute-force")
    assert port == "443" and n >= 0.4 * brute["records"] / 2


def test_bad_arguments_are_one_line_errors(tmp_path):
    r = CliRunner().invoke(main, ["generate", str(tmp_path / "x"), "-n", "10", "--attacks", "ddos"])
    assert r.exit_code != 0 and "unknown attack 'ddos'" in r.output
    # Through the API the error names the API's argument, not a command-line flag.
    with pytest.raises(ConfigError, match=r"records must be \d+ or more") as err:
        generate(tmp_path / "y", records=100, attacks="brute-force")
    assert "--" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing written, no staging directory left
