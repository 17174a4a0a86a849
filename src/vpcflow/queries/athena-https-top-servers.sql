-- name: athena-https-top-servers
-- description: The servers receiving the most HTTPS packets (port 443) over the last days.
-- source: https://docs.aws.amazon.com/athena/latest/ug/vpc-flow-logs-create-table-statement.html
-- param: days (int) = 7: how many days back from today
-- param: limit (int) = 10: most rows to return
SELECT SUM(packets) AS packetcount,
       dstaddr
FROM vpc_flow_logs
WHERE dstport = 443 AND date > current_date - interval '{{days}}' day
GROUP BY dstaddr
ORDER BY packetcount DESC
LIMIT {{limit}}
