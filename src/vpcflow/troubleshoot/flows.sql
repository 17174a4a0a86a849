-- Reduce flow-log records to flows: one row per interface, 5-tuple, action and direction field
-- within a 10-minute window (the longest aggregation interval), so that millions of records
-- become a few thousand rows before conversations are paired in Python.
-- Portable SQL (Athena/Trino, DuckDB, Spark): TCP flags are tested with arithmetic, not bit_or.
-- The source placeholder below is vpc_flow_logs (or the records flows_rejected.sql keeps), the
-- conditions one the records' (troubleshoot.USABLE_RECORDS and the validated interface and times).
SELECT
    interface_id,
    srcaddr,
    dstaddr,
    srcport,
    dstport,
    protocol,
    action,
    flow_direction,
    max(subnet_id) AS subnet_id,
    max(vpc_id) AS vpc_id,
    count(*) AS records,
    sum(packets) AS packets,
    sum(bytes) AS bytes,
    min(start) AS first_start,
    max("end") AS last_end,
    -- SYN without ACK (flags 2) opens a connection; SYN-ACK (18) answers one
    max(CASE WHEN tcp_flags % 4 >= 2 AND tcp_flags % 32 < 16 THEN 1 ELSE 0 END) AS syn,
    max(CASE WHEN tcp_flags % 4 >= 2 AND tcp_flags % 32 >= 16 THEN 1 ELSE 0 END) AS syn_ack,
    max(reject_reason) AS reject_reason
FROM {source}
WHERE {conditions}
GROUP BY
    interface_id, srcaddr, dstaddr, srcport, dstport, protocol, action, flow_direction,
    coalesce(start, 0) - coalesce(start, 0) % 600
