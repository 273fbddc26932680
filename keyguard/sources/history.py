"""Git history: ``keyguard scan --history [--since REF | RANGE]``.

What is scanned
  Default: everything reachable from every ref (branches, tags, remote-tracking
  refs, notes, ``refs/stash``) plus every older stash entry (they live only in
  the stash reflog), including each stash's index, working-tree and untracked
  parts (its 2nd and 3rd parents). Blobs, commit messages and annotated-tag
  messages are scanned; trees are not (they hold no text).
  ``RANGE`` is a git revision range (``origin/main..HEAD``; a left side of all
  zeros, as a pre-push hook gives for a new branch, means "not on any remote").
  ``--since REF`` means ``REF..HEAD`` (the CI question "what does this branch
  add since REF"), not "REF..every ref".

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

  Only when something hits does a ``git log -c --raw`` pass attribute the hit
  blobs: for each (blob, path) the earliest commit that introduced it (merge
  resolutions included, via the combined diff), its author and date, a few refs
  containing it (``git for-each-ref --contains``) and whether the secret is
  still in a file at HEAD. A hit whose secret was already in the parent's
  version of the same path is inherited, not new, and not reported again
  (``only_new``). Hits in objects no ref reaches are dropped unless
  ``include_unreachable`` (then reported with kind ``unreachable``).
  Range scans take their blobs and commits from the ``git log -c --raw`` pass
  over the range itself.

Where the time goes (sqlalchemy: 4.5 GB of blobs, 2 cores, ``bench/history.sh``)
  git cat-file ~5.5 s CPU; Python ~1.7 s CPU per GB, of which ~1.1 s is the ``fl``
  search (``flux``/``flx`` hold no rare byte), ~0.2 s the rare-byte probes (``eyJ``
  and the base64 forms) and ~0.4 s reading the pipe. Both cores stay busy, so the
  wall time is about (git + Python CPU) / 2. A smaller git delta-base cache would
  cut cat-file's RSS (250 -> 166 MB at 32 MB) but costs 50% more git CPU.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from keyguard.errors import GitError
from keyguard.model import Provenance
from keyguard.sources import gitcmd
from keyguard.sources.interface import LocatedHit, Source
from keyguard.sources.sniff import MAX_SIZE, is_skippable_binary

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector
    from keyguard.model import Hit

WINDOW = 256 << 10
"""Bytes of whole objects read and prefiltered at once (64 KiB-1 MiB measured within 5%)."""
CHUNK_THRESHOLD = 64 << 20
"""Blobs larger than this are scanned in pieces (``Detector.scan_chunks``)."""
CHUNK = 8 << 20
PARALLEL_MIN_BYTES = 64 << 20
"""Below this much data one in-process reader is faster than starting workers."""
MAX_REF_LOOKUPS = 100
"""At most this many commits get their containing refs looked up."""
REFS_PER_FINDING = 5
ZERO = "0" * 40
_SCANNED_TYPES = (b"blob", b"commit", b"tag")
_GITLINK = b"160000"

Progress = Callable[[int, int], None]
Entry = tuple  # (oid: str, type: str, size: int)


@dataclasses.dataclass
class _Intro:
    """The earliest commit seen introducing a blob at a path."""

    time: int
    commit: str
    old: tuple[str, ...]
    """The blob ids the parents had at that path (empty when added)."""


class HistorySource(Source):
    """Git history of the repository at ``root`` (all refs, or a range).

    ``rev_range``: a revision range or single revision (``A..B``, ``A...B``, ``B``).
    ``since``: only commits after this ref (``since..HEAD``). ``progress``:
    called as ``progress(done, total)`` with objects scanned. ``include_unreachable``:
    also report hits in objects no ref reaches. ``workers``: reader processes
    (default: CPU count, at most 4). ``only_new``: drop hits inherited from the
    parent's version of the same path.
    """

    kind = "history"

    def __init__(self, root: str | Path, rev_range: str | None = None, since: str | None = None,
                 progress: Progress | None = None, include_unreachable: bool = False,
                 workers: int | None = None, only_new: bool = True,
                 chunk_threshold: int = CHUNK_THRESHOLD, max_size: int = MAX_SIZE):
        super().__init__()
        if rev_range and since:
            raise GitError("give either a revision range or --since, not both")
        self.root = Path(root)
        self.rev_range = rev_range
        self.since = since
        self.progress = progress
        self.include_unreachable = include_unreachable
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self.only_new = only_new
        self.chunk_threshold = chunk_threshold
        self.max_size = max_size
        self.stats = {"commits": 0, "blobs": 0, "bytes": 0, "skipped": 0}

    # -- the flow -------------------------------------------------------------
    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Hits in blobs and messages of the selected history, with provenance."""
        ranged = self.rev_range is not None or self.since is not None
        if ranged:
            log = _Log(self._range_revs(), None)
            log.run(self.root)
            entries = self._sizes(log.range_objects())
        else:
            entries = self._all_objects()
            log = None
        self.stats["commits"] = sum(1 for e in entries if e[1] == "commit")
        self.stats["blobs"] = sum(1 for e in entries if e[1] == "blob")
        self.stats["objects"] = len(entries)  # blobs, commits, tags: what the progress bar counts
        found = self._scan(entries, detector)
        if not found:
            return
        if log is None:
            targets = {oid for oid, (kind, _) in found.items() if kind == "blob"}
            log = _Log(self._all_revs(), targets)
            log.run(self.root)
        yield from self._attribute(found, log, detector, ranged)

    # -- what to read -----------------------------------------------------------
    def _all_objects(self) -> list[Entry]:
        out = gitcmd.output(["cat-file", "--batch-all-objects", "--unordered",
                             "--batch-check=%(objectname) %(objecttype) %(objectsize)"], self.root)
        toks = iter(out.split())  # one C call; per-line splitting cost 0.3 s on 280k objects
        del out
        kinds = {k: k.decode() for k in _SCANNED_TYPES}
        return [(oid.decode(), kinds[kind], int(size)) for oid, kind, size in zip(toks, toks, toks)
                if kind in kinds]

    def _sizes(self, oids: list[str]) -> list[Entry]:
        if not oids:
            return []
        out = gitcmd.output(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
                            self.root, input="\n".join(oids).encode() + b"\n")
        entries = []
        for line in out.splitlines():
            parts = line.split(b" ")
            if len(parts) == 3 and parts[1] in _SCANNED_TYPES:
                entries.append((parts[0].decode(), parts[1].decode(), int(parts[2])))
        return entries

    def _stash_commits(self) -> list[str]:
        proc = gitcmd.run(["log", "-g", "--format=%H", "refs/stash", "--"], self.root, check=False)
        return proc.stdout.decode().split() if proc.returncode == 0 else []

    def _all_revs(self) -> list[str]:
        return ["--all", *self._stash_commits()]

    def _range_revs(self) -> list[str]:
        if self.since is not None:
            if gitcmd.resolve_commit(self.root, self.since) is None:
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
    def _attribute(self, found, log: "_Log", detector: "Detector", ranged: bool) -> Iterator[LocatedHit]:
        pending: list[tuple["Hit", str, str, str, str]] = []  # (hit, path, kind, commit, blob)
        with gitcmd.CatFile(self.root) as cat:
            old_secrets: dict[str, set[str]] = {}

            def secrets_of(oid: str) -> set[str]:
                if oid not in old_secrets:
                    got = cat.read(oid)
                    data = got[1] if got and got[0] == "blob" and len(got[1]) <= self.chunk_threshold else b""
                    old_secrets[oid] = {h.secret for h in detector.scan(data)} if data else set()
                return old_secrets[oid]

            tags: dict[str, tuple[str, str, str, str]] = {}
            for oid, (kind, hits) in found.items():
                if kind == "blob":
                    intros = log.intros.get(oid)
                    if not intros:
                        if self.include_unreachable and not ranged:
                            pending.extend((h, "<unreachable>", "unreachable", "", oid) for h in hits)
                        continue
                    for path, intro in intros.items():
                        inherited: set[str] = set()
                        if self.only_new:
                            for old in intro.old:
                                inherited |= secrets_of(old)
                        pending.extend((h, path, "blob", intro.commit, oid)
                                       for h in hits if h.secret not in inherited)
                elif kind == "commit":
                    reachable = oid in log.commits
                    if reachable or (self.include_unreachable and not ranged):
                        pending.extend((h, "<commit-message>", "commit-message" if reachable else "unreachable",
                                        oid, "") for h in hits)
                elif kind == "tag":
                    got = cat.read(oid)
                    target, name, tagger, date = _parse_tag(got[1] if got else b"")
                    tags[oid] = (target, name, tagger, date)
                    reachable = oid in log.tag_objects(self.root) or target in log.commits
                    if reachable or self.include_unreachable:
                        pending.extend((h, f"<tag-message:{name}>", "tag-message" if reachable else "unreachable",
                                        target, oid) for h in hits)
            meta: dict[str, tuple[str, str]] = {}
            for _, _, kind, commit, _ in pending:
                if commit and commit not in meta and kind != "tag-message":
                    got = cat.read(commit)
                    meta[commit] = _parse_commit_meta(got[1]) if got and got[0] == "commit" else ("", "")
        refs = self._refs_containing({p[3] for p in pending if p[3] and p[2] != "unreachable"}, log)
        at_head = self._secrets_at_head(found, {p[0].secret for p in pending}, ranged)
        for hit, path, kind, commit, blob in pending:
            if kind == "tag-message":
                target, name, tagger, date = tags[blob]
                prov = Provenance(commit=target, author=tagger, date=date, kind=kind, blob=blob,
                                  refs=(f"tags/{name}",), present_at_head=hit.secret in at_head if at_head is not None else None)
            else:
                author, date = meta.get(commit, ("", ""))
                prov = Provenance(commit=commit, author=author, date=date, kind=kind, blob=blob,
                                  refs=refs.get(commit, ()),
                                  present_at_head=(hit.secret in at_head) if at_head is not None else None)
            yield LocatedHit(hit, path, prov)

    def _refs_containing(self, commits: set[str], log: "_Log") -> dict[str, tuple[str, ...]]:
        """A few ref names whose history contains each commit (stash entries by stash@{n})."""
        stash_labels: dict[str, str] = {}
        for n, sha in enumerate(self._stash_commits()):
            label = f"stash@{{{n}}}"
            for c in (sha, *log.parents.get(sha, ())[1:]):
                stash_labels.setdefault(c, label)
        result: dict[str, tuple[str, ...]] = {}
        for i, commit in enumerate(sorted(commits)):
            names: list[str] = []
            if i < MAX_REF_LOOKUPS:
                out = gitcmd.run(["for-each-ref", f"--count={REFS_PER_FINDING}", "--contains", commit,
                                  "--format=%(refname:short)"], self.root, check=False).stdout
                names = out.decode("utf-8", "replace").split()
            elif i == MAX_REF_LOOKUPS:
                self.warnings.append(f"refs looked up for the first {MAX_REF_LOOKUPS} commits with findings only")
            if commit in stash_labels and stash_labels[commit] not in names:
                names.append(stash_labels[commit])
            result[commit] = tuple(names)
        return result

    def _secrets_at_head(self, found, secrets: set[str], ranged: bool) -> set[str] | None:
        """The secrets among ``secrets`` that a file at HEAD still holds (None without HEAD)."""
        if not secrets or gitcmd.resolve_commit(self.root, "HEAD") is None:
            return None
        if not ranged:
            out = gitcmd.output(["ls-tree", "-r", "-z", "--full-tree", "HEAD"], self.root)
            at_head: set[str] = set()
            for rec in out.split(b"\0"):
                meta = rec.partition(b"\t")[0].split(b" ")
                if len(meta) == 3 and meta[1] == b"blob":
                    oid = meta[2].decode()
                    if oid in found:
                        at_head.update(h.secret for h in found[oid][1])
            return at_head & secrets
        proc = gitcmd.run(["grep", "-h", "-o", "-I", "-F", "--no-color", "-f", "-", "HEAD", "--"],
                          self.root, input="\n".join(sorted(secrets)).encode() + b"\n", check=False)
        if proc.returncode not in (0, 1):
            return None
        return {line for line in proc.stdout.decode("utf-8", "replace").splitlines()} & secrets


