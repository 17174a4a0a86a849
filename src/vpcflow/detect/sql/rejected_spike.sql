-- rejected-spike: rejected records on one interface in a window of {step} seconds, far above
-- that interface's usual count (the {baseline_quantile} quantile over every window of the
-- period, windows without rejects counting as zero).
WITH flows AS ({flows}),
cells AS (
    SELECT interface_id AS eni, start // {step} AS b, count(*) AS n, sum(bytes) AS nbytes,
        min(start) AS t0, max("end") AS t1,
        list_sort(list_distinct(list(dstaddr))) AS targets,
        list_sort(list_distinct(list(dstport))) AS ports,
        count(DISTINCT srcaddr) AS n_sources, mode(srcaddr) AS top_source
    FROM flows WHERE action = 'REJECT' AND interface_id IS NOT NULL
    GROUP BY ALL
),
span AS (SELECT min(start) // {step} AS b0, max(start) // {step} AS b1 FROM flows),
grid AS (
    SELECT e.eni, g.b, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT eni FROM cells) e
    CROSS JOIN (SELECT unnest(range(b0, b1 + 1)) AS b FROM span) g
    LEFT JOIN cells c ON c.eni = e.eni AND c.b = g.b
),
baseline AS (
    SELECT eni, quantile_cont(n, {baseline_quantile}) AS usual, count(*) AS windows
    FROM grid GROUP BY eni
)
SELECT c.eni AS source, c.targets, c.ports, c.t0 AS first_seen, c.t1 AS last_seen,
    c.n AS records, c.nbytes AS bytes, 0 AS accepted, s.usual, s.windows, c.n_sources,
    c.top_source, true AS src_internal, true AS dst_internal
FROM cells c JOIN baseline s USING (eni)
WHERE s.windows >= {min_baseline_windows} AND c.n >= {min_rejects}
    AND c.n >= {factor} * greatest(s.usual, 1)
ORDER BY first_seen
