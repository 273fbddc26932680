"""What kind of bytes a file or blob holds: text worth scanning, or binary to skip.

One rule for every source: data with a NUL byte in its first 8000 bytes (git's
own test) is binary and skipped, unless it is a zip archive (the detector
reads its members) or UTF-16/UTF-32 text (the detector decodes it).
"""

from __future__ import annotations

SNIFF = 8000
_ZIP = b"PK\x03\x04"
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def is_skippable_binary(head: bytes) -> bool:
    """Whether data starting with ``head`` is binary the detector cannot read."""
    head = head[:SNIFF]
    if b"\0" not in head:
        return False
    if head.startswith(_ZIP) or head.startswith(_BOMS):
        return False
    return not _looks_wide_text(head)


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
