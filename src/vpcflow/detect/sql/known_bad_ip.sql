-- known-bad-ip: traffic to or from addresses on the user's threat lists ({bad} = the listed
-- addresses seen in the store, matched beforehand against the lists' CIDRs).
WITH flows AS ({flows}),
bad(addr) AS (VALUES {bad}),
hits AS (
    SELECT b.addr AS bad, true AS outbound_from_bad, f.*
    FROM flows f JOIN bad b ON f.srcaddr = b.addr
    UNION ALL
    SELECT b.addr AS bad, false AS outbound_from_bad, f.*
    FROM flows f JOIN bad b ON f.dstaddr = b.addr
)
SELECT bad AS source,
    list_sort(list_distinct(list(CASE WHEN outbound_from_bad THEN dstaddr ELSE srcaddr END)))
        AS targets,
    list_sort(list_distinct(list(CASE WHEN is_request THEN dstport END))) AS ports,
    min(start) AS first_seen, max("end") AS last_seen, count(*) AS records, sum(bytes) AS bytes,
    count(*) FILTER (WHERE action = 'ACCEPT') AS accepted,
    count(*) FILTER (WHERE outbound_from_bad) AS from_bad,
    count(*) FILTER (WHERE NOT outbound_from_bad) AS to_bad,
    false AS src_internal, true AS dst_internal
FROM hits GROUP BY bad
ORDER BY first_seen
