-- Reduce flow-log records to flows: one row per interface, 5-tuple, action and direction field
-- within a 10-minute window (the longest aggregation interval), so that millions of records
-- become a few thousand rows before conversations are paired in Python.
-- Portable SQL (Athena/Trino, DuckDB, Spark): TCP flags are tested with arithmetic, not bit_or.
-- The filters placeholder below is replaced by "AND ..." conditions built from validated values.
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
FROM vpc_flow_logs
WHERE (log_status = 'OK' OR log_status IS NULL)
  AND interface_id IS NOT NULL
  AND srcaddr IS NOT NULL
  AND dstaddr IS NOT NULL
  AND action IS NOT NULL
  {filters}
GROUP BY
    interface_id, srcaddr, dstaddr, srcport, dstport, protocol, action, flow_direction,
    coalesce(start, 0) - coalesce(start, 0) % 600
