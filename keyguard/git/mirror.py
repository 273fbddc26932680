"""Mirrors of remote repositories for organisation audits (``keyguard audit --repos``).

``git clone --mirror`` into a temp folder renamed into place when complete (an
interrupted clone never looks like a mirror), then ``git fetch --prune`` on
later nights. Both use ``run.py``'s hardened command line plus ``run.NETWORK``
(https/ssh/git/http allowed, ``ext::`` never) and ``run.network_env`` (no
password or host-key prompt): a remote cannot make keyguard run a program,
and an unreachable or private URL fails at once. A URL's ``user:password@``
never reaches a message.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from keyguard.errors import GitError
from keyguard.git import refs as grefs
from keyguard.git.objects import count_missing
from keyguard.git.run import NETWORK, network_env, output

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_REMOTE = tuple(a for kv in NETWORK for a in ("-c", kv))


def hide_credentials(text: str) -> str:
    """``text`` with the user:password part of any URL in it removed."""
    return _USERINFO.sub("", text)


def _remote(args: list[str], cwd: Path) -> None:
    try:
        output([*_REMOTE, *args], cwd, env=network_env())
    except GitError as exc:
        raise GitError(hide_credentials(str(exc))) from None


def refs_state(gitdir: Path) -> dict[str, str]:
    """``{ref name: object id}`` of a repository."""
    return {name: oid for name, oid, _, _ in grefs.list_refs(gitdir)}


def update_mirror(url: str, dest: Path) -> dict:
    """Clone ``url`` as a bare mirror at ``dest``, or fetch what changed since the last time.

    Returns ``{"cloned": 0|1, "refs_updated": n}`` (refs added, moved or deleted). When a
    fetch fails and the cached mirror itself is unreadable (corrupt), it is replaced by a
    fresh clone and ``"replaced"`` says why; when the mirror is fine the ``GitError`` is
    raised (the remote is unreachable) and the mirror kept for the next night.
    """
    replaced = ""
    if (dest / "HEAD").is_file() and (dest / "objects").is_dir():
        try:
            before = refs_state(dest)
            _remote(["fetch", "--prune", "--quiet", "origin"], dest)
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
        _remote(["clone", "--mirror", "--quiet", "--no-hardlinks", "--", url, str(tmp)], dest.parent)
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
        out = output(["cat-file", "--batch-all-objects", "--batch-check"], gitdir)
        refs_state(gitdir)
    except GitError:
        return False
    return not count_missing(out)
