"""From a finding's fingerprint (``kg1:...``) back to the secret it names.

A fingerprint cannot be reversed; but the secret is somewhere in this
repository (that is why it was reported), so run the detector over the same
places ``keyguard scan --history --include-unreachable`` reads (every object
of the store, the index and the work tree; the shared ``HistorySource``) and
keep the candidate whose ``fingerprint`` matches. Suppressed hits count too: a
report may have named a value that a later filter hides. The secret found is
returned to the caller only, never shown.
"""

from __future__ import annotations

import re
from pathlib import Path

from keyguard.redact import fingerprint

FINGERPRINT = re.compile(r"kg1:[0-9a-f]{32}")
"""The shape of ``keyguard.redact.fingerprint`` output."""


def is_fingerprint(text: str) -> bool:
    """Whether ``text`` is a keyguard fingerprint rather than a key."""
    return FINGERPRINT.fullmatch(text.strip().lower()) is not None


def find_secret(root: Path, fp: str, *, rule_paths=(), stats: dict[str, int] | None = None) -> str | None:
    """The secret in ``root`` (objects, index, work tree) whose fingerprint is ``fp``; None if none."""
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    from keyguard.sources.history import HistorySource
    from keyguard.sources.submodules import WithSubmodules

    fp = fp.strip().lower()
    source = WithSubmodules(HistorySource(root, include_unreachable=True, only_new=False))
    found = None
    for lh in source.located_hits(Detector(load_rules(rule_paths))):
        if not lh.hit.partial and fingerprint(lh.hit.secret) == fp:  # a fragment names no key
            found = lh.hit.secret
            break
    if stats is not None:
        stats.update(source.stats)
    return found
