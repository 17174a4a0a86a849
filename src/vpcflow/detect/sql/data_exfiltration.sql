-- data-exfiltration: an instance sends far more bytes to one external address in a window of
-- {step} seconds than it usually sends to an unusual external address in a window. Addresses
-- it talks to in {partner_windows} or more windows (S3, APIs) are its partners, not exfiltration.
-- Only the instance's requests count (answers of our servers to internet clients are downloads).
-- A connection logged on two interfaces (the instance's and a NAT gateway's) is counted once.
WITH picked AS (  -- accepted requests of our instances to external addresses
    SELECT client AS src, server AS dst, port,
        CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS b,
        t0, t1, requests, request_bytes, accepted, rejected, records, enis
    FROM {cells}
    WHERE client_internal AND NOT server_internal AND requests > 0 AND eni IS NULL
),
ports AS (
    SELECT src, dst, b, array_agg(DISTINCT port) AS ports FROM picked GROUP BY src, dst, b
),
cells AS (  -- summed over the interfaces that logged them: divided by their number
    SELECT src, dst, b, min(t0) AS t0, max(t1) AS t1, sum(requests / enis) AS n,
        sum(request_bytes / enis) AS nbytes, sum(accepted / enis) AS accepted,
        sum(rejected) AS rejected, sum(records) AS logged
    FROM picked GROUP BY src, dst, b
),
partners AS (  -- external addresses an instance talks to in many windows are its usual ones
    SELECT src, dst, count(*) AS windows FROM cells GROUP BY src, dst
),
peaks AS (  -- the most an instance sent to one unusual external address, per active window
    SELECT c.src, c.b, max(CASE WHEN p.windows < {partner_windows} THEN c.nbytes ELSE 0 END) AS peak
    FROM cells c JOIN partners p ON p.src = c.src AND p.dst = c.dst GROUP BY c.src, c.b
),
baseline AS (
    SELECT src, percentile_cont({baseline_quantile}) WITHIN GROUP (ORDER BY peak) AS usual,
        count(*) AS windows
    FROM peaks GROUP BY src
)
SELECT c.src AS source, array_agg(c.dst) AS targets, max(pt.ports) AS ports,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, sum(c.logged) AS logged, max(s.usual) AS usual,
    max(s.windows) AS windows, max(p.windows) AS partner_windows,
    true AS src_internal, false AS dst_internal
FROM cells c
JOIN baseline s ON s.src = c.src
JOIN partners p ON p.src = c.src AND p.dst = c.dst
JOIN ports pt ON pt.src = c.src AND pt.dst = c.dst AND pt.b = c.b
WHERE c.nbytes >= {min_bytes} AND p.windows < {partner_windows}
    AND (c.nbytes >= {factor} * s.usual OR s.windows < {min_baseline_windows})
GROUP BY c.src, c.dst, c.b
ORDER BY first_seen
