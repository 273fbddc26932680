"""What a commit would add: the index, as ``keyguard scan --staged`` (the pre-commit hook) sees it.

The text scanned is the *index* content (so ``git add -p`` partial staging is
judged by what is staged, not by the working tree), and only hits on lines the
staged diff adds are reported; files git cannot diff by lines (binary, zip,
UTF-16) report all their hits. In a repository without commits the diff is
against the empty tree. With ``files=[...]`` (what pre-commit hands the hook)
exactly those paths are scanned: the ones with staged changes for the lines
the commit adds, the others whole (``pre-commit run --files/--all-files``
with nothing staged must really scan what it names).

A key in the name of a path the commit adds is found from the staged entries
(``keyguard.sources.names``: one prefilter pass over the joined names, no git call).

This is the hot path of every commit. The steps:

1. ``git diff-index --cached --raw -z`` (``keyguard.git.diff.staged_raw``): the
   status, mode and blob id of every staged path; one small git call.
2. Each added or modified blob is read whole (``_Blobs``): from the work tree
   when the file there hashes to the staged blob's id (the usual case: pre-commit
   stashes unstaged changes first; the hash makes it exact, so partial staging,
   filters and a file edited meanwhile fall back), else from one ``git cat-file
   --batch`` started on first need. The detector's prefilter runs on it; only a
   blob with a needle is scanned.
3. Hits in an added file are on added lines. Only for a *modified* file that
   holds a hit is the ``-U0`` patch asked for (``staged_patch`` of those paths,
   one call, read through a memfd) and the hits kept on the lines it adds.

A clean commit costs one git call, a key in a new file too, a key in a modified
file two. Reading blobs rather than the whole patch: sqlalchemy's tree staged as
a first commit (929 files, 25 MB) no longer makes git write and Python cut a 27 MB
patch (the patch alone cost git as much as kingfisher's whole scan).
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path

from keyguard.git import diff as gdiff
from keyguard.git import objects as gobjects
from keyguard.git import run as grun
from keyguard.sources.interface import LocatedHit, Source
from keyguard.sources import blob
from keyguard.sources.blob import CHUNK_THRESHOLD, MAX_SIZE

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Iterator, Sequence
    from keyguard.detect.detector import Detector
    from keyguard.model import Hit

_GITLINK = "160000"
_REGULAR = ("100644", "100755")
SMALL_HASH = 1 << 20
"""Work-tree files are hashed with the built-in ``_sha1`` (no OpenSSL to load: ~4 ms of every
commit) until a run has hashed this many bytes; then with ``hashlib`` (8x faster per byte)."""


class _FileDiff:
    """What the staged patch says about one path."""

    __slots__ = ("binary", "starts", "ends")

    def __init__(self) -> None:
        self.binary = False
        self.starts: list[int] = []  # first line of each added range (sorted)
        self.ends: list[int] = []    # one past its last line

    def is_added(self, line: int, last: int = 0) -> bool:
        """Whether 1-based ``line`` (or any line up to ``last``) of the new content is an added line."""
        i = bisect.bisect_right(self.starts, max(line, last)) - 1
        return i >= 0 and line < self.ends[i]


class StagedSource(Source):
    """The staged changes of the repository at ``root`` (or, with ``files``, those index files whole).

    ``root``: the work-tree root. ``files``: paths (relative to the current
    directory, or absolute) whose whole index content is scanned instead of the
    staged diff; a path that is not in the index is read from disk.
    ``chunk_threshold``/``max_size``: see the module constants.
    """

    kind = "staged"

    def __init__(self, root: str | Path, files: Sequence[str | Path] | None = None,
                 chunk_threshold: int = CHUNK_THRESHOLD, max_size: int = MAX_SIZE):
        super().__init__()
        self.root = Path(root)
        self.files = list(files) if files is not None else None
        self.chunk_threshold = chunk_threshold
        self.max_size = max_size
        # keep GIT_INDEX_FILE: `git commit -a` runs the hook on a temporary index
        self.env = grun.git_env(keep_index=True)
        self.stats = {"files": 0, "bytes": 0, "skipped": 0}

    # -- the staged diff -------------------------------------------------
    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Hits on added lines of staged files (or in the whole of ``files``)."""
        base, raw = gdiff.staged_raw(self.root, self.env)
        entries = _parse_raw(raw)
        only: set[str] | None = None
        if self.files is not None:
            rel, outside = self._split_files()
            staged = {path for _, _, _, _, path in entries}
            only = {p for p in rel if p in staged}
            yield from self._whole_files(detector, [p for p in rel if p not in staged], outside)
            if not only:
                return
        # a key in the name of a path the commit adds (in memory: no git call)
        added = [e[4] for e in entries if e[0] == "A" and (only is None or e[4] in only)]
        if added:
            from keyguard.sources import names  # a commit that only changes files never imports it
            for hit, _, shown in names.in_names(added, detector):
                yield LocatedHit(hit, shown)
        found: list[tuple[str, list[Hit], bool]] = []  # (path, hits, all of its lines are added)
        modified: list[str] = []
        with _Blobs(self) as blobs:
            for status, new_mode, old_id, new_id, path in entries:
                if status not in "AMT" or new_mode == _GITLINK or grun.is_null_id(new_id):
                    continue
                if only is not None and path not in only:
                    continue
                self.stats["files"] += 1
                if new_id == old_id:
                    continue  # mode-only change: no content added
                hits = blobs.scan(new_id, new_mode, path, detector)
                if not hits:
                    continue
                whole = status != "M"  # added, or a symlink that became a file: every line is new
                found.append((path, hits, whole))
                if not whole:
                    modified.append(path)
        diffs = (_parse_patch(gdiff.staged_patch(self.root, self.env, base, modified))
                 if modified else {})
        for path, hits, whole in found:
            d = None if whole else diffs.get(path)
            if d is not None and d.binary:
                d = None  # git cannot diff it by lines: every hit counts
            elif d is None and not whole:
                continue  # the patch adds nothing to it
            for hit in hits:
                # a hit over several lines (wrapped base64) counts when any of them is added
                if d is None or d.is_added(hit.line, hit.end_line) or hit.line == 0:  # line 0: a ``limit:`` note
                    yield LocatedHit(hit, path)

    # -- whole index files (pre-commit --files / --all-files) ------------
    def _split_files(self) -> tuple[list[str], list[Path]]:
        """``files`` as repo-relative paths, and those outside the repository."""
        rel: list[str] = []
        outside: list[Path] = []
        for f in self.files or ():
            p = Path(f)
            absolute = p if p.is_absolute() else Path.cwd() / p
            r = os.path.relpath(absolute, self.root)
            if r == ".." or r.startswith(".." + os.sep):
                outside.append(absolute)
            else:
                rel.append(r.replace(os.sep, "/"))
        return rel, outside

    def _whole_files(self, detector: "Detector", rel: list[str], outside: list[Path]) -> Iterator[LocatedHit]:
        outside = list(outside)
        index: dict[str, tuple[str, str]] = {}
        if rel:
            out = grun.output(["--literal-pathspecs", "ls-files", "-s", "-z", "--full-name", "--", *rel],
                                self.root, env=self.env)
            for rec in out.split(b"\0"):
                if not rec:
                    continue
                meta, _, raw_path = rec.partition(b"\t")
                mode, oid, stage = meta.split()
                path = grun.decode_path(raw_path)
                if stage in (b"0", b"2"):  # stage 2 = ours during a conflicted merge
                    index[path] = (mode.decode(), oid.decode())
        with _Blobs(self) as blobs:
            for path in rel:
                if path not in index:
                    outside.append(self.root / path)
                    continue
                mode, oid = index[path]
                if mode == _GITLINK:
                    continue
                self.stats["files"] += 1
                for hit in blobs.scan(oid, mode, path, detector):
                    yield LocatedHit(hit, path)
        if outside:
            # not in the index (untracked, or outside the repository): scan the file on disk
            from keyguard.sources.worktree import WorktreeSource
            disk = WorktreeSource(self.root, paths=outside, in_repo=False,
                                  chunk_threshold=self.chunk_threshold, max_size=self.max_size)
            yield from disk.located_hits(detector)
            self.warnings.extend(disk.warnings)
            for k, v in disk.stats.items():
                self.stats[k] = self.stats.get(k, 0) + v


