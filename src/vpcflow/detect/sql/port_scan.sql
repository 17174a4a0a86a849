-- port-scan: one source probes many distinct ports of one destination. A (source, destination,
-- port) is probed when, over the whole period, all its requests are probe-sized (cells.sql) and
-- it got no data back (TCP) or no answer (UDP): a client of many ports of a host (Kubernetes
-- nodes, peered VPCs, passive FTP) exchanges data and does not count.
-- Windows of 2 x {step} seconds start every {step} seconds, so any burst up to {step} seconds
-- long falls whole into one window; overlapping windows that qualify are merged into one finding.
-- Only pairs with {min_ports} probed ports over the whole period can qualify in a window.
-- records: the probes (requests); the finding's query lists them and their answers.
WITH keys AS (  -- {min_ports} ports sent probe-sized requests: no other pair can qualify
    SELECT client AS src, server AS dst FROM {cells}
    WHERE probes > 0 AND protocol IN (6, 17) AND (client_internal OR server_internal)
    GROUP BY client, server HAVING count(DISTINCT port) >= {min_ports}
),
steps AS (  -- every (source, destination, port) of a key by the window step it was active in:
    -- the one read of the cells behind the keys
    SELECT c.client AS src, c.server AS dst, c.port, c.protocol,
        CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT) AS h,
        min(c.t0) AS t0, max(c.t1) AS t1, sum(c.requests) AS n, sum(c.bytes) AS nbytes,
        sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, sum(c.probes) AS probes,
        sum(c.answers) AS answers, sum(c.data_answers) AS data_answers,
        bool_or(c.client_internal) AS src_internal, bool_or(c.server_internal) AS dst_internal
    FROM {cells} c JOIN keys k ON k.src = c.client AND k.dst = c.server
    WHERE c.protocol IN (6, 17)
    GROUP BY c.client, c.server, c.port, c.protocol,
        CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT)
),
pairs AS (
    SELECT src, dst, port, protocol,
        CASE WHEN sum(probes) = sum(n)
            AND (CASE WHEN protocol = 6 THEN sum(data_answers) = 0 ELSE sum(answers) = 0 END)
            THEN 1 ELSE 0 END AS probe
    FROM steps
    GROUP BY src, dst, port, protocol
    HAVING sum(n) > 0
),
candidates AS (  -- pairs with {min_ports} probed ports over the whole period; no other can qualify
    SELECT src, dst FROM pairs WHERE probe = 1 GROUP BY src, dst
    HAVING count(DISTINCT port) >= {min_ports}
),
active AS (  -- the candidates' ports by the window step they were active in (TCP and UDP
    -- of one port together)
    SELECT p.src, p.dst, p.port, p.probe, s.h, min(s.t0) AS t0, max(s.t1) AS t1, sum(s.n) AS n,
        sum(s.nbytes) AS nbytes, sum(s.accepted) AS accepted, sum(s.rejected) AS rejected,
        bool_or(s.src_internal) AS src_internal, bool_or(s.dst_internal) AS dst_internal
    FROM steps s
    JOIN pairs p ON p.src = s.src AND p.dst = s.dst AND p.port = s.port
        AND p.protocol = s.protocol
    JOIN candidates k ON k.src = p.src AND k.dst = p.dst
    GROUP BY p.src, p.dst, p.port, p.probe, s.h
),
windows AS (
    SELECT a.src, a.dst, a.h + u.d AS w,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.port END) AS probed,
        count(DISTINCT a.port) AS reached
    FROM active a CROSS JOIN (VALUES (0), (1)) AS u(d)
    GROUP BY a.src, a.dst, a.h + u.d
),
hits AS (
    SELECT * FROM windows WHERE probed >= {min_ports} AND probed >= {min_probe_share} * reached
),
islands AS (
    SELECT src, dst, min(w) AS w0, max(w) + 1 AS w1, max(probed) AS probed_max,
        max(reached) AS reached_max
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, dst ORDER BY w) AS g FROM hits) x
    GROUP BY src, dst, g
)
SELECT c.src AS source, array_agg(DISTINCT c.dst) AS targets,
    array_agg(DISTINCT c.port) AS ports,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, count(DISTINCT c.port) AS n_ports,
    count(DISTINCT CASE WHEN c.accepted > c.rejected THEN c.port END) AS open_ports,
    array_agg(DISTINCT CASE WHEN c.accepted > c.rejected THEN c.port END) AS open_port_list,
    max(i.probed_max) AS window_ports, max(i.reached_max) AS window_reached,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN active c ON c.src = i.src AND c.dst = i.dst AND c.h BETWEEN i.w0 - 1 AND i.w1 - 1
    AND c.probe = 1
GROUP BY c.src, c.dst, i.w0
ORDER BY first_seen
