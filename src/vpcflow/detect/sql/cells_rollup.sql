-- cells, read from the store's conversations rollup instead of the records: the rows of
-- cells.sql (see there for what each column counts) from the data files' rollups. The rollup
-- was written by ingest with the probe and login parameters of this run (the caller checks its
-- fingerprint) and holds accepted records per hour, rejected ones per interface and {bucket}
-- seconds, so a run whose time range ends on whole hours reads exactly the rows cells.sql
-- would build -- the accepted ones merged over the files (sums and counts summed, first and
-- last times taken again, one interface or several from the least and greatest interface id).
-- The rejected rows are not merged: most are one-off probes of the internet's background noise,
-- so merging them costs nearly what it saves, and every detector sums them (reject counts,
-- probes, distinct ports and destinations) as it sums the rows of several buckets; their
-- interface is a key (enis = 1). Brute-force and exfiltration, which divide by enis and judge
-- each row by itself (logins > 0, requests > 0), read only accepted rows, which are merged.
SELECT c.*, {client_internal} AS client_internal, {server_internal} AS server_internal
FROM (
    SELECT eni, client, server, port, protocol, bucket,
        min(t0) AS t0, max(t1) AS t1, sum(records) AS records, sum(bytes) AS bytes,
        sum(requests) AS requests, sum(request_bytes) AS request_bytes,
        sum(accepted) AS accepted, sum(rejected) AS rejected,
        sum(probes) AS probes, sum(answers) AS answers,
        sum(data_answers) AS data_answers, sum(logins) AS logins,
        CASE WHEN min(eni_min) = max(eni_max) THEN 1 ELSE 2 END AS enis
    FROM rollup_conversations
    WHERE eni IS NULL AND bucket >= {since_bucket} AND bucket < {until_bucket}
    GROUP BY eni, client, server, port, protocol, bucket
    UNION ALL
    SELECT eni, client, server, port, protocol, bucket, t0, t1, records, bytes, requests,
        request_bytes, accepted, rejected, probes, answers, data_answers, logins, 1 AS enis
    FROM rollup_conversations
    WHERE eni IS NOT NULL AND bucket >= {since_bucket} AND bucket < {until_bucket}
) c
