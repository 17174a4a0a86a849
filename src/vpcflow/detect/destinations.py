"""Where an upload goes, for data-exfiltration: which external addresses are one AWS service
(S3 and CloudFront rotate their addresses per connection), and which of our addresses only
relay their clients' uploads (a NAT gateway), so that the instance behind them is judged.

Both read the run's shared pre-aggregation (``cells``, see ``detect.__init__``) or the
records, only for the few addresses a finding is about or the destinations our instances
sent to.
"""

from __future__ import annotations

import logging

from ..errors import VpcflowError
from ..timeparse import to_epoch
from .finding import Finding
from .grouping import iso_seconds

log = logging.getLogger("vpcflow")

#: AWS ranges anyone can rent (an attacker's instance): never grouped as one destination.
OPEN_RANGES = {"EC2", "AMAZON", "EC2_INSTANCE_CONNECT"}


def service_groups(cells, store=None, where: str = "") -> str:
    """``(address, destination)`` SQL values for the external addresses our instances sent to
    that belong to one AWS service (S3, CloudFront...): an upload to S3's rotating addresses is
    one destination. From the AWS ranges when loaded (the service and its region); else from the
    records themselves, where they carry ``pkt-dst-aws-service`` (version 5 custom formats: AWS
    names the service of a public destination). Empty (every address judged by its network)
    without either."""
    none = "(CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR))"
    named: dict[str, str] = {}
    if store is not None:
        named.update(_logged_services(store, where))
    try:
        from ..enrich import aws_ranges

        ranges = aws_ranges.load()
    except Exception as exc:  # the grouping is a refinement; never lose findings over it
        log.warning("AWS ranges unreadable, exfiltration destinations by network: %s", exc)
        ranges = None
    if ranges is not None:
        column = cells.table(
            "WITH s AS (SELECT DISTINCT server FROM {cells} WHERE client_internal "
            "AND NOT server_internal AND requests > 0 AND eni IS NULL) SELECT server FROM s"
        ).column("server")  # (looked up as Arrow: tens of thousands of addresses)
        addrs = column.to_pylist()
        if addrs:
            services, regions = (a.to_pylist() for a in ranges.service_region(column))
            for a, s, r in zip(addrs, services, regions, strict=True):
                if s and s not in OPEN_RANGES:
                    named[a] = f"AWS {s} {r}"
    values = [f"('{a}', '{g}')" for a, g in sorted(named.items()) if "'" not in a + g]
    return ", ".join(values) or none


def time_where(since, until) -> str:
    """`` AND start ...`` for the run's time range (empty for all of it)."""
    out = ""
    if since is not None:
        out += f" AND start >= {int(to_epoch(since, name='since'))}"
    if until is not None:
        out += f" AND start < {int(to_epoch(until, name='until'))}"
    return out


def _logged_services(store, where: str = "") -> dict[str, str]:
    """Destination address -> ``AWS <service>`` as the records name it (``pkt_dst_aws_service``),
    the open ranges (EC2, AMAZON) excepted: anyone can rent those."""
    try:
        rows = store.sql(
            "SELECT dstaddr, min(pkt_dst_aws_service) AS svc FROM vpc_flow_logs "
            f"WHERE pkt_dst_aws_service IS NOT NULL AND pkt_dst_aws_service <> '-' {where} "
            "GROUP BY dstaddr",
            dialect="duckdb",
        ).to_pylist()
    except VpcflowError as exc:  # a store without the column: nothing named
        log.debug("no pkt_dst_aws_service: %s", exc)
        return {}
    return {
        r["dstaddr"]: f"AWS {r['svc']}"
        for r in rows
        if r["dstaddr"] and r["svc"] and r["svc"] not in OPEN_RANGES
    }


#: An upload from an address that our own instances sent at least this share of its bytes to,
#: on its ports and while it ran, is their traffic leaving through a relay.
RELAYED_SHARE = 0.5


