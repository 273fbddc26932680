"""Encoded views of a text: where keys hide in base64, URL/JSON escapes, UTF-16 and zips.

Each function turns bytes into another view of the same bytes and says how to map a
position back; none of them does I/O or knows about rules. The detector decides when
to call them (only where its cheap needles say an encoded key could be):

- ``base64_needles``: the fixed substrings that base64 of a key stem (``flux``)
  contains at each of the three byte alignments, with their offset in the 4-char grid.
- ``base64_window``: the decoded bytes of the base64 run around a needle (bounded); a body
  wrapped over lines (PEM, MIME: 64 or 76 columns; YAML block scalars: indented lines of one
  width) is joined first (``wrapped_block``).
- ``joined_literals``: the string literals a concatenation joins (``"flux_prod_" + "a1.."``,
  adjacent literals ``"flux_" "prod_..."``, also across a line break), as one value.
- ``unescape``: ``%5F`` (URL) and ``\\u005f`` / ``\\/`` (JSON) escapes decoded, with a
  sparse map from decoded offsets back to original ones (cost grows with the escapes).
- ``text_view``: UTF-8 with a BOM, UTF-16 LE/BE with or without BOM, as UTF-8 bytes.
- ``open_zip``/``zip_members``: the members of a zip archive, bounded by the shared ``archives.Budget``.
- ``is_binary``/``printable_runs``/``printable_chunks``: the printable ASCII and UTF-16LE runs
  inside binary data (like ``strings``), one run per line, linear time and bounded memory.
"""

from __future__ import annotations

import binascii
import codecs
from bisect import bisect_right

from keyguard.detect.lazyregex import LazyRegex
from keyguard.record import record

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Iterator, Sequence

ZIP_MAGIC = b"PK\x03\x04"
SNIFF = 8000
"""How many leading bytes decide whether data is binary (git's own test)."""
MIN_RUN = 6
"""Printable characters a run inside binary data needs to be searched."""
_ASCII_RUN = LazyRegex(rb"[\t\x20-\x7e]{%d,}" % MIN_RUN)
_WIDE_RUN = LazyRegex(rb"(?:[\t\x20-\x7e]\x00){%d,}" % MIN_RUN)
_RUN_CARRY = 4096
"""Bytes carried between pieces of a streamed binary (a run cut there longer than this is split)."""
_B64_RUN = LazyRegex(rb"[A-Za-z0-9+/_\-]*")
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
    block = None
    if buf[end:end + 1] in (b"\n", b"\r") or buf[start - 1:start] in (b"\n", b" ", b"\t"):
        block = wrapped_block(buf, pos, radius)
    if block is not None:
        start, end, seg, at = block
        grid = (at - shift) % 4
        seg = seg[grid:]
    else:
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


MIN_WRAP = 16
"""Width a wrapped base64 body's full lines must reach (PEM 64, MIME 76; YAML block scalars any)."""
_B64_LINE = LazyRegex(rb"([ \t]*)([A-Za-z0-9+/_\-]+)(={0,2})\r?$")


def _line_at(buf: bytes, pos: int) -> tuple[int, int]:
    """``(start, end)`` of the line holding ``pos`` (``end`` at its newline)."""
    end = buf.find(b"\n", pos)
    return buf.rfind(b"\n", 0, pos) + 1, len(buf) if end == -1 else end


def wrapped_block(buf: bytes, pos: int, radius: int = 4096) -> tuple[int, int, bytes, int] | None:
    """The base64 body wrapped over lines around ``pos``: ``(start, end, joined, at)``, or None.

    A wrapped body is a run of lines holding nothing but base64 (after one common
    indent): full lines of one width (at least ``MIN_WRAP``), then one shorter or
    padded last line. ``start`` is where the first line's base64 begins (findings are
    reported there), ``end`` where the last line's ends, ``joined`` the lines' base64
    without the breaks and ``at`` the offset of ``pos`` in it. None when the line of
    ``pos`` is not part of such a body of two lines or more (bounded by ``radius``).
    """
    ls, le = _line_at(buf, pos)
    m = _B64_LINE.fullmatch(buf, ls, le)
    if m is None or pos < m.start(2):
        return None
    indent = m.group(1)
    lines = [(ls, m)]
    lo, hi = max(0, pos - radius), min(len(buf), pos + radius)
    a = ls
    while a - 1 > lo:  # lines above
        ps, pe = _line_at(buf, a - 1)
        pm = _B64_LINE.fullmatch(buf, ps, pe)
        if pm is None or pm.group(1) != indent or pm.group(3) or ps < lo:
            break
        lines.insert(0, (ps, pm))
        a = ps
    b = le
    while b + 1 < hi:  # lines below
        ns, ne = _line_at(buf, b + 1)
        nm = _B64_LINE.fullmatch(buf, ns, ne)
        if nm is None or nm.group(1) != indent or ne > hi:
            break
        lines.append((ns, nm))
        b = ne
        if nm.group(3):
            break
    # Cut the run into bodies: full lines of one width, then a last line no longer than them.
    mine = next(i for i, (s, _) in enumerate(lines) if s == ls)
    first = 0
    i = 0
    while i < len(lines):
        width = len(lines[first][1].group(2))
        j = first
        while j + 1 < len(lines) and len(lines[j][1].group(2)) == width and not lines[j][1].group(3):
            nxt = len(lines[j + 1][1].group(2))
            if nxt > width:
                break
            j += 1
            if nxt < width:
                break
        if first <= mine <= j:
            body = lines[first:j + 1]
            if len(body) < 2 or width < MIN_WRAP:
                return None
            parts = [bm.group(2) for _, bm in body]
            at = sum(len(p) for p in parts[:mine - first]) + pos - body[mine - first][1].start(2)
            last = body[-1][1]
            return body[0][1].start(2), last.end(3), b"".join(parts), at
        first = i = j + 1
    return None


