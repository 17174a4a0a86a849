-- name: rejects-by-source
-- description: Sources with the most rejected flows, with the ports and interfaces they tried.
-- source: lecture "VPC Flow Logs + Athena": find all the REJECTs on protocol 6 and who sends them
-- param: protocol (int) = 6: IANA protocol number (6 TCP, 17 UDP, 1 ICMP)
-- param: limit (int) = 20: most rows to return
SELECT srcaddr,
       COUNT(*) AS rejects,
       COUNT(DISTINCT dstport) AS ports,
       COUNT(DISTINCT interface_id) AS interfaces,
       MIN(from_unixtime(start)) AS first_seen,
       MAX(from_unixtime("end")) AS last_seen
FROM vpc_flow_logs
WHERE action = 'REJECT' AND protocol = {{protocol}}
GROUP BY srcaddr
ORDER BY rejects DESC, srcaddr
LIMIT {{limit}}
