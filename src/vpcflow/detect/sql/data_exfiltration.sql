-- data-exfiltration: an instance sends an unusual volume to one external destination in a window
-- of {step} seconds: to a destination that is new to it, or a burst far above what it usually
-- sends there. A destination is a network: the AWS service and region of the address when the
-- AWS ranges are loaded (S3 rotates its addresses), else its IPv4 /16 (an IPv6 address stands
-- alone). Consecutive unusual windows to one destination are one episode, reported once.
-- * new: at least {min_bytes} bytes in a window, {factor} times the instance's usual peak to a
--   not-yet-usual destination, to a destination it sent to in fewer than {partner_windows}
--   windows before the episode began (history before it: a long exfiltration cannot make
--   itself usual). An episode within {history_windows} windows of the start of the data has too
--   little past: there the windows after it count, and, when it lasts {history_windows} windows
--   or more, its own windows that are no burst (a steady transfer that was going on when the
--   data began is the instance's baseline, not a new destination).
-- * burst: at least {min_bytes} bytes in a window and {factor} times the median window of the
--   instance to that destination (its own baseline), which it sent to in {partner_windows} or
--   more windows before (a dump to the network an instance uploads a little to every hour).
-- * shared services: a destination {shared_sources} or more of our addresses send to, or an AWS
--   service, is never new to the network. An AWS service is judged by bursts only (an instance
--   uploading to S3 for the first time is not a new destination); another shared destination
--   is new to an instance only when it sends {factor} times the median window of all senders.
-- Only the instance's requests count (answers of our servers to internet clients are downloads).
-- A connection logged on two interfaces (the instance's and a NAT gateway's) is counted once.
WITH named(addr, grp) AS (VALUES {groups}),
merged AS (  -- our instances' conversations with external addresses, an hour merged over the
    -- data files' rows, that carried requests
    SELECT client, server, port, bucket, min(t0) AS t0, max(t1) AS t1,
        sum(requests) AS requests, sum(request_bytes) AS request_bytes,
        sum(accepted) AS accepted, sum(rejected) AS rejected, sum(records) AS records,
        CASE WHEN min(eni_min) = max(eni_max) THEN 1 ELSE 2 END AS enis
    FROM {cells}
    WHERE client_internal AND NOT server_internal AND eni IS NULL
    GROUP BY client, server, port, protocol, bucket
    HAVING sum(requests) > 0
),
picked AS (  -- accepted requests of our instances to external addresses
    SELECT c.client AS src, c.server AS dst,
        coalesce(n.grp, CASE WHEN c.server LIKE '%:%' THEN c.server
            ELSE regexp_extract(c.server, '^([0-9]+[.][0-9]+)[.]', 1) || '.0.0/16' END) AS grp,
        CASE WHEN n.grp IS NULL THEN 0 ELSE 1 END AS aws,
        c.port, CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT) AS b,
        c.t0, c.t1, c.requests, c.request_bytes, c.accepted, c.rejected, c.records, c.enis
    FROM merged c LEFT JOIN named n ON n.addr = c.server
),
cells AS (  -- summed over the interfaces that logged them: divided by their number
    SELECT src, grp, b, sum(request_bytes / enis) AS nbytes, max(aws) AS aws,
        row_number() OVER (PARTITION BY src, grp ORDER BY b) - 1 AS earlier,
        count(*) OVER (PARTITION BY src, grp) AS total
    FROM picked GROUP BY src, grp, b
),
span AS (SELECT min(b) AS b0 FROM cells),
own AS (  -- the instance's own baseline to each destination: its median active window
    SELECT src, grp, percentile_cont(0.5) WITHIN GROUP (ORDER BY nbytes) AS own_usual
    FROM cells GROUP BY src, grp
),
dests AS (  -- how many of our addresses send to each destination, and their median window
    SELECT grp, count(DISTINCT src) AS n_sources, max(aws) AS aws,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY nbytes) AS peers_usual
    FROM cells GROUP BY grp
),
peaks AS (  -- the most an instance sent to one not-yet-usual destination, per active window
    SELECT src, b, max(CASE WHEN earlier < {partner_windows} THEN nbytes ELSE 0 END) AS peak
    FROM cells GROUP BY src, b
),
baseline AS (
    SELECT src, percentile_cont({baseline_quantile}) WITHIN GROUP (ORDER BY peak) AS usual,
        count(*) AS windows
    FROM peaks GROUP BY src
),
marked AS (  -- each window over the bytes floor: new-destination and burst candidates
    SELECT c.src, c.grp, c.b, c.nbytes, c.earlier, c.total, s.usual, s.windows, o.own_usual,
        d.n_sources, d.peers_usual,
        CASE WHEN d.aws = 1 THEN 0
            WHEN d.n_sources >= {shared_sources} THEN
                CASE WHEN c.nbytes >= {factor} * d.peers_usual THEN 1 ELSE 0 END
            WHEN c.nbytes >= {factor} * s.usual OR s.windows < {min_baseline_windows} THEN 1
            ELSE 0 END AS fresh,
        CASE WHEN c.total >= {min_baseline_windows} AND c.nbytes >= {factor} * o.own_usual
            THEN 1 ELSE 0 END AS burst
    FROM cells c JOIN baseline s ON s.src = c.src
    JOIN own o ON o.src = c.src AND o.grp = c.grp
    JOIN dests d ON d.grp = c.grp
    WHERE c.nbytes >= {min_bytes}
),
candidates AS (  -- numbered to find runs of consecutive windows of each kind
    SELECT m.*, 'new' AS kind,
        m.b - row_number() OVER (PARTITION BY m.src, m.grp ORDER BY m.b) AS run
    FROM marked m WHERE m.fresh = 1
    UNION ALL
    SELECT m.*, 'burst' AS kind,
        m.b - row_number() OVER (PARTITION BY m.src, m.grp ORDER BY m.b) AS run
    FROM marked m WHERE m.burst = 1
),
runs AS (
    SELECT src, grp, kind, min(b) AS w0, max(b) AS w1, min(earlier) AS earlier,
        max(total) AS total, max(nbytes) AS peak, count(*) AS n_windows, sum(burst) AS bursts,
        max(usual) AS usual, max(windows) AS windows, max(own_usual) AS own_usual,
        max(peers_usual) AS peers_usual, max(n_sources) AS n_sources
    FROM candidates GROUP BY src, grp, kind, run
),
judged AS (  -- the windows the destination was sent to that judge it: before, or besides
    SELECT r.*, CASE WHEN r.w0 - s.b0 >= {history_windows} THEN r.earlier
        WHEN r.kind = 'new' AND r.n_windows >= {history_windows}
            THEN r.total - r.bursts
        ELSE r.total - r.n_windows END AS partner
    FROM runs r CROSS JOIN span s
),
news AS (SELECT * FROM judged WHERE kind = 'new' AND partner < {partner_windows}),
episodes AS (  -- new destinations, and bursts to usual ones outside a new one's episode
    SELECT * FROM news
    UNION ALL
    SELECT j.* FROM judged j LEFT JOIN news n
        ON n.src = j.src AND n.grp = j.grp AND n.w0 <= j.w1 AND j.w0 <= n.w1
    WHERE j.kind = 'burst' AND j.partner >= {partner_windows} AND n.src IS NULL
)
SELECT e.src AS source, e.grp AS destination, array_agg(DISTINCT p.dst) AS targets,
    array_agg(DISTINCT p.port) AS ports,
    min(p.t0) AS first_seen, max(p.t1) AS last_seen, sum(p.requests / p.enis) AS records,
    sum(p.request_bytes / p.enis) AS bytes, sum(p.accepted / p.enis) AS accepted,
    sum(p.rejected) AS rejected, sum(p.records) AS logged, max(e.usual) AS usual,
    max(e.windows) AS windows, max(e.partner) AS partner_windows, max(e.peak) AS peak,
    max(e.n_windows) AS n_windows, max(e.kind) AS kind, max(e.own_usual) AS own_usual,
    max(e.peers_usual) AS peers_usual, max(e.n_sources) AS n_sources,
    true AS src_internal, false AS dst_internal
FROM episodes e
JOIN picked p ON p.src = e.src AND p.grp = e.grp AND p.b BETWEEN e.w0 AND e.w1
GROUP BY e.src, e.grp, e.w0, e.kind
ORDER BY first_seen
