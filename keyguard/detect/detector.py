"""The hot loop: bytes in, ``Hit``s out. No I/O, no printing, no formatting.

``Detector`` compiles its rules once and derives a handful of literal needles from the
rules' keywords (``flux``, ``flx``, ``eyJ`` and the base64 forms of the key stems at
the three byte alignments: ``Zmx``, ``ZsdX``, ``Zse``, ``mbH``; of a JWT: ``ZXlK`` and
five more, ``decoders.JWT_BASE64_NEEDLES``; ``Zs\\n``: ``ZsdX`` cut by a wrapped body's line
break; none of them needs a probe byte of its own). A text holding none of them costs
only the needle searches (``might_contain``), and those are cheaper than one ``in`` per
needle (7 passes, 0.21 GB/s on code): needles with a rare byte (``J``, ``Z``, ``H``) are
found by ``memchr`` on that byte plus a ``startswith`` of the needles cut one byte past it
(5-10 GB/s), and needles sharing a 2-byte prefix share one regex, which sre scans for
that literal prefix in C (``flux|flx``: 2.0 GB/s on sqlalchemy's history against 0.77 for
a ``find(b"fl")`` loop with a ``startswith`` per match), ``_searches``, ``_find``.
The wrapped-base64, JWT-in-base64 and concatenation forms kept the 7 searches: flask's
history scan took 2.31 s CPU against 2.26 before them (medians of 15 alternating runs).
A probe met too often (base64 or minified blobs) falls back to one ``find`` per
needle, so the worst case is the plain search. Where a needle is present, the rules
whose keywords appear run their regexes, and then:

- overlapping matches keep the most specific rule (``flx_api_`` over ``flx_``);
- a prefix followed by a non-key (``flx_api_...``, ``flux_dev_****``, ``${X}``) becomes a
  suppressed hit with its reason, so ``--verbose`` can say why it was not reported;
- escaped forms (``flux%5Fprod%5F…``, ``flux\\u005fprod…``) are decoded locally;
- base64 runs holding a key stem or a JWT at any byte alignment are decoded (bounded
  window; a body wrapped over lines, PEM/MIME/YAML block scalar, is joined first, and what
  it decodes to is searched again, so a URL-encoded key inside base64 is found: one level);
- string literals joined by ``+`` or adjacency (``"flux_prod_" + "a1b2..."``) are read as
  the joined value; a literal holding a prefix and part of a body that joins into no key is a
  partial key (low severity, ``Hit.partial``: never verified, revoked or fingerprinted as a key);
- whole-input views: UTF-8/UTF-16 BOMs, UTF-16 without BOM, zip members;
- every candidate goes through the placeholder filters (``filters.py``) or, for JWTs,
  the offline JWT reading (``jwt.py``).

Line and column are 1-based; the column counts characters of the decoded line.
"""

from __future__ import annotations

import codecs
import re
import time
from bisect import bisect_right, insort
from itertools import chain

from keyguard.detect import archives, decoders, filters, prefilter
from keyguard.detect.lazyregex import LazyRegex
from keyguard.model import Hit, Rule, Severity
from keyguard.record import record

TYPE_CHECKING = False  # typing is not imported on the pre-commit path

if TYPE_CHECKING:
    from typing import Iterable, Iterator, Sequence

OVERLAP = 32 * 1024
"""Bytes carried from one chunk to the next in ``scan_chunks`` (longer than any key)."""
MIN_STEP = 64 * 1024
"""Small chunks are gathered to at least this size before scanning."""
MAX_DEPTH = 2
"""How deeply text encodings may nest (base64 in base64, ...)."""
MAX_ARCHIVE_DEPTH = 5
"""How deeply containers may nest (a file in a tar in a gzip in a tar: a Docker image layer)."""
MAX_LINE_TEXT = 4096
"""Lines longer than this are cut to a window around the key in ``Hit.line_text``."""
LINE_WINDOW = 512
"""Characters kept on each side of the key when a line is cut."""
MAX_NEEDLE_HITS = 4096
"""Base64 needle occurrences examined per needle per text (bounds hostile input)."""
MAX_SUPPRESSED_KEPT = 1000
"""Suppressed hits kept per input (a file of 400 000 ``flux_prod_abab...`` is hostile); the rest
are counted in one ``limit:`` hit."""
MAX_KEYS_KEPT = 10_000
"""Unsuppressed hits kept per input; past it one ``limit:`` hit says how many were not kept."""
MAX_PLACEHOLDERS = 1000
"""Placeholder candidates looked at per input (a file of 400 000 ``flx_...`` is hostile)."""
UNKNOWN_FORMAT_MIN = 20
"""Body length from which a prefix + random body outside the rule's alphabet is reported."""
UNKNOWN_FORMAT_SEVERITY = Severity.LOW
"""Severity of a "key-shaped, unknown format" finding."""
PARTIAL_SEVERITY = Severity.LOW
"""Severity of a partial key (a fragment of a concatenation)."""
PARTIAL_MIN = 8
"""Body characters a fragment needs to be reported as a partial key."""
PARTIAL_NOTE = "partial key (concatenation)"
_LITERAL_END = rb"[A-Za-z0-9_]{0,80}([\"'`])[ \t]*[+\"'`\\\r\n]"
"""A key stem's literal closed and followed by ``+``, another literal or a line break (a concatenation may follow)."""
LARGE_TEXT = 4 * 1024 * 1024
"""A whole text larger than this is scanned in windows (bounded candidate lists)."""
LARGE_STEP = 1024 * 1024
"""Window size for texts over ``LARGE_TEXT``."""
LIMIT = "limit:"
"""Prefix of the ``Hit.suppressed`` reason of a hit that reports a bound reached, not a key
(``scan.collect`` turns it into a warning naming the file)."""
EXPIRED_SEVERITY = Severity.LOW
"""Severity of a FluxLoop JWT API key whose ``exp`` has passed."""

