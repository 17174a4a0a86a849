-- The KPI cards: volume, accept/reject share, distinct sources and interfaces, NODATA/SKIPDATA.
-- log_status NODATA/SKIPDATA rows carry no action: their share is of all records.
SELECT count(*) AS records,
       coalesce(sum(bytes), 0) AS bytes,
       coalesce(sum(packets), 0) AS packets,
       coalesce(count_if(action = 'ACCEPT'), 0) AS accepted,
       coalesce(count_if(action = 'REJECT'), 0) AS rejected,
       coalesce(count_if(log_status = 'NODATA'), 0) AS nodata,
       coalesce(count_if(log_status = 'SKIPDATA'), 0) AS skipdata,
       count(DISTINCT srcaddr) AS sources,
       count(DISTINCT interface_id) AS interfaces
FROM vpc_flow_logs
WHERE $where
