"""The byte forms of a leaked value and the matcher that finds them in chunks of text.

We know the exact secret, so finding it needs no rule engine: a literal search
for its bytes, and for its base64 forms (standard and URL-safe alphabets, at
each of the three byte alignments it can have inside a larger encoded text).
Percent-encoding is not searched: FluxLoop keys are letters, digits, ``_``,
``-`` and ``.``, which URL-encoding leaves as they are.

``Matcher`` is the hot loop: bytes in, (needle, offset, line) out. It keeps the
tail of the previous chunk so a value split across two chunks is still found,
and counts newlines so each match gets its line. No I/O, no formatting.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from keyguard.detect import prefilter


@dataclass(frozen=True)
class Needle:
    """One byte string to search for, and what it is."""

    data: bytes = field(repr=False)
    secret_index: int = 0
    """Which of the leaked values it encodes."""
    encoding: str = ""
    """``""`` (the value as is), ``base64`` or ``base64url``."""


def _b64_forms(raw: bytes) -> list[tuple[bytes, str]]:
    """Base64 text that any base64 encoding of a stream containing ``raw`` must contain.

    Inside a larger encoded text ``raw`` starts at byte offset 0, 1 or 2 of a
    3-byte group; for each alignment keep only the characters that depend on
    ``raw``'s bytes alone (whole groups, minus the first mixed characters).
    """
    out = []
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw)
        start = (0, 2, 3)[k]
        end = 4 * ((k + len(raw)) // 3)
        form = enc[start:end]
        if len(form) >= 16:
            out.append((form, "base64"))
            url = form.replace(b"+", b"-").replace(b"/", b"_")
            if url != form:
                out.append((url, "base64url"))
    return out


def needles_for(secrets: list[str] | tuple[str, ...], encoded: bool = True) -> tuple[Needle, ...]:
    """The needles for ``secrets``: each value as is, plus its base64 forms when ``encoded``."""
    out: list[Needle] = []
    seen: set[bytes] = set()
    for i, s in enumerate(secrets):
        raw = s.encode("utf-8")
        forms = [(raw, "")] + (_b64_forms(raw) if encoded else [])
        for data, enc in forms:
            if data and data not in seen:
                seen.add(data)
                out.append(Needle(data, i, enc))
    return tuple(out)


@dataclass
class Match:
    """A needle found in one text: first offset, its line, and how often it occurs."""

    needle: Needle
    offset: int
    line: int
    count: int = 1


class Matcher:
    """Finds needles in one text fed as a sequence of chunks (bounded memory)."""

    def __init__(self, needles: tuple[Needle, ...]):
        self.needles = needles
        self.keep = max((len(n.data) for n in needles), default=1) - 1
        self.reset()

    def reset(self) -> None:
        """Start a new text."""
        self._tail = b""
        self._tail_start = 0      # offset of _tail in the text
        self._tail_lines = 0      # newlines before _tail
        self.matches: dict[int, Match] = {}

    def feed(self, chunk: bytes) -> None:
        """Search the next chunk (joined to the kept tail of the previous one)."""
        tail_len = len(self._tail)
        buf = self._tail + chunk if tail_len else chunk
        base, lines = self._tail_start, self._tail_lines
        for idx, n in enumerate(self.needles):
            pos = buf.find(n.data)
            while pos != -1:
                if pos + len(n.data) > tail_len:  # wholly inside the tail: seen with the last chunk
                    m = self.matches.get(idx)
                    if m is None:
                        self.matches[idx] = Match(n, base + pos, lines + buf.count(b"\n", 0, pos) + 1)
                    else:
                        m.count += 1
                pos = buf.find(n.data, pos + 1)
        cut = max(0, len(buf) - self.keep)
        self._tail_lines = lines + buf.count(b"\n", 0, cut)
        self._tail_start = base + cut
        self._tail = buf[cut:]

    def done(self) -> list[Match]:
        """The matches of the current text, in needle order."""
        return [self.matches[i] for i in sorted(self.matches)]


class ExactDetector:
    """The detector interface (``might_contain``, ``pieces_with_needles``, ``scan``,
    ``scan_chunks``) over the needles of one known value, so the shared history,
    index and work-tree sources locate it exactly as they find keys.

    Each hit is one needle (the value as is, or one base64 form) in one text: its
    first line, its ``encoding`` and, in ``details``, how often it occurs there.
    """

    def __init__(self, secret: str, needles: tuple[Needle, ...]):
        from keyguard.model import Rule, Severity

        self.secret = secret
        self.needles = needles
        self._native = prefilter.Lazy([n.data for n in needles])
        self.rule = Rule(id="leaked-value", description="the value being located", pattern="", regex=None,
                         secret_group=0, keywords=tuple(n.data for n in needles), min_entropy=0.0,
                         severity=Severity.CRITICAL, remediation="")

    def might_contain(self, data: bytes) -> bool:
        """Whether any needle is in ``data``."""
        return any(n.data in data for n in self.needles)

    def pieces_with_needles(self, data: bytes, ends) -> set[int]:
        """Indexes of the pieces of ``data`` (piece ``i`` ends at ``ends[i]``) holding a needle:
        one native pass when installed (``prefilter``), else one search per needle."""
        from bisect import bisect_right

        marked = self._native.pieces(data, ends)
        if marked is not None:
            return marked
        marked = set()
        for n in self.needles:
            pos = data.find(n.data)
            while pos >= 0:
                i = bisect_right(ends, pos)
                if i >= len(ends):
                    break
                marked.add(i)
                pos = data.find(n.data, ends[i])
        return marked

    def scan(self, data: bytes) -> list:
        """One hit per needle found in ``data``."""
        return self.scan_chunks([data])

    def scan_chunks(self, chunks) -> list:
        """One hit per needle found in the concatenation of ``chunks`` (bounded memory)."""
        from keyguard.model import Hit

        m = Matcher(self.needles)
        for chunk in chunks:
            m.feed(chunk)
        return [Hit(rule=self.rule, secret=self.secret, line=x.line, column=0, end_column=0,
                    encoding=x.needle.encoding, details=(("count", str(x.count)),)) for x in m.done()]
