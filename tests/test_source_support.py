"""Helpers for the source tests: the detector to use, and small git helpers.

``make_detector()`` returns the real ``keyguard.detect.detector.Detector`` once
it exists; until then a minimal stand-in built from the real rule packs
(same interface: ``might_contain``, ``scan``, ``scan_chunks``).
"""

from __future__ import annotations

from keyguard.detect.rulepack import load_rules
from keyguard.model import Hit


class StandInDetector:
    """The detector interface over the real rules: keyword prefilter + regex, no filters/decoders."""

    def __init__(self, rules):
        self.rules = list(rules)
        kws = {k for r in self.rules for k in r.keywords}
        self.keywords = tuple(sorted(k for k in kws if not any(o != k and o in k for o in kws)))

    def might_contain(self, data) -> bool:
        return any(k in data for k in self.keywords)

    def scan(self, data: bytes, line_offset: int = 0) -> list[Hit]:
        hits = []
        if not self.might_contain(data):
            return hits
        for rule in self.rules:
            if not any(k in data for k in rule.keywords):
                continue
            for m in rule.regex.finditer(data):
                start, end = m.span(rule.secret_group)
                ls = data.rfind(b"\n", 0, start) + 1
                le = data.find(b"\n", end)
                le = len(data) if le < 0 else le
                hits.append(Hit(rule=rule, secret=m.group(rule.secret_group).decode(),
                                line=line_offset + data.count(b"\n", 0, start) + 1,
                                column=start - ls + 1, end_column=end - ls + 1,
                                line_text=data[ls:le].decode("utf-8", "replace")))
        return hits

    def scan_chunks(self, chunks) -> list[Hit]:
        hits, carry, lines = [], b"", 0
        for chunk in chunks:
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            part, carry = data[:cut], data[cut:]
            hits += self.scan(part, lines)
            lines += part.count(b"\n")
        if carry:
            hits += self.scan(carry, lines)
        return hits


def make_detector():
    """The real detector if it has landed, else the stand-in."""
    rules = load_rules()
    try:
        from keyguard.detect.detector import Detector
    except ImportError:
        return StandInDetector(rules)
    return Detector(rules)


def secrets(located) -> list[str]:
    """The secret values of a list of located hits."""
    return [lh.hit.secret for lh in located]