def drop_relayed_uploads(cells, findings: list[Finding]) -> list[Finding]:
    """Drop the data-exfiltration findings of relays: a NAT gateway's interface logs our
    instances' requests addressed to its own private address, then the same bytes leaving from
    that address (the AWS documentation's NAT gateway records). Its upload is the sum of its
    clients', each of which is judged by itself; the gateway's sum is not a transfer of its
    own. Kept when our instances sent it less than ``RELAYED_SHARE`` of those bytes."""
    drop = set()
    for f in findings:
        if f.type != "data-exfiltration" or not f.bytes or not f.ports:
            continue
        src = "'" + f.source.replace("'", "''") + "'"
        ports = ", ".join(str(int(p)) for p in f.ports)
        t0, t1 = int(iso_seconds(f.first_seen)) - 3600, int(iso_seconds(f.last_seen)) + 3600
        rows = cells.run(
            # a conversation's hour merged over the data files' rows (see cells_rollup.sql)
            "WITH m AS (SELECT sum(request_bytes) AS request_bytes, CASE WHEN min(eni_min) = "
            "max(eni_max) THEN 1 ELSE 2 END AS enis FROM {cells} "
            f"WHERE server = {src} AND client <> server AND client_internal AND eni IS NULL "
            f"AND port IN ({ports}) GROUP BY client, server, port, protocol, bucket "
            f"HAVING sum(requests) > 0 AND max(t1) >= {t0} AND min(t0) <= {t1}), "
            "r AS (SELECT sum(request_bytes / enis) AS relayed FROM m) SELECT relayed FROM r"
        )
        relayed = float((rows[0]["relayed"] if rows else 0) or 0)
        if relayed >= RELAYED_SHARE * float(f.bytes):
            log.info("%s: uploads relayed for our instances, judged by them", f.source)
            drop.add(id(f))
    return [f for f in findings if id(f) not in drop]


#: A transfer whose first and last records are this close (seconds) to the ends of the data
#: spans all of it: two five-minute log files, or one ten-minute aggregation interval.
SPAN_SLACK = 600
#: ... and is steady when its busiest window holds at most this many times the average of its
#: others (the windows at the ends of the data may be partly outside it).
STEADY_FACTOR = 3.0


def drop_whole_span_uploads(cells, findings: list[Finding]) -> list[Finding]:
    """Drop the "new destination" exfiltration findings of transfers that span the whole data
    at an even rate: under way when the data begins and still going when it ends, so the data
    shows neither their start nor any change (a log shipper's steady upload in a two-hour
    capture). A transfer is new only when the data sees it begin; bursts are judged as before.
    A run over more of the store (``--since``) judges the same transfer by its history."""
    cands = [
        f
        for f in findings
        if f.type == "data-exfiltration" and f.details.get("judged", "new") == "new"
    ]
    if not cands:
        return findings
    rows = cells.run("WITH r AS (SELECT min(t0) AS t0, max(t1) AS t1 FROM {cells}) SELECT * FROM r")
    if not rows or rows[0]["t0"] is None:
        return findings
    d0, d1 = int(rows[0]["t0"]), int(rows[0]["t1"])
    drop = set()
    for f in cands:
        windows = max(int(f.details.get("windows") or 1), 1)
        peak = float(f.details.get("peak_bytes") or f.bytes)
        spans = (
            iso_seconds(f.first_seen) <= d0 + SPAN_SLACK
            and iso_seconds(f.last_seen) >= d1 - SPAN_SLACK
        )
        others = (float(f.bytes) - peak) / (windows - 1) if windows > 1 else peak
        if spans and peak <= STEADY_FACTOR * others:
            log.info("%s: a steady transfer over all the data, no new destination", f.source)
            drop.add(id(f))
    return [f for f in findings if id(f) not in drop]


def settle_uploads(cells, findings: list[Finding]) -> list[Finding]:
    """The exfiltration findings that stand: not a relay's sum, not a steady whole-span one."""
    return drop_whole_span_uploads(cells, drop_relayed_uploads(cells, findings))
