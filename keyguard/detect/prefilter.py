"""The optional native needle search: every needle of a detector in one pass (Hyperscan).

A history scan asks, for each ~256 KiB window of objects, which objects hold a
needle (``Detector.pieces_with_needles``). With the standard library that is one
pass per needle group (``re``'s literal scan, ``bytes.find`` on a rare probe
byte): seven passes, 1.2-1.3 s of CPU per 800 MB of history (sqlalchemy, flask),
about 40% of all the CPU a ``scan --history`` costs. Hyperscan finds all 19
needles in one pass: 0.27-0.35 s per 800 MB (``bench/run_history.py REPO --needles``).

It is an optional extra (``pip install 'keyguard[fast]'``): wheels exist for
Linux x86_64, macOS and Windows, not for Linux on ARM. Without it, or with
``KEYGUARD_NATIVE=0`` in the environment, the standard-library search runs; both
give the same answer (tests compare them). Only history readers use it
(``scan --history``, ``audit``, ``incident``): for their windows, and then to tell a
big object's full scan which needles it holds, so the scan skips the searches of
absent ones. The pre-commit path never imports it (15 ms).
"""

from __future__ import annotations

import os
from bisect import bisect_right

TYPE_CHECKING = False  # typing is not imported on the pre-commit path (the detector imports this module)
if TYPE_CHECKING:
    from typing import Sequence

ENV_SWITCH = "KEYGUARD_NATIVE"
"""``KEYGUARD_NATIVE=0`` turns the native search off (the standard-library one runs)."""
MAX_MATCHES = 4096
"""Needle occurrences taken from one window; past it the caller's own search (which
skips to the end of each marked piece) is cheaper than a callback per occurrence."""


class NativeNeedles:
    """A compiled Hyperscan database of literal needles, scanned in block mode."""

    def __init__(self, hyperscan, needles: Sequence[bytes]):
        self._terminated = hyperscan.ScanTerminated
        self._needles = list(needles)
        self._lengths = [len(n) for n in needles]
        self._db = self._compile(hyperscan, 0)
        """Reports every occurrence (``pieces``)."""
        self._once = self._compile(hyperscan, hyperscan.HS_FLAG_SINGLEMATCH)
        """Reports each needle once (``present``)."""

    def _compile(self, hyperscan, flags: int):
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=self._needles, ids=list(range(len(self._needles))), literal=True, flags=flags)
        return db

    def present(self, data: bytes) -> set[bytes]:
        """The needles ``data`` holds (one pass, one callback per needle at most)."""
        found: set[bytes] = set()
        needles = self._needles

        def on_match(needle: int, _from: int, _to: int, _flags: int, _ctx) -> None:
            found.add(needles[needle])

        self._once.scan(data, match_event_handler=on_match)
        return found

    def pieces(self, data: bytes, ends: Sequence[int]) -> set[int] | None:
        """Indexes of the pieces of ``data`` (piece ``i`` ends at ``ends[i]``) a needle begins in;
        None when the window holds more than ``MAX_MATCHES`` occurrences (ask the caller's search)."""
        starts: list[int] = []
        lengths = self._lengths

        def on_match(needle: int, _from: int, to: int, _flags: int, _ctx) -> bool:
            starts.append(to - lengths[needle])
            return len(starts) >= MAX_MATCHES

        try:
            self._db.scan(data, match_event_handler=on_match)
        except self._terminated:
            return None
        n = len(ends)
        return {i for i in (bisect_right(ends, s) for s in starts) if i < n}


class Lazy:
    """The native search of a fixed set of needles, made on first use in each process.

    A detector holds one; it is pickled for reader processes started with ``spawn``
    (not Linux) without the compiled database, which each process makes again.
    """

    def __init__(self, needles: Sequence[bytes]):
        self.needles = tuple(needles)
        self._search: NativeNeedles | None = None
        self._made = False

    def get(self) -> NativeNeedles | None:
        """The native search (made now if it was not), or None without one."""
        if not self._made:
            self._search, self._made = native(self.needles), True
        return self._search

    def pieces(self, data: bytes, ends: Sequence[int]) -> set[int] | None:
        """``NativeNeedles.pieces`` of the native search; None without one (or past ``MAX_MATCHES``):
        the caller then searches with the standard library."""
        search = self.get()
        return search.pieces(data, ends) if search is not None else None

    def made(self) -> NativeNeedles | None:
        """The native search if ``get`` made it in this process, else None (nothing is loaded)."""
        return self._search

    def __getstate__(self) -> dict:
        return {"needles": self.needles, "_search": None, "_made": False}


def native(needles: Sequence[bytes]) -> NativeNeedles | None:
    """The native search for ``needles``, or None (Hyperscan not installed, switched off, or failing)."""
    if os.environ.get(ENV_SWITCH, "1") == "0" or not needles:
        return None
    try:
        import hyperscan
    except ImportError:
        return None
    try:
        return NativeNeedles(hyperscan, needles)
    except Exception:  # noqa: BLE001 - an unusable library (CPU, build) means the standard search
        return None
