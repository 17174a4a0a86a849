-- The KPI cards: volume, accept/reject share, distinct sources and interfaces, NODATA/SKIPDATA.
-- log_status NODATA/SKIPDATA rows carry no action: their share is of all records. Over a rollup
-- each row stands for "records" records; the distinct counts are of its key columns. $sources is
-- the distinct sources' column when the same relation has it (else kpi_sources.sql counts them).
SELECT coalesce(sum($one), 0) AS records,
       coalesce(sum(bytes), 0) AS bytes,
       coalesce(sum(packets), 0) AS packets,
       coalesce(sum(CASE WHEN action = 'ACCEPT' THEN $one END), 0) AS accepted,
       coalesce(sum(CASE WHEN action = 'REJECT' THEN $one END), 0) AS rejected,
       coalesce(sum(CASE WHEN log_status = 'NODATA' THEN $one END), 0) AS nodata,
       coalesce(sum(CASE WHEN log_status = 'SKIPDATA' THEN $one END), 0) AS skipdata,
       $sources
       count(DISTINCT interface_id) AS interfaces
FROM $rel
WHERE $where
