"""The blob policy of every source (staged, work tree, history, stdin): one place for each rule.

* Size: no blob is skipped for its size (``MAX_SIZE`` is a configurable cap,
  off by default: hiding a key behind 1 GiB of padding must not work); one over
  ``CHUNK_THRESHOLD`` (64 MiB) is read and scanned in pieces of ``CHUNK``
  (8 MiB) through ``Detector.scan_chunks``, so memory stays bounded; anything
  smaller is scanned whole.
* Binary: a NUL byte does not make data unscannable. A key after one NUL (or in
  the text runs of a PNG, a SQLite file, a ``.pyc``) is still a leak, and the
  detector reads bytes, so binary data is scanned as it is (its prefilter skips
  needle-free data at GB/s). Only compressed streams whose bytes hold no
  readable text (gzip, bzip2, xz, zstd, 7z) are skipped; zip archives are read
  member by member and UTF-16/32 text is decoded by the detector.
* Decoding (zip members, UTF-16/32, base64...) is the detector's
  (``keyguard.detect.decoders``); this module only decides what reaches it.

``scan_whole`` and ``scan_pieces`` apply the sniff and the detector; both return
None when the blob was skipped, so each source counts it the same way.
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
MAX_SIZE = 1 << 62
"""Blobs larger than this are skipped with a warning: none by default (``max-file-size`` in the
config lowers it); a blob over 1 GiB is scanned in bounded chunks like any large one."""
BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
"""Byte-order marks of UTF-16 (LE, BE) and UTF-32 BE text."""


_OPAQUE = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"7z\xbc\xaf\x27\x1c")
"""Magic numbers of compressed streams (gzip, bzip2, xz, zstd, 7z): no text survives in them."""


def is_skippable_binary(head: bytes) -> bool:
    """Whether data starting with ``head`` is an opaque compressed stream (nothing to find in it raw)."""
    return head.startswith(_OPAQUE)


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
