-- Sources by country: group by address first (few distinct addresses), then look each up once.
SELECT ip_country(srcaddr) AS country, sum(value) AS value, count(*) AS sources
FROM (
    SELECT srcaddr, $measure AS value
    FROM $rel
    WHERE srcaddr IS NOT NULL AND $where
    GROUP BY 1
)
GROUP BY 1
ORDER BY value DESC, country
