-- The time the store covers (record start, Unix seconds).
SELECT min("start") AS first, max("start") AS last FROM vpc_flow_logs
