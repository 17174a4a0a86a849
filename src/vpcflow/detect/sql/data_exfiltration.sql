-- data-exfiltration: an instance sends far more bytes to one external destination in a window of
-- {step} seconds than it usually sends to an unusual one. A destination is a network: the AWS
-- service and region of the address when the AWS ranges are loaded (S3 rotates its addresses),
-- else its IPv4 /16 (an IPv6 address stands alone). Consecutive qualifying windows to one
-- destination are one episode, reported once. The destination is a usual partner when the
-- instance sent to it in {partner_windows} or more windows before the episode began: history
-- before the episode, so a long exfiltration cannot make itself usual. An episode within
-- {history_windows} windows of the start of the data has too little past to judge by: there the
-- windows after it count instead (never its own).
-- Only the instance's requests count (answers of our servers to internet clients are downloads).
-- A connection logged on two interfaces (the instance's and a NAT gateway's) is counted once.
WITH named(addr, grp) AS (VALUES {groups}),
picked AS (  -- accepted requests of our instances to external addresses
    SELECT c.client AS src, c.server AS dst,
        coalesce(n.grp, CASE WHEN c.server LIKE '%:%' THEN c.server
            ELSE regexp_extract(c.server, '^([0-9]+[.][0-9]+)[.]', 1) || '.0.0/16' END) AS grp,
        c.port, CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT) AS b,
        c.t0, c.t1, c.requests, c.request_bytes, c.accepted, c.rejected, c.records, c.enis
    FROM {cells} c LEFT JOIN named n ON n.addr = c.server
    WHERE c.client_internal AND NOT c.server_internal AND c.requests > 0 AND c.eni IS NULL
),
cells AS (  -- summed over the interfaces that logged them: divided by their number
    SELECT src, grp, b, sum(request_bytes / enis) AS nbytes,
        row_number() OVER (PARTITION BY src, grp ORDER BY b) - 1 AS earlier,
        count(*) OVER (PARTITION BY src, grp) AS total
    FROM picked GROUP BY src, grp, b
),
span AS (SELECT min(b) AS b0 FROM cells),
peaks AS (  -- the most an instance sent to one not-yet-usual destination, per active window
    SELECT src, b, max(CASE WHEN earlier < {partner_windows} THEN nbytes ELSE 0 END) AS peak
    FROM cells GROUP BY src, b
),
baseline AS (
    SELECT src, percentile_cont({baseline_quantile}) WITHIN GROUP (ORDER BY peak) AS usual,
        count(*) AS windows
    FROM peaks GROUP BY src
),
big AS (  -- windows over the thresholds, numbered to find runs of consecutive ones
    SELECT c.src, c.grp, c.b, c.nbytes, c.earlier, c.total, s.usual, s.windows,
        c.b - row_number() OVER (PARTITION BY c.src, c.grp ORDER BY c.b) AS run
    FROM cells c JOIN baseline s ON s.src = c.src
    WHERE c.nbytes >= {min_bytes}
        AND (c.nbytes >= {factor} * s.usual OR s.windows < {min_baseline_windows})
),
runs AS (
    SELECT src, grp, min(b) AS w0, max(b) AS w1, min(earlier) AS earlier, max(total) AS total,
        max(nbytes) AS peak, count(*) AS n_windows, max(usual) AS usual, max(windows) AS windows
    FROM big GROUP BY src, grp, run
),
episodes AS (  -- the windows the destination was sent to that judge it: before, or besides
    SELECT r.*, CASE WHEN r.w0 - s.b0 >= {history_windows} THEN r.earlier
        ELSE r.total - (r.w1 - r.w0 + 1) END AS partner
    FROM runs r CROSS JOIN span s
)
SELECT e.src AS source, e.grp AS destination, array_agg(DISTINCT p.dst) AS targets,
    array_agg(DISTINCT p.port) AS ports,
    min(p.t0) AS first_seen, max(p.t1) AS last_seen, sum(p.requests / p.enis) AS records,
    sum(p.request_bytes / p.enis) AS bytes, sum(p.accepted / p.enis) AS accepted,
    sum(p.rejected) AS rejected, sum(p.records) AS logged, max(e.usual) AS usual,
    max(e.windows) AS windows, max(e.partner) AS partner_windows, max(e.peak) AS peak,
    max(e.n_windows) AS n_windows, true AS src_internal, false AS dst_internal
FROM episodes e
JOIN picked p ON p.src = e.src AND p.grp = e.grp AND p.b BETWEEN e.w0 AND e.w1
WHERE e.partner < {partner_windows}
GROUP BY e.src, e.grp, e.w0
ORDER BY first_seen
