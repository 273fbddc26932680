"""From a finding's fingerprint (``kg1:...``) back to the secret it names.

A fingerprint cannot be reversed; but the secret is somewhere in this
repository (that is why it was reported), so run the detector over every
object of the store and the working tree and keep the candidate whose
``fingerprint`` matches. Suppressed hits count too: a report may have named a
value that a later filter hides. The secret found is returned to the caller
only, never shown.
"""

from __future__ import annotations

import re
from pathlib import Path

from keyguard.git import objects as gobjects
from keyguard.git import repo as grepo
from keyguard.git.run import output, zsplit
from keyguard.redact import fingerprint
from keyguard.sources import blob

FINGERPRINT = re.compile(r"kg1:[0-9a-f]{32}")
"""The shape of ``keyguard.redact.fingerprint`` output."""


def is_fingerprint(text: str) -> bool:
    """Whether ``text`` is a keyguard fingerprint rather than a key."""
    return FINGERPRINT.fullmatch(text.strip().lower()) is not None


def find_secret(root: Path, fp: str, *, rule_paths=(), stats: dict[str, int] | None = None) -> str | None:
    """The secret in ``root`` (objects, then work tree) whose fingerprint is ``fp``; None if none."""
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules

    fp = fp.strip().lower()
    detector = Detector(load_rules(rule_paths))
    stats = stats if stats is not None else {}

    def match(hits) -> str | None:
        for h in hits:
            if fingerprint(h.secret) == fp:
                return h.secret
        return None

    found = None
    objects = gobjects.all_objects(root, stats, blob.CHUNK)
    for _oid, otype, chunks in objects:
        if otype in ("blob", "commit", "tag"):
            found = match(detector.scan_chunks(chunks))
            if found is not None:
                objects.close()  # stops git cat-file
                break
    if found is not None or grepo.is_bare(root):
        return found
    for rel in zsplit(output(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)):
        p = root / rel
        if not p.is_file() or p.is_symlink():
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        found = match(detector.scan(data))
        if found is not None:
            return found
    return None