class _Blobs:
    """Reads staged blobs and runs the detector over them (``scan``); counts into the source's stats.

    A blob comes from the work tree when the regular file at its path has the
    blob's exact content (its git object id is recomputed: ``_worktree_copy``),
    else from a ``git cat-file --batch`` started on first need.
    """

    def __init__(self, source: StagedSource):
        self.source = source
        self.root = os.fsencode(source.root)
        self.cat: gobjects.CatFile | None = None
        self.hashed = 0
        """Bytes of work-tree files read so far."""

    def __enter__(self) -> "_Blobs":
        return self

    def __exit__(self, *exc) -> None:
        if self.cat is not None:
            self.cat.close()

    def scan(self, oid: str, mode: str, path: str, detector: "Detector") -> list["Hit"]:
        """The hits in blob ``oid`` (staged at ``path`` with ``mode``); [] when skipped."""
        src = self.source
        data = None
        if mode in _REGULAR:
            data = _worktree_copy(os.path.join(self.root, os.fsencode(path)), oid,
                                  min(src.chunk_threshold, src.max_size), self.hashed)
        if data is not None:
            self.hashed += len(data)
            src.stats["bytes"] += len(data)
            hits = blob.scan_whole(data, detector)
        else:
            hits = self._scan_object(oid, path, detector)
        if hits is None:
            src.stats["skipped"] += 1
            return []
        return hits

    def _scan_object(self, oid: str, path: str, detector: "Detector") -> list["Hit"] | None:
        src = self.source
        if self.cat is None:
            self.cat = gobjects.CatFile(src.root, env=src.env)
        cat = self.cat
        head = cat.open(oid)
        if head is None:
            src.warnings.append(f"{path}: staged blob {oid[:12]} is missing from the object store")
            return []
        _, size = head
        warning = blob.too_big(path, size, src.max_size)
        if warning:
            cat.reader.skip(size)
            src.warnings.append(warning)
            return None
        src.stats["bytes"] += size
        if size > src.chunk_threshold:
            chunks = cat.reader.chunks(size, blob.CHUNK)
            return blob.scan_pieces(next(chunks, b""), chunks, detector)
        return blob.scan_whole(cat.reader.body(size), detector)


