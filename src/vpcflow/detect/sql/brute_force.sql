-- brute-force: many short connections from one source to a remote-login port of one host.
-- An attempt is an accepted request record of {login_min_bytes} to {login_max_bytes} bytes (a
-- key exchange and a failed login; cells.sql counts them as logins). A connection logged on two
-- of our interfaces (internal source) is counted once: the busiest interface's count is taken.
-- Not brute force: an internal source making login-sized connections to {fanout_hosts} or more
-- internal hosts on one port in a window (configuration management: Ansible, Salt-SSH, a
-- deployment running one session per task on every host), and a pair active in
-- {poller_hours} or more hours whose busiest hour has at most {poller_peak_ratio} times its
-- average hour (a scheduled poller, evenly spread all day; a password-guessing tool is a burst).
WITH merged AS (  -- a conversation's hour, merged over the data files' rows
    SELECT client, server, port, bucket, min(t0) AS t0, max(t1) AS t1, sum(records) AS records,
        sum(bytes) AS bytes, sum(accepted) AS accepted, sum(rejected) AS rejected,
        sum(logins) AS logins, CASE WHEN min(eni_min) = max(eni_max) THEN 1 ELSE 2 END AS enis,
        bool_or(client_internal) AS client_internal, bool_or(server_internal) AS server_internal
    FROM {cells}
    WHERE protocol = 6 AND port IN ({ports}) AND (client_internal OR server_internal)
        AND eni IS NULL
    GROUP BY client, server, port, protocol, bucket
    HAVING sum(logins) > 0
),
cells AS (
    SELECT client AS src, server AS dst, port,
        CAST(floor(bucket * {bucket} / {step}) AS BIGINT) AS h,
        min(t0) AS t0, max(t1) AS t1, sum(records) AS n, sum(bytes) AS nbytes,
        sum(accepted) AS accepted, sum(rejected) AS rejected, sum(logins / enis) AS logins,
        bool_or(client_internal) AS src_internal, bool_or(server_internal) AS dst_internal
    FROM merged
    GROUP BY client, server, port, CAST(floor(bucket * {bucket} / {step}) AS BIGINT)
),
pollers AS (  -- pairs evenly active for many hours
    SELECT src, dst, port FROM cells
    GROUP BY src, dst, port
    HAVING count(*) >= {poller_hours} AND max(logins) <= {poller_peak_ratio} * avg(logins)
),
fanout AS (  -- internal sources logging in to many internal hosts in a window
    SELECT c.src, c.port, c.h + u.d AS w FROM cells c CROSS JOIN (VALUES (0), (1)) AS u(d)
    WHERE c.src_internal AND c.dst_internal
    GROUP BY c.src, c.port, c.h + u.d HAVING count(DISTINCT c.dst) >= {fanout_hosts}
),
windows AS (
    SELECT c.src, c.dst, c.port, c.h + u.d AS w, sum(c.logins) AS attempts
    FROM cells c CROSS JOIN (VALUES (0), (1)) AS u(d)
    LEFT JOIN pollers p ON p.src = c.src AND p.dst = c.dst AND p.port = c.port
    WHERE p.src IS NULL
    GROUP BY c.src, c.dst, c.port, c.h + u.d
    HAVING sum(c.logins) >= {min_attempts}
),
kept AS (
    SELECT x.* FROM windows x
    LEFT JOIN fanout f ON f.src = x.src AND f.port = x.port AND f.w = x.w
    WHERE f.src IS NULL
),
islands AS (
    SELECT src, dst, port, min(w) AS w0, max(w) + 1 AS w1, max(attempts) AS window_attempts
    FROM (SELECT *, w - row_number() OVER (PARTITION BY src, dst, port ORDER BY w) AS g
          FROM kept) x
    GROUP BY src, dst, port, g
)
SELECT c.src AS source, array_agg(DISTINCT c.dst) AS targets, array_agg(DISTINCT c.port) AS ports,
    min(c.t0) AS first_seen, max(c.t1) AS last_seen, sum(c.n) AS records, sum(c.nbytes) AS bytes,
    sum(c.accepted) AS accepted, sum(c.rejected) AS rejected, sum(c.logins) AS attempts,
    max(i.window_attempts) AS window_attempts,
    bool_or(c.src_internal) AS src_internal, bool_or(c.dst_internal) AS dst_internal
FROM islands i
JOIN cells c ON c.src = i.src AND c.dst = i.dst AND c.port = i.port
    AND c.h BETWEEN i.w0 - 1 AND i.w1 - 1
GROUP BY c.src, c.dst, c.port, i.w0
ORDER BY first_seen
