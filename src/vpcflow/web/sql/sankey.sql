-- Source -> destination port -> destination: the top $n of each column, the rest as 'Other'.
WITH agg AS (
    SELECT srcaddr, dstport, protocol, dstaddr, $measure AS value
    FROM vpc_flow_logs
    WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND $where
    GROUP BY ALL
),
s AS (SELECT srcaddr FROM agg GROUP BY 1 ORDER BY sum(value) DESC, 1 LIMIT $n),
p AS (SELECT dstport, protocol FROM agg GROUP BY 1, 2 ORDER BY sum(value) DESC, 1, 2 LIMIT $n),
d AS (SELECT dstaddr FROM agg GROUP BY 1 ORDER BY sum(value) DESC, 1 LIMIT $n)
SELECT CASE WHEN srcaddr IN (SELECT srcaddr FROM s) THEN srcaddr END AS src,
       CASE WHEN (dstport, protocol) IN (SELECT (dstport, protocol) FROM p) THEN dstport END AS port,
       CASE WHEN (dstport, protocol) IN (SELECT (dstport, protocol) FROM p) THEN protocol END
           AS protocol,
       CASE WHEN dstaddr IN (SELECT dstaddr FROM d) THEN dstaddr END AS dst,
       sum(value) AS value
FROM agg
GROUP BY ALL
ORDER BY value DESC
