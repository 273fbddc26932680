"""The blob policy of every source (staged, work tree, history, stdin): one place for each rule.

* Size: a blob over ``MAX_SIZE`` (1 GiB; ``max-file-size`` in the config) is
  skipped with a warning; one over ``CHUNK_THRESHOLD`` (64 MiB) is read and
  scanned in pieces of ``CHUNK`` (8 MiB) through ``Detector.scan_chunks``, so
  memory stays bounded; anything smaller is scanned whole.
* Binary: nothing is skipped for being binary. Archives (zip, gzip, tar) are
  opened, UTF-16 text decoded, and other binaries (``.pyc``, SQLite, pickles)
  searched in their printable ASCII and UTF-16LE runs, all by the detector
  (``keyguard.detect.decoders``, ``keyguard.detect.archives``).

``scan_whole`` and ``scan_pieces`` hand a blob to the detector; the sources
count what is skipped for its size (``too_big``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from keyguard.detect.archives import GZIP_MAGIC
from keyguard.detect.decoders import ZIP_MAGIC

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector

CHUNK_THRESHOLD = 64 << 20
"""Blobs larger than this are scanned in pieces of ``CHUNK`` bytes."""
CHUNK = 8 << 20
"""The size of those pieces."""
MAX_SIZE = 1 << 30
"""Blobs larger than this are skipped with a warning (the default ``max-file-size``)."""
BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
"""Byte-order marks of UTF-16 (LE, BE) and UTF-32 BE text."""


def may_be_encoded(head: bytes) -> bool:
    """Whether data starting with ``head`` may be an archive, UTF-16/32 text or a binary with
    UTF-16 runs (which no plain-text needle can see)."""
    return head.startswith(ZIP_MAGIC) or head[:2] in BOMS[:2] or head[:2] == GZIP_MAGIC or b"\0" in head


def too_big(name: str, size: int, max_size: int) -> str | None:
    """The warning for a blob skipped for its size, or None when it is scanned."""
    if size <= max_size:
        return None
    return f"{name}: skipped, {size >> 20} MiB is above the size limit"


def scan_whole(data: bytes, detector: "Detector") -> list:
    """Hits in ``data`` (text, archive or binary)."""
    return detector.scan(data) if data else []


def scan_pieces(first: bytes, rest: Iterator[bytes], detector: "Detector") -> list:
    """Hits in a big blob given as its first piece and an iterator of the others (which is
    always read to its end)."""
    def pieces() -> Iterable[bytes]:
        yield first
        yield from rest
    hits = detector.scan_chunks(pieces())
    for _ in rest:  # in case the detector stopped early
        pass
    return hits
