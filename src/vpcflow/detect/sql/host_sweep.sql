-- host-sweep: one source (or several addresses of one /24) probes one port of many distinct
-- addresses. Keyed by {key} (the source address or its /24). What counts is a probe, not a
-- visit: a (source, port, destination) pair in an hour whose requests are all probe-sized
-- (cells.sql: a SYN, its retries, a reset) and that got no data back (TCP) or no answer at all
-- (UDP). A client of a web fleet reaching 14 servers exchanges data with each: it is no sweep.
-- Pairs seen in {usual_hours} or more distinct windows, or with more than
-- {max_requests_per_target} requests over the period, are a client and its server (health
-- checks, monitoring), not a sweep, even in a window that sees only the end of them.
-- A /24 sweeps when its addresses each probe {min_per_source} or more destinations on average
-- (a scanning farm whose addresses probe once each is noise). A port that {public_min_clients}
-- or more outside clients
-- exchange data with on our addresses is a public service: an outside source that talked to
-- any of our addresses on it is a client, only a source that never did can sweep it.
WITH pairs AS (
    SELECT {key} AS src, client AS addr, server AS dst, port, protocol,
        CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS h,
        min(t0) AS t0, max(t1) AS t1, sum(records) AS n, sum(bytes) AS nbytes,
        sum(accepted) AS accepted, sum(rejected) AS rejected, sum(requests) AS requests, sum(probes) AS probes,
        sum(answers) AS answers, sum(data_answers) AS data_answers,
        bool_or(client_internal) AS src_internal, bool_or(server_internal) AS dst_internal
    FROM {cells}
    WHERE protocol IN (6, 17) AND (client_internal OR server_internal) {where}
    GROUP BY {key}, client, server, port, protocol, CAST(floor(bucket * {bucket} / {step}) AS BIGINT)
    HAVING sum(requests) > 0
),
usual AS (  -- repeated pairs: a checker or a client, whichever window one looks at
    SELECT src, addr, port, protocol, dst FROM pairs GROUP BY src, addr, port, protocol, dst
    HAVING count(DISTINCT h) >= {usual_hours} OR sum(requests) > {max_requests_per_target}
),
public_ports AS (
    SELECT port, protocol FROM {cells}
    WHERE server_internal AND NOT client_internal AND data_answers > 0
    GROUP BY port, protocol HAVING count(DISTINCT client) >= {public_min_clients}
),
scored AS (
    SELECT p.*,
        CASE WHEN p.probes = p.requests
            AND (CASE WHEN p.protocol = 6 THEN p.data_answers = 0 ELSE p.answers = 0 END)
            THEN 1 ELSE 0 END AS probe
    FROM pairs p
    WHERE NOT EXISTS (SELECT 1 FROM usual u WHERE u.src = p.src AND u.addr = p.addr
        AND u.port = p.port AND u.protocol = p.protocol AND u.dst = p.dst)
),
candidates AS (  -- {min_targets} probed destinations over the whole period, or none in a window
    SELECT src, port, protocol FROM scored WHERE probe = 1 GROUP BY src, port, protocol
    HAVING count(DISTINCT dst) >= {min_targets}
),
windows AS (
    SELECT s.src, s.port, s.protocol, s.h + u.d AS w,
        count(DISTINCT CASE WHEN s.probe = 1 THEN s.dst END) AS probed,
        count(DISTINCT CASE WHEN s.probe = 0 THEN s.dst END) AS talked,
        count(DISTINCT s.dst) AS reached,
        sum(CASE WHEN s.probe = 1 THEN s.requests ELSE 0 END) AS probe_requests,
        count(DISTINCT CASE WHEN s.probe = 1 THEN s.addr END) AS n_sources,
        count(DISTINCT CASE WHEN s.probe = 1 THEN s.addr || ' ' || s.dst END) AS addr_targets,
        max(CASE WHEN pp.port IS NOT NULL AND NOT s.src_internal THEN 1 ELSE 0 END) AS public
    FROM scored s
    JOIN candidates c ON c.src = s.src AND c.port = s.port AND c.protocol = s.protocol
    CROSS JOIN (VALUES (0), (1)) AS u(d)
    LEFT JOIN public_ports pp ON pp.port = s.port AND pp.protocol = s.protocol
    GROUP BY s.src, s.port, s.protocol, s.h + u.d
),
hits AS (
    SELECT * FROM windows
    WHERE probed >= {min_targets}
        AND probe_requests <= {max_requests_per_target} * probed
        AND n_sources >= {min_sources}
        AND addr_targets >= {min_per_source} * n_sources
        AND probed >= {min_probe_share} * reached
        AND (public = 0 OR talked = 0)
),
islands AS (
    SELECT src, port, protocol, min(w) AS w0, max(w) + 1 AS w1, max(probed) AS probed_max,
        max(probe_requests) AS requests_max, max(reached) AS reached_max,
        max(talked) AS talked_max, max(public) AS public, min(n_sources) AS sources_min
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, port, protocol ORDER BY w) AS g
          FROM hits) x
    GROUP BY src, port, protocol, g
)
SELECT c.src AS source, array_agg(DISTINCT c.addr) AS sources,
    array_agg(DISTINCT c.dst) AS targets, array_agg(DISTINCT c.port) AS ports, c.protocol,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, count(DISTINCT c.dst) AS n_targets,
    count(DISTINCT CASE WHEN c.accepted > 0 THEN c.dst END) AS open_targets,
    sum(c.requests) AS requests, max(i.probed_max) AS window_targets,
    max(i.requests_max) AS window_requests, max(i.reached_max) AS window_reached,
    max(i.talked_max) AS talked, max(i.public) AS public_port,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN scored c ON c.src = i.src AND c.port = i.port AND c.protocol = i.protocol
    AND c.h BETWEEN i.w0 - 1 AND i.w1 - 1 AND c.probe = 1
GROUP BY c.src, c.port, c.protocol, i.w0
ORDER BY first_seen
