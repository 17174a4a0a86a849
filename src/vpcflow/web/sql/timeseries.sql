-- Traffic over time by action (NODATA/SKIPDATA rows under their log_status), one row per bucket.
SELECT $start - $start % $bucket AS t,
       coalesce(action, log_status, 'unknown') AS action,
       $measure AS value
FROM $rel
WHERE $where
GROUP BY 1, 2
ORDER BY 1, 2
