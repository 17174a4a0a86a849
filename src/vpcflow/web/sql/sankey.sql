-- Source -> destination port -> destination: each flow on the top-N lists of sankey_top.sql
-- ($sources, $ports, $destinations, as literals), the rest as 'Other' (NULL). Grouping by the
-- four columns themselves would build a hash table as large as the distinct conversations.
SELECT CASE WHEN srcaddr IN ($sources) THEN srcaddr END AS src,
       CASE WHEN $ports THEN dstport END AS port,
       CASE WHEN $ports THEN protocol END AS protocol,
       CASE WHEN dstaddr IN ($destinations) THEN dstaddr END AS dst,
       $measure AS value
FROM $rel
WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND $where
GROUP BY ALL
ORDER BY value DESC, src NULLS LAST, port NULLS LAST, protocol NULLS LAST, dst NULLS LAST
