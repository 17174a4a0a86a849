-- port-scan: one source sends requests to many distinct ports of one destination.
-- Windows of 2 x {step} seconds start every {step} seconds, so any burst up to {step} seconds
-- long falls whole into one window; overlapping windows that qualify are merged into one finding.
-- Only (source, destination) pairs with {min_ports} distinct ports over the whole period can
-- qualify in a window: they are picked first (a cheap group over distinct cells), so the
-- sliding windows and their exact distinct counts run over a few pairs, not every client.
WITH flows AS ({flows}),
req AS (
    SELECT srcaddr AS src, dstaddr AS dst, dstport AS port, start, "end", bytes, action,
        src_internal, dst_internal
    FROM flows
    WHERE is_request AND protocol IN (6, 17) AND (src_internal OR dst_internal)
),
cells AS (
    SELECT src, dst, port, start // {step} AS b,
        min(start) AS t0, max("end") AS t1, count(*) AS n, sum(bytes) AS nbytes,
        count(*) FILTER (WHERE action = 'ACCEPT') AS accepted,
        bool_or(src_internal) AS src_internal, bool_or(dst_internal) AS dst_internal
    FROM req
    GROUP BY ALL
),
candidates AS (  -- pairs with {min_ports} ports over the whole period; no other can qualify
    SELECT src, dst FROM (SELECT DISTINCT src, dst, port FROM cells) GROUP BY src, dst
    HAVING count(*) >= {min_ports}
),
windows AS (
    SELECT src, dst, w
    FROM cells SEMI JOIN candidates USING (src, dst), unnest([b - 1, b]) AS u(w)
    GROUP BY ALL
    HAVING count(DISTINCT port) >= {min_ports}
),
islands AS (
    SELECT src, dst, min(w) AS w0, max(w) + 1 AS w1
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, dst ORDER BY w) AS g FROM windows)
    GROUP BY src, dst, g
)
SELECT c.src AS source, list_distinct(list(c.dst)) AS targets,
    list_sort(list_distinct(list(c.port))) AS ports,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, count(DISTINCT c.port) AS n_ports,
    count(DISTINCT c.port) FILTER (WHERE c.accepted > 0) AS open_ports,
    list_sort(list_distinct(list(c.port) FILTER (WHERE c.accepted > 0))) AS open_port_list,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i JOIN cells c ON c.src = i.src AND c.dst = i.dst AND c.b BETWEEN i.w0 AND i.w1
GROUP BY c.src, c.dst, i.w0
ORDER BY first_seen
