-- The top $n groups by the unit, with the total over every group (the rest is "Other").
-- Ties are broken by the keys so that the same view always lists the same rows.
WITH g AS (
    SELECT $keys, $measure AS value
    FROM $rel
    WHERE $where
    GROUP BY ALL
)
SELECT *, sum(value) OVER () AS total
FROM g
ORDER BY value DESC, $order
LIMIT $n
