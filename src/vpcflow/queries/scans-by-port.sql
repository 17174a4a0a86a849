-- name: scans-by-port
-- description: Destination ports probed by many sources with rejected traffic (port scans).
-- source: lecture "VPC Flow Logs + Athena": people on the internet scanning for open ports
-- param: min_sources (int) = 1: least distinct sources for a port to be listed
-- param: limit (int) = 50: most rows to return
SELECT dstport,
       protocol,
       COUNT(DISTINCT srcaddr) AS sources,
       COUNT(*) AS rejects,
       SUM(packets) AS packets
FROM vpc_flow_logs
WHERE action = 'REJECT' AND dstport IS NOT NULL
GROUP BY dstport, protocol
HAVING COUNT(DISTINCT srcaddr) >= {{min_sources}}
ORDER BY sources DESC, rejects DESC, dstport
LIMIT {{limit}}
