-- name: tgw-top-talkers
-- description: Top talkers across VPCs through the Transit Gateway: bytes by source and destination VPC and address.
-- source: https://docs.aws.amazon.com/vpc/latest/tgw/tgw-flow-logs.html#flow-log-records
-- param: limit (int) = 10: most pairs to return
-- Each flow is logged on the attachment it enters by (ingress) and the one it leaves by (egress);
-- counting ingress records only counts every flow once.
SELECT tgw_src_vpc_id,
       srcaddr,
       tgw_dst_vpc_id,
       dstaddr,
       SUM(bytes) AS bytes,
       SUM(packets) AS packets
FROM tgw_flow_logs
WHERE flow_direction = 'ingress' AND srcaddr IS NOT NULL
GROUP BY tgw_src_vpc_id, srcaddr, tgw_dst_vpc_id, dstaddr
ORDER BY bytes DESC, srcaddr, dstaddr
LIMIT {{limit}}
