-- rejected-spike: rejected records on one interface in a window of {step} seconds, far above
-- that interface's usual count (the {baseline_quantile} quantile over every window of the
-- period, windows without rejects counting as zero).
WITH by_source AS (
    SELECT eni, CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS b, client,
        sum(rejected) AS n
    FROM {cells} WHERE rejected > 0 AND eni IS NOT NULL
    GROUP BY eni, CAST(floor(bucket * {bucket} / {step}) AS BIGINT), client
),
top AS (
    SELECT eni, b, client AS top_source, n AS top_rejects FROM (
        SELECT *, row_number() OVER (PARTITION BY eni, b ORDER BY n DESC, client) AS r
        FROM by_source) x
    WHERE r = 1
),
cells AS (
    SELECT eni, CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS b, sum(rejected) AS n,
        sum(bytes) AS nbytes, min(t0) AS t0, max(t1) AS t1,
        array_agg(DISTINCT server) AS targets, array_agg(DISTINCT port) AS ports,
        count(DISTINCT client) AS n_sources
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
    FROM cells
),
baseline AS (  -- zero-filled: of W windows the W - active without rejects are the lowest values
    SELECT r.eni, max(s.b1 - s.b0 + 1) AS windows,
        coalesce(max(CASE WHEN (s.b1 - s.b0 + 1) - r.active + r.r - 1
            = CAST(floor({baseline_quantile} * (s.b1 - s.b0)) AS BIGINT) THEN r.n END), 0) AS usual
    FROM ranked r CROSS JOIN span s GROUP BY r.eni
)
SELECT c.eni AS source, c.targets, c.ports, c.t0 AS first_seen, c.t1 AS last_seen,
    c.n AS records, c.nbytes AS bytes, 0 AS accepted, c.n AS rejected, s.usual, s.windows, c.n_sources,
    t.top_source, t.top_rejects, true AS src_internal, true AS dst_internal
FROM cells c JOIN baseline s ON s.eni = c.eni JOIN top t ON t.eni = c.eni AND t.b = c.b
WHERE s.windows >= {min_baseline_windows} AND c.n >= {min_rejects}
    AND c.n >= {factor} * greatest(s.usual, 1)
ORDER BY first_seen
