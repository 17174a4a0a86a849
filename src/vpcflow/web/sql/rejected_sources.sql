-- The sources with the most rejected records, where they are (offline GeoLite2 country and AS
-- network) and how widely they probed: distinct destination ports and hosts.
SELECT srcaddr, records, value, ports, targets,
       ip_country(srcaddr) AS country, ip_asn(srcaddr) AS network
FROM (
    SELECT srcaddr, coalesce(sum($one), 0) AS records, $measure AS value,
           count(DISTINCT dstport) AS ports, count(DISTINCT dstaddr) AS targets
    FROM $rel
    WHERE action = 'REJECT' AND $where
    GROUP BY 1
    ORDER BY value DESC, srcaddr
    LIMIT $n
)
ORDER BY value DESC, srcaddr
