-- The view's volume in its unit: what the top-N lists of a day summary leave as "Other".
SELECT $measure AS total FROM $rel WHERE $where
