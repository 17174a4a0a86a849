-- cells: the one pre-aggregation every detector reads, built once per run (a temporary table).
-- One row per interface, conversation and {bucket}-second bucket. A conversation is keyed by its
-- client, server, service port and protocol, so a request and its answer land in the same row:
-- is_request decides which side is which. With TCP flags (version 3+) a SYN without ACK is a
-- request and a SYN-ACK an answer; otherwise the service is the lower port.
-- probes: requests of at most {probe_packets} packets and {probe_bytes} bytes (a SYN, its
-- retries, a reset: no payload). data_answers: answers bigger than that (the server sent data).
-- logins: accepted requests of {login_min_bytes} to {login_max_bytes} bytes (a key exchange and
-- a failed login; see brute-force). The internal tests run on the few rows here, not per record.
SELECT c.*, {client_internal} AS client_internal, {server_internal} AS server_internal
FROM (
    SELECT interface_id AS eni,
        CASE WHEN is_request THEN srcaddr ELSE dstaddr END AS client,
        CASE WHEN is_request THEN dstaddr ELSE srcaddr END AS server,
        CASE WHEN is_request THEN dstport ELSE srcport END AS port,
        protocol, bucket,
        min(start) AS t0, max("end") AS t1, count(*) AS records, sum(bytes) AS bytes,
        sum(CASE WHEN is_request THEN 1 ELSE 0 END) AS requests,
        sum(CASE WHEN is_request THEN bytes ELSE 0 END) AS request_bytes,
        sum(CASE WHEN is_request AND action = 'ACCEPT' THEN 1 ELSE 0 END) AS accepted,
        sum(CASE WHEN action = 'REJECT' THEN 1 ELSE 0 END) AS rejected,
        sum(CASE WHEN is_request AND packets <= {probe_packets} AND bytes <= {probe_bytes}
            THEN 1 ELSE 0 END) AS probes,
        sum(CASE WHEN is_request THEN 0 ELSE 1 END) AS answers,
        sum(CASE WHEN NOT is_request AND (packets > {probe_packets} OR bytes > {probe_bytes})
            THEN 1 ELSE 0 END) AS data_answers,
        sum(CASE WHEN is_request AND action = 'ACCEPT'
            AND bytes BETWEEN {login_min_bytes} AND {login_max_bytes} THEN 1 ELSE 0 END) AS logins
    FROM (
        SELECT interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes,
            start, "end", action,
            CAST(floor(start / {bucket}) AS BIGINT) AS bucket,
            CASE
                WHEN protocol = 6 AND tcp_flags IS NOT NULL AND (tcp_flags & 2) <> 0
                    THEN (tcp_flags & 16) = 0
                ELSE coalesce(srcport > dstport, false)
            END AS is_request
        FROM vpc_flow_logs
        WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND start IS NOT NULL
            AND start >= {since} AND start < {until}
    ) r
    GROUP BY interface_id, CASE WHEN is_request THEN srcaddr ELSE dstaddr END,
        CASE WHEN is_request THEN dstaddr ELSE srcaddr END,
        CASE WHEN is_request THEN dstport ELSE srcport END, protocol, bucket
) c
