"""Containers the detector opens: gzip streams and tar archives, under one shared budget.

``Budget`` is the one allowance of a whole tree of nested containers (a tar in a
gzip in a tar, a Docker image's layers): every byte inflated by gzip or zip and
every zip member is taken from it, so a bomb nested at any depth
costs at most ``Budget.bytes`` of output and ``Budget.members`` members. A gzip
stream that inflates more than ``MAX_RATIO`` times its input (past ``RATIO_FLOOR``)
is a bomb and is cut there. Tar members cost what they occupy in their input
(already bounded), so they take nothing more.

Reads are bounded: gzip inflates at most ``STEP`` bytes per call
(``zlib.decompressobj`` with ``max_length``); tar archives are read as a stream
(``tarfile`` mode ``r|``) whose members are handed out whole up to ``WHOLE``
bytes and in pieces above, so memory stays bounded whatever the archive says.
What a budget cut short is recorded in ``Budget.cut``; the detector's per-input ``_Limits``
holds the budget and reports those cuts as one ``limit:`` warning naming the file.
"""

from __future__ import annotations

import io
import zlib
TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Iterable, Iterator

GZIP_MAGIC = b"\x1f\x8b"
TAR_MAGIC_AT = 257
"""Offset of the ``ustar`` magic in a tar header."""
MAX_RATIO = 200
"""A gzip stream inflating more than this times its input is cut (bomb)."""
RATIO_FLOOR = 1 << 20
"""Output below this is never judged by its ratio (tiny inputs compress well)."""
STEP = 1 << 20
"""Bytes inflated per ``decompress`` call at most."""
WHOLE = 8 << 20
"""Tar members up to this size are read whole; larger ones are streamed in pieces of ``STEP``."""


class Budget:
    """The shared allowance of one tree of nested containers (see the module doc)."""

    __slots__ = ("bytes", "members", "cut")

    def __init__(self, max_bytes: int, max_members: int):
        self.bytes = max_bytes
        """Inflated bytes left."""
        self.members = max_members
        """Archive members left."""
        self.cut: list[str] = []
        """Containers not read to their end, with the reason (at most a few dozen kept)."""

    def take_member(self, where: str) -> bool:
        """One member more; False (and noted) once none are left."""
        if self.members <= 0:
            self.note(where, "member limit")
            return False
        self.members -= 1
        return True

    def take_bytes(self, n: int) -> int:
        """Up to ``n`` inflated bytes: how many are allowed."""
        got = max(0, min(n, self.bytes))
        self.bytes -= got
        return got

    def note(self, where: str, why: str) -> None:
        """Record that ``where`` was cut short (bounded list)."""
        if len(self.cut) < 32:
            self.cut.append(f"{where}: {why}")


def is_gzip(head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC


def is_tar(head: bytes) -> bool:
    return head[TAR_MAGIC_AT:TAR_MAGIC_AT + 5] == b"ustar"


def gunzip(chunks: Iterable[bytes], budget: Budget, where: str = "gzip") -> Iterator[bytes]:
    """The inflated bytes of a gzip stream (concatenated members too), in pieces of at most ``STEP``.

    Stops at the budget, at ``MAX_RATIO``, or at corrupt data (what was inflated
    before is kept); the input iterator is always read to its end.
    """
    it = iter(chunks)
    d = zlib.decompressobj(31)
    taken = out = 0
    stopped = False
    for chunk in it:
        if stopped:
            continue
        taken += len(chunk)
        data = chunk
        while data and not stopped:
            try:
                piece = d.decompress(data, STEP)
            except zlib.error:
                budget.note(where, "corrupt data")
                stopped = True
                break
            data = d.unconsumed_tail
            if d.eof:
                rest = d.unused_data
                d = zlib.decompressobj(31)
                data = rest if rest[:2] == GZIP_MAGIC else b""
            if not piece:
                continue
            out += len(piece)
            if out > RATIO_FLOOR and out > MAX_RATIO * taken:
                budget.note(where, f"inflates more than {MAX_RATIO} times (bomb)")
                stopped = True
                break
            allowed = budget.take_bytes(len(piece))
            if allowed:
                yield piece[:allowed]
            if allowed < len(piece):
                budget.note(where, "size limit")
                stopped = True


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (what ``tarfile`` streams from)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it = iter(chunks)
        self._buf = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            nxt = next(self._it, None)
            if nxt is None:
                return 0
            self._buf, self._pos = nxt, 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def drain(self) -> None:
        for _ in self._it:
            pass


def tar_members(chunks: Iterable[bytes], budget: Budget, where: str = "tar") -> Iterator[tuple[str, int, Iterator[bytes]]]:
    """``(member name, size, pieces)`` for each regular file of a tar stream.

    ``pieces`` must be consumed before the next member is asked for (stream
    mode). Members take nothing from the budget: each occupies at least its
    512-byte header in its input, which is the blob (bounded by the size limit)
    or inflated output (bounded by the budget). Corrupt archives end the
    listing (noted); the input iterator is always read to its end.
    """
    import tarfile

    reader = _ChunkReader(chunks)
    try:
        with tarfile.open(fileobj=io.BufferedReader(reader, STEP), mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                fh = tar.extractfile(info)
                if fh is None:
                    continue
                yield info.name, info.size, _pieces(fh)
    except (tarfile.TarError, EOFError, OSError, ValueError):
        budget.note(where, "corrupt archive")
    finally:
        reader.drain()


def _pieces(fh) -> Iterator[bytes]:
    while True:
        data = fh.read(STEP)
        if not data:
            return
        yield data
