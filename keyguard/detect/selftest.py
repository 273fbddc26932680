"""The rules' self-test: every example must be reported, every negative must not be.

``keyguard rules test`` and the test suite run the same code. Examples and negatives
are scanned by a detector holding *all* loaded rules, so the result also proves that
overlapping rules resolve to the most specific one (a ``flx_api_`` example is a hit
of the API-key rule, not of the generic ``flx_`` rule). Failures never echo a key:
they name the example by its number and show it redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from keyguard.detect.detector import Detector
from keyguard.model import Rule
from keyguard.redact import redact


@dataclass(frozen=True)
class RuleResult:
    """The self-test outcome of one rule."""

    rule: Rule
    examples: int
    """How many examples were checked."""
    negatives: int
    """How many negatives were checked."""
    failures: tuple[str, ...] = ()
    """One line per failed example or negative (keys redacted)."""

    @property
    def passed(self) -> bool:
        """True when every example was reported and no negative was."""
        return not self.failures


def run_selftest(rules: Sequence[Rule], detector: Detector | None = None) -> list[RuleResult]:
    """Check every rule's examples and negatives; one ``RuleResult`` per rule, in order."""
    detector = detector or Detector(rules)
    results = []
    for rule in rules:
        failures = []
        for n, text in enumerate(rule.examples, 1):
            hits = [h for h in detector.scan(text.encode("utf-8")) if h.rule.id == rule.id]
            live = [h for h in hits if not h.suppressed]
            if not live:
                why = f"suppressed as {hits[0].suppressed}" if hits else _other_rules(detector, text, rule)
                failures.append(f"example {n} not reported ({why})")
        for n, text in enumerate(rule.negatives, 1):
            live = [h for h in detector.scan(text.encode("utf-8")) if h.rule.id == rule.id and not h.suppressed]
            if live:
                failures.append(f"negative {n} reported: {redact(live[0].secret)}")
        results.append(RuleResult(rule, len(rule.examples), len(rule.negatives), tuple(failures)))
    return results


def _other_rules(detector: Detector, text: str, rule: Rule) -> str:
    """Why an example gave no hit of its rule: another rule took it, or nothing matched."""
    others = sorted({h.rule.id for h in detector.scan(text.encode("utf-8")) if not h.suppressed})
    return f"matched {', '.join(others)} instead" if others else "no match"
