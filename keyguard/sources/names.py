"""Keys in file and folder names: one search over many paths, hits shown on the redacted path.

Every source that knows a list of paths (the work tree's files, the paths a
staged diff adds, the paths a history range touches) hands them here: they are
joined with newlines and searched once (the detector's prefilter first, so a
list with no ``flx``/``flux``/``eyJ`` costs one needle pass), and each hit is
mapped back to its path. A hit is put at line 1 of that name (its line among
the names searched together means nothing) and the path is returned with the
key redacted (``keyguard.redact.scrub``): the path is what reports show.

History scans find names in tree objects instead (``sources/history.py``);
this module owns the shape of such a hit (``at_name``) for both.
Lean: on the pre-commit path nothing is imported unless a name may hold a key.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Sequence
    from keyguard.detect.detector import Detector
    from keyguard.model import Hit


def at_name(hits: list["Hit"]) -> list["Hit"]:
    """Hits in file or folder names, each at line 1 of its name."""
    if not hits:
        return hits
    from dataclasses import replace
    return [replace(h, line=1) for h in hits]


def in_names(paths: "Sequence[str]", detector: "Detector") -> list[tuple["Hit", int, str]]:
    """``(hit, index into paths, the path with the key redacted)`` for each key in a name."""
    if not paths:
        return []
    text = "\n".join(p.replace("\n", " ") for p in paths).encode("utf-8", "surrogateescape")
    if not detector.might_contain(text):
        return []
    from keyguard.redact import scrub  # only when a name may hold a key

    out = []
    for h in detector.scan(text):
        if 0 < h.line <= len(paths):
            i = h.line - 1
            out.append((at_name([h])[0], i, scrub(paths[i], [h.secret])))
    return out
