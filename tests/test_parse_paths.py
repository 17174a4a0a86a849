"""The fast paths (native tokenizer, Arrow CSV) must store exactly what the exact per-line parser
stores, or decline. Random clean and damaged chunks, compared path by path."""

import random

import numpy as np
import pytest

from vpcflow.parse import Layouts, parse_lines
from vpcflow.parse import fast as parse

V5 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path"


def record(rnd: random.Random) -> list[str]:
    def ip() -> str:
        return rnd.choice([f"10.0.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}", "2001:db8::1", "-"])

    return [
        "5",
        rnd.choice(["123456789012", "unknown"]),
        f"eni-{rnd.getrandbits(40):010x}",
        ip(),
        ip(),
        str(rnd.randint(0, 65535)),
        rnd.choice(["-", str(rnd.randint(0, 65535))]),
        rnd.choice(["6", "17", "1"]),
        str(rnd.randint(1, 99)),
        str(rnd.randint(40, 10**9)),
        str(1_700_000_000 + rnd.randint(0, 86400)),
        str(1_700_000_100_000 + rnd.randint(0, 10**6)),  # milliseconds
        rnd.choice(["ACCEPT", "REJECT", "-"]),
        rnd.choice(["OK", "NODATA", "SKIPDATA"]),
        "vpc-0abc",
        "subnet-0abc",
        rnd.choice(["i-0abc", "-"]),
        str(rnd.choice([0, 2, 3, 18, 19])),
        rnd.choice(["IPv4", "IPv6"]),
        ip(),
        ip(),
        "us-east-1",
        "use1-az1",
        "-",
        "-",
        rnd.choice(["S3", "-"]),
        "-",
        rnd.choice(["ingress", "egress"]),
        rnd.choice(["-", "1", "8"]),
    ]


DAMAGE = [
    lambda t, r: t.__setitem__(5, "http"),
    lambda t, r: t.__setitem__(6, "70000"),
    lambda t, r: t.__setitem__(3, "10.0.0"),
    lambda t, r: t.__setitem__(3, "10.0.0.256"),
    lambda t, r: t.__setitem__(3, "10.0.0.01"),
    lambda t, r: t.__setitem__(12, "MAYBE"),
    lambda t, r: t.__setitem__(2, "enx-1"),
    lambda t, r: t.__setitem__(1, "acct"),
    lambda t, r: t.__setitem__(9, "1" * 20),
    lambda t, r: t.__setitem__(14, "vpx-1"),
    lambda t, r: t.__setitem__(3, "fe80::1::zz"),
    lambda t, r: t.pop(),
    lambda t, r: t.append("extra"),
    # Arrow's integer reader takes these; the exact parser does not (not digits)
    lambda t, r: t.__setitem__(8, "0x10"),
    lambda t, r: t.__setitem__(11, "0X1F"),
    lambda t, r: t.__setitem__(5, "-0"),
]


def chunk(seed: int, damaged: bool, double_spaces: bool = True) -> bytes:
    rnd = random.Random(seed)
    lines = []
    for _ in range(200):
        toks = record(rnd)
        if damaged and rnd.random() < 0.02:
            rnd.choice(DAMAGE)(toks, rnd)
        sep = "  " if double_spaces and rnd.random() < 0.05 else " "
        lines.append(sep.join(toks))
    return (V5 + "\n" + "\n".join(lines) + "\n").encode()


def exact(data: bytes):
    n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return parse_lines(data, layouts=Layouts(), line_numbers=np.arange(1, n + 1))


@pytest.mark.parametrize("path", ["_native_path", "_fast_path"])
@pytest.mark.parametrize("seed", range(12))
def test_fast_paths_agree_with_the_exact_parser(path, seed):
    fn = getattr(parse, path)
    if path == "_native_path" and parse._tokenize is None:
        pytest.skip("native tokenizer not compiled here")
    accepted = 0
    for damaged in (False, True):
        data = chunk(seed, damaged, double_spaces=path == "_native_path")
        want = exact(data)
        got = fn(data, Layouts(), {}, 1)
        if got is None:
            continue  # declined: the exact path decides
        accepted += 1
        assert want.bad_lines == [], "a fast path accepted a chunk the exact parser faults"
        assert got.table.equals(want.table)
    assert accepted >= 1  # the clean chunk takes the fast path


def test_the_native_tokenizer_is_used_on_clean_chunks():
    if parse._tokenize is None:
        pytest.skip("native tokenizer not compiled here")
    data = chunk(1, damaged=False)
    assert b"  " in data  # runs of spaces are the native path's too
    assert parse._native_path(data, Layouts(), {}, 1) is not None


@pytest.mark.parametrize("path", ["_native_path", "_fast_path"])
@pytest.mark.parametrize("token", ["0x10", "0X1F", "-0"])
def test_hex_and_signed_integers_are_left_to_the_exact_parser(path, token):
    fn = getattr(parse, path)
    if path == "_native_path" and parse._tokenize is None:
        pytest.skip("native tokenizer not compiled here")
    toks = record(random.Random(3))
    toks[8] = token  # packets
    data = (V5 + "\n" + " ".join(toks) + "\n").encode()
    assert exact(data).bad_lines, "the exact parser refuses it"
    got = fn(data, Layouts(), {}, 1)
    assert got is None or got.table.num_rows == 0