class _Log:
    """One ``git log -c --raw`` pass: commits, their parents, and where blobs were introduced."""

    def __init__(self, revs: list[str], targets: set[str] | None):
        self.revs = revs
        self.targets = targets
        """Blob ids to attribute; None = all (range scans read every introduced blob)."""
        self.commits: set[str] = set()
        self.parents: dict[str, tuple[str, ...]] = {}
        self.intros: dict[str, dict[str, _Intro]] = {}
        self._tag_objects: set[str] | None = None

    def run(self, cwd: Path) -> None:
        """Walk the history once and record it."""
        args = ["log", *self.revs, "-c", "--raw", "-z", "--no-abbrev", "--no-renames", "--root",
                "--no-ext-diff", "--format=%x01%H %ct %P", "--"]
        out = gitcmd.output(args, cwd)
        targets = self.targets
        commit, ctime = "", 0
        toks = out.split(b"\0")
        i, n = 0, len(toks)
        while i < n:
            tok = toks[i]
            i += 1
            if tok[:1] == b"\n":
                tok = tok.lstrip(b"\n")
            if not tok:
                continue
            if tok[0] == 1:  # \x01 commit header
                fields = tok[1:].decode().split(" ")
                commit, ctime = fields[0], int(fields[1] or 0)
                self.commits.add(commit)
                self.parents[commit] = tuple(fields[2:])
                continue
            if tok[0] != 58:  # ':'
                continue
            path = toks[i]
            i += 1
            colons = len(tok) - len(tok.lstrip(b":"))
            meta = tok[colons:].split(b" ")
            modes = meta[:colons + 1]
            oids = meta[colons + 1:2 * colons + 2]
            new = oids[-1].decode()
            if new == ZERO or modes[-1] == _GITLINK or modes[-1] == b"000000":
                continue
            if targets is not None and new not in targets:
                continue
            spath = gitcmd.decode_path(path)
            per_path = self.intros.setdefault(new, {})
            prev = per_path.get(spath)
            if prev is None or ctime < prev.time:
                old = tuple(o.decode() for o in oids[:-1] if o.decode() != ZERO)
                per_path[spath] = _Intro(ctime, commit, old)

    def range_objects(self) -> list[str]:
        """Every commit and introduced blob of the walk (range scans)."""
        return [*self.commits, *self.intros]

    def tag_objects(self, cwd: Path) -> set[str]:
        """Annotated tag objects that refs point at (those are reachable)."""
        if self._tag_objects is None:
            out = gitcmd.output(["for-each-ref", "--format=%(objectname) %(objecttype)"], cwd)
            self._tag_objects = {line.split()[0].decode() for line in out.splitlines()
                                 if line.endswith(b" tag")}
        return self._tag_objects


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
    with tempfile.TemporaryFile() as ids:
        ids.write("".join(f"{e[0]}\n" for e in entries).encode())
        ids.seek(0)
        proc = subprocess.Popen(["git", "cat-file", "--batch", "--buffer"], cwd=cwd, stdin=ids,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=gitcmd.git_env(),
                                bufsize=1 << 16)
    gitcmd.set_pipe_size(proc.stdout.fileno())
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
                if size > max_size:
                    gitcmd.BatchReader(stream).skip(size)
                    report(("warn", f"blob {oid[:12]}: skipped, {size >> 20} MiB is above the size limit"))
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
                        hits = _scan_one(kind, data[:size], detector)
                        if hits is None:
                            skipped += 1
                        elif hits:
                            report(("hit", oid, kind, hits))
                i += 1
                report(("progress", 1))
                continue
            # a window of whole small objects
            j, total, starts = i, 0, []
            while j < n and entries[j][2] <= WINDOW and total < WINDOW:
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
            if _maybe_encoded(data, starts):
                marked.update(k for k, s in enumerate(starts)
                              if _encoded_head(data[s:s + min(entries[i + k][2], 1024)]))
            for k in sorted(marked):
                oid, kind, size = entries[i + k]
                start = starts[k]
                if data[start - len(oid) - len(kind) - len(str(size)) - 3:start] != _header(oid, kind, size):
                    raise GitError(f"git cat-file: unexpected output for {oid[:12]}")
                hits = _scan_one(kind, data[start:start + size], detector)
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


