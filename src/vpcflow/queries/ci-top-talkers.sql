-- name: ci-top-talkers
-- description: Top talkers: bytes transferred by source and destination address (Contributor Insights rule).
-- source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-Rule-Examples.html
-- param: limit (int) = 10: most contributors to return
-- The rule "VPC Flow Logs: Byte transfers by source and destination IP address": keys srcaddr,
-- dstaddr; value bytes; aggregate Sum.
SELECT srcaddr,
       dstaddr,
       SUM(bytes) AS bytes
FROM vpc_flow_logs
WHERE srcaddr IS NOT NULL
GROUP BY srcaddr, dstaddr
ORDER BY bytes DESC, srcaddr, dstaddr
LIMIT {{limit}}
