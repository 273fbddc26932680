"""Git history: ``keyguard scan --history [--since REF | RANGE]``.

What is scanned
  Default: everything reachable from every ref (branches, tags, remote-tracking
  refs, notes, ``refs/stash``) plus every older stash entry (they live only in
  the stash reflog), including each stash's index, working-tree and untracked
  parts (its 2nd and 3rd parents). Blobs (git notes among them: reported as
  ``<note:REF>`` on the commit they annotate), commit messages with their
  trailers and the author and committer names and e-mails (kind
  ``commit-identity``, path ``<commit-author>``/``<commit-committer>``),
  annotated-tag messages, and the entry names of trees (keys in file and
  folder names: kind ``tree``, the path of the file with the key redacted, the
  commit that added it) are scanned.
  ``RANGE`` is a git revision range (``origin/main..HEAD``; a left side of all
  zeros, as a pre-push hook gives for a new branch, means "not on any remote").
  ``--since REF`` means ``REF..HEAD`` (the CI question "what does this branch
  add since REF"), not "REF..every ref". A range scan reads the blobs and
  commits of its log walk, the names of the paths that walk adds or changes,
  the annotated tags on its commits or at its end (a pushed tag), and the notes
  on its commits.
  A shallow clone gets one warning (``grepo.SHALLOW_WARNING``, ``stats["shallow"]``);
  submodule repositories not covered (``covers_submodules``) get one naming them.

How (each unique blob is read once)
  Full scans ask ``git cat-file --batch-check --batch-all-objects --unordered``
  for every object in pack order, drop trees, and stream the rest through
  ``git cat-file --batch --buffer`` (pipe grown to 1 MiB), split over ``workers``
  processes that each own one cat-file (contiguous slices of about equal bytes,
  so each cat-file keeps its delta bases warm). The stream is cut into ~256 KiB
  windows of whole objects (sizes are known in advance): small enough that git
  keeps filling the pipe while Python tests a window (4 MiB windows made the two
  take turns: 8.8 s against 7.4 s on sqlalchemy). ``Detector.pieces_with_needles``
  makes one pass per needle search over the window and names the objects a
  needle begins in; only those (plus objects whose first bytes may start a zip
  archive or UTF-16 text, which no needle can see) are scanned, the other objects of
  the window are not looked at again. Objects larger than a window are read alone.
  Trees come after everything else, in windows of their own that skip that
  binary test (a tree is binary; a name in it is plain text the needles see):
  on sqlalchemy 150k trees, 90 MB, cost +8% CPU (14.2 -> 15.3 s); when every
  tree was parsed (``include_unreachable`` before) they cost ~5 s.

  Only when something hits does a ``git log -c --raw`` pass attribute the hit
  blobs: for each (blob, path) the earliest commit that introduced it (merge
  resolutions included, via the combined diff), its author and date, the refs
  containing it (``keyguard.git.refs.containing``: one walk for all commits)
  and whether the secret is still in a file at HEAD. A hit whose secret was
  already in the parent's version of the same path is inherited, not new, and
  not reported again (``only_new``). Hits in objects no ref reaches are dropped
  unless ``include_unreachable``: then every reflog and fsck's unreachable
  commits are walked too (kinds ``reflog`` / ``unreachable``), and tree names,
  the index, loose blobs and the work tree are reported (see the class doc).
  Range scans take their blobs and commits from the ``git log -c --raw`` pass
  over the range itself.

Where the time goes (sqlalchemy: 4.6 GB of blobs, 2 cores, ``bench/history.sh``)
  git cat-file ~5.5 s CPU (the floor's), ~1.5 s more for writing into the pipe and
  for the trees. Python, per reader over its half: reading the pipe, and the needle
  search over every window: ~1.2 s CPU per 800 MB with the standard library (seven
  passes: the ``fl`` regex ~0.5 s, the rare-byte probes the rest), 0.27 s with the
  native search (``keyguard.detect.prefilter``, one pass). Then the full scan of
  the objects a needle names: 79 MB of changelog versions holding the word "flux".
  Both cores stay busy, so the wall time is about (git + Python CPU) / 2. A smaller
  git delta-base cache would cut cat-file's RSS (250 -> 166 MB at 32 MB) but costs
  50% more git CPU.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from keyguard.errors import GitError
from keyguard.git import commits as gcommits
from keyguard.git import objects as gobjects
from keyguard.git import refs as grefs
from keyguard.git import repo as grepo
from keyguard.git.objects import BatchReader, CatFile, Entry
from keyguard.git.run import output as git_output
from keyguard.git.run import run as git_run
from keyguard.model import Provenance
from keyguard.redact import scrub, shown_name
from keyguard.sources import blob, names
from keyguard.sources.blob import CHUNK, CHUNK_THRESHOLD, MAX_SIZE
from keyguard.sources.interface import LocatedHit, Source

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector
    from keyguard.model import Hit

WINDOW = 256 << 10
"""Bytes of whole objects read and prefiltered at once (64 KiB-1 MiB measured within 5%)."""
PARALLEL_MIN_BYTES = 64 << 20
"""Below this much data one in-process reader is faster than starting workers."""
REFS_PER_FINDING = 5
"""Ref names shown per finding (all of them with ``include_unreachable``)."""

Progress = Callable[[int, int], None]


class HistorySource(Source):
    """Git history of the repository at ``root`` (all refs, or a range).

    ``rev_range``: a revision range or single revision (``A..B``, ``A...B``, ``B``).
    ``since``: only commits after this ref (``since..HEAD``). ``progress``:
    called as ``progress(done, total)`` with objects scanned. ``include_unreachable``:
    also walk every reflog and the commits ``git fsck`` finds unreachable, and
    report hits in them (kinds ``reflog`` and ``unreachable``) and in blobs no
    commit holds (path ``<unreachable>``). ``workers``: reader processes
    (default: CPU count, at most 4). ``only_new``: drop hits inherited from the
    parent's version of the same path. ``skip``: ids (raw bytes, 20 or 32 long)
    of objects known to hold nothing (the audit cache); they are not read, and
    after the scan ``known_clean`` holds those that still exist and
    ``clean_after`` the ids read that held no hit (full scans only). ``memo``:
    an attribution memo (the audit's ``keyguard.audit.attribution.Memo``, or
    any object with its ``recall(found, state)`` and ``keep(found, state,
    entries, warnings)``); full scans replay
    the attribution it recalls instead of walking the history, and hand it
    the result of a walk (``_attribution_state`` says what the walk depends on).

    ``include_unreachable`` (full scans) also covers what ``keyguard incident``
    searches: besides every reflog and unreachable commit, file and folder
    names in trees (path ``<file-name>``, kind ``tree``), blobs staged in the
    index and in no commit (kind ``index``), blobs no commit or index entry
    holds (path ``<unreachable>``) and, unless ``worktree`` is False or the
    repository is bare, the files on disk (kind ``worktree``, as
    ``keyguard scan`` reads them).

    ``revs`` (instead of a range): explicit revisions to walk, such as the new
    tips of a push; annotated tag objects among them are scanned too (their
    messages, reported as ``tag-message``). With ``exclude_all_refs`` only the
    commits no existing ref reaches are walked (``REVS --not --all``: what a
    pre-receive hook is asked about); no existing ref contains those, so the
    ref walk and the HEAD check are skipped (``refs`` empty, ``present_at_head``
    None).
    """

    kind = "history"

    def __init__(self, root: str | Path, rev_range: str | None = None, since: str | None = None,
                 progress: Progress | None = None, include_unreachable: bool = False,
                 workers: int | None = None, only_new: bool = True,
                 chunk_threshold: int = CHUNK_THRESHOLD, max_size: int = MAX_SIZE,
                 skip: set[bytes] | frozenset[bytes] | None = None, worktree: bool = True,
                 memo=None, revs: list[str] | None = None, exclude_all_refs: bool = False):
        super().__init__()
        if sum(x is not None for x in (rev_range, since, revs)) > 1:
            raise GitError("give one of a revision range, --since or revisions")
        if exclude_all_refs and revs is None:
            raise GitError("exclude_all_refs goes with revs")
        if revs is not None and any(not r or r.startswith("-") for r in revs):
            raise GitError("a revision cannot be empty or start with '-'")
        self.root = Path(root)
        self.rev_range = rev_range
        self.revs = list(revs) if revs is not None else None
        self.exclude_all_refs = exclude_all_refs
        self.named_tags: list[str] = []
        """The annotated tag objects among ``revs`` (and tags they point at), scanned as reachable."""
        self.since = since
        self.progress = progress
        self.include_unreachable = include_unreachable
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self.only_new = only_new
        self.chunk_threshold = chunk_threshold
        self.max_size = max_size
        self.skip = skip
        self.worktree = worktree
        self.memo = memo
        self._store_commits = ""
        """Every commit id of the store, sorted (full scans with unreachable objects and a memo)."""
        self.covers_submodules = False
        """Set by ``keyguard.sources.submodules.WithSubmodules``: else a warning names the submodule
        repositories this scan did not read."""
        self._range_names: list[tuple["Hit", str, str, str]] = []
        """Range scans: (hit, path, commit, blob) of keys in the names of the paths the range touches."""
        self._notes: dict[str, list[tuple[str, str]]] | None = None
        """Note blob -> (annotated commit, notes ref) (range scans: notes on the range's commits;
        full scans: every note, read only when a blob hit)."""
        self.log: gcommits.Log | None = None
        """The history walk of the last scan (``removals`` says which commits replaced a blob)."""
        self.known_clean: set[bytes] = set()
        self.clean_after: set[bytes] = set()
        self.stats = {"commits": 0, "blobs": 0, "bytes": 0, "skipped": 0}

    # -- the flow -------------------------------------------------------------
    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Hits in blobs and messages of the selected history, with provenance."""
        ranged = self.rev_range is not None or self.since is not None or self.revs is not None
        everything = self.include_unreachable and not ranged
        if self.revs == []:
            return
        if grepo.is_shallow(self.root):
            self.warnings.append(grepo.SHALLOW_WARNING)
            self.stats["shallow"] = 1
        if not self.covers_submodules and not self.exclude_all_refs:
            modules = grepo.submodule_repos(self.root)
            if modules:
                shown = ", ".join(name for name, _ in modules[:5]) + (", ..." if len(modules) > 5 else "")
                self.warnings.append(
                    f"{len(modules)} submodule repositor{'ies' if len(modules) != 1 else 'y'} ({shown}) not "
                    f"scanned: this reads the superproject's history only (a full `keyguard scan --history` "
                    f"reads theirs too)")
        if ranged:
            log = gcommits.Log(self._range_revs(), None).run(self.root)
            # no existing ref points at or annotates a commit no ref reaches (pre-receive): no ref lookups
            refs = grefs.list_refs(self.root) if log.commits and not self.exclude_all_refs else []
            # annotated tags: pushed ones (revs, a tag as a range's end) and those on the range's commits
            ends = self.revs if self.revs is not None else self._range_ends()
            self.named_tags = gobjects.annotated_tags(self.root, [*ends, *grefs.tags_on(self.root, log.commits, refs)])
            self.stats["tags"] = len(self.named_tags)
            # notes attached to the range's commits
            self._notes = {blob: [n for n in on if n[0] in log.commits]
                           for blob, on in (grefs.notes(self.root, refs).items() if refs else ())}
            self._notes = {blob: on for blob, on in self._notes.items() if on}
            self.stats["notes"] = len(self._notes)
            entries = gobjects.sizes(self.root, log.range_objects() + self.named_tags + list(self._notes))
        else:
            entries = self._all_objects()
            log = None
        self.stats["commits"] = sum(1 for e in entries if e[1] == "commit")
        self.stats["trees"] = sum(1 for e in entries if e[1] == "tree")
        self.stats["blobs"] = sum(1 for e in entries if e[1] == "blob")
        self.stats["objects"] = len(entries)  # blobs, commits, tags: what the progress bar counts
        found = self._scan(entries, detector)
        if self.skip is not None and not ranged:
            self.clean_after = {bytes.fromhex(e[0]) for e in entries if e[0] not in found}
        if ranged:
            self._range_names = self._names_in_range(log, detector)
        if found or self._range_names:
            memo = self.memo if not ranged else None
            if memo is None:
                yield from self._walk_and_attribute(found, log, detector, ranged)
            else:
                yield from self._remembered(memo, found, detector)
        if everything and self.worktree and not grepo.is_bare(self.root):
            yield from self._worktree(detector)

    def _walk_and_attribute(self, found, log: gcommits.Log | None, detector: "Detector",
                            ranged: bool) -> Iterator[LocatedHit]:
        walk = None
        if log is None:
            targets = {oid for oid, (kind, _) in found.items() if kind == "blob"}
            in_names = {h.secret for kind, hits in found.values() if kind == "tree" for h in hits}
            walk = _Walk.of_all(self.root, self.include_unreachable)
            log = gcommits.Log(["--all", *walk.extra], targets, in_names).run(self.root, stdin=walk.hidden or None)
        self.log = log
        yield from self._attribute(found, log, detector, ranged, walk)

    def _remembered(self, memo, found, detector: "Detector") -> Iterator[LocatedHit]:
        """The attribution ``memo`` recalls for ``found``, or a walk's (which the memo then keeps)."""
        state = self._attribution_state()
        recalled = memo.recall(found, state)
        if recalled is not None:
            entries, warnings = recalled
            self.warnings.extend(warnings)
            for oid, i, path, prov in entries:
                yield LocatedHit(found[oid][1][i], path, prov)
            return
        where = {id(h): (oid, i) for oid, (_, hits) in found.items() for i, h in enumerate(hits)}
        before = len(self.warnings)
        out = list(self._walk_and_attribute(found, None, detector, False))
        memo.keep(found, state, [(*where[id(lh.hit)], lh.path, lh.provenance) for lh in out],
                  self.warnings[before:])
        yield from out

    def _attribution_state(self) -> bytes:
        """What a full scan's attribution depends on besides the hits: refs, HEAD, stash entries, options;
        with unreachable objects also every reflog's commits, the commits in the store (with the refs,
        they decide which commits are unreachable) and the index's staged blobs."""
        state = grefs.state(self.root) + repr(("only_new", self.only_new, self.include_unreachable)).encode()
        if not self.include_unreachable:
            return state
        import hashlib

        staged = {}
        if not grepo.is_bare(self.root):
            staged = gobjects.staged_blobs(self.root, grepo.resolve_commit(self.root, "HEAD") is not None)
        parts = [" ".join(sorted(gobjects.reflog_commits(self.root))), self._store_commits,
                 repr(sorted(staged.items()))]
        return state + b"\0" + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).digest()

    def _worktree(self, detector: "Detector") -> Iterator[LocatedHit]:
        from keyguard.sources.worktree import WorktreeSource

        disk = WorktreeSource(self.root, chunk_threshold=self.chunk_threshold, max_size=self.max_size)
        for lh in disk.located_hits(detector):
            yield LocatedHit(lh.hit, lh.path, Provenance(commit="", kind="worktree"))
        self.warnings.extend(disk.warnings)
        for k, v in disk.stats.items():
            self.stats[f"worktree_{k}"] = v
    # -- what to read -----------------------------------------------------------
    def _names_in_range(self, log: gcommits.Log, detector: "Detector") -> list[tuple["Hit", str, str, str]]:
        """Keys in the file and folder names of the paths the range adds or changes."""
        paths = log.range_paths()
        order = sorted(paths)
        return [(h, order[i], paths[order[i]][0].commit, paths[order[i]][1])
                for h, i, _ in names.in_names(order, detector)]

    def _all_objects(self) -> list[Entry]:
        # trees (file and folder names) go last: their windows skip the binary/encoding test
        # (a tree is binary, a name is plain text) and blobs keep their pack order
        listed = gobjects.list_objects(self.root, ("blob", "commit", "tag", "tree"))
        entries = [e for e in listed if e[1] != "tree"] + [e for e in listed if e[1] == "tree"]
        if self.include_unreachable and self.memo is not None:  # what the attribution memo is keyed by
            self._store_commits = " ".join(sorted(e[0] for e in listed if e[1] == "commit"))
        del listed
        if not self.skip:
            return entries
        fresh = []
        skip, known = self.skip, self.known_clean
        for entry in entries:
            oid = bytes.fromhex(entry[0])
            if oid in skip:
                known.add(oid)
            else:
                fresh.append(entry)
        self.stats["cached"] = len(entries) - len(fresh)
        return fresh

    def _range_ends(self) -> list[str]:
        """The right-hand revisions of the range (or ``--since``'s HEAD): an annotated tag there is pushed."""
        if self.since is not None:
            return ["HEAD"]
        rng = (self.rev_range or "").strip()
        right = rng.split("..", 1)[1].lstrip(".") if ".." in rng else rng
        return [right or "HEAD"] if not right.startswith("-") else []

    def _range_revs(self) -> list[str]:
        if self.revs is not None:
            return [*self.revs, "--not", "--all"] if self.exclude_all_refs else self.revs
        if self.since is not None:
            if grepo.resolve_commit(self.root, self.since) is None:
                raise GitError(f"--since: unknown revision {self.since!r}")
            return [f"{self.since}..HEAD"]
        rng = self.rev_range.strip()
        if not rng or rng.startswith("-"):
            raise GitError(f"not a revision range: {self.rev_range!r}")
        left, dots, right = rng.partition("..")
        if dots and left.strip("0") == "" and left:
            # pre-push of a new branch: the remote has nothing; scan what no remote has
            return [right.lstrip(".") or "HEAD", "--not", "--remotes"]
        return [rng]

    # -- reading and prefiltering -------------------------------------------------
    def _scan(self, entries: list[Entry], detector: "Detector") -> dict[str, tuple[str, list["Hit"]]]:
        """``{oid: (type, hits)}`` for every object with hits."""
        found: dict[str, tuple[str, list]] = {}
        total = len(entries)
        done = 0
        total_bytes = sum(e[2] for e in entries)
        workers = self.workers if total_bytes >= PARALLEL_MIN_BYTES else 1

        def handle(msg: tuple) -> None:
            nonlocal done
            tag = msg[0]
            if tag == "hit":
                found[msg[1]] = (msg[2], msg[3])
            elif tag == "progress":
                done += msg[1]
                if self.progress is not None:
                    self.progress(done, total)
            elif tag == "warn":
                self.warnings.append(msg[1])
            elif tag == "stat":
                self.stats[msg[1]] = self.stats.get(msg[1], 0) + msg[2]
            elif tag == "error":
                raise GitError(msg[1])

        if self.progress is not None:
            self.progress(0, total)
        if workers <= 1 or len(entries) < 2:
            scan_objects(self.root, entries, detector, handle, self.chunk_threshold, self.max_size)
        else:
            _run_workers(self.root, _split(entries, workers), detector, handle,
                         self.chunk_threshold, self.max_size)
        if self.progress is not None and done < total:
            self.progress(total, total)
        return found

    # -- attribution -----------------------------------------------------------------
    def _attribute(self, found, log: gcommits.Log, detector: "Detector", ranged: bool,
                   walk: "_Walk | None") -> Iterator[LocatedHit]:
        pending: list[tuple["Hit", str, str, str, str]] = []  # (hit, path, kind, commit, blob)
        unreachable_ok = self.include_unreachable and not ranged
        with CatFile(self.root) as cat:
            old_secrets: dict[str, set[str]] = {}

            def secrets_of(oid: str) -> set[str]:
                if oid not in old_secrets:
                    got = cat.read(oid)
                    data = got[1] if got and got[0] == "blob" and len(got[1]) <= self.chunk_threshold else b""
                    old_secrets[oid] = {h.secret for h in detector.scan(data)} if data else set()
                return old_secrets[oid]

            tag_refs = grefs.tag_objects(self.root) if any(k == "tag" for k, _ in found.values()) else {}
            staged: dict[str, list[str]] = {}
            if unreachable_ok and not grepo.is_bare(self.root):
                staged = gobjects.staged_blobs(self.root, grepo.resolve_commit(self.root, "HEAD") is not None)
            tags: dict[str, tuple[str, str, str, str]] = {}
            named_done: set[tuple[str, str]] = set()
            for h, path, commit, blob_id in self._range_names:
                pending.append((h, scrub(path, [h.secret]), "tree", commit, blob_id))
            if self._notes is None:
                self._notes = grefs.notes(self.root) if any(k == "blob" for k, _ in found.values()) else {}
            for oid, (kind, hits) in found.items():
                if kind == "blob" and oid in self._notes:  # a git note: on the commit it annotates
                    for target, ref in self._notes[oid]:
                        pending.extend((h, f"<note:{ref}>", "note", target, oid) for h in hits)
                    continue
                if kind == "blob":
                    intros = log.intros.get(oid)
                    if not intros:
                        if unreachable_ok:
                            for path in staged.get(oid, ["<unreachable>"]):
                                kind = "index" if oid in staged else "unreachable"
                                pending.extend((h, path, kind, "", oid) for h in hits)
                        continue
                    for path, intro in intros.items():
                        inherited: set[str] = set()
                        if self.only_new:
                            for old in intro.old:
                                inherited |= secrets_of(old)
                        pending.extend((h, path, "blob", intro.commit, oid)
                                       for h in hits if h.secret not in inherited)
                elif kind == "commit":
                    if oid in log.commits or unreachable_ok:
                        got = cat.read(oid)
                        raw = got[1] if got else b""
                        for h in hits:
                            header = gcommits.header_of_line("commit", raw, h.line)
                            if header is None:
                                pending.append((h, "<commit-message>", "commit-message", oid, ""))
                            else:  # a key in the author's or committer's name or e-mail
                                pending.append((h, f"<commit-{header}>", "commit-identity", oid, ""))
                elif kind == "tree":  # a key in a file or folder name: the paths holding it, redacted
                    for h in hits:
                        paths = [(p, intro) for p, intro in log.named.items() if h.secret in p]
                        for path, intro in paths:
                            if (h.secret, path) not in named_done:
                                named_done.add((h.secret, path))
                                pending.append((h, scrub(path, [h.secret]), "tree", intro.commit, oid))
                        if not paths and unreachable_ok:  # a tree no walked commit holds
                            pending.append((h, "<file-name>", "tree", "", oid))
                elif kind == "tag":
                    got = cat.read(oid)
                    target, name, tagger, date = gcommits.parse_tag(got[1] if got else b"")
                    tags[oid] = (target, name, tagger, date)
                    reachable = oid in tag_refs or target in log.commits or oid in self.named_tags
                    if reachable or self.include_unreachable:
                        pending.extend((h, f"<tag-message:{name}>", "tag-message" if reachable else "unreachable",
                                        target, oid) for h in hits)
            meta: dict[str, tuple[str, str]] = {}
            for _, _, kind, commit, _ in pending:
                if commit and commit not in meta and kind != "tag-message":
                    got = cat.read(commit)
                    meta[commit] = gcommits.parse_commit(got[1]) if got and got[0] == "commit" else ("", "")
        # an author, tagger or ref name holding a key is shown redacted, in every finding
        found_secrets = sorted({p[0].secret for p in pending}, key=len, reverse=True)
        meta = {c: (shown_name(a, found_secrets), d) for c, (a, d) in meta.items()}
        tags = {t: (target, name, shown_name(tagger, found_secrets), date)
                for t, (target, name, tagger, date) in tags.items()}
        commits = {p[3] for p in pending if p[3] and p[2] != "tag-message"}
        if self.exclude_all_refs:  # no existing ref reaches these commits; HEAD is not asked about
            refs, at_head, names_at_head = {}, None, None
        else:
            refs = {c: tuple(shown_name(r) for r in names)
                    for c, names in self._refs_containing(commits, log, walk).items()}
            at_head = self._secrets_at_head(found, {p[0].secret for p in pending}, ranged)
            names_at_head = self._names_at_head({p[0].secret for p in pending if p[2] == "tree"})
        for hit, path, kind, commit, blob in pending:
            present = (hit.secret in at_head) if at_head is not None else None
            if kind == "tree":  # a name: whether a path at HEAD still holds it
                present = (hit.secret in names_at_head) if names_at_head is not None else None
            elif kind in ("commit-identity", "note"):  # not a file: "still at HEAD" does not apply
                present = None
            if kind == "tag-message" or (kind == "unreachable" and blob in tags):
                target, name, tagger, date = tags[blob]
                prov = Provenance(commit=target, author=tagger, date=date, kind=kind, blob=blob,
                                  refs=tuple(shown_name(r) for r in tag_refs.get(blob, ())),
                                  present_at_head=present)
            else:
                if commit and kind in ("blob", "commit-message", "commit-identity") and walk is not None \
                        and not refs.get(commit):
                    kind = walk.kind_of(commit) if kind == "blob" else kind
                author, date = meta.get(commit, ("", ""))
                prov = Provenance(commit=commit, author=author, date=date, kind=kind, blob=blob,
                                  refs=refs.get(commit, ()), present_at_head=present)
            yield LocatedHit(hit, path, prov)

    def _refs_containing(self, commits: set[str], log: gcommits.Log,
                         walk: "_Walk | None") -> dict[str, tuple[str, ...]]:
        """The names of the refs whose history contains each commit (one walk for all; stash entries
        as ``stash@{n}``), at most ``REFS_PER_FINDING`` each unless unreachable objects are included."""
        limit = None if self.include_unreachable else REFS_PER_FINDING
        result = {c: list(names) for c, names in grefs.containing(self.root, commits, limit=limit).items()}
        stash = walk.stash if walk is not None else _stash_labels(self.root, log)
        for commit in commits:
            if commit in stash and stash[commit] not in result[commit]:
                result[commit].append(stash[commit])
        return {c: tuple(v) for c, v in result.items()}

    def _names_at_head(self, secrets: set[str]) -> set[str] | None:
        """The secrets among ``secrets`` that a path at HEAD still holds (None without HEAD or secrets)."""
        if not secrets or grepo.resolve_commit(self.root, "HEAD") is None:
            return None
        out = git_output(["ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD"], self.root)
        return {s for s in secrets if s.encode("utf-8", "surrogateescape") in out}

    def _secrets_at_head(self, found, secrets: set[str], ranged: bool) -> set[str] | None:
        """The secrets among ``secrets`` that a file at HEAD still holds (None without HEAD)."""
        if not secrets or grepo.resolve_commit(self.root, "HEAD") is None:
            return None
        if not ranged:
            out = git_output(["ls-tree", "-r", "-z", "--full-tree", "HEAD"], self.root)
            at_head: set[str] = set()
            for rec in out.split(b"\0"):
                meta = rec.partition(b"\t")[0].split(b" ")
                if len(meta) == 3 and meta[1] == b"blob":
                    oid = meta[2].decode()
                    if oid in found:
                        at_head.update(h.secret for h in found[oid][1])
            return at_head & secrets
        proc = git_run(["grep", "-h", "-o", "-I", "-F", "--no-color", "--no-textconv", "-f", "-", "HEAD", "--"],
                       self.root, input="\n".join(sorted(secrets)).encode() + b"\n", check=False)
        if proc.returncode not in (0, 1):
            return None
        return {line for line in proc.stdout.decode("utf-8", "replace").splitlines()} & secrets


