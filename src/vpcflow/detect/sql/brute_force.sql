-- brute-force: many short connections from one source to a remote-login port of one host.
-- A connection is a distinct source port; an attempt is an accepted connection in which the
-- client sent between {min_bytes} and {max_bytes} bytes (a key exchange and a failed login).
WITH flows AS ({flows}),
cells AS (
    SELECT srcaddr AS src, dstaddr AS dst, dstport AS port, start // {step} AS b,
        min(start) AS t0, max("end") AS t1, count(*) AS n, sum(bytes) AS nbytes,
        count(*) FILTER (WHERE action = 'ACCEPT') AS accepted,
        list_distinct(list(srcport)) AS conns,
        bool_or(src_internal) AS src_internal, bool_or(dst_internal) AS dst_internal
    FROM flows
    WHERE is_request AND protocol = 6 AND dstport IN ({ports}) AND action = 'ACCEPT'
        AND bytes BETWEEN {min_bytes} AND {max_bytes} AND (src_internal OR dst_internal)
    GROUP BY ALL
),
windows AS (
    SELECT src, dst, port, w
    FROM cells, unnest([b - 1, b]) AS u(w)
    GROUP BY ALL
    HAVING length(list_distinct(flatten(list(conns)))) >= {min_attempts}
),
islands AS (
    SELECT src, dst, port, min(w) AS w0, max(w) + 1 AS w1
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, dst, port ORDER BY w) AS g
          FROM windows)
    GROUP BY src, dst, port, g
)
SELECT c.src AS source, [c.dst] AS targets, [c.port] AS ports,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, length(list_distinct(flatten(list(c.conns)))) AS attempts,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN cells c ON c.src = i.src AND c.dst = i.dst AND c.port = i.port AND c.b BETWEEN i.w0 AND i.w1
GROUP BY c.src, c.dst, c.port, i.w0
ORDER BY first_seen
