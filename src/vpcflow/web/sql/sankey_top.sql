-- The Sankey's columns: the top $n sources, destination ports and destinations, in one pass
-- (one grouping set per column, told apart by grouping(): 7 source, 9 port, 14 destination).
WITH m AS (
    SELECT grouping(srcaddr, dstport, protocol, dstaddr) AS g, srcaddr, dstport, protocol,
           dstaddr, $measure AS value
    FROM $rel
    WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND $where
    GROUP BY GROUPING SETS ((srcaddr), (dstport, protocol), (dstaddr))
)
SELECT * FROM (SELECT * FROM m WHERE g = 7 ORDER BY value DESC, srcaddr LIMIT $n)
UNION ALL
SELECT * FROM (SELECT * FROM m WHERE g = 9 ORDER BY value DESC, dstport, protocol LIMIT $n)
UNION ALL
SELECT * FROM (SELECT * FROM m WHERE g = 14 ORDER BY value DESC, dstaddr LIMIT $n)
