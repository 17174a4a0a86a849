-- known-bad-ip: traffic to or from addresses on the user's threat lists ({bad} = the listed
-- addresses seen in the store, matched beforehand against the lists' CIDRs).
WITH bad(addr) AS (VALUES {bad}),
hits AS (
    SELECT b.addr AS bad, c.server AS other, c.port, c.requests, c.records, c.bytes, c.accepted, c.rejected,
        c.t0, c.t1, c.client_internal AS other_internal
    FROM {cells} c JOIN bad b ON c.client = b.addr
    UNION ALL
    SELECT b.addr AS bad, c.client AS other, c.port, c.requests, c.records, c.bytes, c.accepted, c.rejected,
        c.t0, c.t1, c.server_internal AS other_internal
    FROM {cells} c JOIN bad b ON c.server = b.addr
)
SELECT bad AS source, array_agg(DISTINCT other) AS targets, array_agg(DISTINCT port) AS ports,
    min(t0) AS first_seen, max(t1) AS last_seen, sum(records) AS records, sum(bytes) AS bytes,
    sum(accepted) AS accepted, sum(rejected) AS rejected, false AS src_internal, true AS dst_internal
FROM hits GROUP BY bad
ORDER BY first_seen
