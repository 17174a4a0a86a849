-- port-scan: one source probes many distinct ports of one destination. A probe is a
-- (source, destination, port) in an hour whose requests are all probe-sized (cells.sql) and
-- that got no data back (TCP) or no answer (UDP): a client talking to many ports of a host
-- (Kubernetes nodes, peered VPCs, passive FTP) exchanges data and does not count.
-- Windows of 2 x {step} seconds start every {step} seconds, so any burst up to {step} seconds
-- long falls whole into one window; overlapping windows that qualify are merged into one finding.
-- Only pairs with {min_ports} probed ports over the whole period can qualify in a window.
WITH pairs AS (
    SELECT client AS src, server AS dst, port, protocol,
        CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS h,
        min(t0) AS t0, max(t1) AS t1, sum(records) AS n, sum(bytes) AS nbytes,
        sum(accepted) AS accepted, sum(rejected) AS rejected, sum(requests) AS requests, sum(probes) AS probes,
        sum(answers) AS answers, sum(data_answers) AS data_answers,
        bool_or(client_internal) AS src_internal, bool_or(server_internal) AS dst_internal
    FROM {cells}
    WHERE protocol IN (6, 17) AND (client_internal OR server_internal)
    GROUP BY client, server, port, protocol, CAST(floor(bucket * {bucket} / {step}) AS BIGINT)
    HAVING sum(requests) > 0
),
scored AS (
    SELECT p.*,
        CASE WHEN p.probes = p.requests
            AND (CASE WHEN p.protocol = 6 THEN p.data_answers = 0 ELSE p.answers = 0 END)
            THEN 1 ELSE 0 END AS probe
    FROM pairs p
),
candidates AS (  -- pairs with {min_ports} probed ports over the whole period; no other can qualify
    SELECT src, dst FROM scored WHERE probe = 1 GROUP BY src, dst
    HAVING count(DISTINCT port) >= {min_ports}
),
windows AS (
    SELECT s.src, s.dst, s.h + u.d AS w,
        count(DISTINCT CASE WHEN s.probe = 1 THEN s.port END) AS probed,
        count(DISTINCT s.port) AS reached
    FROM scored s
    JOIN candidates c ON c.src = s.src AND c.dst = s.dst
    CROSS JOIN (VALUES (0), (1)) AS u(d)
    GROUP BY s.src, s.dst, s.h + u.d
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
    count(DISTINCT CASE WHEN c.accepted > 0 THEN c.port END) AS open_ports,
    array_agg(DISTINCT CASE WHEN c.accepted > 0 THEN c.port END) AS open_port_list,
    max(i.probed_max) AS window_ports, max(i.reached_max) AS window_reached,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN scored c ON c.src = i.src AND c.dst = i.dst AND c.h BETWEEN i.w0 - 1 AND i.w1 - 1
    AND c.probe = 1
GROUP BY c.src, c.dst, i.w0
ORDER BY first_seen
