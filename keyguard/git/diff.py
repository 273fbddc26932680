"""The staged change as git states it: the raw entry list, and the ``-U0`` patch of chosen paths.

``keyguard scan --staged`` (the pre-commit hook) asks git two things, both of
the index against HEAD (against the empty tree in a repository without
commits): ``staged_raw`` (``diff-index --cached --raw -z``: status, modes and
blob ids of every staged path; one small call, ~3 ms even for a 929-file
first commit) and, only when a modified file holds a hit, ``staged_patch`` for
those paths (which lines the commit adds). ``keyguard.sources.staged`` reads
the blobs and maps the hits. The command lines are ``keyguard.git.run``'s
hardened one plus ``--no-ext-diff --no-textconv`` (no diff driver of the
repository runs); the caller passes the child environment
(``git_env(keep_index=True)`` keeps the ``GIT_INDEX_FILE`` of ``git commit -a``).

On Linux git writes the patch into an anonymous memory file (``memfd``) rather
than a pipe: git flushes a pipe after every file, and a 27 MB first-commit
patch took 1.15 s through a pipe against 0.88 s through a memfd (7 alternating runs).

Only the standard library is imported (this is on the pre-commit hook path).
"""

from __future__ import annotations

import os
from pathlib import Path

from keyguard.git import repo as grepo
from keyguard.git import run as grun

_COMMON = ("--cached", "-z", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames")
_RAW = ("-c", "core.quotePath=false", "diff-index", "--raw", *_COMMON)
_PATCH = ("-c", "core.quotePath=false", "--literal-pathspecs", "diff-index", "--patch", "-U0", *_COMMON,
          "--src-prefix=a/", "--dst-prefix=b/")
MAX_PATHSPECS = 1000
"""More paths than this: ``staged_patch`` asks for the whole patch (a command line has a limit)."""


def staged_raw(cwd: str | Path, env: dict[str, str]) -> tuple[str, bytes]:
    """``(base, raw)``: what the index is compared with (``HEAD``, or the empty tree's id in a
    repository without commits) and the ``--raw -z`` entries of every staged path.

    A one-line ``GitError`` with git's message when git fails.
    """
    proc = grun.run([*_RAW, "HEAD", "--"], cwd, check=False, env=env)
    if proc.returncode == 0:
        return "HEAD", proc.stdout
    if grepo.resolve_commit(cwd, "HEAD") is not None:
        grun.run([*_RAW, "HEAD", "--"], cwd, env=env)  # raises with git's message
    # no commits yet: everything in the index is added
    tree = grepo.empty_tree(cwd)
    return tree, grun.output([*_RAW, tree, "--"], cwd, env=env)


def staged_patch(cwd: str | Path, env: dict[str, str], base: str, paths: list[str]) -> bytes:
    """The ``-U0`` patch of the index against ``base`` for ``paths`` (all paths past ``MAX_PATHSPECS``).

    A one-line ``GitError`` with git's message when git fails.
    """
    args = [*_PATCH, base, "--", *(paths if len(paths) <= MAX_PATHSPECS else ())]
    code, out = _read(args, cwd, env)
    if code != 0:
        grun.run(args, cwd, env=env)  # raises with git's message
    return out


def _read(args: list[str], cwd: str | Path, env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``git ARGS``: its exit code and its whole stdout (through a memfd where there is one)."""
    if not hasattr(os, "memfd_create"):  # pragma: no cover - not Linux
        proc = grun.run(args, cwd, check=False, env=env)
        return proc.returncode, proc.stdout
    fd = os.memfd_create("keyguard-diff", os.MFD_CLOEXEC)
    try:
        code = grun.run_into(args, cwd, fd, env=env)
        os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, "rb", closefd=False) as fh:
            return code, fh.read()
    finally:
        os.close(fd)
