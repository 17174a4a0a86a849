-- data-exfiltration: an instance sends far more bytes to one external address in a window of
-- {step} seconds than it usually sends to an unusual external address in a window. Addresses
-- it talks to in {partner_windows} or more windows (S3, APIs) are its partners, not exfiltration.
-- Records logged twice (the instance's interface and a NAT gateway's) are counted once.
WITH flows AS ({flows}),
out AS (
    SELECT srcaddr AS src, dstaddr AS dst, srcport, dstport, start,
        max("end") AS t1, max(bytes) AS nbytes, any_value(action) AS action,
        count(*) AS logged
    FROM flows
    WHERE src_internal AND NOT dst_internal AND is_request
    GROUP BY srcaddr, dstaddr, srcport, dstport, protocol, start
),
cells AS (
    SELECT src, dst, start // {step} AS b, min(start) AS t0, max(t1) AS t1, count(*) AS n,
        sum(nbytes) AS nbytes, count(*) FILTER (WHERE action = 'ACCEPT') AS accepted,
        list_sort(list_distinct(list(dstport))) AS ports, sum(logged) AS logged
    FROM out GROUP BY ALL
),
partners AS (  -- external addresses an instance talks to in many windows are its usual ones
    SELECT src, dst, count(*) AS windows FROM cells GROUP BY ALL
),
peaks AS (  -- the most an instance sent to one unusual external address, per active window
    SELECT c.src, c.b, max(CASE WHEN p.windows < {partner_windows} THEN c.nbytes ELSE 0 END) AS peak
    FROM cells c JOIN partners p USING (src, dst) GROUP BY ALL
),
baseline AS (
    SELECT src, quantile_cont(peak, {baseline_quantile}) AS usual, count(*) AS windows
    FROM peaks GROUP BY src
)
SELECT c.src AS source, [c.dst] AS targets, c.ports, c.t0 AS first_seen, c.t1 AS last_seen,
    c.n AS records, c.nbytes AS bytes, c.accepted, c.logged, s.usual, s.windows,
    true AS src_internal, false AS dst_internal
FROM cells c JOIN baseline s USING (src) JOIN partners p USING (src, dst)
WHERE c.nbytes >= {min_bytes} AND p.windows < {partner_windows}
    AND (c.nbytes >= {factor} * s.usual OR s.windows < {min_baseline_windows})
ORDER BY first_seen
