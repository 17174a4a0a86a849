-- host-sweep: one source (or several addresses of one /24) probes one port of many distinct
-- addresses. Keyed by kind and src: kind 0 a source address, kind 1 an outside IPv4 source's
-- /24 (cells.sql: client_net; only when {subnet_sweeps}). Both kinds are judged in one query:
-- a key is a function of the client, so the flows behind both are one set of rows, read once.
-- What counts is a probe, not a
-- visit: a (source, port, destination) whose requests over the whole period are all
-- probe-sized (cells.sql: a SYN, its retries, a reset) and that got no data back (TCP) or no
-- answer at all (UDP). A client of a web fleet reaching 14 servers exchanges data with each:
-- it is no sweep. A pair seen in {usual_hours} or more windows, or with more than
-- {max_requests_per_target} requests over the period, is a client and its server (health
-- checks, monitoring), not a sweep, even in a window that sees only the end of them.
-- A /24 sweeps when {min_subnet_sources} or more of its addresses probe, each
-- {min_subnet_targets_per_source} or more destinations on average, on this port or on all the
-- ports the /24 sweeps in the window together (bots each given a few hosts, trying SSH on one
-- and RDP on the next); a scanning farm whose addresses probe once each is noise. A port that
-- {public_min_clients}
-- or more outside clients exchange data with on our addresses is a public service: an outside
-- source that talked to any of our addresses on it is a client, only one that never did can
-- sweep it. records: the probes (requests); the finding's query lists them and their answers.
WITH probed AS (  -- who sent probe-sized requests to whom, on which port
    SELECT DISTINCT client, client_net, port, protocol, server FROM {cells}
    WHERE probes > 0 AND protocol IN (6, 17) AND (client_internal OR server_internal)
),
keys AS (  -- {min_targets} destinations sent probe-sized requests: no other key can qualify
    SELECT 0 AS kind, client AS src, port, protocol FROM probed
    GROUP BY client, port, protocol HAVING count(*) >= {min_targets}
    UNION ALL
    SELECT 1 AS kind, client_net AS src, port, protocol FROM probed
    WHERE {subnet_sweeps} AND client_net IS NOT NULL
    GROUP BY client_net, port, protocol HAVING count(DISTINCT server) >= {min_targets}
),
steps AS (  -- every flow of a key by the window step it was active in: the one read of the
    -- cells behind the keys
    SELECT c.client AS addr, c.server AS dst, c.port, c.protocol,
        CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT) AS h,
        max(c.client_net) AS net,
        bool_or(k0.src IS NOT NULL) AS of_addr, bool_or(k1.src IS NOT NULL) AS of_net,
        min(c.t0) AS t0, max(c.t1) AS t1, sum(c.bytes) AS nbytes,
        sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, sum(c.requests) AS requests,
        sum(c.probes) AS probes, sum(c.answers) AS answers, sum(c.data_answers) AS data_answers,
        bool_or(c.client_internal) AS src_internal, bool_or(c.server_internal) AS dst_internal
    FROM {cells} c
    LEFT JOIN (SELECT src, port, protocol FROM keys WHERE kind = 0) k0
        ON k0.src = c.client AND k0.port = c.port AND k0.protocol = c.protocol
    LEFT JOIN (SELECT src, port, protocol FROM keys WHERE kind = 1) k1
        ON k1.src = c.client_net AND k1.port = c.port AND k1.protocol = c.protocol
    WHERE k0.src IS NOT NULL OR k1.src IS NOT NULL
    GROUP BY c.client, c.server, c.port, c.protocol,
        CAST(floor(c.bucket * {bucket} / {step}) AS BIGINT)
),
flows AS (  -- every (client, server, port, protocol) of a key, over the whole period
    SELECT addr, dst, port, protocol, max(net) AS net,
        bool_or(of_addr) AS of_addr, bool_or(of_net) AS of_net,
        CASE WHEN sum(probes) = sum(requests)
            AND (CASE WHEN protocol = 6 THEN sum(data_answers) = 0 ELSE sum(answers) = 0 END)
            AND count(*) < {usual_hours}
            AND sum(requests) <= {max_requests_per_target}
            THEN 1 ELSE 0 END AS probe,
        CASE WHEN sum(probes) < sum(requests)
            OR (CASE WHEN protocol = 6 THEN sum(data_answers) > 0 ELSE sum(answers) > 0 END)
            THEN 1 ELSE 0 END AS data
    FROM steps
    GROUP BY addr, dst, port, protocol
    HAVING sum(requests) > 0
),
pairs AS (  -- the flows under each key they count for
    SELECT 0 AS kind, addr AS src, addr, dst, port, protocol, probe, data FROM flows WHERE of_addr
    UNION ALL
    SELECT 1 AS kind, net AS src, addr, dst, port, protocol, probe, data FROM flows WHERE of_net
),
candidates AS (  -- {min_targets} probed destinations over the whole period, or none in a window
    SELECT kind, src, port, protocol, max(data) AS talked_any FROM pairs
    GROUP BY kind, src, port, protocol
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
chosen AS (  -- the candidates' flows
    SELECT p.* FROM pairs p
    JOIN candidates k ON k.kind = p.kind AND k.src = p.src AND k.port = p.port
        AND k.protocol = p.protocol
),
active AS (  -- the candidates' pairs by the window step they were active in
    SELECT p.kind, p.src, p.addr, p.dst, p.port, p.protocol, p.probe, p.data, s.h, s.t0, s.t1,
        s.nbytes, s.accepted, s.rejected, s.requests, s.src_internal, s.dst_internal
    FROM chosen p
    JOIN steps s ON s.addr = p.addr AND s.dst = p.dst AND s.port = p.port
        AND s.protocol = p.protocol
),
windows AS (
    SELECT a.kind, a.src, a.port, a.protocol, a.h + u.d AS w,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.dst END) AS probed,
        count(DISTINCT a.dst) AS reached,
        sum(CASE WHEN a.probe = 1 THEN a.requests ELSE 0 END) AS probe_requests,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.addr END) AS n_sources,
        count(DISTINCT CASE WHEN a.probe = 1 THEN a.addr || ' ' || a.dst END) AS addr_targets,
        max(CASE WHEN pp.port IS NOT NULL AND NOT a.src_internal THEN 1 ELSE 0 END) AS public,
        max(k.talked_any) AS talked
    FROM active a
    CROSS JOIN (VALUES (0), (1)) AS u(d)
    JOIN candidates k ON k.kind = a.kind AND k.src = a.src AND k.port = a.port
        AND k.protocol = a.protocol
    LEFT JOIN public_ports pp ON pp.port = a.port AND pp.protocol = a.protocol
    GROUP BY a.kind, a.src, a.port, a.protocol, a.h + u.d
),
spread AS (  -- per window, the destinations each address probed on any of the swept ports
    SELECT a.kind, a.src, a.protocol, a.h + u.d AS w,
        count(DISTINCT a.addr || ' ' || a.dst) AS addr_targets,
        count(DISTINCT a.addr) AS n_sources
    FROM active a
    CROSS JOIN (VALUES (0), (1)) AS u(d)
    WHERE a.probe = 1
    GROUP BY a.kind, a.src, a.protocol, a.h + u.d
),
hits AS (  -- a source address needs one address probing one destination each; a /24 more
    SELECT w.* FROM windows w
    JOIN spread s ON s.kind = w.kind AND s.src = w.src AND s.protocol = w.protocol AND s.w = w.w
    WHERE w.probed >= {min_targets}
        AND w.probe_requests <= {max_requests_per_target} * w.probed
        AND w.n_sources >= CASE WHEN w.kind = 0 THEN 1 ELSE {min_subnet_sources} END
        AND (w.addr_targets >= CASE WHEN w.kind = 0 THEN 1
                ELSE {min_subnet_targets_per_source} END * w.n_sources
            OR s.addr_targets >= CASE WHEN w.kind = 0 THEN 1
                ELSE {min_subnet_targets_per_source} END * s.n_sources)
        AND w.probed >= {min_probe_share} * w.reached
        AND (w.public = 0 OR w.talked = 0)
),
islands AS (
    SELECT kind, src, port, protocol, min(w) AS w0, max(w) + 1 AS w1, max(probed) AS probed_max,
        max(probe_requests) AS requests_max, max(reached) AS reached_max,
        max(talked) AS talked_max, max(public) AS public
    FROM (SELECT *, w - row_number() OVER (PARTITION BY kind, src, port, protocol ORDER BY w)
            AS g
          FROM hits) x
    GROUP BY kind, src, port, protocol, g
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
JOIN active c ON c.kind = i.kind AND c.src = i.src AND c.port = i.port
    AND c.protocol = i.protocol AND c.h BETWEEN i.w0 - 1 AND i.w1 - 1 AND c.probe = 1
GROUP BY c.kind, c.src, c.port, c.protocol, i.w0
ORDER BY c.kind, first_seen
