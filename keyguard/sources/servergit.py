"""The git calls of server-side work: organisation mirrors and pushes under quarantine.

Every ``git`` this module runs goes through ``keyguard.sources.gitcmd`` (one
scrubbed environment, one-line ``GitError``s); it is kept apart so it can move
as one piece into the git layer.

Mirrors (``keyguard audit --repos``): ``git clone --mirror`` into a temp folder
renamed into place when complete (an interrupted clone never looks like a
mirror), then ``git fetch --prune`` on later nights. Both run with
``GIT_TERMINAL_PROMPT=0`` so an unreachable or private URL fails at once
instead of waiting for a password.

Pushes (``keyguard scan --pre-receive``): while a pre-receive hook runs, the
pushed objects sit in a quarantine folder that git names in
``GIT_OBJECT_DIRECTORY`` (with the repository's own objects in
``GIT_ALTERNATE_OBJECT_DIRECTORIES``, and the folder in
``GIT_QUARANTINE_PATH``). ``gitcmd.git_env`` drops every ``GIT_*`` variable a
hook inherits, so ``keep_push_quarantine`` lets those three through (made
absolute) for the rest of the hook process: without them git cannot see what
is being pushed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from keyguard.errors import GitError
from keyguard.sources import gitcmd

QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def hide_credentials(text: str) -> str:
    """``text`` with the user:password part of any URL in it removed."""
    return _USERINFO.sub("", text)


def _network_env() -> dict[str, str]:
    env = gitcmd.git_env()
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _run(args: list[str], cwd: str | Path, env: dict[str, str] | None = None) -> bytes:
    try:
        return gitcmd.output(args, cwd, env=env)
    except GitError as exc:
        raise GitError(hide_credentials(str(exc))) from None


def refs_state(gitdir: Path) -> dict[str, str]:
    """``{ref name: object id}`` of a repository."""
    out = _run(["for-each-ref", "--format=%(objectname) %(refname)"], gitdir)
    return dict(reversed(line.decode("utf-8", "surrogateescape").split(" ", 1))
                for line in out.splitlines() if b" " in line)


def update_mirror(url: str, dest: Path) -> dict:
    """Clone ``url`` as a bare mirror at ``dest``, or fetch what changed since the last time.

    Returns ``{"cloned": 0|1, "refs_updated": n}`` (refs added, moved or deleted). When a
    fetch fails and the cached mirror itself is unreadable (corrupt), it is replaced by a
    fresh clone and ``"replaced"`` says why; when the mirror is fine the ``GitError`` is
    raised (the remote is unreachable) and the mirror kept for the next night.
    """
    env = _network_env()
    replaced = ""
    if (dest / "HEAD").is_file() and (dest / "objects").is_dir():
        try:
            before = refs_state(dest)
            _run(["fetch", "--prune", "--quiet", "origin"], dest, env=env)
            after = refs_state(dest)
            changed = sum(1 for r in set(before) | set(after) if before.get(r) != after.get(r))
            return {"cloned": 0, "refs_updated": changed}
        except GitError as exc:
            if mirror_readable(dest):
                raise  # the mirror is fine: the remote is the problem; keep the mirror
            replaced = f"the cached mirror was unreadable ({exc}); cloned again"
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run(["clone", "--mirror", "--quiet", "--no-hardlinks", "--", url, str(tmp)], dest.parent, env=env)
    except GitError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, dest)
    result: dict = {"cloned": 1, "refs_updated": len(refs_state(dest))}
    if replaced:
        result["replaced"] = replaced
    return result


def mirror_readable(gitdir: Path) -> bool:
    """Whether every object of a repository can be read (a cheap check: object headers only;
    git lists an object it cannot read as ``missing`` and still exits 0)."""
    try:
        out = gitcmd.output(["cat-file", "--batch-all-objects", "--batch-check"], gitdir)
        refs_state(gitdir)
    except GitError:
        return False
    return b" missing\n" not in out


# -- pushes under quarantine ------------------------------------------------------------

def keep_push_quarantine(environ=os.environ) -> bool:
    """Let the hook's quarantine variables reach every later git call; True if there were any."""
    kept = False
    for name in QUARANTINE_VARS:
        value = environ.get(name)
        if not value:
            continue
        if name == "GIT_ALTERNATE_OBJECT_DIRECTORIES":
            value = os.pathsep.join(os.path.abspath(p) for p in value.split(os.pathsep) if p)
        else:
            value = os.path.abspath(value)
        gitcmd.EXTRA_ENV[name] = value
        kept = True
    return kept


def object_types(gitdir: Path, oids: list[str]) -> dict[str, str]:
    """``{id: type}`` for the ids that exist."""
    if not oids:
        return {}
    out = gitcmd.output(["cat-file", "--batch-check=%(objectname) %(objecttype)"], gitdir,
                        input="\n".join(oids).encode() + b"\n")
    types = {}
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[1] != "missing":
            types[parts[0]] = parts[1]
    return types


def pushed_tag_objects(gitdir: Path, tips: list[str]) -> list[str]:
    """The annotated tag objects among ``tips``, and the tags those point at (nested tags)."""
    todo = [t for t, kind in object_types(gitdir, tips).items() if kind == "tag"]
    seen: list[str] = []
    with gitcmd.CatFile(gitdir) as cat:
        while todo:
            oid = todo.pop()
            if oid in seen:
                continue
            seen.append(oid)
            got = cat.read(oid)
            head = got[1].split(b"\n\n", 1)[0] if got else b""
            fields = dict(line.split(b" ", 1) for line in head.split(b"\n") if b" " in line)
            if fields.get(b"type") == b"tag":
                todo.append(fields[b"object"].decode("ascii"))
    return seen
