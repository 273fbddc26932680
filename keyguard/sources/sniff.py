"""What kind of bytes a file or blob holds: content worth scanning, or an opaque stream to skip.

One rule for every source. A NUL byte does not make data unscannable: a key
after one NUL (or in the text runs of a PNG, a SQLite file, a ``.pyc``) is
still a leak, and the detector reads bytes, so binary data is scanned as it is
(its prefilter skips needle-free data at GB/s). Only compressed streams whose
bytes can hold no readable text (gzip, bzip2, xz, zstd, 7z) are skipped; zip
archives are read member by member and UTF-16/32 text is decoded by the
detector.
"""

from __future__ import annotations

SNIFF = 8000
MAX_SIZE = 1 << 62
"""Size above which a source skips a blob with a warning: none in practice. A blob over 1 GiB
is scanned in bounded chunks like any large one (skipping it would hide a key behind size)."""
_OPAQUE = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"7z\xbc\xaf\x27\x1c")
"""Magic numbers of compressed streams (gzip, bzip2, xz, zstd, 7z): no text survives in them."""


def is_skippable_binary(head: bytes) -> bool:
    """Whether data starting with ``head`` is an opaque compressed stream (nothing to find in it raw)."""
    return head.startswith(_OPAQUE)
