"""IANA assigned Internet protocol numbers (the ``protocol`` field of a flow record) and names.

Keywords from the IANA "Assigned Internet Protocol Numbers" registry, 0–146. Numbers the registry
assigns without a keyword (61, 63, 68, 99, 114) are given a short description instead; 147–252
are unassigned, 253–254 are for experimentation and 255 is reserved.
"""

from __future__ import annotations

_KEYWORDS = [
    "HOPOPT",
    "ICMP",
    "IGMP",
    "GGP",
    "IPv4",
    "ST",
    "TCP",
    "CBT",
    "EGP",
    "IGP",
    "BBN-RCC-MON",
    "NVP-II",
    "PUP",
    "ARGUS",
    "EMCON",
    "XNET",
    "CHAOS",
    "UDP",
    "MUX",
    "DCN-MEAS",
    "HMP",
    "PRM",
    "XNS-IDP",
    "TRUNK-1",
    "TRUNK-2",
    "LEAF-1",
    "LEAF-2",
    "RDP",
    "IRTP",
    "ISO-TP4",
    "NETBLT",
    "MFE-NSP",
    "MERIT-INP",
    "DCCP",
    "3PC",
    "IDPR",
    "XTP",
    "DDP",
    "IDPR-CMTP",
    "TP++",
    "IL",
    "IPv6",
    "SDRP",
    "IPv6-Route",
    "IPv6-Frag",
    "IDRP",
    "RSVP",
    "GRE",
    "DSR",
    "BNA",
    "ESP",
    "AH",
    "I-NLSP",
    "SWIPE",
    "NARP",
    "Min-IPv4",
    "TLSP",
    "SKIP",
    "IPv6-ICMP",
    "IPv6-NoNxt",
    "IPv6-Opts",
    "any-host-internal",
    "CFTP",
    "any-local-network",
    "SAT-EXPAK",
    "KRYPTOLAN",
    "RVD",
    "IPPC",
    "any-distributed-file-system",
    "SAT-MON",
    "VISA",
    "IPCV",
    "CPNX",
    "CPHB",
    "WSN",
    "PVP",
    "BR-SAT-MON",
    "SUN-ND",
    "WB-MON",
    "WB-EXPAK",
    "ISO-IP",
    "VMTP",
    "SECURE-VMTP",
    "VINES",
    "IPTM",
    "NSFNET-IGP",
    "DGP",
    "TCF",
    "EIGRP",
    "OSPFIGP",
    "Sprite-RPC",
    "LARP",
    "MTP",
    "AX.25",
    "IPIP",
    "MICP",
    "SCC-SP",
    "ETHERIP",
    "ENCAP",
    "any-private-encryption",
    "GMTP",
    "IFMP",
    "PNNI",
    "PIM",
    "ARIS",
    "SCPS",
    "QNX",
    "A/N",
    "IPComp",
    "SNP",
    "Compaq-Peer",
    "IPX-in-IP",
    "VRRP",
    "PGM",
    "any-0-hop",
    "L2TP",
    "DDX",
    "IATP",
    "STP",
    "SRP",
    "UTI",
    "SMP",
    "SM",
    "PTP",
    "ISIS-over-IPv4",
    "FIRE",
    "CRTP",
    "CRUDP",
    "SSCOPMCE",
    "IPLT",
    "SPS",
    "PIPE",
    "SCTP",
    "FC",
    "RSVP-E2E-IGNORE",
    "Mobility-Header",
    "UDPLite",
    "MPLS-in-IP",
    "manet",
    "HIP",
    "Shim6",
    "WESP",
    "ROHC",
    "Ethernet",
    "AGGFRAG",
    "NSH",
    "Homa",
]

PROTOCOLS: dict[int, str] = dict(enumerate(_KEYWORDS))
PROTOCOLS.update({253: "experimental-253", 254: "experimental-254", 255: "Reserved"})

assert len(_KEYWORDS) == 147 and PROTOCOLS[6] == "TCP" and PROTOCOLS[146] == "Homa"


def name(number: int | None) -> str | None:
    """``6 -> 'TCP'``; ``None`` for NULL, 147–252 give ``'unassigned-N'``."""
    if number is None:
        return None
    number = int(number)
    if number in PROTOCOLS:
        return PROTOCOLS[number]
    return f"unassigned-{number}" if 0 <= number <= 255 else None


def number(keyword: str) -> int | None:
    """``'tcp' -> 6`` (case-insensitive), None if unknown."""
    key = keyword.strip().lower()
    for num, kw in PROTOCOLS.items():
        if kw.lower() == key:
            return num
    return None


def sql_macro() -> str:
    """A DuckDB macro body: one list lookup per row, no join."""
    items = ", ".join("'" + name(i).replace("'", "''") + "'" for i in range(256))
    return f"CASE WHEN p BETWEEN 0 AND 255 THEN [{items}][p::BIGINT + 1] END"
