"""Every place one leaked value is: the shared history source, with an exact-value matcher.

Locating a known value is ``keyguard scan --history --include-unreachable``
with the value's needles (``needles.ExactDetector``: the value as is and its
base64 forms) in place of the rules. So ``incident`` and
``scan --history --include-unreachable`` see the same places, with the same
commits, paths, lines and ref names (``keyguard.git.refs``):

* every object of the store (reachable or not), read once by ``HistorySource``;
* blobs attributed to the earliest commit that brought them to each path, over
  every ref, every reflog, every stash entry and every unreachable commit;
  ``removed_in`` lists the commits that replaced or deleted that version;
* commit and tag messages, file and folder names in trees;
* the index (staged, in no commit), blobs no commit holds, and the work tree.

This module only turns those hits into ``Occurrence``s (kinds, notes, counts
per encoding). Nothing here prints; the secret is never put on a command line.
"""

from __future__ import annotations

from pathlib import Path

from keyguard.git import objects as gobjects
from keyguard.git import refs as grefs
from keyguard.incident.facts import KINDS, Location, Occurrence
from keyguard.incident.needles import ExactDetector, needles_for
from keyguard.redact import scrub
from keyguard.sources.history import HistorySource
from keyguard.sources.submodules import WithSubmodules
from keyguard.sources.interface import LocatedHit

_NOTES = {
    "reflog": "reachable only from a reflog (reset, amend or rebase left it)",
    "unreachable": "no ref or reflog reaches it; still in the object store",
    "loose-blob": "in no commit and not staged: staged once and then unstaged or replaced",
    "index": "staged, not committed",
}


def locate(root: Path, secret: str, *, worktree: bool = True, encoded: bool = True) -> Location:
    """Find ``secret`` everywhere in the repository at ``root`` (see the module doc)."""
    detector = ExactDetector(secret, needles_for([secret], encoded=encoded))
    source = WithSubmodules(HistorySource(root, include_unreachable=True, only_new=False, worktree=worktree))
    found = list(source.located_hits(detector))
    stash = gobjects.stash_parts(root) if any(lh.provenance and lh.provenance.commit for lh in found) else {}
    removals = source.log.removals if source.log is not None else {}

    merged: dict[tuple, list[LocatedHit]] = {}
    for lh in found:
        p = lh.provenance
        enc = "base64" if lh.hit.encoding.startswith("base64") else lh.hit.encoding
        merged.setdefault((p.kind if p else "", lh.path, p.commit if p else "", p.blob if p else "", enc), []).append(lh)
    occ = [_occurrence(group, enc, secret, stash, removals, root)
           for (_, _, _, _, enc), group in merged.items()]
    encodings = sorted({lh.hit.encoding for lh in found})
    stats = {"objects": source.stats.get("objects", 0), "object_bytes": source.stats.get("bytes", 0),
             "commits_touching": len({o.commit for o in occ if o.commit}),
             "worktree_files": source.stats.get("worktree_files", 0),
             "worktree_bytes": source.stats.get("worktree_bytes", 0),
             "shallow": source.stats.get("shallow", 0)}
    order = {k: i for i, k in enumerate(KINDS)}
    occ.sort(key=lambda o: (order.get(o.kind, 99), o.date, o.path, o.commit))
    return Location(tuple(occ), tuple(encodings), tuple(sorted(stats.items())), tuple(source.warnings))


def _occurrence(group: list[LocatedHit], enc: str, secret: str, stash: dict[str, tuple[int, str]],
                removals: dict[tuple[str, str], list[str]], root: Path) -> Occurrence:
    """One place (several needles of the same encoding merged: first line, total count)."""
    lh = min(group, key=lambda x: x.hit.line)
    count = sum(int(dict(x.hit.details).get("count", "1")) for x in group)
    p = lh.provenance
    kind, note, refs = p.kind, "", tuple(p.refs)
    if kind == "blob":
        if p.commit in stash:
            n, part = stash[p.commit]
            kind, note = "stash", f"{grefs.stash_label(n)} {part}"
        else:
            kind = "commit"
    elif kind == "unreachable" and not p.commit:
        kind = "loose-blob"
    elif kind in ("commit-message", "commit-identity") and not refs:
        note = "no branch or tag contains this commit"
    elif kind == "tag-message" and not refs:
        note = "no tag ref points to this tag object (deleted tag?)"
    elif kind == "tree":
        note = "a file or folder name holds the value: " + _tree_names(root, p.blob, secret)
    note = note or _NOTES.get(kind, "")
    object_id = p.commit if kind in ("commit-message", "commit-identity") else p.blob
    return Occurrence(kind, path=lh.path, line=lh.hit.line, count=count, encoding=enc, commit=p.commit,
                      object_id=object_id, author=p.author, date=p.date, refs=refs,
                      removed_in=tuple(removals.get((p.blob, lh.path), ())), note=note)


def _tree_names(root: Path, tree: str, secret: str) -> str:
    """The entry names of a tree that hold the value, redacted."""
    from keyguard.git.commits import tree_entries
    with gobjects.CatFile(root) as cat:
        got = cat.read(tree)
    names = [scrub(name.decode("utf-8", "replace"), [secret])
             for name, _, _ in tree_entries(got[1] if got else b"", len(tree) // 2)
             if secret.encode() in name]
    return ", ".join(names) or f"<a name in tree {tree[:12]}>"
