"""What a push adds: the source of ``keyguard scan --pre-receive``.

A pre-receive hook reads one ``<old> <new> <ref>`` line per updated ref on
stdin (ids of 40 hex digits, or 64 in SHA-256 repositories; all zeros for "no
such ref"). While it runs, the pushed objects are in the push's quarantine and
the refs still point where they did, so what the push adds is exactly
``git log <every new tip> --not --all`` (``HistorySource(revs=tips, exclude_all_refs=True)``): commits no existing ref reaches (a
force push's rewritten commits included, a deletion or a branch made at an
existing commit adding none), and the blobs those commits introduce (each
commit's diff against its parents, merge resolutions included). Commit
messages and the messages of pushed annotated tags (also tags of old commits)
are scanned too. Reading is the history engine's (its windowed ``cat-file`` scan and its
attribution, through ``HistorySource``'s public options), so a hit has its
commit, path and line. The push's quarantine reaches every git call through
``keyguard.git.run.quarantine_env``.

Not looked at, to stay inside a hook's few seconds: which existing refs
contain a commit (none do yet) and whether a key is also at HEAD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from keyguard.errors import UsageError
from keyguard.sources.history import HistorySource
from keyguard.sources.interface import LocatedHit, Source

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector

_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class RefUpdate:
    """One line of a pre-receive hook's stdin."""

    old: str
    new: str
    ref: str

    @property
    def is_delete(self) -> bool:
        return not self.new.strip("0")

    @property
    def is_create(self) -> bool:
        return not self.old.strip("0")


def parse_updates(text: str) -> list[RefUpdate]:
    """The ref updates of a hook's stdin; a ``UsageError`` on a malformed line."""
    updates = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3 or not all(_OID.fullmatch(p) for p in parts[:2]) or not parts[2].strip():
            raise UsageError(f"--pre-receive: stdin line {n} is not '<old-id> <new-id> <ref>' "
                             f"(run it as a git pre-receive hook)")
        updates.append(RefUpdate(parts[0], parts[1], parts[2].strip()))
    return updates


class PushSource(Source):
    """The objects a push adds to the repository at ``root`` (a bare repository, usually)."""

    kind = "pre-receive"

    def __init__(self, root: str | Path, updates: list[RefUpdate], **kwargs):
        super().__init__()
        self.root = Path(root)
        self.updates = updates
        self.options = kwargs
        """More ``HistorySource`` options (``chunk_threshold``, ``max_size``...)."""

    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        tips = sorted({u.new for u in self.updates if not u.is_delete})
        self.stats.update(refs=len(self.updates), deleted=sum(u.is_delete for u in self.updates))
        if not tips:
            return
        history = HistorySource(self.root, revs=tips, exclude_all_refs=True, workers=1, **self.options)
        try:
            yield from history.located_hits(detector)
        finally:
            self.stats.update(history.stats)
            self.warnings.extend(history.warnings)
