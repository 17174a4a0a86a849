-- How many records the view holds.
SELECT count(*) AS records FROM vpc_flow_logs WHERE $where
