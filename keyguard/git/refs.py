"""Refs, the names keyguard prints for them, and which refs contain which commits.

Ref names, the same in every report (``scan``, ``audit``, ``incident``):

* a branch ``refs/heads/main`` is ``main``;
* a remote-tracking branch ``refs/remotes/origin/main`` is ``origin/main``;
* a tag ``refs/tags/v1`` is ``tags/v1`` (git's own unambiguous short form, so a
  tag never reads like a branch of the same name);
* a stash entry is ``stash@{N}`` (the stash reflog; ``refs/stash`` itself is
  never printed, it is ``stash@{0}``);
* any other ref keeps its full name (``refs/notes/commits``, ``refs/pull/1/head``).

``containing`` answers "which refs contain these commits" for any number of
commits with ONE ``git rev-list --parents`` walk over every ref: each ref
marks its tip, and the marks flow from children to parents in topological
order (a set of ref indexes per commit, as a Python int bitset). The old way,
one ``for-each-ref --contains`` per commit, cost ~40 ms each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from keyguard.git.objects import stash_commits
from keyguard.git.run import output, run

STASH = "refs/stash"


def label(refname: str) -> str:
    """The printed name of the full ref ``refname`` (see the module doc)."""
    for prefix, keep in (("refs/heads/", ""), ("refs/remotes/", ""), ("refs/tags/", "tags/")):
        if refname.startswith(prefix):
            return keep + refname[len(prefix):]
    return refname


def stash_label(n: int) -> str:
    """The printed name of the ``n``-th stash entry."""
    return f"stash@{{{n}}}"


def list_refs(cwd: str | Path) -> list[tuple[str, str, str, str]]:
    """``(refname, object id, object type, peeled commit id or "")`` for every ref."""
    out = output(["for-each-ref", "--format=%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)"], cwd)
    refs = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split("\0")
        if len(parts) == 4:
            refs.append((parts[0], parts[1], parts[2], parts[3]))
    return refs


def state(cwd: str | Path) -> bytes:
    """Every ref with its target, HEAD, and the commits of every stash entry, as bytes that change
    whenever one of them moves (what a memo of "which refs contain what" is keyed by)."""
    refs = output(["for-each-ref", "--format=%(objectname) %(refname)"], cwd)
    head = run(["rev-parse", "-q", "--verify", "HEAD"], cwd, check=False).stdout
    return b"\0".join([refs, head, " ".join(stash_commits(cwd)).encode()])


def tag_objects(cwd: str | Path) -> dict[str, list[str]]:
    """Annotated tag object id -> the printed names of the refs pointing at it."""
    found: dict[str, list[str]] = {}
    for name, oid, kind, _ in list_refs(cwd):
        if kind == "tag":
            found.setdefault(oid, []).append(label(name))
    return found


def tags_on(cwd: str | Path, commits: set[str], refs: list[tuple[str, str, str, str]] | None = None) -> list[str]:
    """The annotated tag objects of ``refs/tags/`` whose (peeled) target is one of ``commits``."""
    refs = list_refs(cwd) if refs is None else refs
    return sorted({oid for name, oid, kind, peeled in refs
                   if kind == "tag" and name.startswith("refs/tags/") and peeled in commits})


def notes(cwd: str | Path, refs: list[tuple[str, str, str, str]] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Note blob id -> ``(annotated object id, notes ref name)`` for every note of every
    ``refs/notes/*`` ref (``git notes``: one ``ls-tree`` per notes ref; none without notes)."""
    refs = list_refs(cwd) if refs is None else refs
    found: dict[str, list[tuple[str, str]]] = {}
    for name, oid, kind, _ in refs:
        if not name.startswith("refs/notes/") or kind != "commit":
            continue
        out = output(["ls-tree", "-r", "-z", "--full-tree", oid], cwd)
        for rec in out.split(b"\0"):
            meta, _, path = rec.partition(b"\t")
            parts = meta.split(b" ")
            if len(parts) == 3 and parts[1] == b"blob":
                target = path.replace(b"/", b"").decode("ascii", "replace")
                found.setdefault(parts[2].decode("ascii"), []).append((target, label(name)))
    return found


def containing(cwd: str | Path, commits: Iterable[str], *, exclude: Iterable[str] = (STASH,),
               limit: int | None = None) -> dict[str, tuple[str, ...]]:
    """For each of ``commits``: the printed names of the refs whose history contains it.

    One walk over all refs (see the module doc). ``exclude``: full ref names
    not to consider; ``limit``: at most this many names per commit (sorted).
    Commits no ref contains map to ``()``.
    """
    wanted = set(commits)
    result: dict[str, tuple[str, ...]] = {c: () for c in wanted}
    if not wanted:
        return result
    skip = set(exclude)
    tips: dict[str, int] = {}
    names: list[str] = []
    for name, oid, kind, peeled in list_refs(cwd):
        if name in skip:
            continue
        target = oid if kind == "commit" else (peeled if kind == "tag" and peeled else "")
        if not target:
            continue
        bit = 1 << len(names)
        names.append(label(name))
        tips[target] = tips.get(target, 0) | bit
    if not names:
        return result
    # children before parents: a commit's marks are final when it is reached
    out = output(["rev-list", "--topo-order", "--parents", "--stdin"], cwd,
                 input="".join(f"{t}\n" for t in tips).encode())
    marks = dict(tips)
    order = sorted(range(len(names)), key=lambda i: names[i])
    for line in out.split(b"\n"):
        if not line:
            continue
        ids = line.decode("ascii").split(" ")
        commit = ids[0]
        m = marks.pop(commit, 0)
        for parent in ids[1:]:
            marks[parent] = marks.get(parent, 0) | m
        if commit in wanted and m:
            got = tuple(names[i] for i in order if m >> i & 1)
            result[commit] = got[:limit] if limit is not None else got
    return result
