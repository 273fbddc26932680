"""Files as they are on disk: ``keyguard scan [PATH...]``.

Without paths: the repository's tracked and untracked-but-not-ignored files
(``git ls-files --cached --others --exclude-standard``), skipping tracked files
deleted from disk, and the same of each checked-out submodule (its files
reported under its path: ``libs/vendor/config.py``; nested ones too). With
paths inside a repository, folders are listed through git (so ``.gitignore``
holds) and files named explicitly are always scanned;
outside a repository the file system is walked (``.git`` folders skipped).
Symbolic links are never followed, so nothing outside the tree is read.
A key in a file or folder name is reported on the path, redacted
(``keyguard.sources.names``).
A report keyguard wrote itself (``keyguard.sources.own_reports``) whose every
hit is suppressed is dropped, so an audit's reports do not come back as noise.
Files above ``chunk_threshold`` are read in pieces through
``Detector.scan_chunks`` (bounded memory); above ``max_size`` (none by default) they are skipped
with a warning, as are unreadable files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Sequence

from keyguard.git import run as grun
from keyguard.sources.interface import LocatedHit, Source
from keyguard.sources import blob, names
from keyguard.sources.blob import CHUNK, CHUNK_THRESHOLD, MAX_SIZE

if TYPE_CHECKING:
    from keyguard.detect.detector import Detector
    from keyguard.model import Hit



class WorktreeSource(Source):
    """Files on disk under ``root`` (a repository root, or any folder when ``in_repo`` is False).

    ``paths``: files/folders to scan instead of the whole repository (absolute
    or relative to the current directory). ``in_repo``: whether ``root`` is a
    git work tree (list through git, respect ``.gitignore``).
    """

    kind = "worktree"

    def __init__(self, root: str | Path, paths: Sequence[str | Path] | None = None, in_repo: bool = True,
                 chunk_threshold: int = CHUNK_THRESHOLD, max_size: int = MAX_SIZE):
        super().__init__()
        self.root = Path(root).absolute()
        self.paths = [Path(p) for p in paths] if paths is not None else None
        self.in_repo = in_repo
        self.chunk_threshold = chunk_threshold
        self.max_size = max_size
        self.stats = {"files": 0, "bytes": 0, "skipped": 0}

    def located_hits(self, detector: "Detector") -> Iterator[LocatedHit]:
        """Hits in every selected file, with repository-relative paths; then keys in their names."""
        listed = []
        for display, full in self._files():
            listed.append(display)
            for hit in self._scan_file(full, display, detector):
                yield LocatedHit(hit, display)
        for hit, _, shown in names.in_names(listed, detector):
            yield LocatedHit(hit, shown)

    # -- which files -------------------------------------------------------
    def _files(self) -> Iterator[tuple[str, Path]]:
        """``(display path, file path)`` of each file to scan, each once."""
        seen: set[str] = set()
        for display, full in self._candidates():
            if display not in seen:
                seen.add(display)
                yield display, full

    def _candidates(self) -> Iterator[tuple[str, Path]]:
        if self.paths is None:
            if self.in_repo:
                yield from self._git_listed([])
            else:
                yield from self._walk(self.root)
            return
        in_git: list[str] = []
        for p in self.paths:
            full = Path(os.path.abspath(p))
            rel = os.path.relpath(full, self.root)
            inside = not (rel == ".." or rel.startswith(".." + os.sep))
            if os.path.islink(full):
                self.stats["skipped"] += 1
                self.warnings.append(f"{p}: symbolic link not followed")
            elif full.is_file():
                yield (rel.replace(os.sep, "/") if inside else str(p)), full
            elif full.is_dir():
                if self.in_repo and inside:
                    in_git.append(rel)
                else:
                    yield from self._walk(full)
            elif not full.exists():
                self.warnings.append(f"{p}: no such file or folder")
        if in_git:
            yield from self._git_listed(in_git)

    def _git_listed(self, rel_paths: list[str], top: Path | None = None, prefix: str = "",
                    depth: int = 0) -> Iterator[tuple[str, Path]]:
        top = self.root if top is None else top
        out = grun.output(["--literal-pathspecs", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard", "--full-name", "--", *rel_paths], top)
        submodules = (top / ".gitmodules").is_file() and depth < 8
        for path in grun.zsplit(out):
            full = top / path
            if submodules and (full / ".git").exists() and full.is_dir() and not full.is_symlink():
                # a checked-out submodule (git lists it as one entry): its own files, under its path
                yield from self._git_listed([], full, f"{prefix}{path}/", depth + 1)
                continue
            yield prefix + path, full

    def _walk(self, top: Path) -> Iterator[tuple[str, Path]]:
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(filenames):
                full = Path(dirpath, name)
                rel = os.path.relpath(full, self.root)
                if rel == ".." or rel.startswith(".." + os.sep):
                    rel = str(full)
                yield rel.replace(os.sep, "/"), full

    # -- reading one file ----------------------------------------------------
    def _scan_file(self, full: Path, display: str, detector: "Detector") -> list["Hit"]:
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return []  # tracked but deleted from disk
        except OSError as exc:
            self._unreadable(display, exc)
            return []
        if not stat.S_ISREG(st.st_mode):
            return []  # symlinks (never followed), submodule folders, fifos
        warning = blob.too_big(display, st.st_size, self.max_size)
        if warning:
            self.stats["skipped"] += 1
            self.warnings.append(warning)
            return []
        try:
            with open(full, "rb") as fh:
                if st.st_size > self.chunk_threshold:
                    return self._scan_big(fh, display, detector)
                data = fh.read()
        except OSError as exc:
            self._unreadable(display, exc)
            return []
        self.stats["files"] += 1
        hits = blob.scan_whole(data, detector)
        if hits is None:
            self.stats["skipped"] += 1
            return []
        self.stats["bytes"] += len(data)
        if hits and all(h.suppressed for h in hits):
            from keyguard.sources.own_reports import is_own_report
            if is_own_report(data):
                return []  # keyguard's own report: its redacted keys are not news
        return hits

    def _scan_big(self, fh: BinaryIO, display: str, detector: "Detector") -> list["Hit"]:
        first = fh.read(CHUNK)
        self.stats["files"] += 1
        counter = self.stats
        counter["bytes"] += len(first)

        def rest() -> Iterator[bytes]:
            while True:
                data = fh.read(CHUNK)
                if not data:
                    return
                counter["bytes"] += len(data)
                yield data
        hits = blob.scan_pieces(first, rest(), detector)
        if hits is None:
            self.stats["skipped"] += 1
            counter["bytes"] -= len(first)
            return []
        return hits

    def _unreadable(self, display: str, exc: OSError) -> None:
        self.stats["skipped"] += 1
        self.warnings.append(f"{display}: not readable ({exc.strerror or type(exc).__name__})")
