-- rejected-spike: rejected records on one interface in a window of {step} seconds, far above
-- that interface's usual count (the {baseline_quantile} quantile over every window of the
-- period, windows without rejects counting as zero).
WITH counts AS (
    SELECT eni, CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS b, sum(rejected) AS n
    FROM {cells} WHERE rejected > 0 AND eni IS NOT NULL
    GROUP BY eni, CAST(floor(bucket * {bucket} / {step}) AS BIGINT)
),
span AS (
    SELECT CAST(floor(min(t0) / {step}) AS BIGINT) AS b0, CAST(floor(max(t0) / {step}) AS BIGINT) AS b1
    FROM {cells}
),
ranked AS (
    SELECT eni, n, row_number() OVER (PARTITION BY eni ORDER BY n) AS r,
        count(*) OVER (PARTITION BY eni) AS active
    FROM counts
),
baseline AS (  -- zero-filled: of W windows the W - active without rejects are the lowest values
    SELECT r.eni, max(s.b1 - s.b0 + 1) AS windows,
        coalesce(max(CASE WHEN (s.b1 - s.b0 + 1) - r.active + r.r - 1
            = CAST(floor({baseline_quantile} * (s.b1 - s.b0)) AS BIGINT) THEN r.n END), 0) AS usual
    FROM ranked r CROSS JOIN span s GROUP BY r.eni
),
spikes AS (
    SELECT c.eni, c.b, c.n, s.usual, s.windows
    FROM counts c JOIN baseline s ON s.eni = c.eni
    WHERE s.windows >= {min_baseline_windows} AND c.n >= {min_rejects}
        AND c.n >= {factor} * greatest(s.usual, 1)
),
rows AS (  -- the spikes' rejected rows, by source
    SELECT x.eni, x.b, c.client, c.server, c.port, c.rejected, c.bytes, c.t0, c.t1
    FROM {cells} c
    JOIN spikes x ON x.eni = c.eni AND x.b = CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT)
    WHERE c.rejected > 0
),
top AS (
    SELECT eni, b, client AS top_source FROM (
        SELECT eni, b, client, row_number() OVER (PARTITION BY eni, b
            ORDER BY sum(rejected) DESC, client) AS r
        FROM rows GROUP BY eni, b, client) x
    WHERE r = 1
)
SELECT x.eni AS source, array_agg(DISTINCT r.server) AS targets,
    array_agg(DISTINCT r.port) AS ports, min(r.t0) AS first_seen, max(r.t1) AS last_seen,
    max(x.n) AS records, sum(r.bytes) AS bytes, 0 AS accepted, max(x.n) AS rejected,
    max(x.usual) AS usual, max(x.windows) AS windows, count(DISTINCT r.client) AS n_sources,
    max(t.top_source) AS top_source, true AS src_internal, true AS dst_internal
FROM spikes x
JOIN rows r ON r.eni = x.eni AND r.b = x.b
JOIN top t ON t.eni = x.eni AND t.b = x.b
GROUP BY x.eni, x.b
ORDER BY first_seen