_ZIP_MAGIC = b"PK\x03\x04"
_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _maybe_encoded(window: bytes, starts: list[int]) -> bool:
    """Whether a window may hold a zip archive or UTF-16 text (the window test cannot see those).

    Only object starts are looked at for the magic bytes (an extra substring
    search over the whole window would cost as much as a needle).
    """
    if b"\0" in window:  # memchr: nearly free
        return True
    return any(window.startswith(_ZIP_MAGIC, s) or window[s:s + 2] in _BOMS for s in starts)


def _encoded_head(head: bytes) -> bool:
    """Whether an object starting with ``head`` may be a zip archive or UTF-16/32 text."""
    return head.startswith(_ZIP_MAGIC) or head[:2] in _BOMS or b"\0" in head


def _scan_one(kind: str, body: bytes, detector: "Detector") -> list | None:
    """Hits in one object's content (messages only for commits and tags); None if skipped as binary."""
    if kind in ("commit", "tag"):
        cut = body.find(b"\n\n")
        body = body[cut + 2:] if cut >= 0 else b""
        if kind == "tag":
            sig = body.find(b"-----BEGIN PGP SIGNATURE-----")
            body = body[:sig] if sig >= 0 else body
        return detector.scan(body) if body else []
    if is_skippable_binary(body):
        return None
    return detector.scan(body)


