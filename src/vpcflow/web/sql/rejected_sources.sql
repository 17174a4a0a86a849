-- The sources with the most rejected records, where they are (offline GeoLite2 country and AS
-- network) and how widely they probed: distinct destination ports and hosts. $sources narrows
-- the records to sources already ranked (by a day summary, exactly), and $limit is then empty;
-- $about is their country and network, or NULLs when the day summary of the sources seen has them.
SELECT srcaddr, records, value, ports, targets, $about
FROM (
    SELECT srcaddr, coalesce(sum($one), 0) AS records, $measure AS value,
           count(DISTINCT dstport) AS ports, count(DISTINCT dstaddr) AS targets
    FROM $rel
    WHERE action = 'REJECT' AND $sources AND $where
    GROUP BY 1
    $limit
)
ORDER BY value DESC, srcaddr
