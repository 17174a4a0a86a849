-- host-sweep: one source (or several addresses of one /24) sends requests to one port of many
-- distinct addresses, a few requests each. Keyed by {key} (the source address or its /24).
-- Only new pairs count: a (source, port, destination) seen in {usual_hours} or more distinct
-- hours of the period is a client and its server (API calls, health checks, monitoring
-- scrapes, a scanner that hits the same addresses all day), not a sweep.
WITH flows AS ({flows}),
cells AS (
    SELECT {key} AS src, srcaddr AS addr, dstaddr AS dst, dstport AS port, protocol,
        start // {step} AS b, min(start) AS t0, max("end") AS t1, count(*) AS n,
        sum(bytes) AS nbytes, count(*) FILTER (WHERE action = 'ACCEPT') AS accepted,
        bool_or(src_internal) AS src_internal, bool_or(dst_internal) AS dst_internal
    FROM flows
    WHERE is_request AND protocol IN (6, 17) AND (src_internal OR dst_internal) {where}
    GROUP BY ALL
),
usual AS (
    SELECT src, port, protocol, dst FROM cells GROUP BY ALL
    HAVING count(DISTINCT b * {step} // 3600) >= {usual_hours}
),
novel AS (SELECT * FROM cells ANTI JOIN usual USING (src, port, protocol, dst)),
candidates AS (  -- {min_targets} new destinations over the whole period, or none in a window
    SELECT src, port, protocol FROM (SELECT DISTINCT src, port, protocol, dst FROM novel)
    GROUP BY ALL HAVING count(*) >= {min_targets}
),
sweeps AS (SELECT * FROM novel SEMI JOIN candidates USING (src, port, protocol)),
windows AS (
    SELECT src, port, protocol, w
    FROM sweeps, unnest([b - 1, b]) AS u(w)
    GROUP BY ALL
    HAVING count(DISTINCT dst) >= {min_targets}
        AND sum(n) <= {max_requests_per_target} * count(DISTINCT dst)
        AND count(DISTINCT addr) >= {min_sources}
),
islands AS (
    SELECT src, port, protocol, min(w) AS w0, max(w) + 1 AS w1
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, port, protocol ORDER BY w) AS g
          FROM windows)
    GROUP BY src, port, protocol, g
)
SELECT c.src AS source, list_sort(list_distinct(list(c.addr))) AS sources,
    list_sort(list_distinct(list(c.dst))) AS targets, [c.port] AS ports,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, count(DISTINCT c.dst) AS n_targets,
    count(DISTINCT c.dst) FILTER (WHERE c.accepted > 0) AS open_targets,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN sweeps c ON c.src = i.src AND c.port = i.port AND c.protocol = i.protocol
    AND c.b BETWEEN i.w0 AND i.w1
GROUP BY c.src, c.port, c.protocol, i.w0
ORDER BY first_seen