def _scan_big(stream, size: int, detector: "Detector") -> list | None:
    """Scan one huge blob in pieces; None when skipped as binary."""
    reader = gitcmd.BatchReader(stream)
    chunks = reader.chunks(size, CHUNK)
    first = next(chunks, b"")
    if is_skippable_binary(first):
        for _ in chunks:
            pass
        return None

    def pieces():
        yield first
        yield from chunks
    hits = detector.scan_chunks(pieces())
    for _ in chunks:
        pass
    return hits


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
    try:
        scan_objects(cwd, entries, detector, report, chunk_threshold, max_size)
        if pending:
            conn.send(("progress", pending))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent as one line
        conn.send(("error", str(exc) if isinstance(exc, GitError) else f"reader failed: {type(exc).__name__}"))
    finally:
        conn.send(("done",))
        conn.close()


def _run_workers(cwd, slices, detector, handle, chunk_threshold, max_size) -> None:
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    procs, conns = [], []
    try:
        for part in slices:
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker, args=(str(cwd), part, detector, send, chunk_threshold, max_size),
                            daemon=True)
            p.start()
            send.close()
            procs.append(p)
            conns.append(recv)
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
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()


# -- small parsers ---------------------------------------------------------------------
def _iso(ts: bytes, tz: bytes) -> str:
    try:
        sign = -1 if tz.startswith(b"-") else 1
        off = _dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        return _dt.datetime.fromtimestamp(int(ts), _dt.timezone(off)).isoformat()
    except (ValueError, OverflowError):
        return ""


def _person(line: bytes) -> tuple[str, str]:
    """``Name <email>`` and ISO date from an ``author``/``tagger`` header value."""
    head, _, rest = line.rpartition(b">")
    parts = rest.split()
    who = (head + b">").decode("utf-8", "replace").strip()
    return who, _iso(parts[0], parts[1]) if len(parts) >= 2 else ""


def _parse_commit_meta(raw: bytes) -> tuple[str, str]:
    """Author ``Name <email>`` and ISO author date of a raw commit object."""
    for line in raw.split(b"\n"):
        if not line:
            break
        if line.startswith(b"author "):
            return _person(line[7:])
    return "", ""


def _parse_tag(raw: bytes) -> tuple[str, str, str, str]:
    """Target id, tag name, tagger and ISO date of a raw tag object."""
    target = name = who = date = ""
    for line in raw.split(b"\n"):
        if not line:
            break
        if line.startswith(b"object "):
            target = line[7:].decode()
        elif line.startswith(b"tag "):
            name = line[4:].decode("utf-8", "replace")
        elif line.startswith(b"tagger "):
            who, date = _person(line[7:])
    return target, name, who, date
