-- Only the flows of conversations with a REJECT in either direction: troubleshoot's default,
-- so that the accepted bulk of a store never reaches Python. The CTE is flows.sql.
--
-- A busy interface rejects mostly two kinds of conversation, each by the thousand:
--   * probes: a 5-tuple seen one way only, every record rejected;
--   * replies a network ACL drops: one direction all accepted, the other all rejected.
-- Conversations of one kind with the same interface, addresses, server port and evidence
-- (direction fields, TCP flags, reject reason, whether the client's port looks like a service
-- port or is ephemeral) get the same verdict; they differ only in the client's port and in
-- time, which troubleshoot folds away. So they are folded here, one row per side of each such
-- group: `conversations` counts them (for probes, the time runs that pair_flows splits a
-- 5-tuple into, GAP_SECONDS = 600 apart; a reply pattern must be one run), `srcport` is the
-- earliest one's and `ports_varied` says whether the clients' ports differed. Every other
-- flow comes through as it is, with `conversations` 1. The placeholders are replaced by
-- expressions built in troubleshoot/__init__.py ({side_totals}: what the flows of a folded
-- side come to, for probes and replies alike; {record_ends} and {flow_ends}: a record's and
-- a flow's two ends in that order); {materialized} by MATERIALIZED where the
-- engine computes such a CTE once (DuckDB), as every part of the result reads `ends`, and
-- {inline} by NOT MATERIALIZED there: `records` is read twice, and holding a busy day's
-- records costs more than reading them again.
WITH records AS {inline} (
    -- the records flows.sql reads, each with its conversation's two ends (as `ended` below)
    SELECT
        r.*,
        {record_ends}
    FROM (
        SELECT vpc_flow_logs.*, coalesce(protocol, -1) AS r_proto, {forward} AS r_forward
        FROM vpc_flow_logs
        WHERE {conditions}
    ) r
),
rejected_ends AS (
    SELECT DISTINCT interface_id AS e_interface, r_proto AS e_proto, r_a_addr AS e_a_addr,
        r_a_port AS e_a_port, r_b_addr AS e_b_addr, r_b_port AS e_b_port
    FROM records
    WHERE action = 'REJECT'
),
kept AS (
    -- only the records of conversations with a REJECT become flows (a join: most of a busy
    -- day has none, and grouping all of it into flows first took most of the time)
    SELECT records.*
    FROM records
    JOIN rejected_ends
        ON interface_id = e_interface AND r_proto = e_proto AND r_a_addr = e_a_addr
        AND r_a_port = e_a_port AND r_b_addr = e_b_addr AND r_b_port = e_b_port
),
flows AS (
{flows}
),
marked AS (
    SELECT
        flows.*,
        CASE WHEN action = 'REJECT' THEN 1 ELSE 0 END AS is_reject,
        coalesce(protocol, -1) AS proto,
        -- the conversation's two ends ordered as pair_flows orders them (by address, then by
        -- port as a number; no port is 0): a flow from the first end is "forward"
        {forward} AS forward
    FROM flows
),
ended AS (
    SELECT
        marked.*,
        {flow_ends}
    FROM marked
),
facts AS (
    -- per conversation (interface, protocol, its two ends): what each direction holds
    SELECT
        interface_id AS c_interface, proto AS c_proto, a_addr AS c_a_addr, a_port AS c_a_port,
        b_addr AS c_b_addr, b_port AS c_b_port,
        min(is_reject) AS all_reject,
        min(forward) AS forward_lo,
        max(forward) AS forward_hi,
        max(CASE WHEN forward = 1 THEN 1 - is_reject ELSE 0 END) AS f_acc,
        max(CASE WHEN forward = 1 THEN is_reject ELSE 0 END) AS f_rej,
        max(CASE WHEN forward = 0 THEN 1 - is_reject ELSE 0 END) AS b_acc,
        max(CASE WHEN forward = 0 THEN is_reject ELSE 0 END) AS b_rej,
        max(CASE WHEN forward = 1 THEN syn ELSE 0 END) AS f_syn,
        max(CASE WHEN forward = 0 THEN syn ELSE 0 END) AS b_syn,
        max(CASE WHEN forward = 1 THEN syn_ack ELSE 0 END) AS f_synack,
        max(CASE WHEN forward = 0 THEN syn_ack ELSE 0 END) AS b_synack,
        min(CASE WHEN forward = 1 THEN coalesce(flow_direction, '') END) AS f_dir_lo,
        max(CASE WHEN forward = 1 THEN coalesce(flow_direction, '') END) AS f_dir_hi,
        min(CASE WHEN forward = 0 THEN coalesce(flow_direction, '') END) AS b_dir_lo,
        max(CASE WHEN forward = 0 THEN coalesce(flow_direction, '') END) AS b_dir_hi,
        min(coalesce(reject_reason, '')) AS reason_lo,
        max(coalesce(reject_reason, '')) AS reason_hi,
        min(CASE WHEN forward = 1 THEN coalesce(first_start, 0) END) AS f_first,
        min(CASE WHEN forward = 0 THEN coalesce(first_start, 0) END) AS b_first
    FROM ended
    GROUP BY interface_id, proto, a_addr, a_port, b_addr, b_port
),
sides AS (
    -- each flow with its conversation's facts (a GROUP BY joined back: a window of these
    -- eighteen aggregates took three times as long on a busy day)
    SELECT
        ended.*,
        CASE WHEN a_addr = b_addr AND a_port = b_port THEN 1 ELSE 0 END AS to_itself,
        all_reject, forward_lo, forward_hi, f_acc, f_rej, b_acc, b_rej, f_syn, b_syn, f_synack,
        b_synack, f_dir_lo, f_dir_hi, b_dir_lo, b_dir_hi, reason_lo, reason_hi, f_first,
        b_first
    FROM ended
    JOIN facts
        ON interface_id = c_interface AND proto = c_proto AND a_addr = c_a_addr
        AND a_port = c_a_port AND b_addr = c_b_addr AND b_port = c_b_port
),
kinds AS (
    SELECT
        sides.*,
        CASE
            WHEN {no_fold} THEN NULL
            WHEN all_reject = 1
                AND (to_itself = 1 OR forward_lo = forward_hi)
                AND coalesce(f_dir_lo, b_dir_lo) = coalesce(f_dir_hi, b_dir_hi)
                AND reason_lo = reason_hi
            THEN 'probe'
            WHEN to_itself = 0
                AND (
                    (f_acc = 1 AND f_rej = 0 AND b_rej = 1 AND b_acc = 0)
                    OR (b_acc = 1 AND b_rej = 0 AND f_rej = 1 AND f_acc = 0)
                )
                AND f_dir_lo = f_dir_hi
                AND b_dir_lo = b_dir_hi
                AND reason_lo = reason_hi
            THEN 'reply'
        END AS kind,
        -- who sent the request (conversations._initiator): TCP flags, else the accepted side
        CASE
            WHEN (f_syn = 1 AND b_syn = 0) OR (b_synack = 1 AND f_synack = 0) THEN 1
            WHEN (b_syn = 1 AND f_syn = 0) OR (f_synack = 1 AND b_synack = 0) THEN 0
            ELSE f_acc
        END AS request_forward
    FROM sides
),
runs AS (
    SELECT
        kinds.*,
        CASE WHEN forward = request_forward OR kind = 'probe' THEN 1 ELSE 0 END AS is_request,
        -- a new time run when the window starts more than 600 s after every earlier window
        -- of the conversation ended (conversations._sessions)
        CASE
            WHEN coalesce(first_start, 0) <= max(
                coalesce(nullif(last_end, 0), coalesce(first_start, 0))
            ) OVER (
                PARTITION BY interface_id, proto, a_addr, a_port, b_addr, b_port
                ORDER BY coalesce(first_start, 0), coalesce(last_end, 0)
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) + 600
            THEN 0 ELSE 1
        END AS new_run
    FROM kinds
),
ends AS {materialized} (
    SELECT
        runs.*,
        CASE WHEN is_request = 1 THEN srcaddr ELSE dstaddr END AS client_addr,
        coalesce(CASE WHEN is_request = 1 THEN srcport ELSE dstport END, 0) AS client_port,
        CASE WHEN is_request = 1 THEN dstaddr ELSE srcaddr END AS server_addr,
        coalesce(CASE WHEN is_request = 1 THEN dstport ELSE srcport END, 0) AS server_port,
        CASE WHEN is_request = 1 THEN dstport ELSE srcport END AS server_port_raw,
        sum(new_run) OVER (PARTITION BY interface_id, proto, a_addr, a_port, b_addr, b_port) AS conversation_runs
    FROM runs
),
replies AS (
    SELECT
        ends.*,
        CASE WHEN request_forward = 1 THEN f_acc ELSE b_acc END AS request_accepted,
        CASE WHEN request_forward = 1 THEN f_syn ELSE b_syn END AS request_syn,
        CASE WHEN request_forward = 1 THEN f_synack ELSE b_synack END AS request_synack,
        CASE WHEN request_forward = 1 THEN b_syn ELSE f_syn END AS response_syn,
        CASE WHEN request_forward = 1 THEN b_synack ELSE f_synack END AS response_synack,
        CASE WHEN request_forward = 1 THEN f_dir_lo ELSE b_dir_lo END AS request_dir,
        CASE WHEN request_forward = 1 THEN b_dir_lo ELSE f_dir_lo END AS response_dir,
        -- when the conversation's first request started (a reply's requests are the flows of
        -- its request's direction): from the facts, as a window over these rows took a quarter
        -- of the whole query's CPU time on a busy day
        CASE WHEN request_forward = 1 THEN f_first ELSE b_first END AS request_first
    FROM ends
    WHERE kind = 'reply' AND conversation_runs = 1
),
reply_groups AS (
    -- one row per side (is_request) of each group of alike replies (the keys of window g),
    -- and what the group's two sides have between them: a window over these rows, which are
    -- few (a window over every reply row took 4.7 of the query's 89 s of CPU on a busy day)
    SELECT
        interface_id, protocol, client_addr, server_addr, server_port, is_request,
        max(server_port_raw) AS server_port_raw,
        {side_totals},
        min(request_first) AS request_first,
        max(syn) AS syn,
        max(syn_ack) AS syn_ack,
        max(reject_reason) AS reject_reason,
        CAST(count(DISTINCT client_port) AS bigint) AS conversations,
        CASE WHEN min(client_port) < max(client_port) THEN 1 ELSE 0 END AS ports_varied,
        -- the earliest request's port: the lowest of those starting first, no port last
        (
            min(min(
                CASE WHEN is_request = 1 THEN request_first * 131072 + coalesce(srcport, 65536) END
            )) OVER g
        ) % 131072 AS first_client_port,
        min(min(coalesce(first_start, 0))) OVER g AS group_first,
        max(max(last_end)) OVER g AS group_last
    FROM replies
    GROUP BY
        interface_id, protocol, client_addr, server_addr, server_port, {client_port_key},
        request_accepted, request_syn, request_synack, response_syn, response_synack,
        request_dir, response_dir, reason_lo, is_request
    WINDOW g AS (
        PARTITION BY interface_id, protocol, client_addr, server_addr, server_port,
            {client_port_key}, request_accepted, request_syn, request_synack, response_syn,
            response_synack, request_dir, response_dir, reason_lo
    )
)
SELECT
    interface_id, srcaddr, dstaddr, srcport, dstport, protocol, action, flow_direction,
    subnet_id, vpc_id, records, packets, bytes, first_start, last_end, syn, syn_ack,
    reject_reason,
    CAST(1 AS bigint) AS conversations,
    0 AS ports_varied
FROM ends
WHERE kind IS NULL OR (kind = 'reply' AND conversation_runs > 1)
UNION ALL
SELECT
    interface_id,
    srcaddr,
    dstaddr,
    -- the earliest conversation's port (the lowest of those starting first, no port last)
    CAST(
        nullif(min(coalesce(first_start, 0) * 131072 + coalesce(srcport, 65536)) % 131072, 65536)
        AS integer
    ) AS srcport,
    max(dstport) AS dstport,  -- (no port only when none had one: they are one port here)
    protocol,
    {side_totals},
    min(first_start) AS first_start,
    max(last_end) AS last_end,
    max(syn) AS syn,
    max(syn_ack) AS syn_ack,
    max(reject_reason) AS reject_reason,
    CAST(sum(new_run) AS bigint) AS conversations,
    CASE WHEN min(coalesce(srcport, 0)) < max(coalesce(srcport, 0)) THEN 1 ELSE 0 END
        AS ports_varied
FROM ends
WHERE kind = 'probe'
GROUP BY
    interface_id, srcaddr, dstaddr, coalesce(dstport, 0), protocol,
    coalesce(flow_direction, ''), coalesce(reject_reason, ''),
    {service_source_port}
UNION ALL
SELECT
    interface_id,
    CASE WHEN is_request = 1 THEN client_addr ELSE server_addr END AS srcaddr,
    CASE WHEN is_request = 1 THEN server_addr ELSE client_addr END AS dstaddr,
    CAST(
        CASE WHEN is_request = 1 THEN nullif(first_client_port, 65536) ELSE server_port_raw END
        AS integer
    ) AS srcport,
    CAST(
        CASE WHEN is_request = 1 THEN server_port_raw ELSE nullif(first_client_port, 65536) END
        AS integer
    ) AS dstport,
    protocol, action, flow_direction, subnet_id, vpc_id, records, packets, bytes,
    -- the request's side starts when the earliest request did (conversations are ranked by
    -- it); the reply's side spans the whole group, so that the two pair into one run
    CASE WHEN is_request = 1 THEN request_first ELSE group_first END AS first_start,
    group_last AS last_end,
    syn, syn_ack, reject_reason, conversations, ports_varied
FROM reply_groups
