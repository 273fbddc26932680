"""The ``git`` calls of the incident command, on top of ``keyguard.sources.gitcmd``.

``gitcmd`` owns running git (the ``GIT_*`` scrubbed environment, one-line
``GitError``s); this module adds the few queries an incident needs: every
object of the store as a stream, refs containing a commit, stash entries, the
remote's URL. The secret is never passed on a command line (it would show in
``ps``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator, Sequence

from keyguard.errors import GitError
from keyguard.sources import gitcmd
from keyguard.sources.gitcmd import git_env, zsplit  # noqa: F401 - re-exported for this package


def git(cwd: str | Path, *args: str, input: bytes | None = None, ok: Sequence[int] = (0,)) -> bytes:
    """Run ``git args`` in ``cwd``; its stdout, or GitError when the exit code is not in ``ok``."""
    proc = gitcmd.run(args, cwd, input=input, check=False)
    if proc.returncode not in ok:
        lines = [x.strip() for x in proc.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
        raise GitError(f"git {args[0]} failed: {lines[0][:300] if lines else f'exit {proc.returncode}'}")
    return proc.stdout


def popen(cwd: str | Path, *args: str) -> subprocess.Popen:
    """Start ``git args`` with stdout piped (for streaming big outputs)."""
    try:
        return subprocess.Popen(["git", *args], cwd=cwd, env=git_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None


def repo_root(path: str | Path) -> Path:
    """The top of the work tree holding ``path`` (or the git dir of a bare repo)."""
    path = Path(path)
    if not path.is_dir():
        raise GitError(f"{path}: not a directory")
    try:
        bare = git(path, "rev-parse", "--is-bare-repository").strip() == b"true"
    except GitError:
        raise GitError(f"{path}: not inside a git repository") from None
    if bare:
        return Path(git(path, "rev-parse", "--absolute-git-dir").decode().strip())
    return Path(git(path, "rev-parse", "--show-toplevel").decode().strip())


def is_bare(root: Path) -> bool:
    """Whether ``root`` is a bare repository (no work tree)."""
    return git(root, "rev-parse", "--is-bare-repository").strip() == b"true"


def common_dir(root: Path) -> Path:
    """The repository's shared ``.git`` directory (the same for every worktree)."""
    out = git(root, "rev-parse", "--git-common-dir").decode().strip()
    p = Path(out)
    return (root / p).resolve() if not p.is_absolute() else p


def has_commits(root: Path) -> bool:
    """Whether any ref points anywhere (an empty repository has none)."""
    return bool(git(root, "for-each-ref", "--count=1", "--format=%(refname)").strip())


def refs_containing(root: Path, commit: str) -> list[str]:
    """Short names of branches, remote branches, tags and refs/stash whose history holds ``commit``."""
    out = git(root, "for-each-ref", "--contains", commit, "--format=%(refname)")
    names = []
    for full in out.decode("utf-8", "replace").splitlines():
        for prefix in ("refs/heads/", "refs/tags/", "refs/remotes/"):
            if full.startswith(prefix):
                full = full[len(prefix):] if prefix != "refs/tags/" else "tag:" + full[len(prefix):]
                break
        names.append(full)
    return names


def stash_entries(root: Path) -> list[tuple[str, str]]:
    """``(stash@{n}, commit)`` for every stash entry, newest first."""
    out = git(root, "reflog", "show", "--format=%H", "refs/stash", "--", ok=(0, 128))
    commits = out.decode().split()
    return [(f"stash@{{{i}}}", c) for i, c in enumerate(commits)]


def remote_url(root: Path, name: str = "origin") -> str:
    """The URL of remote ``name``, or "" when there is none."""
    out = git(root, "remote", "get-url", name, ok=(0, 2, 128))
    return out.decode("utf-8", "replace").strip()


CHUNK = 1 << 20
"""Bytes read at a time from big objects."""


def all_objects(root: Path, stats: dict[str, int] | None = None) -> Iterator[tuple[str, str, Iterator[bytes]]]:
    """Every object of the store, reachable or not: ``(oid, type, chunks)``.

    ``chunks`` yields the contents in pieces of at most ``CHUNK`` bytes (bounded
    memory for big blobs); what the caller does not read is skipped.
    """
    proc = popen(root, "cat-file", "--batch-all-objects", "--batch", "--unordered")
    out = proc.stdout
    assert out is not None
    n_obj = n_bytes = 0
    try:
        while True:
            header = out.readline()
            if not header:
                break
            parts = header.split()
            if len(parts) != 3:
                continue
            oid, otype, size = parts[0].decode(), parts[1].decode(), int(parts[2])
            n_obj += 1
            n_bytes += size
            left = [size]

            def chunks(left=left) -> Iterator[bytes]:
                while left[0] > 0:
                    chunk = out.read(min(CHUNK, left[0]))
                    if not chunk:
                        raise GitError("git cat-file ended in the middle of an object")
                    left[0] -= len(chunk)
                    yield chunk

            yield oid, otype, chunks()
            while left[0] > 0:  # skip what the caller did not read
                chunk = out.read(min(CHUNK, left[0]))
                if not chunk:
                    raise GitError("git cat-file ended in the middle of an object")
                left[0] -= len(chunk)
            out.read(1)  # the newline after the contents
    finally:
        out.close()
        err = proc.stderr.read() if proc.stderr else b""
        rc = proc.wait()
        if stats is not None:
            stats["objects"] = n_obj
            stats["object_bytes"] = n_bytes
    if rc != 0:
        line = err.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git cat-file failed: {line[0] if line else f'exit {rc}'}")
