-- host-sweep: one source (or several addresses of one /24) probes one port of many distinct
-- addresses. Keyed by {key} (the source address or its /24). What counts is a probe, not a
-- visit: a (source, port, destination) whose requests over the whole period are all
-- probe-sized (cells.sql: a SYN, its retries, a reset) and that got no data back (TCP) or no
-- answer at all (UDP). A client of a web fleet reaching 14 servers exchanges data with each:
-- it is no sweep. A pair seen in {usual_hours} or more windows, or with more than
-- {max_requests_per_target} requests over the period, is a client and its server (health
-- checks, monitoring), not a sweep, even in a window that sees only the end of them.
-- A /24 sweeps when its addresses each probe {min_per_source} or more destinations on average,
-- on this port or on all the ports the /24 sweeps in the window together (bots each given a
-- few hosts, trying SSH on one and RDP on the next); a scanning farm whose addresses probe
-- once each is noise. A port that {public_min_clients}
-- or more outside clients exchange data with on our addresses is a public service: an outside
-- source that talked to any of our addresses on it is a client, only one that never did can
-- sweep it. records: the probes (requests); the finding's query lists them and their answers.
WITH keys AS (  -- {min_targets} destinations sent probe-sized requests: no other key can qualify
    SELECT {key} AS src, port, protocol FROM {cells}
    WHERE probes > 0 AND protocol IN (6, 17) AND (client_internal OR server_internal) {where}
    GROUP BY {key}, port, protocol HAVING count(DISTINCT server) >= {min_targets}
),
pairs AS (
    SELECT k.src, c.client AS addr, c.server AS dst, c.port, c.protocol,
        CASE WHEN sum(c.probes) = sum(c.requests)
            AND (CASE WHEN c.protocol = 6 THEN sum(c.data_answers) = 0
                ELSE sum(c.answers) = 0 END)
            AND count(DISTINCT CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT)) < {usual_hours}
            AND sum(c.requests) <= {max_requests_per_target}
            THEN 1 ELSE 0 END AS probe,
        CASE WHEN sum(c.probes) < sum(c.requests)
            OR (CASE WHEN c.protocol = 6 THEN sum(c.data_answers) > 0
                ELSE sum(c.answers) > 0 END)
            THEN 1 ELSE 0 END AS data
    FROM {cells} c
    JOIN keys k ON k.src = {key_c} AND k.port = c.port AND k.protocol = c.protocol
    GROUP BY k.src, c.client, c.server, c.port, c.protocol
    HAVING sum(c.requests) > 0
),
candidates AS (  -- {min_targets} probed destinations over the whole period, or none in a window
    SELECT src, port, protocol, max(data) AS talked_any FROM pairs GROUP BY src, port, protocol
    HAVING count(DISTINCT CASE WHEN probe = 1 THEN dst END) >= {min_targets}
),
public_ports AS (  -- of the candidates' ports: those many outside clients exchange data on
    SELECT c.port, c.protocol FROM {cells} c
    JOIN (SELECT DISTINCT port, protocol FROM candidates) k
        ON k.port = c.port AND k.protocol = c.protocol
    WHERE c.server_internal AND NOT c.client_internal
        AND (c.probes < c.requests OR c.data_answers > 0)
    GROUP BY c.port, c.protocol HAVING count(DISTINCT c.client) >= {public_min_clients}
),
active AS (  -- the candidates' pairs by the window step they were active in
    SELECT p.src, p.addr, p.dst, p.port, p.protocol, p.probe, p.data,
        CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT) AS h,
        min(c.t0) AS t0, max(c.t1) AS t1, sum(c.records) AS n, sum(c.bytes) AS nbytes,
        sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, sum(c.requests) AS requests,
        bool_or(c.client_internal) AS src_internal, bool_or(c.server_internal) AS dst_internal
    FROM {cells} c
    JOIN pairs p ON p.addr = c.client AND p.dst = c.server AND p.port = c.port
        AND p.protocol = c.protocol
    JOIN candidates k ON k.src = p.src AND k.port = p.port AND k.protocol = p.protocol
    GROUP BY p.src, p.addr, p.dst, p.port, p.protocol, p.probe, p.data,
        CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT)
),
windows AS (
    SELECT a.src, a.port, a.protocol, a.h + u.d AS w,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.dst END) AS probed,
        count(DISTINCT a.dst) AS reached,
        sum(CASE WHEN a.probe = 1 THEN a.requests ELSE 0 END) AS probe_requests,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.addr END) AS n_sources,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.addr || ' ' || a.dst END) AS addr_targets,
        max(CASE WHEN pp.port IS NOT NULL AND NOT a.src_internal THEN 1 ELSE 0 END) AS public,
        max(k.talked_any) AS talked
    FROM active a
    CROSS JOIN (VALUES (0), (1)) AS u(d)
    JOIN candidates k ON k.src = a.src AND k.port = a.port AND k.protocol = a.protocol
    LEFT JOIN public_ports pp ON pp.port = a.port AND pp.protocol = a.protocol
    GROUP BY a.src, a.port, a.protocol, a.h + u.d
),
spread AS (  -- per window, the destinations each address probed on any of the swept ports
    SELECT a.src, a.protocol, a.h + u.d AS w,
        count(DISTINCT a.addr || ' ' || a.dst) AS addr_targets,
        count(DISTINCT a.addr) AS n_sources
    FROM active a
    CROSS JOIN (VALUES (0), (1)) AS u(d)
    WHERE a.probe = 1
    GROUP BY a.src, a.protocol, a.h + u.d
),
hits AS (
    SELECT w.* FROM windows w
    JOIN spread s ON s.src = w.src AND s.protocol = w.protocol AND s.w = w.w
    WHERE w.probed >= {min_targets}
        AND w.probe_requests <= {max_requests_per_target} * w.probed
        AND w.n_sources >= {min_sources}
        AND (w.addr_targets >= {min_per_source} * w.n_sources
            OR s.addr_targets >= {min_per_source} * s.n_sources)
        AND w.probed >= {min_probe_share} * w.reached
        AND (w.public = 0 OR w.talked = 0)
),
islands AS (
    SELECT src, port, protocol, min(w) AS w0, max(w) + 1 AS w1, max(probed) AS probed_max,
        max(probe_requests) AS requests_max, max(reached) AS reached_max,
        max(talked) AS talked_max, max(public) AS public
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, port, protocol ORDER BY w) AS g
          FROM hits) x
    GROUP BY src, port, protocol, g
)
SELECT c.src AS source, array_agg(DISTINCT c.addr) AS sources,
    array_agg(DISTINCT c.dst) AS targets, array_agg(DISTINCT c.port) AS ports, c.protocol,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.requests) AS records,
    sum(c.nbytes) AS bytes, sum(c.accepted) AS accepted, sum(c.rejected) AS rejected,
    count(DISTINCT c.dst) AS n_targets,
    count(DISTINCT CASE WHEN c.accepted > c.rejected THEN c.dst END) AS open_targets,
    sum(c.requests) AS requests, max(i.probed_max) AS window_targets,
    max(i.requests_max) AS window_requests, max(i.reached_max) AS window_reached,
    max(i.talked_max) AS talked, max(i.public) AS public_port,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN active c ON c.src = i.src AND c.port = i.port AND c.protocol = i.protocol
    AND c.h BETWEEN i.w0 - 1 AND i.w1 - 1 AND c.probe = 1
GROUP BY c.src, c.port, c.protocol, i.w0
ORDER BY first_seen
