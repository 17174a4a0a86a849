-- The same range one period earlier, all actions together, moved forward onto the current range.
SELECT $start - $start % $bucket + $shift AS t, $measure AS value
FROM $rel
WHERE $where
GROUP BY 1
ORDER BY 1
