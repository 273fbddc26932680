"""Text piped in: ``keyguard scan --stdin`` (e.g. ``git diff | keyguard scan --stdin``).

The stream is one blob under the blob policy of every source (``blob``): up to
``CHUNK_THRESHOLD`` bytes are scanned in one piece, longer input is fed to
``Detector.scan_chunks`` as it arrives (memory stays bounded), and binary input
is skipped with a warning. Hits are reported with the path ``<stdin>`` (or the
``name`` given).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Iterator

from keyguard.sources import blob
from keyguard.sources.blob import CHUNK, CHUNK_THRESHOLD
from keyguard.sources.interface import LocatedHit, Source

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector


class StdinSource(Source):
    """The bytes of one binary stream (standard input by default), under the path ``name``."""

    kind = "stdin"

    def __init__(self, stream: BinaryIO, name: str = "<stdin>", chunk_threshold: int = CHUNK_THRESHOLD):
        super().__init__()
        self.stream = stream
        self.name = name
        self.chunk_threshold = chunk_threshold
        self.stats = {"bytes": 0, "skipped": 0}

    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Hits in everything the stream holds."""
        first = self._read(self.chunk_threshold + 1)
        if len(first) <= self.chunk_threshold:
            self.stats["bytes"] = len(first)
            hits = blob.scan_whole(first, detector)
        else:
            self.stats["bytes"] = len(first)
            hits = blob.scan_pieces(first, self._rest(), detector)
        if hits is None:
            self.stats["skipped"] = 1
            self.warnings.append(f"{self.name}: binary data skipped")
            return
        for hit in hits:
            yield LocatedHit(hit, self.name)

    def _read(self, n: int) -> bytes:
        parts, left = [], n
        while left > 0:
            data = self.stream.read(min(left, CHUNK))
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return b"".join(parts)

    def _rest(self) -> Iterator[bytes]:
        while True:
            data = self.stream.read(CHUNK)
            if not data:
                return
            self.stats["bytes"] += len(data)
            yield data
