-- cells: the one pre-aggregation every detector reads, built in one scan per run (a temporary
-- table). A record is keyed by its conversation -- client, server, service port, protocol -- so
-- a request and its answer meet in one row; is_request decides which side is which (with TCP
-- flags, version 3+, a SYN without ACK is a request and a SYN-ACK an answer; otherwise the
-- service is the lower port).
-- Rows are per conversation and hour, summed over the interfaces that logged it (eni NULL,
-- enis = how many interfaces logged it: a NAT gateway's copy or both ends of an internal
-- connection). Rejected records are kept per interface and {bucket}-second bucket (eni set),
-- for reject spikes. Counted per row: requests, probes (requests of at most {probe_packets}
-- packets and {probe_bytes} bytes: a SYN, its retries, a reset), answers, data answers (bigger
-- than that), accepted and rejected records, logins (accepted requests to {login_ports} of
-- {login_min_bytes} to {login_max_bytes} bytes, see brute-force). The internal tests run on
-- the rows here, not per record.
SELECT c.*, {client_internal} AS client_internal, {server_internal} AS server_internal
FROM (
    SELECT eni, client, server, port, protocol, bucket,
        min(start) AS t0, max("end") AS t1, count(*) AS records, sum(bytes) AS bytes,
        sum(req) AS requests, sum(req * bytes) AS request_bytes,
        sum(CASE WHEN req = 1 AND action = 'ACCEPT' THEN 1 ELSE 0 END) AS accepted,
        sum(CASE WHEN action = 'REJECT' THEN 1 ELSE 0 END) AS rejected,
        sum(req * probe) AS probes, sum(1 - req) AS answers,
        sum((1 - req) * (1 - probe)) AS data_answers,
        sum(CASE WHEN req = 1 AND action = 'ACCEPT' AND login = 1 THEN 1 ELSE 0 END) AS logins,
        CASE WHEN min(interface_id) = max(interface_id) THEN 1 ELSE 2 END AS enis
    FROM (
        SELECT r.*,
            CASE WHEN action = 'REJECT' THEN interface_id END AS eni,
            CASE WHEN action = 'REJECT' THEN b ELSE b - b % {per_hour} END AS bucket,
            CASE WHEN req = 1 THEN srcaddr ELSE dstaddr END AS client,
            CASE WHEN req = 1 THEN dstaddr ELSE srcaddr END AS server,
            CASE WHEN req = 1 THEN dstport ELSE srcport END AS port,
            CASE WHEN packets <= {probe_packets} AND bytes <= {probe_bytes}
                THEN 1 ELSE 0 END AS probe,
            CASE WHEN req = 1 AND protocol = 6 AND dstport IN ({login_ports})
                AND bytes BETWEEN {login_min_bytes} AND {login_max_bytes}
                THEN 1 ELSE 0 END AS login
        FROM (
            SELECT interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets,
                bytes, start, "end", action,
                CAST(floor(start / {bucket}) AS BIGINT) AS b,
                CASE
                    WHEN protocol = 6 AND tcp_flags IS NOT NULL AND (tcp_flags & 2) <> 0
                        THEN (CASE WHEN (tcp_flags & 16) = 0 THEN 1 ELSE 0 END)
                    WHEN coalesce(srcport > dstport, false) THEN 1
                    ELSE 0
                END AS req
            FROM vpc_flow_logs
            WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND start IS NOT NULL
                AND start >= {since} AND start < {until}
        ) r
    ) k
    GROUP BY eni, client, server, port, protocol, bucket
) c
