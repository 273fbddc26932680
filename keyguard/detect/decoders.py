"""Encoded views of a text: where keys hide in base64, URL/JSON escapes, UTF-16 and zips.

Each function turns bytes into another view of the same bytes and says how to map a
position back; none of them does I/O or knows about rules. The detector decides when
to call them (only where its cheap needles say an encoded key could be):

- ``base64_needles``: the fixed substrings that base64 of a key stem (``flux``)
  contains at each of the three byte alignments, with their offset in the 4-char grid.
- ``base64_window``: the decoded bytes of the base64 run around a needle (bounded).
- ``unescape``: ``%5F`` (URL) and ``\\u005f`` / ``\\/`` (JSON) escapes decoded, with a
  sparse map from decoded offsets back to original ones (cost grows with the escapes).
- ``text_view``: UTF-8 with a BOM, UTF-16 LE/BE with or without BOM, as UTF-8 bytes.
- ``open_zip``/``zip_members``: the members of a zip archive, bounded in count and total size.
"""

from __future__ import annotations

import binascii
import codecs
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Iterator

ZIP_MAGIC = b"PK\x03\x04"
_B64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]*")
_URLSAFE = bytes.maketrans(b"-_", b"+/")
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
        encoded = binascii.b2a_base64(b"\0" * lead + stem + b"\0\0", newline=False)
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
    seg_end = end
    while end < len(buf) and end - seg_end < 2 and buf[end] == 0x3D:  # "=" padding
        end += 1
    grid = start + (pos - shift - start) % 4
    seg = buf[grid:seg_end]
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

_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})|\\([/\\\"'ntrbf])")


@dataclass(frozen=True)
class Unescaped:
    """A window with its escapes decoded, and the way back to original offsets."""

    text: bytes
    """The decoded bytes."""
    marks: tuple[tuple[int, int, int, int, str], ...]
    """One ``(decoded_at, original_at, decoded_len, original_len, kind)`` per escape."""

    def original(self, i: int) -> int:
        """The original offset of decoded offset ``i`` (an escape maps to its start or end)."""
        k = bisect_right(self.marks, (i, float("inf"))) - 1
        if k < 0:
            return i
        at, orig, dlen, olen, _ = self.marks[k]
        if i == at:
            return orig
        if i < at + dlen:
            return orig + olen
        return orig + olen + (i - at - dlen)

    def kinds(self, start: int, end: int) -> set[str]:
        """The escape kinds (``url``, ``json-escape``) used in decoded ``[start, end)``."""
        lo = bisect_right(self.marks, (start, -1))
        hi = bisect_right(self.marks, (end, -1))
        return {m[4] for m in self.marks[lo:hi]}


def unescape(window: bytes) -> Unescaped:
    """Decode ``%XX`` (URL), ``\\uXXXX``, ``\\xXX`` and JSON's ``\\/``-style escapes in ``window``."""
    out = bytearray()
    marks = []
    last = 0
    for m in _ESCAPE.finditer(window):
        url, uni, hexa, simple = m.groups()
        if url:
            piece, kind = bytes([int(url, 16)]), "url"
        elif uni:
            code = int(uni, 16)
            if 0xD800 <= code <= 0xDFFF:
                continue  # a lone surrogate half: leave it as written
            piece, kind = chr(code).encode("utf-8"), "json-escape"
        elif hexa:
            piece, kind = bytes([int(hexa, 16)]), "json-escape"
        else:
            piece, kind = _JSON_SIMPLE[simple[0]], "json-escape"
        out += window[last:m.start()]
        marks.append((len(out), m.start(), len(piece), m.end() - m.start(), kind))
        out += piece
        last = m.end()
    out += window[last:]
    return Unescaped(bytes(out), tuple(marks))


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


def zip_members(archive, budget) -> Iterator[tuple[str, bytes]]:
    """``(member path, bytes)`` of an open zip, drawn from ``budget``.

    ``budget`` has ``zip_bytes`` and ``zip_members`` (what is left for the whole
    tree of nested archives: a nested zip draws on its parent's budget, not a fresh
    one) and ``zip_cut``, set when something was left unread. Sizes declared in the
    archive are not trusted (zip bombs): every member is read with the byte budget
    left. Encrypted, unreadable or corrupt members are skipped.
    """
    import zipfile
    import zlib

    with archive:
        for info in archive.infolist():
            if budget.zip_bytes <= 0 or budget.zip_members <= 0:
                budget.zip_cut = True
                return
            if info.is_dir() or info.flag_bits & 0x1:
                continue
            budget.zip_members -= 1
            try:
                with archive.open(info) as member:
                    content = member.read(budget.zip_bytes)
                    if len(content) == budget.zip_bytes and member.read(1):
                        budget.zip_cut = True
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError, OSError,
                    EOFError, zlib.error):
                continue
            budget.zip_bytes -= len(content)
            yield info.filename, content
