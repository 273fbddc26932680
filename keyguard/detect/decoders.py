"""Encoded views of a text: where keys hide in base64, URL/JSON escapes, UTF-16 and zips.

Each function turns bytes into another view of the same bytes and says how to map a
position back; none of them does I/O or knows about rules. The detector decides when
to call them (only where its cheap needles say an encoded key could be):

- ``base64_needles``: the fixed substrings that base64 of a key stem (``flux``)
  contains at each of the three byte alignments, with their offset in the 4-char grid.
- ``base64_window``: the decoded bytes of the base64 run around a needle (bounded).
- ``unescape``: ``%5F`` (URL) and ``\\u005f`` / ``\\/`` (JSON) escapes decoded, with a
  map from every decoded byte back to its original offset.
- ``text_view``: UTF-8 with a BOM, UTF-16 LE/BE with or without BOM, as UTF-8 bytes.
- ``open_zip``/``zip_members``: the members of a zip archive, bounded in count and total size.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from typing import Iterator

ZIP_MAGIC = b"PK\x03\x04"
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]*")
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_JSON_SIMPLE = {ord("/"): b"/", ord("\\"): b"\\", ord('"'): b'"', ord("'"): b"'",
                ord("n"): b"\n", ord("t"): b"\t", ord("r"): b"\r", ord("b"): b"\b", ord("f"): b"\f"}


# ---- base64 -----------------------------------------------------------------

def base64_needles(stem: bytes) -> list[tuple[bytes, int]]:
    """``(needle, shift)`` for each byte alignment of ``stem`` inside base64 text.

    ``needle`` is the run of base64 characters fully determined by ``stem`` when it
    starts 0, 1 or 2 bytes into a 3-byte group; ``shift`` is how many characters after
    the start of its 4-character group the needle begins (so the group grid is known).
    """
    out = []
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + stem + b"\0\0")
        first = -(-8 * lead // 6)               # first char with no lead bits
        last = (8 * (lead + len(stem))) // 6    # one past the last char with no tail bits
        if last - first >= 2:
            out.append((encoded[first:last], first % 4))
    return out


def base64_window(buf: bytes, pos: int, shift: int, radius: int = 4096) -> tuple[int, int, bytes] | None:
    """Decode the base64 run holding the needle at ``pos``: ``(start, end, decoded)``.

    ``start``/``end`` bound the run in ``buf`` (at most ``radius`` bytes either side of
    the needle); decoding starts on the 4-character grid the needle fixes, so a key
    at any byte offset inside the encoded data comes out whole.
    """
    lo = max(0, pos - radius)
    left = _B64_RUN.match(buf[lo:pos][::-1]).end()
    start = pos - left
    end = _B64_RUN.match(buf, pos, min(len(buf), pos + radius)).end()
    grid = start + (pos - shift - start) % 4
    seg = buf[grid:end]
    seg = seg[: len(seg) - len(seg) % 4] if len(seg) % 4 == 1 else seg
    if len(seg) < 8:
        return None
    if b"-" in seg or b"_" in seg:
        seg = seg.translate(_URLSAFE)
    try:
        decoded = binascii.a2b_base64(seg + b"=" * (-len(seg) % 4))
    except (binascii.Error, ValueError):
        return None
    return start, end, decoded


# ---- URL and JSON escapes -----------------------------------------------------

def unescape(window: bytes) -> tuple[bytes, list[int], list[str]]:
    """Decode ``%XX``, ``\\uXXXX``, ``\\xXX`` and JSON's ``\\/``-style escapes in ``window``.

    Returns the decoded bytes, ``offsets`` (the original offset of each decoded byte,
    plus one entry for the end) and ``kinds`` (``""``, ``"url"`` or ``"json-escape"``
    for each decoded byte).
    """
    out = bytearray()
    offsets: list[int] = []
    kinds: list[str] = []
    i, n = 0, len(window)
    while i < n:
        b = window[i]
        piece, width, kind = None, 1, ""
        if b == 0x25 and i + 2 < n and window[i + 1] in _HEX and window[i + 2] in _HEX:  # %XX
            piece, width, kind = bytes([int(window[i + 1:i + 3], 16)]), 3, "url"
        elif b == 0x5C and i + 1 < n:  # backslash
            c = window[i + 1]
            if c == ord("u") and i + 5 < n and all(x in _HEX for x in window[i + 2:i + 6]):
                code = int(window[i + 2:i + 6], 16)
                if not 0xD800 <= code <= 0xDFFF:
                    piece, width, kind = chr(code).encode("utf-8"), 6, "json-escape"
            elif c == ord("x") and i + 3 < n and all(x in _HEX for x in window[i + 2:i + 4]):
                piece, width, kind = bytes([int(window[i + 2:i + 4], 16)]), 4, "json-escape"
            elif c in _JSON_SIMPLE:
                piece, width, kind = _JSON_SIMPLE[c], 2, "json-escape"
        if piece is None:
            piece = window[i:i + 1]
        for byte in piece:
            out.append(byte)
            offsets.append(i)
            kinds.append(kind)
        i += width
    offsets.append(n)
    return bytes(out), offsets, kinds


# ---- text encodings -----------------------------------------------------------

def utf16_order(head: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` if ``head`` is UTF-16 text (BOM or NUL pattern), else None."""
    if head[:2] == codecs.BOM_UTF16_LE:
        return "utf-16-le"
    if head[:2] == codecs.BOM_UTF16_BE:
        return "utf-16-be"
    sample = head[:1024]
    half = len(sample) // 2
    if half < 4:
        return None
    even, odd = sample[0:half * 2:2].count(0), sample[1:half * 2:2].count(0)
    if odd >= 0.4 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.4 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return None


def text_view(data: bytes) -> tuple[bytes, str]:
    """``(bytes to scan, encoding label)``: BOMs dropped, UTF-16 re-encoded as UTF-8."""
    if data[:3] == codecs.BOM_UTF8:
        return data[3:], ""
    order = utf16_order(data[:1024])
    if order is None:
        return data, ""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        data = data[2:]
    return data.decode(order, errors="replace").encode("utf-8"), "utf-16"


def utf16_chunks(chunks: Iterator[bytes], order: str) -> Iterator[bytes]:
    """Re-encode a stream of UTF-16 chunks as UTF-8 chunks (BOM dropped)."""
    decoder = codecs.getincrementaldecoder(order)(errors="replace")
    first = True
    for chunk in chunks:
        if first and chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            chunk = chunk[2:]
        first = False
        text = decoder.decode(chunk)
        if text:
            yield text.encode("utf-8")
    text = decoder.decode(b"", final=True)
    if text:
        yield text.encode("utf-8")


# ---- zip archives -------------------------------------------------------------

def open_zip(data: bytes):
    """A ``zipfile.ZipFile`` over ``data``, or None if ``data`` is not a readable zip."""
    import io
    import zipfile

    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return None


def zip_members(archive, max_total: int, max_members: int) -> Iterator[tuple[str, bytes]]:
    """``(member path, bytes)`` of an open zip; stops after ``max_total`` uncompressed bytes.

    Sizes declared in the archive are not trusted (zip bombs): every member is read
    with a byte budget. Encrypted, unreadable or corrupt members are skipped.
    """
    import zipfile
    import zlib

    budget = max_total
    with archive:
        for info in archive.infolist()[:max_members]:
            if budget <= 0:
                return
            if info.is_dir() or info.flag_bits & 0x1:
                continue
            try:
                with archive.open(info) as member:
                    content = member.read(budget)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError, OSError,
                    EOFError, zlib.error):
                continue
            budget -= len(content)
            yield info.filename, content
