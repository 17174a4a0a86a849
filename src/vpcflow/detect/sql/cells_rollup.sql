-- cells, read from the store's conversations rollup instead of the records: the rows of
-- cells.sql (see there for what each column counts) from the data files' rollups. The rollup
-- was written by ingest with the probe and login parameters of this run (the caller checks its
-- fingerprint) and holds accepted records per hour, rejected ones per interface and {bucket}
-- seconds, so a run whose time range ends on whole hours reads exactly the rows cells.sql
-- would build, except that they are not merged over the data files: a conversation's hour
-- written by two ingest workers is two rows, each with the least and greatest interface id of
-- its records (eni_min, eni_max). Merging them all costs more than any detector; most
-- detectors sum and count rows anyway (sums of sums, distinct counts, any-of conditions:
-- probes > 0, probes < requests, data_answers > 0 hold for a merged row exactly when they hold
-- for one of its parts). The few that judge a conversation's hour as a whole (brute-force,
-- data-exfiltration, a NAT gateway's relayed share) merge the rows they read themselves.
-- eni_min and eni_max are the rollup's own: set on the accepted rows (eni NULL), the only ones
-- that read them; a rejected row's one interface is its eni.
-- Which side is ours and an outside client's /24 are the rollup's own columns when this run's
-- internal networks are the default ones it recorded them for, else tested here.
SELECT eni, client, server, port, protocol, bucket, t0, t1, records, bytes, requests,
    request_bytes, accepted, rejected, probes, answers, data_answers, logins,
    eni_min, eni_max,
    {client_internal} AS client_internal, {server_internal} AS server_internal,
    {client_net} AS client_net
FROM rollup_conversations
WHERE bucket >= {since_bucket} AND bucket < {until_bucket}