NATIVE_PRESENCE_MIN = 64 * 1024
"""A text this long, in a process that has the native needle search, asks it once which needles
it holds; a shorter one asks ``in`` per needle (cheaper than a call into the library)."""
_RARE_FIRST = b"$&Z!|?X;J\\V<WKY+GH%~/^{}Q@z>B'*P#jFDU978M65LO3R4I][NC2-SAq0kExv1Tw`=gb:y(),h\"fu.pmd_cliornaste"
"""Printable bytes by frequency in source-code history, rarest first (measured on sqlalchemy)."""
RARE_ANCHOR = 20
"""A needle holding one of the first this many ``_RARE_FIRST`` bytes is searched by that byte."""
PROBE_BUDGET_SHIFT = 9
"""A probe met more than once per ``1 << PROBE_BUDGET_SHIFT`` bytes is given up for plain search."""
_CONTINUATION = bytes(range(0x80, 0xC0))
_STEM_END = re.compile(rb"[^A-Za-z0-9]")
# What may follow a key prefix in a placeholder: key characters, masks, dots, template
# braces, the ellipsis and bullet characters (UTF-8). No nested quantifier.
# The text just before a key that assigns it to a credential: ``FLUXLOOP_API_KEY=``,
# ``api_key: "``, ``"token": "``, ``--api-key ``, ``Authorization: Bearer ``. Only
# there does a rule's shorter ``assigned-body`` count as a key.
_ASSIGNED = LazyRegex(
    rb"(?i)(?:(?:api[_-]?key|apikey|token|secret|credential|password|passwd|key)[\"'\]]?\s*"
    rb"(?:=>|:=|[:=])\s*[\"'`]?|--api-key[= ][\"']?|bearer\s+)$")
_LOOSE_BODY = rb"(?:[A-Za-z0-9_*.<>{}$%()\-]|\xe2\x80[\xa2\xa6]){0,100}"
# A key stem shortly followed by a URL or JSON escape.
_ESCAPE_AHEAD = rb"(?=[A-Za-z0-9_]{0,16}(?:%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}))"
_ESCAPE_WINDOW = 4096
_ESCAPE_MARGIN = 1024  # longer than any key written with every character escaped
MAX_ESCAPE_WINDOWS = 4096
"""Escaped regions decoded per input at most (16 MB of escaped text)."""


class _Limits:
    """What one top-level input may still cost: one budget for a whole tree of nested containers.

    Made fresh by ``scan``/``scan_chunks``, passed down through every nested zip,
    gzip and tar and every window of that input, so a zip of tars of gzips shares one
    decompression budget (``budget``, an ``archives.Budget``). What any bound cut short
    (hits not kept, archive contents not read) comes back as ``limit:`` hits.
    """

    __slots__ = ("budget", "kept", "dropped", "judged", "rule", "escapes", "placeholders")

    def __init__(self, max_bytes: int, max_members: int, rule: Rule | None = None):
        self.budget = archives.Budget(max_bytes, max_members)
        """Inflated bytes and archive members left for the whole tree, and what was cut."""
        self.kept = {True: 0, False: 0}
        """Hits kept so far, suppressed (True) and not (False)."""
        self.dropped = {True: 0, False: 0}
        self.judged: dict[tuple[str, bytes], object] = {}
        """Judgements of repeated candidates (rule id, value) -> ``_judge`` result; bounded."""
        self.rule: Rule | None = rule
        """The rule a ``limit:`` hit names (a ``Hit`` needs one): the first dropped hit's."""
        self.escapes = MAX_ESCAPE_WINDOWS
        """Escaped regions that may still be decoded."""
        self.placeholders = MAX_PLACEHOLDERS
        """Placeholder candidates that may still be looked at."""

    def keep(self, suppressed: bool, rule: Rule) -> bool:
        """Whether one more hit of this kind fits; counts it as dropped when not."""
        cap = MAX_SUPPRESSED_KEPT if suppressed else MAX_KEYS_KEPT
        if self.kept[suppressed] < cap:
            self.kept[suppressed] += 1
            return True
        self.dropped[suppressed] += 1
        self.rule = rule
        return False

    def hits(self) -> list[Hit]:
        """One ``limit:`` hit per bound reached (no secret in it)."""
        notes = []
        if self.dropped[False]:
            notes.append(f"{self.dropped[False]} more keys not reported (at most {MAX_KEYS_KEPT} per file)")
        if self.dropped[True]:
            notes.append(f"{self.dropped[True]} more placeholder matches not kept")
        notes += _cut_notes(self.budget.cut)
        if self.rule is None:
            return []
        return [Hit(rule=self.rule, secret="", line=0, column=0, end_column=0, suppressed=f"{LIMIT} {note}")
                for note in notes]


_BUDGET_CUTS = ("size limit", "member limit", "bomb")
"""Reasons in ``archives.Budget.cut`` that mean the decompression budget stopped the reading."""


def _cut_notes(cut: Sequence[str]) -> list[str]:
    """What the archive readers cut short, as ``limit:`` notes: budget cuts, then members not
    readable (encrypted, corrupt). Reasons only: member names are the scanned data's text."""
    reasons: dict[str, int] = {}
    for entry in cut:
        why = entry.rsplit(": ", 1)[-1]
        reasons[why] = reasons.get(why, 0) + 1
    budget = [why for why in reasons if any(b in why for b in _BUDGET_CUTS)]
    other = [f"{why} ({n})" if n > 1 else why for why, n in reasons.items() if why not in budget]
    notes = []
    if budget:
        notes.append(f"archive contents beyond the decompression budget not scanned ({', '.join(budget)})")
    if other:
        notes.append(f"archive contents not read: {', '.join(other)}")
    return notes


