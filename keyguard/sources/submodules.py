"""Submodule histories: ``keyguard scan --history`` (full) reads each submodule repository too.

A submodule's history is its own repository, under the superproject's
``.git/modules/NAME`` (``keyguard.git.repo.submodule_repos``; nested ones as
``outer/inner``). The superproject's history holds only the commit ids a
submodule was at, so a full history scan runs the same ``HistorySource`` over
each of those repositories as well and reports its findings with the
submodule's name before the path (``libs/vendor/config.py``,
``libs/vendor/<commit-message>``). ``audit`` and ``incident`` wrap their
source the same way: the audit cache's skip set (content ids: a blob known
clean is clean in any repository) is handed to each submodule's source, and
what they read clean is saved with the superproject's. Range scans and pre-push
read the superproject only and say so in a warning (``HistorySource`` writes
it when it finds submodule repositories it was not asked to cover).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from keyguard.git import repo as grepo
from keyguard.sources.history import HistorySource
from keyguard.sources.interface import LocatedHit, Source

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector


class WithSubmodules(Source):
    """A full history scan of the repository at ``main.root`` and of each submodule repository."""

    kind = "history"

    def __init__(self, main: HistorySource):
        super().__init__()
        self.main = main
        self.main.covers_submodules = True
        self.stats = main.stats
        self.known_clean: set[bytes] = set()
        """The audit cache's answers, superproject and submodules together (see ``HistorySource``)."""
        self.clean_after: set[bytes] = set()

    @property
    def log(self):
        """The superproject's history walk (``incident`` reads removals from it)."""
        return self.main.log

    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        yield from self.main.located_hits(detector)
        self.warnings.extend(self.main.warnings)
        self.known_clean |= self.main.known_clean
        self.clean_after |= self.main.clean_after
        modules = grepo.submodule_repos(self.main.root)
        self.stats["submodules"] = len(modules)
        for name, git_dir in modules:
            sub = HistorySource(git_dir, include_unreachable=self.main.include_unreachable, worktree=False,
                                workers=self.main.workers, chunk_threshold=self.main.chunk_threshold,
                                max_size=self.main.max_size, only_new=self.main.only_new,
                                skip=self.main.skip)
            sub.covers_submodules = True  # nested ones are in the list already
            for lh in sub.located_hits(detector):
                yield LocatedHit(lh.hit, f"{name}/{lh.path}", lh.provenance)
            self.warnings.extend(f"submodule {name}: {w}" for w in sub.warnings)
            self.known_clean |= sub.known_clean
            self.clean_after |= sub.clean_after
            for k in ("objects", "blobs", "commits", "trees", "bytes"):
                self.stats[k] = self.stats.get(k, 0) + sub.stats.get(k, 0)
            if sub.stats.get("shallow"):  # a shallow submodule: the run saw part of history too
                self.stats["shallow"] = 1

