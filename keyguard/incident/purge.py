"""The purge plan: a ``git filter-repo`` replacement file, the commands, and ``--purge`` on a mirror.

The replacement file necessarily holds the secret (that is what filter-repo
replaces), so it is written with mode 0600, atomically, outside the work tree,
and never printed. It lists exactly the leaked value and, when the value was
found base64-encoded, the base64 forms of that value; each line is
``literal:VALUE==>***REMOVED***``. The same file serves ``--replace-text``
(file contents) and ``--replace-message`` (commit and tag messages).

``run_purge`` never touches the user's repository: it makes a fresh
``git clone --mirror --no-local`` beside the report, rewrites that, and
re-scans every object of the rewritten mirror for the value. Pushing the
result is left to the user (the commands are printed), because a force-push
rewrites shared history.

git-filter-repo is a dependency of this command only (PyPI: ``git-filter-repo``);
when it is missing keyguard says how to install it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from keyguard.atomic import write_atomic

from keyguard.errors import GitError, KeyguardError
from keyguard.git import refs as grefs
from keyguard.git import repo as grepo
from keyguard.git.run import run_program
from keyguard.incident.facts import Location, PurgeResult
from keyguard.incident.needles import needles_for
from keyguard.redact import scrub

REPLACEMENT = b"***REMOVED***"

INSTALL_HINT = ("git-filter-repo is not installed: install it with `pip install git-filter-repo` "
                "(or `pipx install git-filter-repo`, `brew install git-filter-repo`, "
                "`apt install git-filter-repo`), then run again")

WARNINGS = (
    "Revocation is what actually protects you: anyone who cloned, fetched or forked before the rewrite "
    "still has the key. Rewriting history only stops new copies.",
    "After the force-push every clone must re-clone (or hard-reset every branch); a push from an old "
    "clone brings the key back.",
    "Forks, pull-request refs (refs/pull/*), CI caches, mirrors and the host's cached views keep the old "
    "objects: ask your git host's support to purge them, giving the commit ids of this report.",
    "Open pull requests and branches based on the old commits must be rebased or recreated; signed "
    "commits and tags lose their signatures.",
    "This repository (and every other clone) still holds the key in reflogs, stashes and unreachable "
    "objects until it is re-cloned.",
)
"""The warnings that matter, printed with the plan and written into the report."""


class FilterRepoMissing(KeyguardError):
    """git-filter-repo is not installed."""


def replacement_lines(secret: str, location: Location) -> list[bytes]:
    """The lines of the replacement file: the value, plus its base64 forms when it was found encoded."""
    encoded = any(e.startswith("base64") for e in location.encodings_found)
    lines = []
    for n in needles_for([secret], encoded=encoded):
        if b"\n" in n.data or b"==>" in n.data:
            continue  # cannot be expressed on one line; a key never holds these
        lines.append(b"literal:" + n.data + b"==>" + REPLACEMENT)
    return lines


def write_replacements(path: Path, lines: list[bytes]) -> None:
    """Write the replacement file with mode 0600 (atomic: temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, b"".join(line + b"\n" for line in lines), mode=0o600)


def _q(text: str) -> str:
    """Shell-quote ``text`` for a printed command."""
    import shlex
    return shlex.quote(text)


def commands(repo: Path, remote: str, replacements: Path, fingerprint: str) -> list[str]:
    """The shell commands to rewrite history on a fresh mirror and force-push it."""
    url = remote or "<your remote URL>"
    mirror = f"{repo.name or 'repo'}-purge.git"
    return [
        f"git clone --mirror {_q(url)} {_q(mirror)}",
        f"cd {_q(mirror)}",
        f"git filter-repo --replace-text {_q(str(replacements))} --replace-message {_q(str(replacements))}",
        f"keyguard incident {fingerprint} --repo . --offline --no-revoke   # must say: not in this repository",
        f"git push --force --all {_q(url)}",
        f"git push --force --tags {_q(url)}",
    ]


def find_filter_repo() -> str | None:
    """The ``git-filter-repo`` program: on PATH, or beside the running Python (a venv's bin)."""
    found = shutil.which("git-filter-repo")
    if found:
        return found
    for name in ("git-filter-repo", "git-filter-repo.exe"):
        p = Path(sys.executable).parent / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def run_purge(root: Path, secret: str, replacements: Path, mirror: Path) -> PurgeResult:
    """Mirror-clone ``root`` to ``mirror``, rewrite it with filter-repo, re-scan it for ``secret``."""
    from keyguard.incident.locate import locate

    program = find_filter_repo()
    if program is None:
        raise FilterRepoMissing(INSTALL_HINT)
    if mirror.exists():
        raise KeyguardError(f"{mirror} already exists: remove it or choose another --output-dir")
    grepo.clone_mirror(root, mirror)
    refs = len(grefs.list_refs(mirror))
    r = run_program([program, "--replace-text", str(replacements), "--replace-message", str(replacements),
                     "--force", "--quiet"], mirror)
    if r.returncode != 0:
        text = scrub(r.stderr.decode("utf-8", "replace"), [secret]).strip().splitlines()
        raise GitError(f"git filter-repo failed on the mirror {mirror}: {text[-1] if text else f'exit {r.returncode}'}")
    left = locate(mirror, secret, worktree=False)
    return PurgeResult(mirror=str(mirror), clean=not left.occurrences, remaining=left.occurrences,
                       refs_rewritten=refs)
