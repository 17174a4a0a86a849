"""Local sources: files, directories (recursive), globs and ``-`` (standard input).

Plain text, ``.gz`` (detected by magic bytes, not by name) and Parquet. A directory laid out
like the S3 delivery gives account, region and day from the path.
"""

from __future__ import annotations

import glob
import hashlib
import io
import logging
import os
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import SourceError
from . import RawObject
from .keys import parse_key

try:  # ISA-L inflates gzip about twice as fast as zlib; same API.
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal has wheels for the usual platforms
    _inflate = zlib

log = logging.getLogger("vpcflow")

_SKIP_NAMES = {".DS_Store"}


class GzipStream(io.RawIOBase):
    """Decompress gzip (including concatenated members) from a binary stream, streaming.

    Memory stays bounded whatever the compression ratio: each inflate call is capped in input
    and output. Damage of any kind is handled the same way: everything decoded before it is
    returned, then the next read raises ``EOFError`` (truncated) or ``zlib.error`` (a corrupt
    deflate stream, a bad CRC or length, trailing garbage). The header and trailer are read
    here and the CRC checked here, so a bad CRC costs nothing of the data before it.
    """

    _IN_STEP = 64 << 10  # compressed bytes per inflate call: bounds what damage can cost
    _OUT_STEP = 256 << 10  # decompressed bytes per inflate call

    def __init__(self, raw: BinaryIO, chunk: int = 1 << 20):
        self._raw = raw
        self._chunk = chunk
        self._in = b""
        self._pos = 0  # consumed bytes of self._in
        self._d = None  # the inflater of the current member (raw deflate)
        self._crc = 0
        self._size = 0
        self._members = 0
        self._buf = bytearray()
        self._eof = False
        self._error: Exception | None = None

    def readable(self) -> bool:
        return True

    # -- input -------------------------------------------------------------------------------
    def _avail(self) -> int:
        return len(self._in) - self._pos

    def _more(self) -> bool:
        """Read another block of compressed input; False at the end of the raw stream."""
        block = self._raw.read(self._chunk)
        if not block:
            return False
        self._in = self._in[self._pos :] + block
        self._pos = 0
        return True

    def _need(self, n: int) -> bool:
        while self._avail() < n:
            if not self._more():
                return False
        return True

    def _take(self, n: int) -> bytes:
        out = self._in[self._pos : self._pos + n]
        self._pos += n
        return out

    # -- members -----------------------------------------------------------------------------
    def _start_member(self) -> bool:
        """Parse a member header; False at a clean end of the stream."""
        if not self._need(1):
            return False
        if not self._in[self._pos :].strip(b"\0"):  # trailing zero padding is allowed
            while self._more():
                if self._in[self._pos :].strip(b"\0"):
                    break
            else:
                return False
        if not self._need(10):
            raise EOFError("gzip stream is truncated (in a member header)")
        head = self._take(10)
        if head[:3] != b"\x1f\x8b\x08":
            what = "data after the last gzip member" if self._members else "data"
            raise zlib.error(f"{what} is not gzip (bad magic bytes)")
        flags = head[3]
        if flags & 4:  # FEXTRA
            if not self._need(2):
                raise EOFError("gzip stream is truncated (in a member header)")
            xlen = int.from_bytes(self._take(2), "little")
            if not self._need(xlen):
                raise EOFError("gzip stream is truncated (in a member header)")
            self._take(xlen)
        for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
            if flags & bit:
                while (end := self._in.find(b"\0", self._pos)) < 0:
                    if not self._more():
                        raise EOFError("gzip stream is truncated (in a member header)")
                self._pos = end + 1
        if flags & 2:  # FHCRC
            if not self._need(2):
                raise EOFError("gzip stream is truncated (in a member header)")
            self._take(2)
        self._d = _inflate.decompressobj(wbits=-15)
        self._crc = 0
        self._size = 0
        self._members += 1
        return True

    def _end_member(self) -> None:
        if not self._need(8):
            raise EOFError("gzip stream is truncated (in a member trailer)")
        trailer = self._take(8)
        crc = int.from_bytes(trailer[:4], "little")
        size = int.from_bytes(trailer[4:], "little")
        self._d = None
        if crc != self._crc:
            raise zlib.error(f"gzip member {self._members} fails its CRC check (data damaged)")
        if size != self._size & 0xFFFFFFFF:
            raise zlib.error(f"gzip member {self._members} has the wrong length (data damaged)")

    def _step(self, want: int) -> None:
        """Decode at most ``want`` bytes more into the buffer, or advance between members."""
        if self._d is None:
            if not self._start_member():
                self._eof = True
            return
        if not self._avail() and not self._more():
            raise EOFError("gzip stream is truncated")
        piece = self._in[self._pos : self._pos + self._IN_STEP]
        try:
            out = self._d.decompress(piece, min(want, self._OUT_STEP))
        except _inflate.error as exc:  # one error type, whichever inflater is in use
            raise zlib.error(f"gzip data is damaged: {exc}") from exc
        used = len(piece) - len(self._d.unconsumed_tail)
        if self._d.eof:
            used = len(piece) - len(self._d.unused_data)
        self._pos += used
        self._crc = _inflate.crc32(out, self._crc)
        self._size += len(out)
        self._buf += out
        if self._d.eof:
            self._end_member()

    def read(self, size: int = -1) -> bytes:
        if self._error is not None and not self._buf:
            raise self._error
        while not self._eof and self._error is None and (size < 0 or len(self._buf) < size):
            try:
                self._step(self._OUT_STEP if size < 0 else size - len(self._buf))
            except (EOFError, zlib.error) as exc:
                # Hand out what was decoded before the damage; fail on the next read.
                self._error = exc
                if not self._buf:
                    raise
        if size < 0 or size >= len(self._buf):
            out = bytes(self._buf)
            self._buf.clear()
        else:
            out = bytes(self._buf[:size])
            del self._buf[:size]
        return out

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_decompressed(raw: BinaryIO) -> tuple[BinaryIO, str]:
    """Wrap ``raw`` so reads return decompressed bytes; also say whether it is Parquet."""
    head = raw.read(4)
    rest = _Prefixed(head, raw)
    if head[:2] == b"\x1f\x8b":
        return GzipStream(rest), "text"
    if head == b"PAR1":
        return rest, "parquet"
    return rest, "text"


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, raw: BinaryIO):
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                out, self._head = self._head + self._raw.read(), b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            if len(out) < size:
                out += self._raw.read(size - len(out))
            return out
        return self._raw.read(size)

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._raw.close()
        super().close()


