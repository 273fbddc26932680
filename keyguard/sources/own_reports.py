"""How keyguard recognises a report it wrote itself, so its own scans do not read it again.

A report holds redacted keys (``flux_prod_8f3k…x2q9``), which the detector
counts as suppressed candidates: an audit's reports in a work tree made the
next ``keyguard scan`` list 142 of them. ``is_own_report`` tells by the first
bytes, which each writer emits in a fixed form: the SARIF document's driver
name, the JSON report's ``schema`` field, the Markdown summary's headline.
The work-tree source drops such a file only when every hit in it is
suppressed, so a real key pasted into a report file is still reported.
"""

from __future__ import annotations

import re

HEAD = 1024
"""How many leading bytes ``is_own_report`` looks at."""

_HEADS = (
    re.compile(rb'\A\{\s*"\$schema":[^\n]*sarif[^\n]*\n\s*"version": "2\.1\.0",\s*"runs": \[\s*\{\s*'
               rb'"tool": \{\s*"driver": \{\s*"name": "keyguard"'),
    re.compile(rb'\A\{\s*"schema": "keyguard-report/'),
    re.compile(rb"\A## keyguard [a-z-]+: "),
)


def is_own_report(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) starts like a SARIF, JSON or Markdown report of keyguard."""
    head = head[:HEAD]
    return any(p.match(head) for p in _HEADS)
