-- The records of the view, newest first, in an order that does not change between runs.
SELECT *
FROM vpc_flow_logs
WHERE $where
ORDER BY "start" DESC, "end" DESC, interface_id, srcaddr, dstaddr, srcport, dstport, protocol,
         packets, bytes, action
LIMIT $limit OFFSET $offset
