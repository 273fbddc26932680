"""The history source of an audit: the full-history scan, minus what the cache knows is clean.

It is ``HistorySource`` with two hooks: the object list drops ids the cache
holds, and after the scan it knows which of the objects it read held no hit
(``clean_after``), so the audit can grow the cache. Objects with hits are
never cached, so their findings are re-attributed and reported every time.
"""

from __future__ import annotations

from pathlib import Path

from keyguard.sources.history import HistorySource


class CachedHistorySource(HistorySource):
    """All refs' history, skipping object ids in ``skip`` (20-byte binary ids)."""

    def __init__(self, root: str | Path, skip: set[bytes] | frozenset[bytes] = frozenset(), **kwargs):
        super().__init__(root, **kwargs)
        self.skip = skip
        self.known_clean: set[bytes] = set()
        """Cached ids that still exist in the repository (kept in the new cache)."""
        self.clean_after: set[bytes] = set()
        """Ids read by this run that held no hit."""

    def _all_objects(self):
        entries = super()._all_objects()
        fresh = []
        for entry in entries:
            oid = bytes.fromhex(entry[0])
            if oid in self.skip:
                self.known_clean.add(oid)
            else:
                fresh.append(entry)
        self.stats["cached"] = len(entries) - len(fresh)
        return fresh

    def _scan(self, entries, detector):
        found = super()._scan(entries, detector)
        self.clean_after = {bytes.fromhex(e[0]) for e in entries if e[0] not in found}
        return found


def repo_identity(root: Path) -> str:
    """What ties a cache to one repository: its root commits (stable across clones and CI runners)."""
    from keyguard.sources import gitcmd

    proc = gitcmd.run(["rev-list", "--max-parents=0", "HEAD", "--"], root, check=False)
    roots = sorted(proc.stdout.decode().split()) if proc.returncode == 0 else []
    return "roots:" + ",".join(roots) if roots else "empty"
