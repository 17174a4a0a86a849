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
spiking AS (SELECT DISTINCT eni FROM spikes),
local AS (  -- the addresses on a side of a spiking interface's rejects, and their rejects there
    SELECT eni, addr, sum(n) AS n FROM (
        SELECT c.eni, c.client AS addr, c.rejected AS n
        FROM {cells} c JOIN spiking x ON x.eni = c.eni WHERE c.rejected > 0
        UNION ALL
        SELECT c.eni, c.server, c.rejected
        FROM {cells} c JOIN spiking x ON x.eni = c.eni WHERE c.rejected > 0
    ) s GROUP BY eni, addr
),
nearby AS (SELECT DISTINCT addr FROM local),  -- the only addresses whose spread matters
spread AS (  -- on how many interfaces an address is on a side of a reject: a remote peer (a
    -- scanner) on many
    SELECT addr, count(DISTINCT eni) AS enis FROM (
        SELECT c.eni, c.client AS addr FROM {cells} c JOIN nearby a ON a.addr = c.client
        WHERE c.rejected > 0 AND c.eni IS NOT NULL
        UNION ALL
        SELECT c.eni, c.server FROM {cells} c JOIN nearby a ON a.addr = c.server
        WHERE c.rejected > 0 AND c.eni IS NOT NULL
    ) s GROUP BY addr
),
own AS (  -- each spiking interface's own address: on a side of most of its rejects, and of
    -- those the one seen on the fewest interfaces
    SELECT eni, addr FROM (
        SELECT l.eni, l.addr, row_number() OVER (PARTITION BY l.eni
            ORDER BY l.n DESC, p.enis, l.addr) AS r
        FROM local l JOIN spread p ON p.addr = l.addr) x
    WHERE r = 1
),
rows AS (  -- the spikes' rejected rows: who sent them (the side that is not the interface's own
    -- address, whichever way the version-2 port rule read the record) and to whom
    SELECT x.eni, x.b,
        CASE WHEN c.client = o.addr AND c.server <> o.addr THEN c.server ELSE c.client END
            AS sender,
        CASE WHEN c.client = o.addr AND c.server <> o.addr THEN c.client ELSE c.server END
            AS receiver,
        c.port, c.rejected, c.bytes, c.t0, c.t1
    FROM {cells} c
    JOIN spikes x ON x.eni = c.eni AND x.b = CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT)
    JOIN own o ON o.eni = c.eni
    WHERE c.rejected > 0
),
senders AS (  -- rejects per sender, most first
    SELECT eni, b, sender, sum(rejected) AS n,
        row_number() OVER (PARTITION BY eni, b ORDER BY sum(rejected) DESC, sender) AS r
    FROM rows GROUP BY eni, b, sender
),
top AS (
    SELECT eni, b, max(CASE WHEN r = 1 THEN sender END) AS top_source,
        list(sender ORDER BY r) FILTER (WHERE r <= 20) AS top_sources,
        list(n ORDER BY r) FILTER (WHERE r <= 20) AS top_rejects,
        count(*) AS n_sources
    FROM senders GROUP BY eni, b
)
SELECT x.eni AS source, array_agg(DISTINCT r.receiver) AS targets,
    array_agg(DISTINCT r.port) AS ports, min(r.t0) AS first_seen, max(r.t1) AS last_seen,
    max(x.n) AS records, sum(r.bytes) AS bytes, 0 AS accepted, max(x.n) AS rejected,
    max(x.usual) AS usual, max(x.windows) AS windows, max(t.n_sources) AS n_sources,
    max(t.top_source) AS top_source, max(t.top_sources) AS top_sources,
    max(t.top_rejects) AS top_rejects, true AS src_internal, true AS dst_internal
FROM spikes x
JOIN rows r ON r.eni = x.eni AND r.b = x.b
JOIN top t ON t.eni = x.eni AND t.b = x.b
GROUP BY x.eni, x.b
ORDER BY first_seen
