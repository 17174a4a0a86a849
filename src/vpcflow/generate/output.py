"""Records to bytes as AWS delivers them: space-separated text with a header line (gzip), or
Parquet; object keys in the default, Hive-compatible and per-hour S3 layouts.

Text is built column-wise with Arrow compute (take from small string pools, integer casts, one
element-wise join), so a window of records becomes one contiguous buffer without Python loops.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import schema
from . import topology as topo
from .records import EGRESS, OK

_OCTETS = pa.array([str(i) for i in range(256)])
_PORTS = pa.array([str(i) for i in range(65536)])
_ACTIONS = pa.array(["ACCEPT", "REJECT"])
_STATUS = pa.array(["OK", "NODATA", "SKIPDATA"])
_DIRECTIONS = pa.array(["ingress", "egress"])
_PATHS = pa.array(["-", *[str(i) for i in range(1, 9)]])
_SERVICES = pa.array(topo.SERVICE_NAMES)
_ENI_ID = pa.array([e.id for e in topo.INTERFACES])
_ENI_SUBNET = pa.array([topo.SUBNETS[topo.SUBNET_INDEX[e.subnet]].id for e in topo.INTERFACES])
_ENI_INSTANCE = pa.array([e.instance_id for e in topo.INTERFACES])
_ENI_AZ = pa.array([topo.SUBNETS[topo.SUBNET_INDEX[e.subnet]].az_id for e in topo.INTERFACES])
_RANGES = [
    (
        topo.ip_int(net) & (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF,
        (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF,
        svc,
    )
    for net, bits, svc in topo.SERVICE_RANGES
]
_S3 = topo.SERVICE_NAMES.index("S3")


def _idx(a: np.ndarray) -> pa.Array:
    return pa.array(a)


def format_ip(a: np.ndarray) -> pa.Array:
    parts = [_OCTETS.take(_idx(((a >> s) & 255).astype(np.uint8))) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def service_of(ip: np.ndarray) -> np.ndarray:
    out = np.zeros(len(ip), dtype=np.int8)
    for net, mask, svc in _RANGES:
        out[(ip & np.uint32(mask)) == np.uint32(net)] = svc
    return out


def traffic_path(c: dict[str, np.ndarray], dst_svc: np.ndarray) -> np.ndarray:
    """Version-5 traffic-path of egress records (0 means '-')."""
    eni = c["eni"].astype(np.intp)
    internal = (c["dst"] & np.uint32(topo.VPC_MASK)) == np.uint32(topo.VPC_NET)
    path = np.where(
        internal,
        1,
        np.where(
            dst_svc == _S3,
            7,
            np.where(topo.ENI_IS_NAT[eni], 2, np.where(topo.ENI_PUBLIC_SUBNET[eni], 8, 1)),
        ),
    )
    return np.where((c["direction"] == EGRESS) & (c["status"] == OK), path, 0).astype(np.int8)


def _blank(arr, mask: pa.Array | None):
    """``arr`` with '-' where ``mask`` (the NODATA/SKIPDATA rows) is set."""
    return arr if mask is None else pc.if_else(mask, pa.scalar("-"), arr)


def string_columns(c: dict[str, np.ndarray], version: int) -> list:
    """One Arrow string array (or scalar) per field of the version's layout."""
    fields = schema.fields_of_version(version) if version != 2 else schema.DEFAULT_FORMAT
    status = c["status"]
    nodata = status != OK
    mask = pa.array(nodata) if nodata.any() else None
    eni = _idx(c["eni"])
    s = pa.scalar
    cols: dict[str, object] = {}
    cols["version"] = s(str(version))
    cols["account-id"] = s(topo.ACCOUNT)
    cols["interface-id"] = _ENI_ID.take(eni)
    src = _blank(format_ip(c["src"]), mask)
    dst = _blank(format_ip(c["dst"]), mask)
    cols["srcaddr"] = cols["pkt-srcaddr"] = src
    cols["dstaddr"] = cols["pkt-dstaddr"] = dst
    cols["srcport"] = _blank(_PORTS.take(_idx(c["sport"])), mask)
    cols["dstport"] = _blank(_PORTS.take(_idx(c["dport"])), mask)
    cols["protocol"] = _blank(_OCTETS.take(_idx(c["proto"])), mask)
    cols["packets"] = _blank(pc.cast(_idx(c["packets"]), pa.string()), mask)
    cols["bytes"] = _blank(pc.cast(_idx(c["bytes"]), pa.string()), mask)
    cols["start"] = pc.cast(_idx(c["start"]), pa.string())
    cols["end"] = pc.cast(_idx(c["end"]), pa.string())
    cols["action"] = _blank(_ACTIONS.take(_idx(c["action"])), mask)
    cols["log-status"] = _STATUS.take(_idx(status))
    if version >= 3:
        cols["vpc-id"] = s(topo.VPC_ID)
        cols["subnet-id"] = _ENI_SUBNET.take(eni)
        cols["instance-id"] = _ENI_INSTANCE.take(eni)
        cols["tcp-flags"] = _blank(_OCTETS.take(_idx(c["flags"])), mask)
        cols["type"] = _blank(s("IPv4"), mask)
    if version >= 4:
        cols["region"] = s(topo.REGION)
        cols["az-id"] = _ENI_AZ.take(eni)
        cols["sublocation-type"] = s("-")
        cols["sublocation-id"] = s("-")
    if version >= 5:
        src_svc = np.where(nodata, 0, service_of(c["src"]))
        dst_svc = np.where(nodata, 0, service_of(c["dst"]))
        cols["pkt-src-aws-service"] = _SERVICES.take(_idx(src_svc))
        cols["pkt-dst-aws-service"] = _SERVICES.take(_idx(dst_svc))
        cols["flow-direction"] = _blank(_DIRECTIONS.take(_idx(c["direction"])), mask)
        cols["traffic-path"] = _PATHS.take(_idx(traffic_path(c, dst_svc)))
    for f in fields:
        if f.name not in cols:
            cols[f.name] = s("-")
    return [cols[f.name] for f in fields]


