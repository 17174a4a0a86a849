-- The flow records every detector starts from: one window of time, records with addresses only.
-- is_request: the record carries a client's request rather than a server's answer. With TCP
-- flags (version 3+) a SYN without ACK decides; otherwise the service is the lower port.
-- src_internal / dst_internal: the address is one of ours ({internal} = the internal CIDRs).
SELECT
    srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, "end", action,
    interface_id,
    CASE
        WHEN protocol = 6 AND tcp_flags IS NOT NULL AND (tcp_flags & 2) <> 0
            THEN (tcp_flags & 16) = 0
        ELSE coalesce(srcport > dstport, false)
    END AS is_request,
    {src_internal} AS src_internal,
    {dst_internal} AS dst_internal
FROM vpc_flow_logs
WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND start IS NOT NULL
    AND start >= {since} AND start < {until}
