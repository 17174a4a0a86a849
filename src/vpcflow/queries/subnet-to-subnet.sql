-- name: subnet-to-subnet
-- description: Traffic between two IPv4 subnets (CIDR blocks), both directions, by action.
-- source: lecture "VPC Flow Logs + Athena": flow logs of a subnet; traffic between subnets
-- param: a (cidr, required): first IPv4 CIDR block, e.g. 10.0.1.0/24
-- param: b (cidr, required): second IPv4 CIDR block, e.g. 10.0.2.0/24
-- An address is turned into a number with split_part, which Athena and DuckDB both have;
-- IPv6 addresses give NULL and never match.
WITH flows AS (
    SELECT *,
           TRY_CAST(split_part(srcaddr, '.', 1) AS BIGINT) * 16777216
         + TRY_CAST(split_part(srcaddr, '.', 2) AS BIGINT) * 65536
         + TRY_CAST(split_part(srcaddr, '.', 3) AS BIGINT) * 256
         + TRY_CAST(split_part(srcaddr, '.', 4) AS BIGINT) AS src_n,
           TRY_CAST(split_part(dstaddr, '.', 1) AS BIGINT) * 16777216
         + TRY_CAST(split_part(dstaddr, '.', 2) AS BIGINT) * 65536
         + TRY_CAST(split_part(dstaddr, '.', 3) AS BIGINT) * 256
         + TRY_CAST(split_part(dstaddr, '.', 4) AS BIGINT) AS dst_n
    FROM vpc_flow_logs
)
SELECT CASE WHEN src_n BETWEEN {{a_first}} AND {{a_last}} THEN 'a -> b' ELSE 'b -> a' END AS direction,
       srcaddr,
       dstaddr,
       dstport,
       protocol,
       action,
       COUNT(*) AS records,
       SUM(packets) AS packets,
       SUM(bytes) AS bytes
FROM flows
WHERE (src_n BETWEEN {{a_first}} AND {{a_last}} AND dst_n BETWEEN {{b_first}} AND {{b_last}})
   OR (src_n BETWEEN {{b_first}} AND {{b_last}} AND dst_n BETWEEN {{a_first}} AND {{a_last}})
GROUP BY 1, srcaddr, dstaddr, dstport, protocol, action
ORDER BY bytes DESC, srcaddr, dstaddr, dstport
