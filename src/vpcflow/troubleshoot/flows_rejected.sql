-- Only the flows of conversations with a REJECT in either direction: troubleshoot's default,
-- so that the accepted bulk of a store never reaches Python. The CTE is flows.sql.
WITH flows AS (
{flows}
)
SELECT *
FROM (
    SELECT
        flows.*,
        max(CASE WHEN action = 'REJECT' THEN 1 ELSE 0 END) OVER (
            PARTITION BY
                interface_id,
                protocol,
                least(
                    srcaddr || ' ' || CAST(coalesce(srcport, 0) AS varchar),
                    dstaddr || ' ' || CAST(coalesce(dstport, 0) AS varchar)
                ),
                greatest(
                    srcaddr || ' ' || CAST(coalesce(srcport, 0) AS varchar),
                    dstaddr || ' ' || CAST(coalesce(dstport, 0) AS varchar)
                )
        ) AS any_reject
    FROM flows
) AS f
WHERE any_reject = 1
