-- cells: the one pre-aggregation every detector reads, built in one scan per run (a temporary
-- table). A record is keyed by its conversation -- client, server, service port, protocol -- so
-- a request and its answer meet in one row; is_request decides which side is which (with TCP
-- flags, version 3+, a SYN without ACK is a request and a SYN-ACK an answer; otherwise the
-- service is the lower port).
-- Rows are per conversation and hour, summed over the interfaces that logged it (eni NULL;
-- eni_min and eni_max, the least and greatest hash of the interface ids, tell one interface
-- from two: a NAT gateway's copy or both ends of an internal connection; the detectors only
-- ask whether the least equals the greatest, which any one order answers, and the least and
-- greatest strings took a seventh of this grouping at 20M records; the conversations rollup
-- keeps the ids themselves). Rejected records are kept per interface and {bucket}-second
-- bucket (eni set), for reject spikes. Counted per row: requests, probes (requests of at most {probe_packets}
-- packets and {probe_bytes} bytes: a SYN, its retries, a reset), answers, data answers (bigger
-- than that), accepted and rejected records, logins (accepted requests to {login_ports} of
-- {login_min_bytes} to {login_max_bytes} bytes, see brute-force), each a count_if: a BIGINT, as
-- the rollup stores them (sums of 0s and 1s add in 128 bits, a sixth slower at 20M records).
-- The internal tests run on the rows here, not per record; client_net is an outside IPv4
-- client's /24 (host-sweep's subnet key). The inner query is the records classified exactly as
-- the conversations rollup classifies them (store.rollups.CONVERSATION_RECORDS).
SELECT c.*, {client_net} AS client_net
FROM (
    SELECT g.*, {client_internal} AS client_internal, {server_internal} AS server_internal
    FROM (
    SELECT eni, client, server, port, protocol, bucket,
        min(start) AS t0, max("end") AS t1, count(*) AS records, sum(bytes) AS bytes,
        count_if(req = 1) AS requests, sum(req * bytes) AS request_bytes,
        count_if(req = 1 AND action = 'ACCEPT') AS accepted,
        count_if(action = 'REJECT') AS rejected,
        count_if(req = 1 AND probe = 1) AS probes, count_if(req = 0) AS answers,
        count_if(req = 0 AND probe = 0) AS data_answers,
        count_if(req = 1 AND action = 'ACCEPT' AND login = 1) AS logins,
        min(CASE WHEN interface_id IS NOT NULL THEN hash(interface_id) END) AS eni_min,
        max(CASE WHEN interface_id IS NOT NULL THEN hash(interface_id) END) AS eni_max
    FROM (
        {conversation_records}
    ) k
    GROUP BY eni, client, server, port, protocol, bucket
    ) g
) c
