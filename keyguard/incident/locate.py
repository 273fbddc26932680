"""Every place one leaked value is: the whole object store, attributed, plus the working tree.

1. Stream every object of the store (``git cat-file --batch-all-objects
   --batch --unordered``: reachable or not, loose or packed), big ones in
   chunks, through the ``Matcher``; remember the blobs, commits, tags and trees
   that hold the value.
2. Attribute the blobs: which commits added them at which path (``git log
   --all --reflog --find-object``, then the same over the commits ``git fsck
   --unreachable --no-reflogs`` lists), which commits removed them, which
   refs contain those commits (``for-each-ref --contains``), which stash entry
   a commit belongs to; a blob no commit holds is staged (the index) or loose.
3. Commit and tag objects that matched are message occurrences.
4. The working tree: tracked and untracked (not ignored) files on disk.

Nothing here prints; the secret is never put on a command line or in a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from keyguard.git import objects as gobjects
from keyguard.git import refs as grefs
from keyguard.git import repo as grepo
from keyguard.git.run import is_null_id, output, zsplit
from keyguard.incident.facts import KINDS, Location, Occurrence
from keyguard.incident.needles import Match, Matcher, needles_for
from keyguard.redact import scrub
from keyguard.sources import blob

CHUNK = blob.CHUNK


@dataclass
class _ObjHit:
    """An object of the store that holds the value."""

    oid: str
    type: str
    matches: list[Match]
    data: bytes = field(default=b"", repr=False)
    """The whole object for commits, tags and trees (small), to parse headers, messages, names."""


@dataclass
class _Change:
    """One commit's change touching a matched blob (from ``git log --raw``)."""

    commit: str
    parents: tuple[str, ...]
    author: str
    date: str
    old: str
    new: str
    status: str
    path: str


def locate(root: Path, secret: str, *, worktree: bool = True, encoded: bool = True) -> Location:
    """Find ``secret`` everywhere in the repository at ``root`` (see the module doc)."""
    matcher = Matcher(needles_for([secret], encoded=encoded))
    stats: dict[str, int] = {}
    warnings: list[str] = []
    hits = _scan_store(root, matcher, stats)

    occ: list[Occurrence] = []
    blobs = {h.oid: h for h in hits if h.type == "blob"}
    if blobs:
        occ += _blob_occurrences(root, blobs, stats)
    for h in hits:
        if h.type == "commit":
            occ.append(_commit_message(root, h))
        elif h.type == "tag":
            occ.append(_tag_message(root, h))
        elif h.type == "tree":
            occ.append(Occurrence("tree", path=_tree_names(h, secret), object_id=h.oid,
                                  note="a file or folder name holds the value"))
    if worktree and not grepo.is_bare(root):
        occ += _scan_worktree(root, matcher, stats, warnings)

    encodings = sorted({m.needle.encoding for h in hits for m in h.matches}
                       | {o.encoding for o in occ if o.kind == "worktree"})
    order = {k: i for i, k in enumerate(KINDS)}
    occ.sort(key=lambda o: (order.get(o.kind, 99), o.date, o.path, o.commit))
    return Location(tuple(occ), tuple(encodings), tuple(sorted(stats.items())), tuple(warnings))


# -- 1. the object store --------------------------------------------------------------------

def _scan_store(root: Path, matcher: Matcher, stats: dict[str, int]) -> list[_ObjHit]:
    """Stream every object through ``matcher``; the objects that hold a needle."""
    hits: list[_ObjHit] = []
    for oid, otype, chunks in gobjects.all_objects(root, stats, CHUNK):
        matcher.reset()
        keep = otype in ("commit", "tag", "tree")
        whole = []
        for chunk in chunks:
            matcher.feed(chunk)
            if keep:
                whole.append(chunk)
        found = matcher.done()
        if found:
            hits.append(_ObjHit(oid, otype, found, b"".join(whole)))
    return hits


# -- 2. blobs: commits, paths, refs -----------------------------------------------------------

_LOG_FORMAT = "%x01%H%x00%P%x00%an <%ae>%x00%aI"


def _log_changes(root: Path, blob_ids: list[str], revs: list[str], stdin: bytes | None = None) -> list[_Change]:
    """Changes adding or removing any of ``blob_ids`` in the commits ``revs`` select."""
    args = ["log", *revs, "--no-abbrev", "--raw", "-z", "--no-renames", "--no-ext-diff", "--no-textconv",
            "--no-show-signature",
            "--diff-merges=first-parent", f"--format={_LOG_FORMAT}"]
    args += [f"--find-object={b}" for b in blob_ids]
    if stdin is not None:
        args.append("--stdin")
    out = output(args, root, input=stdin)
    wanted = set(blob_ids)
    changes: list[_Change] = []
    commit = None
    parents: tuple[str, ...] = ()
    author = date = ""
    toks = out.split(b"\0")
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.startswith(b"\x01"):
            commit = t[1:].decode()
            parents = tuple(toks[i + 1].decode().split())
            author = toks[i + 2].decode("utf-8", "replace")
            date = toks[i + 3].decode()
            i += 4
            continue
        t = t.lstrip(b"\n")
        if t.startswith(b":") and commit is not None and i + 1 < len(toks):
            meta = t[1:].decode().split()
            path = toks[i + 1].decode("utf-8", "surrogateescape")
            if len(meta) >= 5:
                old, new, status = meta[2], meta[3], meta[4]
                if old in wanted or new in wanted:
                    changes.append(_Change(commit, parents, author, date, old, new, status[:1], path))
            i += 2
            continue
        i += 1
    return changes


