-- The Sankey source -> destination port -> destination from the records, in one scan: the
-- volume per (source, port) and per (port, destination) -- one grouping set each, told apart by
-- grouping(): 1 a source's, 2 a destination's -- then the top $n sources, ports and destinations
-- ranked on those rows (every record is in one row of each set, so a source's rows add up to
-- its volume) and the links between them, each address or port not on its list as 'Other'
-- (NULL). Grouping by the four columns at once would build a hash table as large as the
-- distinct conversations; two tables of pairs are smaller, and the second scan of the records
-- that ranking first and linking after would need is gone.
WITH m AS $materialized (
    SELECT grouping(srcaddr, dstaddr) AS g, srcaddr, dstport, protocol, dstaddr,
           $measure AS value
    FROM $rel
    WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND $where
    GROUP BY GROUPING SETS ((srcaddr, dstport, protocol), (dstport, protocol, dstaddr))
),
s AS (
    SELECT srcaddr, true AS top FROM m WHERE g = 1
    GROUP BY srcaddr ORDER BY sum(value) DESC, srcaddr LIMIT $n
),
p AS (
    SELECT dstport, protocol, true AS top FROM m WHERE g = 1
    GROUP BY dstport, protocol ORDER BY sum(value) DESC, dstport, protocol LIMIT $n
),
d AS (
    SELECT dstaddr, true AS top FROM m WHERE g = 2
    GROUP BY dstaddr ORDER BY sum(value) DESC, dstaddr LIMIT $n
)
SELECT m.g, CASE WHEN s.top THEN m.srcaddr END AS src,
       CASE WHEN p.top THEN m.dstport END AS port,
       CASE WHEN p.top THEN m.protocol END AS protocol,
       CASE WHEN d.top THEN m.dstaddr END AS dst,
       sum(m.value) AS value
FROM m
LEFT JOIN s ON m.srcaddr = s.srcaddr
LEFT JOIN p ON m.dstport = p.dstport AND m.protocol = p.protocol
LEFT JOIN d ON m.dstaddr = d.dstaddr
GROUP BY ALL
ORDER BY g, value DESC, src NULLS LAST, port NULLS LAST, protocol NULLS LAST, dst NULLS LAST
