"""The contract every source of text follows, and the value it hands on.

A source knows where bytes come from (the index, the disk, git history,
stdin) and turns them into ``LocatedHit``s by running the detector over them.
It never prints: problems that do not stop the scan go into ``warnings``,
counters (files, bytes, blobs, commits) into ``stats``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from keyguard.model import Hit, Provenance
from keyguard.record import record

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Iterator
    from keyguard.detect.detector import Detector


@record
class LocatedHit:
    """A detector hit plus where it was found."""

    hit: Hit
    path: str
    """Repository-relative path with forward slashes, or ``<stdin>``,
    ``<commit-message>``, ``<tag-message:NAME>``."""
    provenance: Provenance | None = None
    """History only: commit, author, date, refs, still at HEAD."""


class Source(ABC):
    """Where text comes from; yields the hits the detector finds in it."""

    kind: str = ""
    """``staged``, ``worktree``, ``history`` or ``stdin``."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.stats: dict[str, int] = {}

    @abstractmethod
    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Run ``detector`` over everything this source holds."""
