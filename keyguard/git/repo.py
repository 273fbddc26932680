"""Repository facts: the work-tree root, the git directory, bare or shallow or not, revisions, identity,
submodule repositories."""

from __future__ import annotations

from pathlib import Path

from keyguard.errors import GitError
from keyguard.git.run import decode_path, first_line, output, run


def find_root(cwd: str | Path) -> Path | None:
    """The work-tree root containing ``cwd``, or None outside a repository (or in a bare one)."""
    proc = run(["rev-parse", "--show-toplevel"], cwd, check=False)
    if proc.returncode != 0:
        if b"not a git repository" in proc.stderr or b"must be run in a work tree" in proc.stderr:
            return None
        raise GitError(f"git rev-parse failed: {first_line(proc.stderr)}")
    top = proc.stdout.rstrip(b"\n")
    return Path(decode_path(top)) if top else None


def plain_top(cwd: str | Path) -> Path | None:
    """``cwd`` (resolved) when it is plainly the top of a work tree, known without running git:
    it holds a ``.git`` folder with a ``HEAD`` whose ``config`` sets neither ``core.worktree``
    nor ``core.bare`` (nor includes another file). None when that is not plain (a subfolder, a linked worktree's ``.git``
    file, a separate git dir...): then ask ``find_root``.

    Git finds the same repository first from there (git children get no ``GIT_DIR``:
    ``keyguard.git.run.git_env``); the pre-commit hook runs at the top, so this spares a
    ``rev-parse`` on every commit.
    """
    import os

    top = os.path.realpath(cwd)
    dot_git = os.path.join(top, ".git")
    try:
        with open(os.path.join(dot_git, "config"), "rb") as fh:
            config = fh.read(1 << 16).lower()
        if not os.path.isfile(os.path.join(dot_git, "HEAD")):
            return None
    except OSError:
        return None
    if b"worktree" in config or b"include" in config or b"bare" in config.replace(b"bare = false", b""):
        return None  # core.worktree / core.bare, maybe from an included file: let git say
    return Path(top)


def require_root(cwd: str | Path) -> Path:
    """Like ``find_root`` but a ``GitError`` when ``cwd`` is not in a work tree."""
    root = find_root(cwd)
    if root is None:
        raise GitError(f"not inside a git repository: {cwd}")
    return root


def is_bare(cwd: str | Path) -> bool:
    """Whether ``cwd`` is in a bare repository (no work tree)."""
    proc = run(["rev-parse", "--is-bare-repository"], cwd, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


def is_shallow(cwd: str | Path) -> bool:
    """Whether the repository is a shallow clone (``git clone --depth``): it holds only part of history."""
    proc = run(["rev-parse", "--is-shallow-repository"], cwd, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


SHALLOW_WARNING = ("shallow clone: this repository holds only part of its history (git clone --depth); "
                   "commits before the shallow boundary were not scanned (git fetch --unshallow to scan all)")
"""The one sentence every history scan, audit and incident of a shallow clone carries."""


def submodule_repos(cwd: str | Path) -> list[tuple[str, Path]]:
    """``(name, git directory)`` of each submodule repository under the common ``.git/modules/``
    (nested submodules as ``outer/inner``), sorted; none in a repository without submodules."""
    top = common_dir(cwd) / "modules"
    found: list[tuple[str, Path]] = []

    def walk(folder: Path, prefix: str, depth: int) -> None:
        if depth > 20 or not folder.is_dir() or folder.is_symlink():
            return
        for child in sorted(folder.iterdir()):
            if child.is_symlink() or not child.is_dir():
                continue
            name = f"{prefix}{child.name}"
            if (child / "HEAD").is_file() and (child / "objects").is_dir():
                found.append((name, child))
                walk(child / "modules", name + "/", depth + 1)  # its own submodules
            else:
                walk(child, name + "/", depth + 1)  # a module name with a slash (libs/foo)
    walk(top, "", 0)
    return found


def git_dir(cwd: str | Path) -> Path:
    """The repository's git directory (works in bare repositories too)."""
    return Path(decode_path(output(["rev-parse", "--absolute-git-dir"], cwd).rstrip(b"\n")))


def common_dir(cwd: str | Path) -> Path:
    """The repository's shared ``.git`` directory (the same for every worktree)."""
    p = Path(decode_path(output(["rev-parse", "--git-common-dir"], cwd).rstrip(b"\n")))
    return p if p.is_absolute() else (Path(cwd) / p).resolve()


def require_repo(cwd: str | Path) -> Path:
    """The work-tree root, or for a bare repository (a mirror) its git directory.

    History scans, audits and incidents need no work tree, so they run in mirrors too.
    """
    if not Path(cwd).is_dir():
        raise GitError(f"{cwd}: not a directory")
    root = find_root(cwd)
    if root is not None:
        return root
    if is_bare(cwd):
        return git_dir(cwd)
    raise GitError(f"not inside a git repository: {cwd}")


def resolve_commit(cwd: str | Path, rev: str) -> str | None:
    """The full commit id ``rev`` names, or None when it names no commit."""
    if rev.startswith("-"):
        raise GitError(f"not a revision: {rev!r}")
    proc = run(["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip().decode("ascii")


def empty_tree(cwd: str | Path) -> str:
    """The id of the empty tree in this repository's object format (sha1 or sha256)."""
    return output(["hash-object", "--no-filters", "-t", "tree", "--stdin"], cwd,
                  input=b"").strip().decode("ascii")


def remote_url(cwd: str | Path, name: str = "origin") -> str:
    """The URL of remote ``name``, or "" when there is none."""
    out = output(["remote", "get-url", name], cwd, ok=(0, 2, 128))
    return out.decode("utf-8", "replace").strip()


def identity(cwd: str | Path) -> str:
    """What ties a cache to one repository: its root commits (stable across clones and CI runners)."""
    proc = run(["rev-list", "--max-parents=0", "HEAD", "--"], cwd, check=False)
    roots = sorted(proc.stdout.decode().split()) if proc.returncode == 0 else []
    return "roots:" + ",".join(roots) if roots else "empty"


def clone_mirror(source: Path, dest: Path) -> None:
    """``git clone --mirror --no-local SOURCE DEST`` (a full, independent copy of every ref)."""
    output(["clone", "--mirror", "--no-local", "-q", "--", str(source), str(dest)], source)