def header_line(version: int) -> bytes:
    fields = schema.fields_of_version(version) if version != 2 else schema.DEFAULT_FORMAT
    return (" ".join(f.name for f in fields) + "\n").encode()


def format_text(c: dict[str, np.ndarray], version: int) -> memoryview:
    """The records as newline-terminated lines, one contiguous buffer (no header)."""
    if len(c["eni"]) == 0:
        return memoryview(b"")
    cols = string_columns(c, version)
    # A trailing empty column makes every line end with the separator; that space is then
    # overwritten with a newline in the contiguous buffer (cheaper than a second join).
    cols.append(pa.scalar(""))
    joined = pc.binary_join_element_wise(*cols, " ")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[
        joined.offset : joined.offset + len(joined) + 1
    ]
    data = np.frombuffer(joined.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].copy()
    data[offsets[1:] - offsets[0] - 1] = ord("\n")
    return memoryview(data)


def gzip_bytes(parts: list, level: int = 6) -> bytes:
    z = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [z.compress(p) for p in parts]
    out.append(z.flush())
    return b"".join(out)


def parquet_table(c: dict[str, np.ndarray], version: int) -> pa.Table:
    """The records as AWS writes Parquet: one column per field, typed, '-' as null."""
    fields = schema.fields_of_version(version) if version != 2 else schema.DEFAULT_FORMAT
    strings = string_columns(c, version)
    n = len(c["eni"])
    arrays = []
    for f, col in zip(fields, strings, strict=True):
        if isinstance(col, pa.Scalar):
            col = pa.array(np.full(n, col.as_py(), dtype=object), pa.string())
        col = pc.if_else(pc.equal(col, "-"), pa.scalar(None, pa.string()), col)
        arrays.append(pc.cast(col, f.arrow_type) if f.athena_type != "string" else col)
    return pa.Table.from_arrays(arrays, names=[f.column for f in fields])


def object_key(t: int, part: int, seed: int, layout: str, hourly: bool, fmt: str) -> str:
    """Key of the file delivered for the window starting at unix time ``t``."""
    tm = time.gmtime(t)
    y, mo, d, h = f"{tm.tm_year:04d}", f"{tm.tm_mon:02d}", f"{tm.tm_mday:02d}", f"{tm.tm_hour:02d}"
    stamp = time.strftime("%Y%m%dT%H%MZ", tm)
    digest = hashlib.sha1(f"{seed}:{t}:{part}".encode()).hexdigest()[:8]
    ext = "log.gz" if fmt == "text" else "log.parquet"
    name = f"{topo.ACCOUNT}_vpcflowlogs_{topo.REGION}_{topo.FLOW_LOG_ID}_{stamp}_{digest}.{ext}"
    if layout == "flat":
        return name
    if layout == "hive":
        prefix = (
            f"AWSLogs/aws-account-id={topo.ACCOUNT}/aws-service=vpcflowlogs/"
            f"aws-region={topo.REGION}/year={y}/month={mo}/day={d}/"
        )
        if hourly:
            prefix += f"hour={h}/"
    else:
        prefix = f"AWSLogs/{topo.ACCOUNT}/vpcflowlogs/{topo.REGION}/{y}/{mo}/{d}/"
        if hourly:
            prefix += f"{h}/"
    return prefix + name


def write_file(path: Path, c: dict[str, np.ndarray], version: int, fmt: str) -> int:
    """Write one delivered file; return its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(parquet_table(c, version), path, compression="gzip")
    else:
        data = gzip_bytes([header_line(version), format_text(c, version)])
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.stat().st_size
