"""troubleshoot folds repeated probes and replies in SQL (flows_rejected.sql): the verdicts must
be exactly those of every flow paired and decided one by one, whatever the records."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.schema import arrow_schema
from vpcflow.troubleshoot import _complete, _run_local, _verdicts, flows_query, troubleshoot
from vpcflow.troubleshoot.configs import Configs, parse_network_acls, parse_network_interfaces

T0 = 1_700_000_000
COLUMNS = [
    "interface_id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log_status",
    "tcp_flags",
    "flow_direction",
    "reject_reason",
    "subnet_id",
    "vpc_id",
]

# Few values, so that the same ends, ports and windows meet often.
ADDRS = ["10.0.1.5", "10.0.1.6", "203.0.113.7", "198.51.100.9"]
PORTS = [22, 443, 3389, 8080, 1023, 0, None, 40000, 40001, 55555]
record = st.fixed_dictionaries(
    {
        "interface_id": st.sampled_from(["eni-0aaa", "eni-0bbb"]),
        "srcaddr": st.sampled_from(ADDRS),
        "dstaddr": st.sampled_from(ADDRS),
        "srcport": st.sampled_from(PORTS),
        "dstport": st.sampled_from(PORTS),
        "protocol": st.sampled_from([6, 6, 6, 17, 1]),
        "packets": st.integers(1, 9),
        "bytes": st.integers(40, 9000),
        "start": st.sampled_from([0, 30, 590, 700, 1300, 2000, 3600, 7300]),
        "length": st.sampled_from([0, 60, 600]),
        "action": st.sampled_from(["ACCEPT", "REJECT", "REJECT"]),
        "log_status": st.sampled_from(["OK", "OK", "OK", "NODATA"]),
        "tcp_flags": st.sampled_from([None, None, 2, 18, 3, 19, 1]),
        "flow_direction": st.sampled_from([None, "ingress", "egress"]),
        "reject_reason": st.sampled_from([None, None, None, "BPA"]),
    }
)


def mirrored(r: dict) -> dict:
    """The reply of ``r``: what makes the reply-folding cases common."""
    back = {"ingress": "egress", "egress": "ingress"}.get(r["flow_direction"])
    return {
        **r,
        "srcaddr": r["dstaddr"],
        "dstaddr": r["srcaddr"],
        "srcport": r["dstport"],
        "dstport": r["srcport"],
        "action": "REJECT" if r["action"] == "ACCEPT" else "ACCEPT",
        "flow_direction": back,
        "tcp_flags": 18 if r["tcp_flags"] == 2 else r["tcp_flags"],
    }


records = st.lists(st.tuples(record, st.booleans()), min_size=1, max_size=40).map(
    lambda rs: [x for r, reply in rs for x in ([r, mirrored(r)] if reply else [r])]
)


def table(rows: list[dict], with_direction: bool) -> pa.Table:
    schema = arrow_schema()
    cols = {c: [] for c in COLUMNS}
    for r in rows:
        for c in COLUMNS:
            if c == "start":
                v = T0 + r["start"]
            elif c == "end":
                v = T0 + r["start"] + r["length"]
            elif c in ("subnet_id", "vpc_id"):
                v = "subnet-1" if c == "subnet_id" else "vpc-1"
            elif c == "flow_direction" and not with_direction:
                v = None
            else:
                v = r[c]
            cols[c].append(v)
    return _complete(pa.table({c: pa.array(v, schema.field(c).type) for c, v in cols.items()}))


class TableStore:
    """Just enough of a store for troubleshoot: SQL over one table in DuckDB."""

    inventory = None
    engine = SimpleNamespace(materializes_ctes=True)  # as the DuckDB engine

    def __init__(self, t: pa.Table):
        self.t = t

    def sql(self, query: str) -> pa.Table:
        return _run_local(self.t, query)


def one_by_one(store, configs) -> list[dict]:
    """troubleshoot's verdicts from every flow unfolded: the reference."""
    exact = bool(configs and configs.network_acls)
    query = flows_query(only_rejected=True, exact_client_ports=exact, fold=False)
    return [v.to_dict() for v in _verdicts(store.sql(query), configs, include_allowed=False)]


