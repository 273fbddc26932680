"""Text piped in: ``keyguard scan --stdin`` (e.g. ``git diff | keyguard scan --stdin``).

Up to ``chunk_threshold`` bytes are scanned in one piece; longer input is fed
to ``Detector.scan_chunks`` as it arrives, so memory stays bounded.
Hits are reported with the path ``<stdin>`` (or the ``name`` given).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Iterator

from keyguard.sources.interface import LocatedHit, Source

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector

CHUNK_THRESHOLD = 64 << 20
CHUNK = 8 << 20


class StdinSource(Source):
    """The bytes of one binary stream (standard input by default), under the path ``name``."""

    kind = "stdin"

    def __init__(self, stream: BinaryIO, name: str = "<stdin>", chunk_threshold: int = CHUNK_THRESHOLD):
        super().__init__()
        self.stream = stream
        self.name = name
        self.chunk_threshold = chunk_threshold
        self.stats = {"bytes": 0}

    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Hits in everything the stream holds."""
        first = self._read(self.chunk_threshold + 1)
        if len(first) <= self.chunk_threshold:
            self.stats["bytes"] = len(first)
            hits = detector.scan(first) if first else []
        else:
            hits = detector.scan_chunks(self._chunks(first))
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

    def _chunks(self, first: bytes) -> Iterator[bytes]:
        data = first
        while data:
            self.stats["bytes"] += len(data)
            yield data
            data = self.stream.read(CHUNK)