@record
class _Candidate:
    """A match before judging: where it is in the scanned buffer, which rule, what text."""

    start: int
    end: int
    rule: Rule
    secret: bytes
    encoding: str = ""
    suppressed: str | None = None
    assigned: bool = False
    """Accepted as a key by its credential assignment (already judged: no filter runs again)."""
    unknown_format: bool = False
    """A rule's prefix and a long random body outside the rule's alphabet (reported at low severity)."""
    partial: bool = False
    """A prefix and part of a body, the rest joined from something that is not a literal (low severity)."""


def _escaped_heads(stems: Sequence[bytes]) -> list[bytes]:
    """Needles for keys whose every character is escaped: the stems' first two bytes as
    ``\\uXXXX``, ``%XX`` and HTML entities (the last hex digit left open for its case)."""
    heads = {bytes(stem[:2]) for stem in stems if len(stem) >= 2}
    out = []
    for a, b in sorted(heads):
        out += [b"\\u%04x\\u%03x" % (a, b >> 4), b"%%%02X%%%X" % (a, b >> 4),
                b"&#%d;&#%d;" % (a, b), b"&#x%x;&#x%x" % (a, b >> 4)]
    return out


def _broken(needle: bytes, shift: int) -> list[bytes]:
    """A base64 needle cut by the line break of a wrapped body: its part before the break, then the break.

    Bodies are wrapped at a multiple of 4 columns (PEM 64, MIME 76), so breaks fall on the
    4-character grid: a needle ``shift`` characters into a group is cut after ``4 - shift``
    of them (``Zs|dX``). Only cuts keeping the needle's first byte, its probe (``Z``), and two
    characters or more: they share that probe's search and cost no pass of their own. (Not
    found: a needle cut after its first character, and ``mbH`` cut: about 2% of wrapped keys.)
    """
    if needle[:1] != b"Z":
        return []
    return [needle[:k] + brk for k in range(4 - shift, len(needle), 4) if k >= 2 for brk in (b"\n", b"\r\n")]


def _join(*labels: str) -> str:
    """Encoding labels joined with "/" (empty ones left out)."""
    return "/".join(label for label in labels if label)


def _cover(words: Iterable[bytes], min_len: int) -> list[bytes]:
    """Few needles such that every word contains one (common prefixes of ``min_len``+ merged)."""
    out: list[bytes] = []
    for w in sorted(set(words)):
        if out:
            last = out[-1]
            n = 0
            while n < min(len(last), len(w)) and last[n] == w[n]:
                n += 1
            if n >= min_len:
                out[-1] = last[:n]
                continue
        out.append(w)
    return [w for w in out if not any(o != w and o in w for o in out)]


Search = tuple  # (probe, offset, needles, heads, regex search or None)


def _searches(needles: Sequence[bytes]) -> list[Search]:
    """How ``might_contain`` looks for ``needles``: ``(probe, offset, needles)`` each.

    A search finds ``probe`` and tests ``startswith(needles)`` ``offset`` bytes before
    it, so one pass serves several needles. Needles holding a rare byte use that byte
    as the probe (``memchr``, 5-9 GB/s on code). The others share their common
    prefix of two or more bytes (``fl`` for ``flux`` and ``flx``: 0.9 GB/s against
    0.7 for two passes) or are their own probe (~1.5 GB/s each).
    """
    rank = {b: i for i, b in enumerate(_RARE_FIRST)}
    plain: list[bytes] = []
    anchored: dict[tuple[bytes, int], list[bytes]] = {}
    for needle in needles:
        best = min(needle, key=lambda b: rank.get(b, 256))
        if rank.get(best, 256) >= RARE_ANCHOR:
            plain.append(needle)
        else:
            anchored.setdefault((bytes([best]), needle.index(best)), []).append(needle)
    groups: list[list[bytes]] = []
    for needle in sorted(set(plain)):
        if groups and len(_common_prefix(groups[-1][0], needle)) >= 2:
            groups[-1].append(needle)
        else:
            groups.append([needle])
    # A group sharing a prefix (``fl`` for ``flux`` and ``flx``) is one regex: sre factors the
    # alternation to ``fl(?:ux|x)`` and scans for the literal prefix in C, 2.0 GB/s on
    # sqlalchemy's history against 0.77 for ``find(b"fl")`` and a ``startswith`` per match
    # in Python (``fl`` is met ~100 times per 256 KiB of code: "flush", "float", "reflect").
    out: list[Search] = [(_common_prefix(g[0], g[-1]), 0, tuple(g), tuple(g),
                          re.compile(b"|".join(re.escape(n) for n in g)).search) for g in groups]
    return out + [(probe, off, tuple(ns), _heads(ns, off), None) for (probe, off), ns in anchored.items()]


def _heads(needles: Sequence[bytes], off: int) -> tuple[bytes, ...]:
    """The needles cut one byte past their probe, without repeats: ``_find`` tests these first, so a
    probe met often (``Z`` on code) costs one short ``startswith`` however many needles share it."""
    heads = tuple(sorted({n[:off + 2] for n in needles}))
    return heads if len(heads) < len(needles) else tuple(needles)