JWT_BASE64_NEEDLES = (
    (b"ZXlK", 0),  # any JWT starting a 3-byte group: base64 of "eyJ"
    (b"SnJh", 0),  # one byte in, {"kid":...
    (b"ZJa3", 2),  # one byte in, {"alg":"RS256","typ":"JWT"... (any 5-letter alg)
    (b"ZJbU", 2),  # one byte in, {"alg":"RS256","kid":... (PyJWT's sorted header)
    (b"mlJc", 1),  # two bytes in, {"alg":"RS256",... (any ?S256); one byte in, {"typ":"JWT","alg":"RS256"...
    (b"ZVhB", 0),  # two bytes in, {"typ":...
)


def jwt_base64_needles() -> list[tuple[bytes, int]]:
    """``(needle, shift)`` for base64 (or base64url) of a JWT, as far as they cost no search of their own.

    Aligned (the JWT starts a 3-byte group, as in ``base64 <<< $TOKEN``) every JWT starts
    ``ZXlK``. At the other alignments ``eyJ`` gives only ``V5S``/``leU`` (a ``V`` probe is
    a full pass of its own on code, about 5% of a history scan), so the needles are taken
    from further into the compact headers JWT libraries write: four characters holding
    a byte the detector's probes already look for at the same offset (``Z`` first, ``J``
    third). Found: compact headers starting ``{"alg":"<5 letters>","typ"``,
    ``{"alg":"<5 letters>","kid"``, ``{"alg":"?S256"``, ``{"typ"`` or ``{"kid"``, and
    any JWT aligned. Not found: base64 of other headers (``{"alg": "RS256"}`` with spaces
    or alone, ``{"kid"`` two bytes in) one or two bytes into a group.
    """
    return list(JWT_BASE64_NEEDLES)


# ---- string concatenation -----------------------------------------------------

_LITERAL_GAP = LazyRegex(rb"[ \t]*(?:\\?\r?\n[ \t]*)?(?:\+[ \t]*(?:\r?\n[ \t]*)?)?([\"'`])")
_PLUS = LazyRegex(rb"[ \t]*(?:\r?\n[ \t]*)?\+")
_LITERAL_BODY = LazyRegex(rb"[A-Za-z0-9_\-]*")
MAX_JOINED = 8
"""String literals joined at most after the first one."""


def joined_literals(buf: bytes, close: int) -> tuple[list[bytes], int, bool, bool]:
    """The string literals joined to the one whose closing quote is at ``close``.

    ``"flux_prod_" + "a1b2..."`` (Python, JavaScript, Java, Go), adjacent literals
    ``"flux_" "prod_..."`` (Python, C), also across one line break (inside
    parentheses, or after a ``\\``). Returns ``(pieces, end, more, tight)``: the following
    literals' key characters (a literal holding anything else ends the value there),
    the offset just past the last piece taken, whether a ``+`` follows with something
    that is not a literal (a variable: the value is only partly written), and whether
    the first join is written as one (a ``+``, or literals on one line) rather than
    only a line break between two literals.
    """
    pieces: list[bytes] = []
    end = at = close + 1
    tight = True
    for i in range(MAX_JOINED):
        m = _LITERAL_GAP.match(buf, at)
        if m is None:
            break
        if i == 0:
            gap = buf[m.start():m.end()]
            tight = b"+" in gap or b"\n" not in gap
        body = _LITERAL_BODY.match(buf, m.end())
        piece = body.group()
        if buf[body.end():body.end() + 1] != m.group(1):
            if piece:
                pieces.append(piece)
                end = body.end()
            return pieces, end, False, tight
        pieces.append(piece)
        end = at = body.end() + 1
    return pieces, end, _PLUS.match(buf, at) is not None, tight


# ---- URL and JSON escapes -----------------------------------------------------

