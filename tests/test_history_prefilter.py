"""The history prefilter: needle searches exact against plain substring search, and
windows of many objects that find every planted key (plain, base64 at each alignment,
URL-escaped, JWT) wherever it sits in a window, with one reader or two."""

from __future__ import annotations

import base64
import os
import random
from bisect import bisect_right
from urllib.parse import quote

import pytest

from keys import api_key, jwt_key, platform_key
from test_source_support import secrets

import keyguard.sources.history as history_module
from keyguard.detect import detector as detector_module
from keyguard.sources.history import HistorySource




pytestmark = pytest.mark.usefixtures("git_identity")


FILLERS = [
    b"def flag(self, fl):\n    return float(fl)  # influx of flow\n",
    b"ZZZZ Zebra Zs Zm mb H HH J eyeJ ",
    b"fl" * 50,
    b"Z" * 300,
    b"\xff\x00abc",
]


def _texts(detector, n: int, seed: int):
    """Random texts of fillers (some probe-dense enough to exhaust the probe budget) with needles."""
    rng = random.Random(seed)
    for _ in range(n):
        parts = [rng.choice(FILLERS) * rng.randint(1, 400) for _ in range(rng.randint(1, 6))]
        for _ in range(rng.randint(0, 2)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(detector.keywords))
        data = b"".join(parts)
        if rng.random() < 0.5 and len(data) > 8:  # a needle cut in two by the end of the text
            needle = rng.choice(detector.keywords)
            data = data[:-len(needle) + 1] + needle[:-1]
        yield b"x" + data  # never a zip or BOM head: those are let through by design


def test_might_contain_is_exactly_substring_search(detector):
    for data in _texts(detector, 400, 1):
        expect = any(n in data for n in detector.keywords)
        got = detector.might_contain(data)
        if not expect:  # only the UTF-16 test may let more through, and only with NULs
            assert not got or b"\0" in data[:1024]
        else:
            assert got


def test_pieces_with_needles_marks_exactly_the_pieces_holding_a_needle_start(detector):
    rng = random.Random(2)
    for data in _texts(detector, 300, 3):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 12))))
        ends = [*cuts, len(data)]
        expect = set()
        for needle in detector.keywords:
            pos = data.find(needle)
            while pos >= 0:
                expect.add(bisect_right(ends, pos))
                pos = data.find(needle, pos + 1)
        assert detector.pieces_with_needles(data, ends) == expect


def test_the_probe_budget_falls_back_to_substring_search(detector, monkeypatch):
    """Base64-heavy text meets the probe byte everywhere: the search gives up on it, not on the key."""
    monkeypatch.setattr(detector_module, "PROBE_BUDGET_SHIFT", 1)
    needle = next(n for n in detector.keywords if n.startswith(b"Z"))
    data = b"Z" * 100_000 + needle + b"Z" * 10
    assert detector.might_contain(data)
    assert not detector.might_contain(b"Z" * 100_000)
    assert detector.pieces_with_needles(data, [50_000, 100_001, len(data)]) == {1}


def _forms(rng: random.Random):
    """(text written to a file, the secret the detector reports) for each hiding form."""
    out = []
    for lead in range(3):
        key = platform_key()
        raw = os.urandom(lead) + f"K={key}\n".encode()
        out.append((f"blob: {base64.b64encode(raw).decode()}\n", key))
    key = api_key()
    out.append((f"url=https://x.test/?k={quote(key, safe='')}&v=1\n".replace("_", "%5F"), key))
    key = jwt_key()
    out.append((f"Authorization: Bearer {key}\n", key))
    key = platform_key("flux_dev_")
    out.append((f"FLUXLOOP_API_KEY={key}\n", key))
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_every_form_is_found_at_every_place_in_a_window(repo, detector, monkeypatch, workers):
    """Keys in the first, a middle and the last object of windows, between objects that
    mention ``flux``/``fl`` without a key, and in objects larger than a window."""
    monkeypatch.setattr(history_module, "WINDOW", 20_000)
    monkeypatch.setattr(history_module, "PARALLEL_MIN_BYTES", 0)
    rng = random.Random(workers)
    planted = set()
    n = 0
    for commit in range(4):
        for text, secret in _forms(rng):
            for _ in range(rng.randint(0, 6)):
                repo.write(f"noise/{n}.py", b"# influx flux capacitor, flag, float\n" * rng.randint(1, 300))
                n += 1
            big = rng.random() < 0.3
            body = ("filler line\n" * (3000 if big else rng.randint(0, 200))) + text
            repo.write(f"keys/{n}.txt", body)
            planted.add(secret)
            n += 1
        repo.commit(f"c{commit}")
    src = HistorySource(repo.path, workers=workers)
    found = list(src.located_hits(detector))
    assert set(secrets(found)) == planted
    assert all(not lh.hit.suppressed for lh in found)