def _stash_labels(root: Path, log: gcommits.Log) -> dict[str, str]:
    """commit -> ``stash@{n}`` for each stash entry's commits (work tree, index and untracked parts)."""
    return {c: grefs.stash_label(n) for c, (n, _) in gobjects.stash_parts(root).items()}


class _Walk:
    """What a full scan walks besides ``--all``: stash entries, and with unreachable objects
    included, every reflog's commits and the commits ``git fsck`` finds unreachable."""

    def __init__(self, extra: list[str], hidden: list[str], reflog: set[str] | None, stash: dict[str, str]):
        self.extra = extra
        """Options for the command line (``--reflog``: every reflog's commits)."""
        self.hidden = hidden
        """Stash entries and unreachable commits, fed on stdin (there may be many)."""
        self.reflog = reflog
        self.stash = stash

    @classmethod
    def of_all(cls, root: Path, include_unreachable: bool) -> "_Walk":
        parts = gobjects.stash_parts(root)
        stash = {c: grefs.stash_label(n) for c, (n, _) in parts.items()}
        stash_commits = [c for c, (_, part) in parts.items() if part == gobjects.STASH_PARTS[0]]
        if not include_unreachable:
            return cls([], stash_commits, None, stash)
        reflog = gobjects.reflog_commits(root)
        hidden = gobjects.unreachable(root).get("commit", [])
        return cls(["--reflog"], [*stash_commits, *hidden], set(reflog), stash)

    def kind_of(self, commit: str) -> str:
        """``reflog`` or ``unreachable`` for a commit no ref contains (stash parts, and every
        commit when unreachable objects are not included, stay ``blob``)."""
        if commit in self.stash or self.reflog is None:
            return "blob"
        return "reflog" if commit in self.reflog else "unreachable"