def _common_prefix(a: bytes, b: bytes) -> bytes:
    """The longest common prefix of ``a`` and ``b``."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _find(data: bytes, search: Search, start: int) -> int:
    """The first position ``>= start`` where one of the search's needles begins in ``data``, or -1.

    A probe met too often (base64 blobs, minified code) is given up for one
    substring search per needle from where it got to.
    """
    probe, off, needles, heads, rx = search
    if rx is not None:
        m = rx(data, start)
        return m.start() if m is not None else -1
    find, startswith = data.find, data.startswith
    budget = 64 + ((len(data) - start) >> PROBE_BUDGET_SHIFT)
    pos = find(probe, start + off)
    while pos >= 0:
        if startswith(heads, pos - off) and startswith(needles, pos - off):
            return pos - off
        budget -= 1
        if budget < 0:
            found = [p for n in needles if (p := data.find(n, pos - off)) >= 0]
            return min(found) if found else -1
        pos = find(probe, pos + 1)
    return -1


_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _whole(rule: Rule, token: bytes) -> bool:
    """Whether all of ``token`` is a key of ``rule`` (its regex matches it from start to end)."""
    m = rule.regex.match(token)
    return m is not None and m.start(rule.secret_group) == 0 and m.end(rule.secret_group) == len(token)


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    """Whether ``pos`` lies in one of ``spans`` (sorted by start, not overlapping)."""
    i = bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _chars(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Characters in UTF-8 ``data[start:end]`` (bytes that do not continue a character).

    Counted in 1 MB blocks, so a 50 MB line costs no 50 MB copies; safe on cut text.
    """
    end = len(data) if end is None else end
    n = 0
    for i in range(start, end, 1 << 20):
        n += len(data[i:min(end, i + (1 << 20))].translate(None, _CONTINUATION))
    return n


