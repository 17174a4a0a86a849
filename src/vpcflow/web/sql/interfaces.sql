-- What the logs say about each interface: its subnet, VPC and instance (fields of version 3+).
SELECT interface_id, any_value(subnet_id) AS subnet_id, any_value(vpc_id) AS vpc_id,
       any_value(instance_id) AS instance_id
FROM vpc_flow_logs
WHERE interface_id IN ($ids)
GROUP BY 1
