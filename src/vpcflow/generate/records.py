"""Flow-log records as numpy columns, and conversations turned into the records AWS would log.

A conversation (a client talking to a server) is seen by every network interface of the VPC it
crosses: the client's interface logs the request as egress and the response as ingress, the
server's interface the request as ingress and the response as egress. Security groups are
stateful (a response is never rejected by them); the misconfigured network ACL is not.
"""

from __future__ import annotations

import numpy as np

from . import topology as topo

TCP, UDP, ICMP = 6, 17, 1
ACCEPT, REJECT = 0, 1
OK, NODATA, SKIPDATA = 0, 1, 2
INGRESS, EGRESS = 0, 1

# TCP flags as flow logs report them (OR of the flags seen in the aggregation interval).
FLAGS_CLIENT = 3  # SYN + FIN
FLAGS_SERVER = 19  # SYN-ACK + FIN
FLAGS_SYN = 2
FLAGS_RST = 4

COLUMNS = (
    "eni",
    "src",
    "dst",
    "sport",
    "dport",
    "proto",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "status",
    "flags",
    "direction",
)
_DTYPES = {
    "eni": np.int16,
    "src": np.uint32,
    "dst": np.uint32,
    "sport": np.int32,
    "dport": np.int32,
    "proto": np.int16,
    "packets": np.int64,
    "bytes": np.int64,
    "start": np.int64,
    "end": np.int64,
    "action": np.int8,
    "status": np.int8,
    "flags": np.int16,
    "direction": np.int8,
}


class Batch:
    """Columns of records being built for one time window."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}

    def add(self, n: int, **cols) -> None:
        if n <= 0:
            return
        for c in COLUMNS:
            v = cols.get(c, 0)
            arr = np.asarray(v, dtype=_DTYPES[c])
            if arr.ndim == 0:
                arr = np.full(n, arr, dtype=_DTYPES[c])
            self.parts[c].append(arr)

    def extend(self, other: Batch) -> None:
        for c in COLUMNS:
            self.parts[c].extend(other.parts[c])

    def __len__(self) -> int:
        return sum(len(a) for a in self.parts["eni"])

    def columns(self) -> dict[str, np.ndarray]:
        return {
            c: (np.concatenate(p) if p else np.zeros(0, dtype=_DTYPES[c]))
            for c, p in self.parts.items()
        }

    def conversations(
        self,
        *,
        client: np.ndarray,
        server: np.ndarray,
        cport: np.ndarray,
        sport,
        proto,
        start: np.ndarray,
        duration: np.ndarray,
        req_packets: np.ndarray,
        req_bytes: np.ndarray,
        resp_packets: np.ndarray,
        resp_bytes: np.ndarray,
        client_eni=-1,
        server_eni=-1,
        rejected=False,
        answered=True,
    ) -> None:
        """Log ``len(client)`` conversations on the interfaces they cross.

        ``client_eni``/``server_eni`` is the interface index on each side, -1 for a host outside
        the VPC. ``rejected``: the server's security group drops the request. ``answered``: the
        server sends a response at all (False for a dead address).
        """
        n = len(client)
        if n == 0:
            return
        b = np.broadcast_to
        ceni = b(np.asarray(client_eni, dtype=np.int16), (n,))
        seni = b(np.asarray(server_eni, dtype=np.int16), (n,))
        sport = b(np.asarray(sport, dtype=np.int32), (n,))
        proto = b(np.asarray(proto, dtype=np.int16), (n,))
        rejected = b(np.asarray(rejected, dtype=bool), (n,))
        answered = b(np.asarray(answered, dtype=bool), (n,)) & ~rejected
        end = start + duration
        is_tcp = proto == TCP
        req_flags = np.where(is_tcp, np.where(rejected | ~answered, FLAGS_SYN, FLAGS_CLIENT), 0)
        resp_flags = np.where(is_tcp, FLAGS_SERVER, 0)
        req_packets = np.where(rejected | ~answered, np.minimum(req_packets, 2), req_packets)
        req_bytes = np.where(
            rejected | ~answered, np.minimum(req_bytes, 60 * req_packets), req_bytes
        )
        # The misconfigured ACL drops the server's response to an ephemeral port.
        lo, hi = topo.MISCONFIGURED_PORTS
        s_ok = seni >= 0
        nacl_drop = (
            answered
            & is_tcp
            & (cport >= lo)
            & (cport <= hi)
            & topo.ENI_MISCONFIGURED[np.where(s_ok, seni, 0)]
            & s_ok
        )
        action_resp = np.where(nacl_drop, REJECT, ACCEPT)

        def put(mask, eni, src, dst, sp, dp, pk, by, fl, direction, action):
            m = np.flatnonzero(mask)
            if len(m) == 0:
                return
            self.add(
                len(m),
                eni=eni[m],
                src=src[m],
                dst=dst[m],
                sport=sp[m],
                dport=dp[m],
                proto=proto[m],
                packets=pk[m],
                bytes=by[m],
                start=start[m],
                end=end[m],
                action=action if np.ndim(action) == 0 else action[m],
                status=OK,
                flags=fl[m],
                direction=direction,
            )

        c_in = ceni >= 0
        # client side: request out, response in (only if the response got through)
        put(
            c_in,
            ceni,
            client,
            server,
            cport,
            sport,
            req_packets,
            req_bytes,
            req_flags,
            EGRESS,
            ACCEPT,
        )
        put(
            c_in & answered & ~nacl_drop,
            ceni,
            server,
            client,
            sport,
            cport,
            resp_packets,
            resp_bytes,
            resp_flags,
            INGRESS,
            ACCEPT,
        )
        # server side: request in, response out
        put(
            s_ok,
            seni,
            client,
            server,
            cport,
            sport,
            req_packets,
            req_bytes,
            req_flags,
            INGRESS,
            np.where(rejected, REJECT, ACCEPT),
        )
        put(
            s_ok & answered,
            seni,
            server,
            client,
            sport,
            cport,
            resp_packets,
            resp_bytes,
            resp_flags,
            EGRESS,
            action_resp,
        )

    def via_nat(
        self,
        *,
        client_eni,
        client,
        server,
        cport,
        sport,
        proto,
        start,
        duration,
        req_packets,
        req_bytes,
        resp_packets,
        resp_bytes,
        nat_port,
        answered=True,
    ) -> None:
        """A private instance talking to the internet through the NAT gateway: the instance's
        interface, the NAT gateway's interface on the inside and on the outside."""
        nat = topo.ENI_INDEX["nat-gw"]
        common = dict(
            proto=proto,
            start=start,
            duration=duration,
            req_packets=req_packets,
            req_bytes=req_bytes,
            resp_packets=resp_packets,
            resp_bytes=resp_bytes,
            answered=answered,
        )
        # instance -> NAT (both interfaces are in the VPC)
        self.conversations(
            client=client,
            server=server,
            cport=cport,
            sport=sport,
            client_eni=client_eni,
            server_eni=-1,
            **common,
        )
        self.conversations(
            client=client,
            server=server,
            cport=cport,
            sport=sport,
            client_eni=-1,
            server_eni=nat,
            **common,
        )
        # NAT -> internet, translated source
        nat_ip = np.full(len(client), topo.ENI_IP[nat], dtype=np.uint32)
        self.conversations(
            client=nat_ip,
            server=server,
            cport=nat_port,
            sport=sport,
            client_eni=nat,
            server_eni=-1,
            **common,
        )

    def nodata(self, eni: np.ndarray, start: np.ndarray, end: np.ndarray, status: int) -> None:
        self.add(len(eni), eni=eni, start=start, end=end, status=status)
