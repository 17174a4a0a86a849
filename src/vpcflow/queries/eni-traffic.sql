-- name: eni-traffic
-- description: The traffic of one network interface: each conversation with bytes, packets and verdicts.
-- source: lecture "VPC Flow Logs + Athena": look at the ENI of the public instance
-- param: eni (string, required): the network interface ID, eni-...
-- param: limit (int) = 100: most rows to return
SELECT srcaddr,
       dstaddr,
       srcport,
       dstport,
       protocol,
       action,
       COUNT(*) AS records,
       SUM(packets) AS packets,
       SUM(bytes) AS bytes,
       MIN(from_unixtime(start)) AS first_seen,
       MAX(from_unixtime("end")) AS last_seen
FROM vpc_flow_logs
WHERE interface_id = {{eni}} AND log_status = 'OK'
GROUP BY srcaddr, dstaddr, srcport, dstport, protocol, action
ORDER BY bytes DESC, srcaddr, dstaddr, srcport, dstport
LIMIT {{limit}}
