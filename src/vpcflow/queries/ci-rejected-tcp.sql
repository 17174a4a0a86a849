-- name: ci-rejected-tcp
-- description: Rejected TCP connections by network interface and source address (Contributor Insights rule).
-- source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-Rule-Examples.html
-- param: limit (int) = 10: most contributors to return
-- The rule "VPC Flow Logs: Rejected TCP connections": keys interfaceID, sourceAddress; filters
-- protocol = 6 and action in [REJECT]; no value field, so each record counts once.
SELECT interface_id,
       srcaddr,
       COUNT(*) AS rejected
FROM vpc_flow_logs
WHERE protocol = 6 AND action = 'REJECT'
GROUP BY interface_id, srcaddr
ORDER BY rejected DESC, interface_id, srcaddr
LIMIT {{limit}}
