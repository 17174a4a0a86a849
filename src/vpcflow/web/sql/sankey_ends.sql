-- One end of the Sankey's links when a day summary has ranked its columns exactly: the flows of
-- the top sources (or destinations) $members only, by destination port ($ports: the top ports,
-- the rest NULL, "Other"). The other addresses' links are the top ports' totals less these.
SELECT $end AS addr,
       CASE WHEN $ports THEN dstport END AS port,
       CASE WHEN $ports THEN protocol END AS protocol,
       $measure AS value
FROM $rel
WHERE $end IN ($members) AND $other IS NOT NULL AND $where
GROUP BY ALL