# -- the reading engine (also runs inside worker processes) ---------------------------
def _header(oid: str, kind: str, size: int) -> bytes:
    return f"{oid} {kind} {size}\n".encode()


def scan_objects(cwd: str | Path, entries: list[Entry], detector: "Detector", report: Callable[[tuple], None],
                 chunk_threshold: int = CHUNK_THRESHOLD, max_size: int = MAX_SIZE) -> None:
    """Stream ``entries`` through one ``git cat-file --batch`` and report what hits.

    ``report`` receives ``("hit", oid, type, hits)``, ``("progress", n)``,
    ``("warn", text)`` and ``("stat", name, n)``. Objects are read in windows of
    about ``WINDOW`` bytes; only the objects ``detector.pieces_with_needles`` names
    (and possible zip/UTF-16 objects) are scanned.
    """
    proc = gobjects.batch_stream(cwd, [e[0] for e in entries])
    stream = proc.stdout
    scanned = skipped = 0
    try:
        i, n = 0, len(entries)
        while i < n:
            oid, kind, size = entries[i]
            if size > WINDOW:
                head = _header(oid, kind, size)
                got = stream.read(len(head))
                if got != head:
                    raise GitError(f"git cat-file: unexpected output for {oid[:12]}")
                warning = blob.too_big(f"blob {oid[:12]}", size, max_size)
                if warning:
                    BatchReader(stream).skip(size)
                    report(("warn", warning))
                    skipped += 1
                elif size > chunk_threshold:
                    hits = _scan_big(stream, size, detector)
                    scanned += size
                    if hits is None:
                        skipped += 1
                    elif hits:
                        report(("hit", oid, kind, hits))
                else:
                    data = stream.read(size + 1)
                    scanned += size
                    if detector.might_contain(data):
                        hits = _scan_one(kind, data[:size], detector, len(oid) // 2)
                        if hits is None:
                            skipped += 1
                        elif hits:
                            report(("hit", oid, kind, hits))
                i += 1
                report(("progress", 1))
                continue
            # a window of whole small objects
            j, total, starts = i, 0, []
            trees = kind == "tree"
            while j < n and entries[j][2] <= WINDOW and total < WINDOW and (entries[j][1] == "tree") == trees:
                e = entries[j]
                head_len = len(e[0]) + len(e[1]) + len(str(e[2])) + 3
                starts.append(total + head_len)
                total += head_len + e[2] + 1
                j += 1
            data = stream.read(total)
            if len(data) != total:
                raise GitError("git cat-file: output ended early (object store changed during the scan?)")
            first = _header(*entries[i])
            if not data.startswith(first) or data[-1:] != b"\n":
                raise GitError(f"git cat-file: unexpected output for {entries[i][0][:12]}")
            # Each needle makes one pass over the window and marks the objects it is in.
            # That test is exact for text; zip archives and UTF-16 text are recognised by
            # their first bytes, so objects that may be such are marked too.
            ends = [s + e[2] for s, e in zip(starts, entries[i:j])]
            marked = detector.pieces_with_needles(data, ends)
            if not trees and _maybe_encoded(data, starts):
                marked.update(k for k, s in enumerate(starts)
                              if blob.may_be_encoded(data[s:s + min(entries[i + k][2], 1024)]))
            for k in sorted(marked):
                oid, kind, size = entries[i + k]
                start = starts[k]
                if data[start - len(oid) - len(kind) - len(str(size)) - 3:start] != _header(oid, kind, size):
                    raise GitError(f"git cat-file: unexpected output for {oid[:12]}")
                hits = _scan_one(kind, data[start:start + size], detector, len(oid) // 2)
                if hits is None:
                    skipped += 1
                elif hits:
                    report(("hit", oid, kind, hits))
            scanned += total
            report(("progress", j - i))
            i = j
    finally:
        stream.close()
        proc.wait()
    report(("stat", "bytes", scanned))
    report(("stat", "skipped", skipped))


def _maybe_encoded(window: bytes, starts: list[int]) -> bool:
    """Whether a window may hold an archive, UTF-16 text or a binary (the window test cannot see those).

    Only object starts are looked at for the magic bytes (an extra substring
    search over the whole window would cost as much as a needle).
    """
    if b"\0" in window:  # memchr: nearly free
        return True
    return any(blob.may_be_encoded(window[s:s + 4]) for s in starts)


def _scan_one(kind: str, body: bytes, detector: "Detector", id_len: int = 20) -> list | None:
    """Hits in one object's content (messages only for commits and tags, entry names only for
    trees, one per line); None if skipped as binary."""
    if kind in ("commit", "tag"):
        body = gcommits.searched_text(kind, body)
        return detector.scan(body) if body else []
    if kind == "tree":
        text = b"\n".join(name for name, _, _ in gcommits.tree_entries(body, id_len))
        return names.at_name(detector.scan(text)) if text else []
    return blob.scan_whole(body, detector)


def _scan_big(stream, size: int, detector: "Detector") -> list | None:
    """Scan one huge blob in pieces; None when skipped as binary."""
    chunks = BatchReader(stream).chunks(size, CHUNK)
    return blob.scan_pieces(next(chunks, b""), chunks, detector)


def _split(entries: list[Entry], parts: int) -> list[list[Entry]]:
    """Cut the pack-ordered list into ``parts`` contiguous slices of about equal bytes."""
    total = sum(e[2] for e in entries) or 1
    slices, start, acc, k = [], 0, 0, 1
    for idx, e in enumerate(entries):
        acc += e[2]
        if acc >= total * k / parts and len(slices) < parts - 1:
            slices.append(entries[start:idx + 1])
            start, k = idx + 1, k + 1
    slices.append(entries[start:])
    return [s for s in slices if s]


def _worker(cwd, entries, detector, conn, chunk_threshold, max_size) -> None:
    """Body of one reader process: scan its slice, send messages, then ``("done",)``."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked while forking
    pending = 0

    def report(msg):
        nonlocal pending
        if msg[0] == "progress":  # batch progress messages
            pending += msg[1]
            if pending >= 2000:
                conn.send(("progress", pending))
                pending = 0
            return
        conn.send(msg)
    stopped = False
    try:
        scan_objects(cwd, entries, detector, report, chunk_threshold, max_size)
        if pending:
            conn.send(("progress", pending))
    except KeyboardInterrupt:  # SIGINT, or SIGTERM from the parent stopping: git is closed; say nothing more
        stopped = True  # (a send could block for ever: the parent no longer reads)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent as one line
        with contextlib.suppress(OSError):
            conn.send(("error", str(exc) if isinstance(exc, GitError) else f"reader failed: {type(exc).__name__}"))
    finally:
        if not stopped:
            # The work is over: a stop signal now has nothing to interrupt. The parent ends its
            # readers as soon as it has read "done", which can be before this send returns here;
            # unblocked, that SIGTERM raised out of the send and printed a traceback.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            with contextlib.suppress(OSError):
                conn.send(("done",))
        conn.close()


def _run_workers(cwd, slices, detector, handle, chunk_threshold, max_size) -> None:
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    procs, conns = [], []
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    try:
        # SIGINT/SIGTERM wait until every reader is started and known: then all of them are stopped
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        try:
            for part in slices:
                recv, send = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_worker, args=(str(cwd), part, detector, send, chunk_threshold,
                                                      max_size), daemon=True)
                procs.append(p)
                conns.append(recv)
                p.start()
                send.close()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
        live = list(conns)
        error = None
        while live:
            for conn in wait(live):
                try:
                    msg = conn.recv()
                except EOFError:
                    live.remove(conn)
                    continue
                if msg[0] == "done":
                    live.remove(conn)
                elif msg[0] == "error":
                    error = error or msg
                else:
                    handle(msg)
        if error:
            handle(error)
    finally:
        for conn in conns:  # a worker blocked sending to a parent that stopped reading gets an error
            conn.close()
        for p in procs:
            if p.pid is None:  # never started
                continue
            if p.is_alive():
                p.terminate()  # the worker unwinds: its git cat-file is closed and waited for
            p.join(30)
            if p.is_alive():  # last resort: its git dies on the broken pipe
                p.kill()
                p.join()

