-- name: tgw-dropped-by-attachment
-- description: Transit Gateway packets dropped per attachment and reason (no route, blackhole, MTU, TTL).
-- source: https://docs.aws.amazon.com/vpc/latest/tgw/tgw-flow-logs.html#flow-log-records
-- param: limit (int) = 20: most attachments to return
-- The packets-lost-* fields count drops on the record of the attachment the packets entered by;
-- an attachment whose drops grow is the one with a missing or blackholed route, an MTU
-- mismatch (jumbo frames above 8500 bytes) or a routing loop (TTL).
SELECT tgw_attachment_id,
       tgw_src_vpc_id,
       SUM(packets_lost_no_route) AS lost_no_route,
       SUM(packets_lost_blackhole) AS lost_blackhole,
       SUM(packets_lost_mtu_exceeded) AS lost_mtu_exceeded,
       SUM(packets_lost_ttl_expired) AS lost_ttl_expired,
       SUM(packets_lost_no_route + packets_lost_blackhole + packets_lost_mtu_exceeded
           + packets_lost_ttl_expired) AS lost_total
FROM tgw_flow_logs
GROUP BY tgw_attachment_id, tgw_src_vpc_id
HAVING SUM(packets_lost_no_route + packets_lost_blackhole + packets_lost_mtu_exceeded
           + packets_lost_ttl_expired) > 0
ORDER BY lost_total DESC, tgw_attachment_id
LIMIT {{limit}}
