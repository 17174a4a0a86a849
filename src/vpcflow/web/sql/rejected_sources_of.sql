-- rejected_sources.sql for sources already ranked (by a day summary, exactly): only their
-- records are grouped (the condition `sources` selects them).
SELECT srcaddr, records, value, ports, targets,
       ip_country(srcaddr) AS country, ip_asn(srcaddr) AS network
FROM (
    SELECT srcaddr, coalesce(sum($one), 0) AS records, $measure AS value,
           count(DISTINCT dstport) AS ports, count(DISTINCT dstaddr) AS targets
    FROM $rel
    WHERE action = 'REJECT' AND $sources AND $where
    GROUP BY 1
)
ORDER BY value DESC, srcaddr
