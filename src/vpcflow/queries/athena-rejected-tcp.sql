-- name: athena-rejected-tcp
-- description: Rejected TCP connections with the day of the week they happened on.
-- source: https://docs.aws.amazon.com/athena/latest/ug/vpc-flow-logs-create-table-statement.html
-- param: limit (int) = 100: most rows to return
SELECT day_of_week(date) AS day,
       date,
       interface_id,
       srcaddr,
       action,
       protocol
FROM vpc_flow_logs
WHERE action = 'REJECT' AND protocol = 6
LIMIT {{limit}}