_ESCAPE = LazyRegex(rb"%([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})|\\([/\\\"'ntrbf])"
                    rb"|&#([0-9]{1,7});|&#[xX]([0-9A-Fa-f]{1,6});")


@record
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
    """Decode ``%XX`` (URL), ``\\uXXXX``, ``\\xXX``, JSON's ``\\/``-style escapes and HTML's
    numeric entities (``&#102;``, ``&#x66;``) in ``window``."""
    out = bytearray()
    marks = []
    last = 0
    for m in _ESCAPE.finditer(window):
        url, uni, hexa, simple, dec, hexent = m.groups()
        if dec or hexent:
            code = int(dec) if dec else int(hexent, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                continue
            piece, kind = chr(code).encode("utf-8"), "html"
        elif url:
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


# ---- binary data --------------------------------------------------------------

def is_binary(data: bytes) -> bool:
    """Whether ``data`` has a NUL byte in its first ``SNIFF`` bytes and is not UTF-16 text."""
    head = data[:SNIFF]
    return b"\0" in head and utf16_order(head[:1024]) is None and head[:2] not in (
        codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def printable_runs(data: bytes, stems: Sequence[bytes] = ()) -> bytes:
    """The printable ASCII runs, then the UTF-16LE runs (as ASCII), of ``data``: one per line.

    Serialized strings (``.pyc`` constants, pickles, protobuf) are often glued to
    the next printable byte (a type code), so where one of ``stems`` starts a
    string whose length sits in the 1 or 4 bytes before it, that string is also
    given on a line of its own (at most ``MAX_NEEDLE_HITS`` per stem).
    """
    out = bytearray()
    for stem in stems:
        pos, seen = data.find(stem, 1), 0
        while pos > 0 and seen < 4096:
            seen += 1
            for width in (1, 4):
                # a 1-byte length must itself start the printable run (not be text before the key)
                if pos >= width and (width == 4 or pos < 2 or not 0x20 <= data[pos - 2] <= 0x7e):
                    n = int.from_bytes(data[pos - width:pos], "little")
                    if len(stem) < n <= 512 and pos + n <= len(data):
                        piece = data[pos:pos + n]
                        if _ASCII_RUN.fullmatch(piece):
                            out += piece
                            out += b"\n"
                            break
            pos = data.find(stem, pos + 1)
    for m in _ASCII_RUN.finditer(data):
        out += m.group()
        out += b"\n"
    for m in _WIDE_RUN.finditer(data):
        out += m.group()[::2]
        out += b"\n"
    return bytes(out)


def printable_chunks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``printable_runs`` of a stream of pieces; a run across a border is kept whole (up to
    ``_RUN_CARRY`` bytes) and emitted once."""
    it = iter(chunks)
    chunk = next(it, None)
    carry = b""
    skip = [0, 0]
    while chunk is not None:
        nxt = next(it, None)
        data = carry + chunk
        last = nxt is None
        limit = len(data) if last else max(0, len(data) - _RUN_CARRY)
        out = bytearray()
        new_skip = [0, 0]
        for k, (rx, step) in enumerate(((_ASCII_RUN, 1), (_WIDE_RUN, 2))):
            for m in rx.finditer(data):
                if m.start() >= limit:
                    break
                if m.start() < skip[k]:
                    continue
                out += m.group()[::step]
                out += b"\n"
                new_skip[k] = max(new_skip[k], m.end() - limit)
        if out:
            yield bytes(out)
        carry, skip, chunk = data[limit:], new_skip, nxt


# ---- zip archives -------------------------------------------------------------

def open_zip(data: bytes):
    """A ``zipfile.ZipFile`` over ``data``, or None if ``data`` is not a readable zip."""
    import io
    import zipfile

    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return None


def zip_members(archive, budget, where: str = "zip") -> Iterator[tuple[str, bytes]]:
    """``(member path, bytes)`` of an open zip, taken from the shared ``archives.Budget``.

    Sizes declared in the archive are not trusted (zip bombs): every member is read
    with the budget's bytes left. Encrypted, unreadable or corrupt members are skipped
    (and noted in the budget).
    """
    import zipfile
    import zlib

    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if budget.bytes <= 0:
                budget.note(where, "size limit")
                return
            if not budget.take_member(where):
                return
            if info.flag_bits & 0x1:
                budget.note(f"{where}:{info.filename}", "encrypted")
                continue
            try:
                with archive.open(info) as member:
                    content = member.read(budget.bytes + 1)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError, OSError,
                    EOFError, zlib.error):
                budget.note(f"{where}:{info.filename}", "unreadable")
                continue
            if len(content) > budget.bytes:
                budget.note(f"{where}:{info.filename}", "size limit")
                content = content[:budget.bytes]
            budget.take_bytes(len(content))
            yield info.filename, content
