"""The ``primaryLocationLineHash`` partial fingerprint for SARIF results.

GitHub's upload action (github/codeql-action, ``src/fingerprints.ts``) computes
this value from the checked-out file: a polynomial rolling hash (base 37,
modulo 2**64) over the first 100 characters of a line and the lines after it,
skipping spaces and tabs and folding CR/CRLF to LF, printed as unsigned hex
plus ``:<n>``, where n counts earlier lines of the file with the same hash.

keyguard computes it itself, because history findings are not in the
checkout. It follows the same algorithm but feeds it a text that never
depends on line numbers or the raw secret: the redacted snippet line, the rule
id and the finding's keyed fingerprint. So a key keeps its alert when lines
move, and two different keys on look-alike lines still get different hashes.
"""

from __future__ import annotations

import struct
from operator import mul

BLOCK_SIZE = 100
"""How many (non-blank) characters each line's hash covers."""
_MOD = 37
_MASK = (1 << 64) - 1
_FIRST_MOD = pow(_MOD, BLOCK_SIZE, 1 << 64)
_TAB, _SPACE, _LF, _CR = 9, 32, 10, 13
_EOF = 65535


def _code_units(text: str) -> tuple[int, ...]:
    """UTF-16 code units of ``text`` (what JavaScript's ``charCodeAt`` sees)."""
    data = text.encode("utf-16-le", "surrogatepass")
    return struct.unpack(f"<{len(data) // 2}H", data)


def line_hashes(text: str) -> dict[int, str]:
    """``{line number: "hex:n"}`` for every line of ``text``, as codeql-action computes them."""
    window = [0] * BLOCK_SIZE
    line_numbers = [-1] * BLOCK_SIZE
    out: dict[int, str] = {}
    counts: dict[str, int] = {}
    state = {"hash": 0, "index": 0}

    def output() -> None:
        index = state["index"]
        value = format(state["hash"], "x")
        counts[value] = counts.get(value, 0) + 1
        out[line_numbers[index]] = f"{value}:{counts[value]}"
        line_numbers[index] = -1

    def update(current: int) -> None:
        index = state["index"]
        begin = window[index]
        window[index] = current
        state["hash"] = (_MOD * state["hash"] + current - _FIRST_MOD * begin) & _MASK
        state["index"] = (index + 1) % BLOCK_SIZE

    line_number = 0
    line_start = True
    prev_cr = False
    for current in (*_code_units(text), _EOF):
        if current in (_SPACE, _TAB) or (prev_cr and current == _LF):
            prev_cr = False
            continue
        if current == _CR:
            current = _LF
            prev_cr = True
        else:
            prev_cr = False
        if line_numbers[state["index"]] != -1:
            output()
        if line_start:
            line_start = False
            line_number += 1
            line_numbers[state["index"]] = line_number
        if current == _LF:
            line_start = True
        update(current)
    for _ in range(BLOCK_SIZE):
        if line_numbers[state["index"]] != -1:
            output()
        update(0)
    return out


def first_line_hash(text: str) -> str:
    """The bare hash (no ``:n``) ``line_hashes`` gives line 1 of ``text``, without the full walk.

    Line 1's hash covers the first ``BLOCK_SIZE`` kept code units (blanks
    dropped, CR/CRLF folded to LF, then the EOF marker and zero padding): the sum
    of unit ``i`` times ``_MOD ** (BLOCK_SIZE - 1 - i)``, modulo 2**64.
    """
    if "\r" in text:
        units = _first_units_folding_cr(text)
    else:  # the common case (a finding's hash text has no CR): no loop per character
        units = list(_code_units(text.replace(" ", "").replace("\t", "")[:BLOCK_SIZE])[:BLOCK_SIZE])
        if len(units) < BLOCK_SIZE:
            units.append(_EOF)
    return format(sum(map(mul, units, _WEIGHTS)) & _MASK, "x")


_WEIGHTS = tuple(pow(_MOD, BLOCK_SIZE - 1 - i, 1 << 64) for i in range(BLOCK_SIZE))
"""The weight of each of the ``BLOCK_SIZE`` units in a line's hash (the zero padding has none)."""


def _first_units_folding_cr(text: str) -> list[int]:
    """The first ``BLOCK_SIZE`` kept code units of ``text`` (blanks dropped, CR/CRLF as LF), then EOF if room."""
    units: list[int] = []
    prev_cr = False
    for c in _code_units(text):
        if c in (_SPACE, _TAB) or (prev_cr and c == _LF):
            prev_cr = False
            continue
        prev_cr = c == _CR
        units.append(_LF if prev_cr else c)
        if len(units) == BLOCK_SIZE:
            return units
    units.append(_EOF)
    return units


def finding_line_hash(snippet: str, rule_id: str, fingerprint: str) -> str:
    """The bare hash (no ``:n``) of a finding: redacted line + rule id + fingerprint."""
    text = "\n".join((snippet.replace("\r", " ").replace("\n", " "), rule_id, fingerprint))
    return first_line_hash(text)


class LineHasher:
    """Hands out ``primaryLocationLineHash`` values, numbering repeats per file like GitHub does."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}

    def __call__(self, uri: str, snippet: str, rule_id: str, fingerprint: str) -> str:
        """``hex:n``: n is 1 for the first finding in ``uri`` with this hash, 2 for the next..."""
        value = finding_line_hash(snippet, rule_id, fingerprint)
        n = self._seen.get((uri, value), 0) + 1
        self._seen[(uri, value)] = n
        return f"{value}:{n}"