ACL = parse_network_acls(
    {
        "NetworkAcls": [
            {
                "NetworkAclId": "acl-0123456789abcdef0",
                "VpcId": "vpc-1",
                "IsDefault": True,
                "Entries": [
                    {"RuleNumber": 90, "RuleAction": "deny", "Egress": True, "Protocol": "6",
                     "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 40001, "To": 40001}},
                    {"RuleNumber": 100, "RuleAction": "allow", "Egress": True, "Protocol": "-1",
                     "CidrBlock": "0.0.0.0/0"},
                    {"RuleNumber": 100, "RuleAction": "allow", "Egress": False, "Protocol": "-1",
                     "CidrBlock": "0.0.0.0/0"},
                ],
            }
        ]
    }
)  # fmt: skip
ENIS = parse_network_interfaces(
    {
        "NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-0aaa", "SubnetId": "subnet-1", "VpcId": "vpc-1",
             "PrivateIpAddress": "10.0.1.5", "Groups": [{"GroupId": "sg-1"}]},
        ]
    }
)  # fmt: skip
CONFIGS = {
    "logs only": None,
    "interfaces": Configs(interfaces=ENIS),
    "network ACL": Configs(network_acls=ACL, interfaces=ENIS),
}


@pytest.mark.parametrize("configs", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("with_direction", [False, True], ids=["v2", "flow-direction"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records)
def test_folded_verdicts_are_the_one_by_one_verdicts(rows, with_direction, configs):
    store = TableStore(table(rows, with_direction))
    got = [v.to_dict() for v in troubleshoot(store, configs=configs)]
    assert got == one_by_one(store, configs)


def test_many_probes_and_replies_fold_into_few_rows():
    """The folding is what makes a busy day fast: 300 probes from ephemeral ports and 200
    replies a network ACL drops reach Python as 3 rows, and still count 500 conversations."""
    rows = []
    for i in range(300):  # one scanner, three ports, a new ephemeral port for each try
        rows.append(
            {"interface_id": "eni-0aaa", "srcaddr": "203.0.113.7", "dstaddr": "10.0.1.5",
             "srcport": 40000 + i, "dstport": (22, 443, 3389)[i % 3], "protocol": 6,
             "packets": 1, "bytes": 44, "start": (i * 40) % 7000, "length": 0,
             "action": "REJECT", "log_status": "OK", "tcp_flags": 2,
             "flow_direction": "ingress", "reject_reason": None}
        )  # fmt: skip
    for i in range(200):  # requests accepted, their replies dropped on the way out
        req = {"interface_id": "eni-0aaa", "srcaddr": "198.51.100.9", "dstaddr": "10.0.1.5",
               "srcport": 50000 + i, "dstport": 8080, "protocol": 6, "packets": 3,
               "bytes": 180, "start": i * 30, "length": 60, "action": "ACCEPT",
               "log_status": "OK", "tcp_flags": 2, "flow_direction": "ingress",
               "reject_reason": None}  # fmt: skip
        rows += [req, mirrored(req)]
    store = TableStore(table(rows, with_direction=True))
    reached = store.sql(flows_query(only_rejected=True))
    assert reached.num_rows == 3 + 2  # three probe rows; a request row and a reply row
    verdicts = troubleshoot(store)
    assert sorted((v.dstport, v.occurrences) for v in verdicts) == [
        (22, 100),
        (443, 100),
        (3389, 100),
        (8080, 200),
    ]
    assert all(v.srcport is None for v in verdicts)  # the clients' ports varied
    assert [v.to_dict() for v in verdicts] == one_by_one(store, None)
