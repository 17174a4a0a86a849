-- name: ci-https-destinations
-- description: Destinations with the most HTTPS packets (port 443) (Contributor Insights rule).
-- source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-Rule-Examples.html
-- param: port (int) = 443: destination port
-- param: limit (int) = 10: most contributors to return
-- The rule "VPC Flow Logs: Highest number of HTTPS requests": key destination address; value
-- packet count; filter destination port = 443; aggregate Sum.
SELECT dstaddr,
       SUM(packets) AS packets
FROM vpc_flow_logs
WHERE dstport = {{port}}
GROUP BY dstaddr
ORDER BY packets DESC, dstaddr
LIMIT {{limit}}
