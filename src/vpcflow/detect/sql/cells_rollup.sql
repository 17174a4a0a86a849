-- cells, read from the store's conversations rollup instead of the records: the same rows as
-- cells.sql (see there for what each column counts), merged over the data files' rollups
-- (sums and counts summed, first and last times taken again). The rollup was written by ingest
-- with the probe and login parameters of this run (the caller checks its fingerprint) and
-- holds accepted records per hour, rejected ones per interface and {bucket} seconds, so a run
-- whose time range ends on whole hours reads exactly the rows cells.sql would build.
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
    WHERE bucket >= {since_bucket} AND bucket < {until_bucket}
    GROUP BY eni, client, server, port, protocol, bucket
) c