class Detector:
    """Finds key-shaped strings with a set of rules; reports suppressed ones with a reason."""

    def __init__(self, rules: Sequence[Rule], *, now: float | None = None,
                 max_zip_bytes: int = 64 * 1024 * 1024, max_zip_members: int = 10_000):
        self.rules: tuple[Rule, ...] = tuple(rules)
        """The rules, in load order."""
        self.now = now
        """Clock for JWT expiry (Unix seconds); None means the time of each scan."""
        self.max_zip_bytes = max_zip_bytes
        """Uncompressed bytes read from one zip archive at most."""
        self.max_zip_members = max_zip_members
        """Members read from one zip archive at most."""

        stems = {r: self._stem(r) for r in self.rules}
        self._plain: list[bytes] = _cover(stems.values(), 3)
        self._rule_needles = [(r, next(n for n in self._plain if n in stems[r])) for r in self.rules]
        key_stems = _cover((stems[r] for r in self.rules if r.kind == "key"), 3)
        self._key_stems: list[bytes] = [n for n in self._plain if any(n in s for s in key_stems)]
        by_shift: dict[int, list[bytes]] = {}
        for stem in key_stems:
            for needle, shift in decoders.base64_needles(stem):
                by_shift.setdefault(shift, []).append(needle)
        jwt_heads = tuple(n[:2] for n, _ in decoders.JWT_BASE64_NEEDLES)  # JWT needles are not cut (ZJ\n is common)
        self._b64_stems = list(self._key_stems)
        """What a decoded base64 run must hold to be searched: a key stem, or ``eyJ`` (a JWT)."""
        if any(r.kind == "jwt" for r in self.rules):
            self._b64_stems.append(b"eyJ")
            for needle, shift in decoders.jwt_base64_needles():
                by_shift.setdefault(shift, []).append(needle)
        self._b64: list[tuple[bytes, int]] = []
        for shift, needles in sorted(by_shift.items()):
            whole = _cover(needles, 3)
            cuts = {cut for n in needles for cut in _broken(n, shift)
                    if not any(w in cut for w in whole) and not cut.startswith(jwt_heads)}
            self._b64 += [(n, shift) for n in whole + sorted(cuts)]
        self._wide = [n.decode("latin-1").encode("utf-16-le") for n in self._plain]
        self._escaped_heads = _escaped_heads(self._key_stems)
        self.keywords: tuple[bytes, ...] = tuple(self._plain) + tuple(n for n, _ in self._b64) + tuple(self._escaped_heads)
        """Every needle ``might_contain`` looks for: plain stems, base64 forms, then the key stems'
        first two characters fully escaped (``\\u0066\\u006``, ``%66%6``, ``&#102;&#108;``, ``&#x66;&#x6``)."""
        self._searches: list[tuple[bytes, tuple[tuple[int, tuple[bytes, ...]], ...]]] = _searches(self.keywords)

        prefixed = sorted((r for r in self.rules if r.prefix), key=lambda r: -len(r.prefix))
        self._by_prefix: list[tuple[bytes, Rule]] = []
        for r in prefixed:
            p = r.prefix.encode("utf-8")
            if all(p != q for q, _ in self._by_prefix):
                self._by_prefix.append((p, r))
        roots = _cover((p for p, _ in self._by_prefix), 4)
        self._loose = [(root, LazyRegex(re.escape(root) + _LOOSE_BODY)) for root in roots]
        self._escapes = [(s, LazyRegex(re.escape(s) + _ESCAPE_AHEAD)) for s in self._key_stems]
        self._literal_ends = [(s, LazyRegex(re.escape(s) + _LITERAL_END)) for s in self._key_stems]
        self._escapes += [(h, LazyRegex(re.escape(h))) for h in self._escaped_heads]
        self._native = prefilter.Lazy(self.keywords)
        """The native needle search, made on first use in each process."""

    @staticmethod
    def _stem(rule: Rule) -> bytes:
        """The rule's shortest keyword cut at its first non-alphanumeric byte (``flux_prod_`` -> ``flux``)."""
        stems = []
        for k in rule.keywords:
            m = _STEM_END.search(k)
            stems.append(k[:m.start()] if m and m.start() >= 3 else k)
        return min(stems, key=len)

    # ---- public API -------------------------------------------------------------

    def might_contain(self, data: bytes) -> bool:
        """Cheap prefilter: False means no rule can match ``data`` in any form we decode."""
        head = data[:4]
        if (head == decoders.ZIP_MAGIC or head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
                or archives.is_gzip(head) or archives.is_tar(data[:262])):
            return True
        for search in self._searches:
            if _find(data, search, 0) >= 0:
                return True
        if b"\0" not in data[:decoders.SNIFF]:
            return False
        if decoders.utf16_order(data[:1024]) is not None:
            return True
        return any(wide in data for wide in self._wide)  # UTF-16LE runs inside a binary

    def pieces_with_needles(self, data: bytes, ends: Sequence[int]) -> set[int]:
        """Indexes of the pieces of ``data`` (piece ``i`` ends at ``ends[i]``, sorted) holding a needle.

        One pass for all needles with the native search (``prefilter``) when installed;
        else one pass per search over ``data``: after a hit the search resumes at the
        end of its piece. Exact for text; zip archives and UTF-16 text must be
        recognised by the caller (their first bytes), as in ``might_contain``.
        """
        marked = self._native.pieces(data, ends)
        return marked if marked is not None else self.pieces_by_search(data, ends)

    def pieces_by_search(self, data: bytes, ends: Sequence[int]) -> set[int]:
        """``pieces_with_needles`` with the standard library only (one pass per search)."""
        marked: set[int] = set()
        n = len(ends)
        for search in self._searches:
            pos = _find(data, search, 0)
            while pos >= 0:
                i = bisect_right(ends, pos)
                if i >= n:
                    break
                marked.add(i)
                pos = _find(data, search, ends[i])
        return marked

    def scan(self, data: bytes) -> list[Hit]:
        """All hits in ``data``, suppressed ones included (``Hit.suppressed`` says why)."""
        if not data or not self.might_contain(data):
            return []
        limits = self._limits()
        hits = self._scan_blob(bytes(data), 0, "", self._clock(), limits)
        return hits + limits.hits()

    def scan_chunks(self, chunks: Iterable[bytes]) -> list[Hit]:
        """Like ``scan`` over the concatenation of ``chunks``, in memory bounded by the chunk size.

        Chunks overlap by ``OVERLAP`` bytes so a key across a border is found once;
        lines are counted across chunks; ``line_text`` is cut to a window around the key.
        Gzip and tar are read as streams; zip archives are read whole up to the
        budget's bytes (a zip cannot be streamed); binary data gives its printable runs.
        """
        limits = self._limits()
        return self._scan_chunked(chunks, 0, "", self._clock(), limits) + limits.hits()

    # ---- whole inputs -------------------------------------------------------------

    def _clock(self) -> float:
        return time.time() if self.now is None else self.now

    def _limits(self) -> _Limits:
        """The one budget of an input and every container nested in it."""
        return _Limits(self.max_zip_bytes, self.max_zip_members, self.rules[0] if self.rules else None)

    def _scan_blob(self, data: bytes, nest: int, label: str, now: float, limits: _Limits) -> list[Hit]:
        """Hits in one whole input (a file, a blob, an archive member); ``nest`` containers deep.

        Nested containers (zip, gzip, tar) draw on the one ``limits.budget`` of the
        top-level input; a text over ``LARGE_TEXT`` is scanned in windows so no list
        grows with it.
        """
        budget = limits.budget
        if nest <= MAX_ARCHIVE_DEPTH:
            if data[:4] == decoders.ZIP_MAGIC:
                archive = decoders.open_zip(data)
                if archive is not None:
                    del data  # the archive holds its own reference; members are read one at a time
                    hits: list[Hit] = []
                    for name, content in decoders.zip_members(archive, budget, label or "zip"):
                        if content and self.might_contain(content):
                            hits += self._scan_blob(content, nest + 1, _join(label, f"zip:{name}"), now, limits)
                    return hits
            elif archives.is_gzip(data):
                return self._scan_chunked(archives.gunzip([data], budget, label or "gzip"), nest + 1,
                                          _join(label, "gzip"), now, limits)
            elif archives.is_tar(data):
                return self._scan_tar([data], nest, label, now, limits)
        if decoders.is_binary(data):
            buf, enc = decoders.printable_runs(data, self._key_stems), "strings"
        else:
            buf, enc = decoders.text_view(data)
        del data
        if len(buf) > LARGE_TEXT:
            view = memoryview(buf)
            windows = (bytes(view[i:i + LARGE_STEP]) for i in range(0, len(buf), LARGE_STEP))
            return self._scan_stream(windows, _join(label, enc), now, limits, 0, LARGE_STEP)
        cands = self._candidates(buf, 0, limits)
        if enc == "strings":  # a run may be found twice (as ASCII and as UTF-16LE)
            once: dict[tuple[str, bytes], _Candidate] = {}
            for c in cands:
                once.setdefault((c.rule.id, c.secret), c)
            cands = list(once.values())
        return self._to_hits(buf, cands, _join(label, enc), now, limits)

    def _scan_tar(self, chunks: Iterable[bytes], nest: int, label: str, now: float,
                  limits: _Limits) -> list[Hit]:
        """Hits in each regular file of a tar stream (small members whole, big ones streamed)."""
        hits: list[Hit] = []
        for name, size, pieces in archives.tar_members(chunks, limits.budget, label or "tar"):
            where = _join(label, f"tar:{name}")
            if size <= archives.WHOLE:
                content = b"".join(pieces)
                if content and self.might_contain(content):
                    hits += self._scan_blob(content, nest + 1, where, now, limits)
            else:
                hits += self._scan_chunked(pieces, nest + 1, where, now, limits)
        return hits

    def _scan_chunked(self, chunks: Iterable[bytes], nest: int, label: str, now: float,
                      limits: _Limits) -> list[Hit]:
        """``scan_chunks`` at ``nest`` containers deep (see there)."""
        budget = limits.budget
        it = iter(chunks)
        first = b""
        for piece in it:
            first += piece
            if len(first) >= 1024:
                break
        if not first:
            return []
        rest: Iterator[bytes] = it
        if nest <= MAX_ARCHIVE_DEPTH:
            if first[:4] == decoders.ZIP_MAGIC:
                data = bytearray(first)
                for chunk in it:
                    data += chunk
                    if len(data) > budget.bytes:
                        rest = chain([bytes(data)], it)
                        break
                else:
                    return self._scan_blob(bytes(data), nest, label, now, limits)
                budget.note(label or "zip", "size limit")
                first = next(rest)
            elif archives.is_gzip(first):
                return self._scan_chunked(archives.gunzip(chain([first], rest), budget, label or "gzip"),
                                          nest + 1, _join(label, "gzip"), now, limits)
            elif archives.is_tar(first):
                return self._scan_tar(chain([first], rest), nest, label, now, limits)
        order = decoders.utf16_order(first[:1024])
        if order is not None:
            label = _join(label, "utf-16")
            stream = decoders.utf16_chunks(chain([first], rest), order)
        elif decoders.is_binary(first):
            label = _join(label, "strings")
            stream = decoders.printable_chunks(chain([first], rest))
        else:
            if first[:3] == codecs.BOM_UTF8:
                first = first[3:]
            stream = chain([first], rest)
        return self._scan_stream(stream, label, now, limits)

    def _scan_stream(self, stream: Iterator[bytes], label: str, now: float, limits: _Limits,
                     depth: int = 0, step: int = MIN_STEP) -> list[Hit]:
        """Hits in a stream of text chunks, windows overlapping by ``OVERLAP`` bytes."""
        hits: list[Hit] = []
        tail = b""
        line_base = col_base = 0
        stream = iter(stream)
        more = True
        while more:
            pending = bytearray(tail)
            for chunk in stream:
                pending += chunk
                if len(pending) - len(tail) >= step:
                    break
            else:
                more = False
            window = bytes(pending)
            del pending
            cutoff = len(window) if not more else max(0, len(window) - OVERLAP)
            if window and self.might_contain(window):
                cands = [c for c in self._candidates(window, depth, limits) if c.start < cutoff]
                hits += self._to_hits(window, cands, label, now, limits, line_base, col_base)
            newlines = window.count(b"\n", 0, cutoff)
            if newlines:
                line_base += newlines
                col_base = _chars(window, window.rfind(b"\n", 0, cutoff) + 1, cutoff)
            else:
                col_base += _chars(window, 0, cutoff)
            tail = window[cutoff:]
        return hits

    # ---- candidates -------------------------------------------------------------

    def _candidates(self, buf: bytes, depth: int, limits: _Limits) -> list[_Candidate]:
        """Every match in ``buf``: rule regexes, placeholders, escaped and base64 forms."""
        holds = self._holds(buf)
        present = [n for n in self._plain if n in holds]
        cands: list[_Candidate] = []
        if present:
            for rule, needle in self._rule_needles:
                if needle in present and any(k in buf for k in rule.keywords):
                    g = rule.secret_group
                    for m in rule.regex.finditer(buf):
                        s, e = m.span(g)
                        if e > s:
                            cands.append(_Candidate(s, e, rule, m.group(g)))
            cands = self._most_specific(cands)
            joined = self._concatenated(buf)
            if joined:
                taken = [(c.start, c.end) for c in joined]
                cands = sorted([c for c in cands if not _inside(taken, c.start)] + joined, key=lambda c: c.start)
            spans = [(c.start, c.end) for c in cands]
            cands += self._placeholders(buf, spans, limits)
            cands += self._escaped(buf, spans, limits, holds)
        elif any(h in holds for h in self._escaped_heads):
            cands += self._escaped(buf, [], limits, holds)
        if depth < MAX_DEPTH:
            cands += self._base64(buf, depth, limits, holds)
        return cands

    def _holds(self, buf: bytes) -> bytes | set[bytes]:
        """What to ask ``needle in`` for the needles (``keywords``) of ``buf``: the set of those it
        holds, from one native pass, when this process has the native search and ``buf`` is
        long; else ``buf`` itself (a search per question)."""
        native = self._native.made()
        if native is None or len(buf) < NATIVE_PRESENCE_MIN:
            return buf
        return native.present(buf)

    @staticmethod
    def _most_specific(cands: list[_Candidate]) -> list[_Candidate]:
        """Drop matches overlapping an earlier or more specific one (longer prefix wins)."""
        cands.sort(key=lambda c: (c.start, -len(c.rule.prefix), -(c.end - c.start)))
        kept: list[_Candidate] = []
        for c in cands:
            if kept and c.start < kept[-1].end:
                continue
            kept.append(c)
        return kept

    def _rule_for(self, token: bytes) -> tuple[bytes, Rule] | None:
        """The rule with the longest prefix that ``token`` starts with."""
        for prefix, rule in self._by_prefix:
            if token.startswith(prefix):
                return prefix, rule
        return None

    def _placeholders(self, buf: bytes, spans: list[tuple[int, int]], limits: _Limits) -> list[_Candidate]:
        """Key prefixes followed by something that is not a key, with the reason why."""
        out = []
        for root, loose in self._loose:
            if root not in buf:
                continue
            for m in loose.finditer(buf):
                s = m.start()
                if limits.placeholders <= 0:
                    return out
                if _inside(spans, s):
                    continue
                found = self._rule_for(m.group())
                if found is None:
                    continue
                prefix, rule = found
                body = m.group()[len(prefix):].decode("utf-8", "replace")
                before = buf[max(0, s - 6):s].decode("latin-1")
                reason = filters.near_miss_reason(body, before)
                if reason in (None, "identifier") and rule.assigned_body is not None:
                    short = self._assigned_key(buf, s, m.group(), prefix, rule)
                    if short is not None:
                        out.append(short)
                        limits.placeholders -= 1
                        continue
                if reason:
                    token = m.group().rstrip(b",;:)]}'\"") if not m.group().endswith(b"...") else m.group()
                    out.append(_Candidate(s, s + len(token), rule, token, suppressed=reason))
                    limits.placeholders -= 1
                elif (rule.kind == "key" and len(body) >= UNKNOWN_FORMAT_MIN and body.isascii() and body.isalnum()
                      and filters.body_reason(body, rule.min_entropy) is None):
                    out.append(_Candidate(s, m.end(), rule, m.group(), unknown_format=True))
        return out

    @staticmethod
    def _assigned_key(buf: bytes, s: int, token: bytes, prefix: bytes, rule: Rule) -> _Candidate | None:
        """A key shorter than the rule's regex allows, where the text assigns it to a credential.

        A 7-character body after ``FLUXLOOP_API_KEY=flux_prod_`` is a key even if truncated or young: the
        body must still fit the rule's ``assigned-body`` and pass every placeholder filter
        (the identifier one only from six letters on).
        """
        body = token[len(prefix):]
        m = rule.assigned_body.match(body)
        if m is None or (m.end() < len(body) and (body[m.end():m.end() + 1].isalnum()
                                                  or body[m.end():m.end() + 1] == b"_")):
            return None
        body = body[:m.end()]
        reason = filters.body_reason(body.decode("ascii", "replace"), rule.min_entropy)
        # Letter pairs say little about fewer than six letters: there the assignment decides.
        if reason is not None and not (reason == "identifier" and len(body) < 6):
            return None
        line_start = buf.rfind(b"\n", max(0, s - 96), s) + 1
        if not _ASSIGNED.search(buf[max(line_start, s - 96):s]):
            return None
        return _Candidate(s, s + len(prefix) + len(body), rule, prefix + body, assigned=True)

    def _concatenated(self, buf: bytes) -> list[_Candidate]:
        """Keys written as joined string literals (``"flux_prod_" + "a1b2..."``), as the joined value.

        Where a literal holding a key stem is closed and followed by ``+`` or another
        literal (``decoders.joined_literals``): if the joined text starts with a key that
        reaches past the first literal and ends where a literal ends, that key (``encoding``
        "concatenation"); else, unless the first literal holds a whole key (the plain match
        reports it), if the joined prefix and body (at least ``PARTIAL_MIN`` characters of
        it) are no placeholder, a partial key. A literal holding a whole key followed only by
        a line break and another literal is left alone (a list missing its commas, two
        lines of a file). Sorted by start, not overlapping.
        """
        out: list[_Candidate] = []
        for stem, rx in self._literal_ends:
            if stem not in buf:
                continue
            joined_to = 0  # literals up to here were read by an earlier join: each is read once
            for m in rx.finditer(buf):
                s = m.start()
                if s < joined_to:
                    continue
                close = m.start(1)
                pieces, end, more, tight = decoders.joined_literals(buf, close)
                joined_to = end
                if not pieces and not more:
                    continue
                token = buf[s:close]
                found = self._rule_for(token + b"".join(pieces))
                if found is None:
                    continue
                prefix, rule = found
                g = rule.secret_group
                whole = token.startswith(prefix) and _whole(rule, token)
                if whole and not tight:
                    continue
                value = token + b"".join(pieces)
                km = rule.regex.match(value)
                if km is not None and km.start(g) == 0:
                    ends, n = set(), len(token)
                    for piece in pieces:
                        n += len(piece)
                        ends.add(n)
                    if km.end(g) in ends:
                        out.append(_Candidate(s, end, rule, km.group(g), "concatenation"))
                        continue
                if whole or rule.kind != "key":
                    continue
                body = value[len(prefix):]
                body = body[:len(body) - len(body.lstrip(_ALNUM))]
                if len(body) >= PARTIAL_MIN and filters.body_reason(body.decode("ascii")) is None:
                    out.append(_Candidate(s, end, rule, prefix + body, "concatenation", partial=True))
        return self._most_specific(out)

    def _escaped(self, buf: bytes, spans: list[tuple[int, int]], limits: _Limits,
                 holds: bytes | set[bytes]) -> list[_Candidate]:
        """Keys written with URL (``%5F``) or JSON (``\\u005f``) escapes, decoded in place.

        A region is decoded once (``_ESCAPE_WINDOW`` bytes); keys starting in its first
        part are taken from it, the rest is left to the next region, so every escaped
        key is seen once and the work is bounded by ``MAX_ESCAPE_WINDOWS`` per input.
        """
        found: list[_Candidate] = []
        key_rules = [r for r in self.rules if r.kind == "key"]
        for stem, trigger in self._escapes:
            if stem not in holds:
                continue
            next_free = 0
            for m in trigger.finditer(buf):
                s = m.start()
                if s < next_free or _inside(spans, s):
                    continue
                if limits.escapes <= 0:
                    break
                limits.escapes -= 1
                un = decoders.unescape(buf[s:s + _ESCAPE_WINDOW])
                take_until = len(buf) if s + _ESCAPE_WINDOW >= len(buf) else s + _ESCAPE_WINDOW - _ESCAPE_MARGIN
                next_free = take_until
                for rule in key_rules:
                    if not any(k in un.text for k in rule.keywords):
                        continue
                    g = rule.secret_group
                    for mm in rule.regex.finditer(un.text):
                        a, e = mm.span(g)
                        start = s + un.original(a)
                        if start >= take_until:
                            break
                        used = un.kinds(a, e)
                        if e > a and used:
                            found.append(_Candidate(start, s + un.original(e), rule, mm.group(g), "+".join(sorted(used))))
        return [c for c in self._most_specific(found) if not _inside(spans, c.start)]

    def _base64(self, buf: bytes, depth: int, limits: _Limits, holds: bytes | set[bytes]) -> list[_Candidate]:
        """Keys inside base64 runs (any byte alignment), positioned at the run."""
        out: list[_Candidate] = []
        done: list[tuple[int, int]] = []  # decoded runs, kept sorted
        seen: set[tuple[int, bytes]] = set()
        for needle, shift in self._b64:
            if holds is not buf and needle not in holds:  # (a find needs no ``in`` first)
                continue
            pos = buf.find(needle)
            examined = 0
            while pos != -1 and examined < MAX_NEEDLE_HITS:
                examined += 1
                if not _inside(done, pos):
                    window = decoders.base64_window(buf, pos, shift)
                    if window is not None:
                        start, end, decoded = window
                        insort(done, (start, end))
                        if any(stem in decoded for stem in self._b64_stems):
                            for c in self._candidates(decoded, depth + 1, limits):
                                if (start, c.secret) not in seen:
                                    seen.add((start, c.secret))
                                    out.append(_Candidate(start, end, c.rule, c.secret,
                                                          _join("base64", c.encoding), c.suppressed,
                                                          c.assigned, c.unknown_format, c.partial))
                pos = buf.find(needle, pos + 1)
        return out

    # ---- judging and locating -------------------------------------------------------

    def _judge(self, c: _Candidate, now: float):
        """``(suppressed, severity, details)`` for a candidate, or None to drop it (not a FluxLoop JWT)."""
        if c.suppressed:
            return c.suppressed, None, ()
        if c.assigned:
            return None, None, ()
        if c.unknown_format:
            return None, UNKNOWN_FORMAT_SEVERITY, (("format", "key-shaped, unknown format"),)
        if c.partial:
            return None, PARTIAL_SEVERITY, (("format", PARTIAL_NOTE),)
        secret = c.secret.decode("utf-8", "replace")
        if c.rule.kind == "jwt":
            from keyguard.detect import jwt as jwt_reader  # json, datetime: only when a JWT is met

            facts = jwt_reader.decode(secret)
            if facts is None or not facts.is_fluxloop_key:
                return None
            details = facts.details(now)
            if jwt_reader.placeholder_signature(facts):
                return "jwt:placeholder-signature", None, details
            return None, (EXPIRED_SEVERITY if facts.expired(now) else None), details
        return filters.placeholder_reason(secret, c.rule), None, ()

    def _to_hits(self, buf: bytes, cands: list[_Candidate], label: str, now: float, limits: _Limits,
                 line_base: int = 0, col_base: int = 0) -> list[Hit]:
        """Turn candidates into ``Hit``s with line, column and line text.

        ``line_base`` lines and ``col_base`` characters of the first line precede ``buf``
        (``scan_chunks`` windows). A value met again is judged once; past the caps of
        ``limits`` hits are counted, not built.
        """
        hits = []
        line, line_start = line_base + 1, 0
        pos, col_pos, col = 0, 0, col_base + 1
        memo = limits.judged
        for c in sorted(cands, key=lambda c: (c.start, c.end)):
            if c.suppressed or c.assigned or c.partial:
                judged = self._judge(c, now)
            else:
                mkey = (c.rule.id, c.secret)
                judged = memo.get(mkey, memo)
                if judged is memo:
                    judged = self._judge(c, now)
                    if len(memo) < MAX_KEYS_KEPT:
                        memo[mkey] = judged
            if judged is None:
                continue
            suppressed, severity, details = judged
            if not limits.keep(suppressed is not None, c.rule):
                continue
            newlines = buf.count(b"\n", pos, c.start)
            if newlines:
                line += newlines
                line_start = buf.rfind(b"\n", pos, c.start) + 1
                col_pos, col = line_start, 1
            pos = c.start
            col += _chars(buf, col_pos, c.start)
            col_pos = c.start
            span = buf[c.start:c.end]
            end_line = 0
            if b"\n" in span:
                end_column = _chars(span[span.rfind(b"\n") + 1:]) + 1
                end_line = line + span.count(b"\n")
            else:
                end_column = col + _chars(span)
            hits.append(Hit(
                rule=c.rule, secret=c.secret.decode("utf-8", "replace"), line=line, column=col,
                end_column=end_column, line_text=_line_text(buf, line_start, c.start, c.end),
                encoding=_join(label, c.encoding), severity=severity, details=details,
                suppressed=suppressed, end_line=end_line, partial=c.partial,
            ))
        return hits


def _line_text(buf: bytes, line_start: int, start: int, end: int) -> str:
    """The line holding ``buf[start:end]``, or a window of ``LINE_WINDOW`` around it if long."""
    limit = line_start + MAX_LINE_TEXT
    if end <= limit:
        line_end = buf.find(b"\n", end, limit + 1)
        if line_end == -1 and limit >= len(buf):
            line_end = len(buf)
        if line_end != -1:
            return buf[line_start:line_end].decode("utf-8", "replace").rstrip("\r")
    a = max(line_start, start - LINE_WINDOW)
    b = buf.find(b"\n", end, end + LINE_WINDOW)
    b = min(len(buf), end + LINE_WINDOW) if b == -1 else b
    text = buf[a:b].decode("utf-8", "replace").rstrip("\r")
    return ("\u2026" if a > line_start else "") + text + ("\u2026" if b < len(buf) and buf[b:b + 1] != b"\n" else "")