def _unreachable(root: Path) -> tuple[list[str], list[str]]:
    """``(commits, blobs)`` no ref reaches (reflogs not counted as reaching)."""
    found = gobjects.unreachable(root)
    return found.get("commit", []), found.get("blob", [])


def _stash_parts(root: Path) -> dict[str, tuple[str, str]]:
    """commit -> (stash@{n}, part) for each stash entry's commits (work tree, index, untracked)."""
    parts: dict[str, tuple[str, str]] = {}
    for n, w in enumerate(gobjects.stash_commits(root)):
        name = grefs.stash_label(n)
        parents = output(["rev-list", "--no-walk", "--parents", w], root).decode().split()[1:]
        parts[w] = (name, "working-tree changes")
        if len(parents) >= 2:
            parts.setdefault(parents[1], (name, "staged changes"))
        if len(parents) >= 3:
            parts.setdefault(parents[2], (name, "untracked files"))
    return parts


def _blob_occurrences(root: Path, blobs: dict[str, _ObjHit], stats: dict[str, int]) -> list[Occurrence]:
    ids = sorted(blobs)
    changes = _log_changes(root, ids, ["--all", "--reflog"])
    walked = {c.commit for c in changes}
    un_commits, un_blobs = _unreachable(root)
    un_commits = [c for c in un_commits if c not in walked]
    if un_commits:
        stdin = ("\n".join(un_commits) + "\n").encode()
        changes += [c for c in _log_changes(root, ids, ["--no-walk=unsorted"], stdin) if c.commit not in walked]
    stats["commits_touching"] = len({c.commit for c in changes})

    stash = _stash_parts(root) if changes else {}
    refs_of = grefs.containing(root, {c.commit for c in changes if c.commit not in stash})

    removals: dict[tuple[str, str], list[str]] = {}
    for c in changes:
        if c.old in blobs and c.new not in blobs:  # replaced by a version without the value
            removals.setdefault((c.old, c.path), []).append(c.commit)
    adds = [c for c in changes if c.new in blobs and c.old != c.new]
    # A merge shown against its first parent "adds" what its other parents brought: keep it only
    # when no other commit added the same blob at the same path (an evil merge).
    added_by_non_merge = {(c.new, c.path) for c in adds if len(c.parents) < 2 or c.commit in stash}
    out: list[Occurrence] = []
    attributed: set[str] = set()
    for c in adds:
        if len(c.parents) >= 2 and c.commit not in stash and (c.new, c.path) in added_by_non_merge:
            continue
        attributed.add(c.new)
        note = ""
        refs: tuple[str, ...]
        if c.commit in stash:
            kind = "stash"
            name, part = stash[c.commit]
            refs, note = (name,), f"{name} {part}"
        else:
            refs = refs_of[c.commit]
            if refs:
                kind = "commit"
            elif c.commit in walked:
                kind, note = "reflog", "reachable only from a reflog (reset, amend or rebase left it)"
            else:
                kind, note = "unreachable", "no ref or reflog reaches it; still in the object store"
        for enc, line, count in _by_encoding(blobs[c.new].matches):
            out.append(Occurrence(kind, path=c.path, line=line, count=count, encoding=enc, commit=c.commit,
                                  object_id=c.new, author=c.author, date=c.date, refs=refs,
                                  removed_in=tuple(removals.get((c.new, c.path), ())), note=note))

    staged = _staged_blobs(root)
    for oid, hit in blobs.items():
        if oid in staged:
            for path in staged[oid]:
                for enc, line, count in _by_encoding(hit.matches):
                    out.append(Occurrence("index", path=path, line=line, count=count, encoding=enc,
                                          object_id=oid, note="staged, not committed"))
        elif oid not in attributed:
            note = ("in no commit: staged once and then unstaged or replaced"
                    if oid in un_blobs else "in no commit found by the walk")
            for enc, line, count in _by_encoding(hit.matches):
                out.append(Occurrence("loose-blob", line=line, count=count, encoding=enc, object_id=oid,
                                      note=note))
    return out


def _staged_blobs(root: Path) -> dict[str, list[str]]:
    """blob -> paths for index entries that differ from HEAD (what the next commit would add)."""
    if grepo.is_bare(root):
        return {}
    has_head = grepo.resolve_commit(root, "HEAD") is not None
    if has_head:
        out = output(["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff",
                      "--no-textconv"], root)
        toks = out.split(b"\0")
        res: dict[str, list[str]] = {}
        for i in range(0, len(toks) - 1, 2):
            meta = toks[i].lstrip(b"\n").decode().lstrip(":").split()
            if len(meta) >= 5 and not is_null_id(meta[3]):
                res.setdefault(meta[3], []).append(toks[i + 1].decode("utf-8", "surrogateescape"))
        return res
    res = {}
    for entry in zsplit(output(["ls-files", "-s", "-z"], root)):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) >= 2:
            res.setdefault(parts[1], []).append(path)
    return res


