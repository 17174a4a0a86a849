"""Local sources: files, directories (recursive), globs and ``-`` (standard input).

Plain text, ``.gz`` (detected by magic bytes, not by name) and Parquet. A directory laid out
like the S3 delivery gives account, region and day from the path.
"""

from __future__ import annotations

import glob
import gzip
import io
import logging
import os
import sys
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

    A truncated stream raises ``EOFError`` after everything readable was returned.
    """

    def __init__(self, raw: BinaryIO, chunk: int = 1 << 20):
        self._raw = raw
        self._chunk = chunk
        self._d = _inflate.decompressobj(wbits=31)
        self._in_member = False
        self._pending = b""
        self._buf = b""
        self._eof = False
        self._error: EOFError | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._error is not None and not self._buf:
            raise self._error
        while not self._eof and (size < 0 or len(self._buf) < size):
            if self._d.eof:  # next gzip member, if any (trailing zero padding is allowed)
                rest = self._d.unused_data
                self._d = _inflate.decompressobj(wbits=31)
                self._in_member = False
                self._pending = rest if rest.strip(b"\0") else b""
            data = self._pending or self._raw.read(self._chunk)
            self._pending = b""
            if not data:
                self._eof = True
                if self._in_member:  # hand out what was decoded, then fail
                    self._error = EOFError("gzip stream is truncated")
                    if not self._buf:
                        raise self._error
                break
            self._in_member = True
            try:
                self._buf += self._d.decompress(data)
            except _inflate.error as exc:  # one error type, whichever inflater is in use
                raise zlib.error(str(exc)) from exc
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
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


def _walk(root: Path) -> Iterator[Path]:
    """Files below ``root``, sorted, hidden ones left out. In a tree that holds flow logs as AWS
    names them (``…_vpcflowlogs_…``), only those are taken: side files such as the generator's
    ``labels.json`` or a ``threat-list.txt`` are not records."""
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
        files = named
    yield from files


def iter_local(spec: str, **_options) -> Iterator[RawObject]:
    """Objects for a local SOURCE: ``-``, a file, a directory (recursive) or a glob.

    Directories skip hidden files, and side files next to AWS-named flow-log objects."""
    if spec == "-":
        data = sys.stdin.buffer.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        yield RawObject(
            uri="<stdin>",
            open=lambda: io.BytesIO(data),
            version="",
            size=len(data),
            kind="parquet" if data[:4] == b"PAR1" else "text",
        )
        return
    path = Path(spec).expanduser()
    if path.is_dir():
        yield from (_file_object(p) for p in _walk(path))
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
                yield from (_file_object(q) for q in _walk(p))
            elif p.is_file():
                yield _file_object(p)
        return
    if path.exists():
        raise SourceError(f"{spec}: not a regular file or directory")
    raise SourceError(f"{spec}: no such file or directory")