def _file_object(path: Path) -> RawObject:
    st = path.stat()
    info = parse_key(str(path))
    kind = "parquet" if info.file_format == "parquet" else "text"
    if kind == "text":
        with open(path, "rb") as fh:
            if fh.read(4) == b"PAR1":
                kind = "parquet"
    return RawObject(
        uri=str(path.resolve()),
        open=lambda p=path: open(p, "rb"),
        path=str(path),
        version=f"{st.st_size}:{st.st_mtime_ns}",
        size=st.st_size,
        kind=kind,
        account=info.account,
        region=info.region,
        day=info.day,
    )


def _walk(root: Path, on_ignored=None) -> Iterator[Path]:
    """Files below ``root``, sorted, hidden ones left out. In a tree that holds flow logs as AWS
    names them (``…_vpcflowlogs_…``), only those are taken: side files such as the generator's
    ``labels.json`` or a ``threat-list.txt`` are not records; each one left out is passed to
    ``on_ignored`` (the ingest report lists them)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(
            Path(dirpath) / n
            for n in sorted(filenames)
            if n not in _SKIP_NAMES and not n.startswith(".")
        )
    named = [p for p in files if parse_key(p.name).flow_log_id]
    if named and len(named) < len(files):
        log.info(
            "%s: %d files that are not AWS flow-log objects left out", root, len(files) - len(named)
        )
        if on_ignored is not None:
            keep = set(named)
            for p in files:
                if p not in keep:
                    on_ignored(str(p))
        files = named
    yield from files


def _stdin_object(stream: BinaryIO) -> RawObject:
    """Standard input spooled to a temporary file (never held in memory) and keyed by the
    SHA-256 of its bytes, so the same input given twice is recognised as already ingested."""
    spool = tempfile.TemporaryFile(prefix="vpcflow-stdin-")
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(1 << 20):
        digest.update(block)
        spool.write(block)
        size += len(block)
    spool.flush()
    spool.seek(0)
    head = spool.read(4)

    def opener():  # a file of its own over the spool (which the closure keeps alive)
        fh = open(os.dup(spool.fileno()), "rb")
        fh.seek(0)
        return fh

    return RawObject(
        uri="<stdin>",
        open=opener,
        version=f"sha256:{digest.hexdigest()}",
        size=size,
        kind="parquet" if head == b"PAR1" else "text",
    )


def iter_local(spec: str, on_ignored=None, **_options) -> Iterator[RawObject]:
    """Objects for a local SOURCE: ``-``, a file, a directory (recursive) or a glob.

    Directories skip hidden files, and side files next to AWS-named flow-log objects (passed
    to ``on_ignored``)."""
    if spec == "-":
        yield _stdin_object(sys.stdin.buffer)
        return
    path = Path(spec).expanduser()
    if path.is_dir():
        yield from (_file_object(p) for p in _walk(path, on_ignored))
        return
    if path.is_file():
        yield _file_object(path)
        return
    if glob.has_magic(spec):
        matches = sorted(glob.glob(os.path.expanduser(spec), recursive=True))
        if not matches:
            raise SourceError(f"{spec}: no files match this pattern")
        for m in matches:
            p = Path(m)
            if p.is_dir():
                yield from (_file_object(q) for q in _walk(p, on_ignored))
            elif p.is_file():
                yield _file_object(p)
        return
    if path.exists():
        raise SourceError(f"{spec}: not a regular file or directory")
    raise SourceError(f"{spec}: no such file or directory")