def _by_encoding(matches: list[Match]) -> list[tuple[str, int, int]]:
    """(encoding, first line, count) per encoding (base64 alignments merged)."""
    acc: dict[str, list[int]] = {}
    for m in matches:
        enc = "base64" if m.needle.encoding.startswith("base64") else m.needle.encoding
        if enc in acc:
            acc[enc][0] = min(acc[enc][0], m.line)
            acc[enc][1] += m.count
        else:
            acc[enc] = [m.line, m.count]
    return [(enc, v[0], v[1]) for enc, v in sorted(acc.items())]


# -- 3. messages -----------------------------------------------------------------------------------

def _ident(value: str) -> tuple[str, str]:
    """``Name <email> 1700000000 +0100`` -> (``Name <email>``, ISO 8601 date)."""
    parts = value.rsplit(" ", 2)
    if len(parts) != 3:
        return value, ""
    who, ts, tz = parts
    try:
        sign = -1 if tz.startswith("-") else 1
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        when = datetime.fromtimestamp(int(ts), timezone(offset))
    except (ValueError, IndexError):
        return who, ""
    return who, when.isoformat()


def _headers(data: bytes) -> tuple[dict[str, str], int]:
    """First value of each header of a commit/tag object, and how many lines the header has."""
    head, _, _ = data.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").split("\n")
    hdr: dict[str, str] = {}
    for line in lines:
        if line and not line.startswith(" "):
            k, _, v = line.partition(" ")
            hdr.setdefault(k, v)
    return hdr, len(lines)


def _message_line(hit: _ObjHit, header_lines: int) -> tuple[int, int, str, str]:
    """(line in the message, count, encoding, note) for a matched commit/tag object."""
    first = min(hit.matches, key=lambda m: m.line)
    count = sum(m.count for m in hit.matches)
    enc = "base64" if first.needle.encoding.startswith("base64") else first.needle.encoding
    if first.line <= header_lines:
        return 0, count, enc, "in the object's header (author, tagger or signature)"
    return first.line - header_lines - 1, count, enc, ""


def _commit_message(root: Path, hit: _ObjHit) -> Occurrence:
    hdr, n = _headers(hit.data)
    author, date = _ident(hdr.get("author", ""))
    line, count, enc, note = _message_line(hit, n)
    refs = grefs.containing(root, [hit.oid])[hit.oid]
    if not refs:
        note = (note + "; " if note else "") + "no branch or tag contains this commit"
    return Occurrence("commit-message", path="<commit message>", line=line, count=count, encoding=enc,
                      commit=hit.oid, object_id=hit.oid, author=author, date=date, refs=refs, note=note)


def _tag_message(root: Path, hit: _ObjHit) -> Occurrence:
    hdr, n = _headers(hit.data)
    tagger, date = _ident(hdr.get("tagger", ""))
    line, count, enc, note = _message_line(hit, n)
    names = tuple(grefs.tag_objects(root).get(hit.oid, ()))
    if not names:
        note = (note + "; " if note else "") + "no tag ref points to this tag object (deleted tag?)"
    return Occurrence("tag-message", path=hdr.get("tag", ""), line=line, count=count, encoding=enc,
                      commit=hdr.get("object", ""), object_id=hit.oid, author=tagger, date=date,
                      refs=names, note=note)


def _tree_names(hit: _ObjHit, secret: str) -> str:
    """The entry names of a matched tree that hold the value, redacted."""
    hash_len = len(hit.oid) // 2
    data, pos, names = hit.data, 0, []
    while pos < len(data):
        nul = data.find(b"\0", pos)
        if nul < 0:
            break
        name = data[pos:nul].partition(b" ")[2].decode("utf-8", "replace")
        if secret in name:
            names.append(scrub(name, [secret]))
        pos = nul + 1 + hash_len
    return ", ".join(names) or "<a name in tree " + hit.oid[:12] + ">"


# -- 4. the working tree ---------------------------------------------------------------------------

def _scan_worktree(root: Path, matcher: Matcher, stats: dict[str, int], warnings: list[str]) -> list[Occurrence]:
    """Tracked and untracked (not ignored) files on disk."""
    paths = dict.fromkeys(zsplit(output(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)))
    out: list[Occurrence] = []
    n_files = n_bytes = 0
    for rel in paths:
        p = root / rel
        try:
            if not p.is_file() or p.is_symlink():
                continue
            matcher.reset()
            with open(p, "rb") as f:
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    n_bytes += len(chunk)
                    matcher.feed(chunk)
        except OSError as exc:
            warnings.append(f"{rel}: cannot read ({exc.strerror or type(exc).__name__})")
            continue
        n_files += 1
        for enc, line, count in _by_encoding(matcher.done()):
            out.append(Occurrence("worktree", path=rel, line=line, count=count, encoding=enc))
    stats["worktree_files"] = n_files
    stats["worktree_bytes"] = n_bytes
    return out
