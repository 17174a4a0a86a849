-- The distinct sources of the KPI cards, when the volumes come from a relation without srcaddr.
SELECT count(DISTINCT srcaddr) AS sources FROM $rel WHERE $where
