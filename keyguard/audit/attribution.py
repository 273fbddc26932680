"""The audit's attribution memo: where the known hits were found, kept while nothing changed.

An audit re-reads the objects that hold hits every time (the object cache never
keeps them), and attributing those hits walks the whole history
(``git log -c --raw --all``), looks up refs and reads HEAD's tree: seconds on a
large repository, on every run, even when nothing is new. This memo keeps the
result of that attribution, keyed by everything it depends on:

- the objects with hits, with their types and hit counts (the detector is
  deterministic, so the same objects under the same rules give the same hits);
- the rule digests (``cache.rule_digest``);
- what the history source says the walk depends on (``state``: every ref and
  its target, HEAD, the stash entries, and the source's options).

How it is used: ``keyguard audit`` hands a ``Memo`` to ``HistorySource(memo=...)``
(a parameter, like the cache's skip-set: the history source does not know about
the audit). For a full scan without unreachable objects, the source asks
``recall(found, state)`` before walking; on a match the stored attribution is
replayed onto this run's hits, otherwise the walk runs and the source hands its
result to ``keep``. It stores paths, commit ids, authors, dates and ref names
(as the reports do), never a secret: a hit is named by its object id and its
index among that object's hits. File: ``attribution.json`` in the audit cache
folder, written atomically; one that is unreadable, malformed or does not fit
this run's hits is ignored (the walk simply runs).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from keyguard.atomic import write_atomic
from keyguard.model import Provenance

FILE_NAME = "attribution.json"
MAGIC = "keyguard-attribution"
VERSION = 2
_PROV_FIELDS = ("commit", "author", "date", "kind", "blob", "refs", "present_at_head")

Entry = tuple  # (object id, index of the hit among that object's hits, path, Provenance | None)


class Memo:
    """The memo in ``directory`` for scans with the rules of ``rule_digests``."""

    def __init__(self, directory: Path, rule_digests):
        self.directory = Path(directory)
        self.rule_digests = tuple(sorted(rule_digests))

    def key(self, found: dict, state: bytes) -> str:
        """The digest of everything an attribution depends on (see the module doc)."""
        h = hashlib.sha256()
        for oid in sorted(found):
            kind, hits = found[oid]
            h.update(f"{oid} {kind} {len(hits)}\n".encode())
        h.update(("\0".join(self.rule_digests) + "\0").encode())
        h.update(state)
        return h.hexdigest()

    def recall(self, found: dict, state: bytes) -> tuple[list[Entry], list[str]] | None:
        """The stored ``(entries, warnings)`` for these hits and this state, or None.

        ``found``: ``{object id: (type, hits)}`` as the history source read them.
        """
        try:
            doc = json.loads((self.directory / FILE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("magic") != MAGIC or doc.get("version") != VERSION \
                or doc.get("key") != self.key(found, state):
            return None
        stored, warnings = doc.get("entries"), doc.get("warnings")
        if not isinstance(stored, list) or not isinstance(warnings, list):
            return None
        try:
            entries = [(oid, i, path, _provenance(prov)) for oid, i, path, prov in stored]
            if not all(isinstance(i, int) and 0 <= i < len(found[oid][1]) and isinstance(path, str)
                       for oid, i, path, _ in entries):
                return None
        except (KeyError, TypeError, ValueError):
            return None  # a memo that does not fit this run: walk again
        return entries, [str(w) for w in warnings]

    def keep(self, found: dict, state: bytes, entries: list[Entry], warnings: list[str]) -> None:
        """Replace the memo (an unwritable folder is not an error: the walk runs next time)."""
        doc = {"magic": MAGIC, "version": VERSION, "key": self.key(found, state), "warnings": list(warnings),
               "entries": [[oid, i, path, _stored(prov)] for oid, i, path, prov in entries]}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self.directory / FILE_NAME, json.dumps(doc, separators=(",", ":")))
        except OSError:
            pass


def _stored(prov: Provenance | None) -> list | None:
    if prov is None:
        return None
    p = [getattr(prov, f) for f in _PROV_FIELDS]
    p[5] = list(p[5])
    return p


def _provenance(stored) -> Provenance | None:
    if stored is None:
        return None
    values = dict(zip(_PROV_FIELDS, stored, strict=True))
    values["refs"] = tuple(values["refs"])
    return Provenance(**values)