def _worktree_copy(file: bytes, oid: str, limit: int, hashed: int) -> bytes | None:
    """The content of the regular ``file`` if it is exactly the blob ``oid`` (and at most
    ``limit`` bytes); None otherwise (missing, not a regular file, different, too big).

    What is returned hashes to ``oid``, so it is the staged content even if the file
    is being written meanwhile. ``hashed``: bytes the run hashed before (see ``SMALL_HASH``).
    """
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        size = st.st_size
        if (st.st_mode & 0o170000) != 0o100000 or size > limit:
            return None
        data = os.read(fd, size)
        if 0 < len(data) < size:  # a short read
            parts = [data]
            got = len(data)
            while got < size:
                part = os.read(fd, size - got)
                if not part:
                    break
                parts.append(part)
                got += len(part)
            data = b"".join(parts)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) != size or _object_id(data, len(oid), hashed + size > SMALL_HASH) != oid:
        return None
    return data


def _object_id(data: bytes, hex_len: int, fast: bool) -> str:
    """The git blob id of ``data`` (SHA-1, or SHA-256 for 64-digit ids); ``fast``: through
    ``hashlib`` (OpenSSL, ~1.8 GB/s, ~4 ms to load) rather than the built-in ``_sha1`` (~0.2 GB/s)."""
    head = b"blob %d\0" % len(data)
    if hex_len == 40 and not fast:
        try:
            from _sha1 import sha1  # CPython's built-in: no OpenSSL to load
        except ImportError:  # pragma: no cover - another Python
            from hashlib import sha1
    else:
        import hashlib
        sha1 = hashlib.sha1 if hex_len == 40 else hashlib.sha256
    h = sha1(head)
    h.update(data)
    return h.hexdigest()


def _parse_raw(out: bytes) -> list[tuple[str, str, str, str, str]]:
    """``--raw -z`` output: [(status, new_mode, old_id, new_id, path)]."""
    entries = []
    pos, n = 0, len(out)
    while pos < n and out[pos] == 58:  # ':'
        meta_end = out.index(b"\0", pos)
        path_end = out.index(b"\0", meta_end + 1)
        _old_mode, new_mode, old_id, new_id, status = out[pos + 1:meta_end].split(b" ")
        entries.append((status[:1].decode(), new_mode.decode(), old_id.decode(), new_id.decode(),
                        grun.decode_path(out[meta_end + 1:path_end])))
        pos = path_end + 1
    return entries


def _header_path(rest: bytes) -> bytes:
    """The path of a ``diff --git a/P b/P`` header (``rest`` is what follows ``diff --git ``)."""
    if rest.startswith(b'"'):
        i = 1
        while i < len(rest) and rest[i] != 34:
            i += 2 if rest[i] == 92 else 1
        b_part = rest[i + 2:]
        return grun.c_unquote(b_part)[2:]
    length = (len(rest) - 5) // 2
    return rest[len(rest) - length:]


def _parse_patch(patch: bytes) -> dict[str, _FileDiff]:
    """Per path: binary or not, and the added line ranges of a ``-U0`` patch."""
    diffs: dict[str, _FileDiff] = {}
    current: _FileDiff | None = None
    in_hunk = False
    for line in patch.split(b"\n"):
        if in_hunk and line[:1] == b"+":
            continue
        if line.startswith(b"diff --git "):
            path = grun.decode_path(_header_path(line[11:]))
            current = diffs.setdefault(path, _FileDiff())
            in_hunk = False
        elif current is None:
            continue
        elif line.startswith(b"@@ "):
            in_hunk = True
            plus = line.split(b" ", 3)[2]  # +c[,d]
            start, _, count = plus[1:].partition(b",")
            c, d = int(start), int(count) if count else 1
            if d:
                i = bisect.bisect_right(current.starts, c)
                current.starts.insert(i, c)
                current.ends.insert(i, c + d)
        elif not in_hunk and line.startswith(b"Binary files "):
            current.binary = True
    return diffs
