"""The native needle search (Hyperscan, optional) names the same pieces as the standard one."""

from __future__ import annotations

import random

import pytest

from keyguard.detect import prefilter
from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules

hyperscan = pytest.importorskip("hyperscan", reason="the native needle search is not installed here")


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())


def _window(rng: random.Random, needles: list[bytes], pieces: int) -> tuple[bytes, list[int]]:
    """Pieces of code-like text; some get a needle at their start, middle, end or across a border."""
    words = [b"def ", b"flush", b"float", b"Zero", b"JSON", b"%s", b"\\n", b"&amp;", b"mbHe", b"fl", b"x\n"]
    data, ends = b"", []
    for _ in range(pieces):
        piece = b"".join(rng.choice(words) for _ in range(rng.randrange(1, 40)))
        if rng.random() < 0.3:
            n = rng.choice(needles)
            at = rng.choice([0, len(piece) // 2, len(piece)])
            piece = piece[:at] + n + piece[at:]
        data += piece
        ends.append(len(data))
        data += b"\n"  # what cat-file puts after each object
    return data, ends


def test_both_searches_name_the_same_pieces(detector):
    native = prefilter.native(detector.keywords)
    assert native is not None
    rng = random.Random(12)
    needles = list(detector.keywords)
    for _ in range(300):
        data, ends = _window(rng, needles, rng.randrange(1, 30))
        assert native.pieces(data, ends) == detector.pieces_by_search(data, ends), (data[:200], ends)
        assert detector.pieces_with_needles(data, ends) == detector.pieces_by_search(data, ends)


def test_a_window_crowded_with_needles_falls_back_to_the_standard_search(detector):
    native = prefilter.native(detector.keywords)
    data = b"flx " * (prefilter.MAX_MATCHES + 10)
    ends = [len(data) // 2, len(data) - 1]
    assert native.pieces(data, ends) is None
    assert detector.pieces_with_needles(data, ends) == {0, 1}


def test_the_switch_turns_the_native_search_off(detector, monkeypatch):
    monkeypatch.setenv(prefilter.ENV_SWITCH, "0")
    assert prefilter.native(detector.keywords) is None
    fresh = Detector(load_rules())
    assert fresh.pieces_with_needles(b"a flux_x\n", [8]) == {0}
    assert fresh._native.made() is None


def test_a_pickled_detector_makes_its_native_search_again(detector):
    import pickle

    assert detector.pieces_with_needles(b"a flux_x\n", [8]) == {0}
    assert detector._native.made() is not None
    copy = pickle.loads(pickle.dumps(detector))  # what a spawned reader process receives
    assert copy._native.made() is None
    assert copy.pieces_with_needles(b"a flux_x\n", [8]) == {0} and copy._native.made() is not None


def test_a_big_text_scanned_with_the_needles_it_holds_gives_the_same_hits():
    # a text over NATIVE_PRESENCE_MIN asks the native search which needles it holds, once,
    # and skips the searches of the others: every way a key is written must still be found
    from test_where_keys_hide import CASES, content, key_for

    from keyguard.detect import detector as det

    native, standard = Detector(load_rules()), Detector(load_rules())
    assert native._native.get() is not None  # as a history reader has it after its first window
    assert standard._native.made() is None
    pad = b"def flush(self):\n    return float(self.level) % 2\n" * (det.NATIVE_PRESENCE_MIN // 40)
    found = 0
    for case in CASES:
        key = key_for(case)
        text = content(case, key)
        for data in (pad + text + pad, pad + text, text + pad):
            assert len(data) >= det.NATIVE_PRESENCE_MIN
            a = [(h.secret, h.line, h.column, h.encoding, h.suppressed) for h in native.scan(data)]
            b = [(h.secret, h.line, h.column, h.encoding, h.suppressed) for h in standard.scan(data)]
            assert a == b, case
            found += any(h[0] == key for h in a)
    assert found >= 2 * len(CASES)  # text shapes are found however padded
