"""The blob policy of every source (staged, work tree, history, stdin): one place for each rule.

* Size: a blob over ``MAX_SIZE`` (1 GiB; ``max-file-size`` in the config) is
  skipped with a warning; one over ``CHUNK_THRESHOLD`` (64 MiB) is read and
  scanned in pieces of ``CHUNK`` (8 MiB) through ``Detector.scan_chunks``, so
  memory stays bounded; anything smaller is scanned whole.
* Binary: data with a NUL byte in its first ``SNIFF`` (8000) bytes (git's own
  test) is binary and skipped, unless it is a zip archive (the detector reads
  its members) or UTF-16/UTF-32 text (the detector decodes it).
* Decoding (zip members, UTF-16/32, base64...) is the detector's
  (``keyguard.detect.decoders``); this module only lets those blobs through.

``scan_whole`` and ``scan_pieces`` apply the sniff and the detector; both return
None when the blob was skipped as binary, so each source counts it the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from keyguard.detect.decoders import ZIP_MAGIC

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector

CHUNK_THRESHOLD = 64 << 20
"""Blobs larger than this are scanned in pieces of ``CHUNK`` bytes."""
CHUNK = 8 << 20
"""The size of those pieces."""
MAX_SIZE = 1 << 30
"""Blobs larger than this are skipped with a warning (the default ``max-file-size``)."""
SNIFF = 8000
"""How many leading bytes decide whether data is binary."""
BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
"""Byte-order marks of UTF-16 (LE, BE) and UTF-32 BE text."""


def is_skippable_binary(head: bytes) -> bool:
    """Whether data starting with ``head`` is binary the detector cannot read."""
    head = head[:SNIFF]
    if b"\0" not in head:
        return False
    if head.startswith(ZIP_MAGIC) or head.startswith(BOMS):
        return False
    return not _looks_wide_text(head)


def may_be_encoded(head: bytes) -> bool:
    """Whether data starting with ``head`` may be a zip archive or UTF-16/32 text (which no
    plain-text needle can see)."""
    return head.startswith(ZIP_MAGIC) or head[:2] in BOMS[:2] or b"\0" in head


def too_big(name: str, size: int, max_size: int) -> str | None:
    """The warning for a blob skipped for its size, or None when it is scanned."""
    if size <= max_size:
        return None
    return f"{name}: skipped, {size >> 20} MiB is above the size limit"


def scan_whole(data: bytes, detector: "Detector") -> list | None:
    """Hits in ``data``; None when it is binary and skipped."""
    if is_skippable_binary(data):
        return None
    return detector.scan(data) if data else []


def scan_pieces(first: bytes, rest: Iterator[bytes], detector: "Detector") -> list | None:
    """Hits in a big blob given as its first piece and an iterator of the others (which is
    always read to its end); None when it is binary and skipped."""
    if is_skippable_binary(first):
        for _ in rest:
            pass
        return None

    def pieces() -> Iterable[bytes]:
        yield first
        yield from rest
    hits = detector.scan_chunks(pieces())
    for _ in rest:  # in case the detector stopped early
        pass
    return hits


def _looks_wide_text(head: bytes) -> bool:
    """UTF-16/32 without BOM: NULs sit at regular positions and the rest is ASCII-ish."""
    n = len(head) - len(head) % 4
    if n < 8:
        return False
    even = head[0:n:2]
    odd = head[1:n:2]
    for part, other in ((even, odd), (odd, even)):
        if part.count(0) >= 0.9 * len(part) and other.count(0) <= 0.5 * len(other):
            return True
    return False
