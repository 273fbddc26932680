"""Small plain functions over ``git`` subprocess calls, and the cat-file readers.

Everything that runs ``git`` goes through here: NUL-separated output (``-z``,
``zsplit``), an environment scrubbed of the ``GIT_*`` variables git exports to
hooks (``git_env``), repository root detection, and one-line ``GitError``s.
``CatFile`` is a persistent ``git cat-file --batch`` for reading objects one at
a time; ``BatchReader`` parses the stream of ``--batch`` output for bulk reads.
Only the standard library is imported (this is on the pre-commit hook path).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import IO, Iterator, Sequence

from keyguard.errors import GitError

# Variables git exports while running hooks that would point *our* git calls at
# the wrong place (GIT_DIR / GIT_WORK_TREE relative to the hook's cwd, see
# pre-commit #300 and #1849; GIT_INDEX_FILE breaks commands on other indexes).
# Like pre-commit's ``no_git_env`` we drop every GIT_* variable except the ones
# a user sets on purpose for transport and configuration, which must survive.
_KEEP = frozenset({
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
    "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS", "GIT_HTTP_PROXY_AUTHMETHOD",
    "GIT_ALLOW_PROTOCOL", "GIT_ASKPASS",
    # config isolation chosen by the user or a test harness, not by a hook
    "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CEILING_DIRECTORIES",
})
_KEEP_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")

PIPE_SIZE = 1 << 20  # F_SETPIPE_SZ target: 1 MiB (the default unprivileged maximum)


def git_env(keep_index: bool = False) -> dict[str, str]:
    """``os.environ`` without hook-injected ``GIT_*`` variables.

    With ``keep_index`` the ``GIT_INDEX_FILE`` git sets for a pre-commit hook is
    kept (made absolute): ``git commit -a`` / ``git commit PATH`` run the hook
    against a temporary index that holds what is really being committed (the
    same reason prek keeps it; see stackoverflow.com/q/65639403).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") or k in _KEEP or k.startswith(_KEEP_PREFIXES)}
    index = os.environ.get("GIT_INDEX_FILE")
    if keep_index and index:
        env["GIT_INDEX_FILE"] = os.path.abspath(index)
    env.setdefault("LC_ALL", "C")  # stable messages; content is bytes anyway
    return env


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return "no error message"


def run(args: Sequence[str], cwd: str | Path, *, input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``git ARGS`` in ``cwd``; on failure raise a one-line ``GitError``."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                              env=env if env is not None else git_env())
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    except NotADirectoryError:
        raise GitError(f"{cwd}: not a directory") from None
    if check and proc.returncode != 0:
        sub = next((a for a in args if not a.startswith("-")), "?")
        raise GitError(f"git {sub} failed: {_first_line(proc.stderr)}")
    return proc


def output(args: Sequence[str], cwd: str | Path, **kw) -> bytes:
    """The stdout of a successful ``git ARGS``."""
    return run(args, cwd, **kw).stdout


def decode_path(raw: bytes) -> str:
    """A path from git output as ``str`` (undecodable bytes kept via surrogateescape)."""
    return raw.decode("utf-8", "surrogateescape")


def zsplit(out: bytes) -> list[str]:
    """Split NUL-terminated ``-z`` output into decoded paths."""
    return [decode_path(p) for p in out.split(b"\0") if p]


def find_root(cwd: str | Path) -> Path | None:
    """The work-tree root containing ``cwd``, or None outside a repository (or in a bare one)."""
    proc = run(["rev-parse", "--show-toplevel"], cwd, check=False)
    if proc.returncode != 0:
        if b"not a git repository" in proc.stderr or b"must be run in a work tree" in proc.stderr:
            return None
        raise GitError(f"git rev-parse failed: {_first_line(proc.stderr)}")
    top = proc.stdout.rstrip(b"\n")
    return Path(decode_path(top)) if top else None


def require_root(cwd: str | Path) -> Path:
    """Like ``find_root`` but a ``GitError`` when ``cwd`` is not in a work tree."""
    root = find_root(cwd)
    if root is None:
        raise GitError(f"not inside a git repository: {cwd}")
    return root


def git_dir(cwd: str | Path) -> Path:
    """The repository's git directory (works in bare repositories too)."""
    out = output(["rev-parse", "--absolute-git-dir"], cwd).rstrip(b"\n")
    return Path(decode_path(out))


def resolve_commit(cwd: str | Path, rev: str) -> str | None:
    """The full commit id ``rev`` names, or None when it names no commit."""
    if rev.startswith("-"):
        raise GitError(f"not a revision: {rev!r}")
    proc = run(["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip().decode("ascii")


def empty_tree(cwd: str | Path) -> str:
    """The id of the empty tree in this repository's hash (sha1 or sha256)."""
    return output(["hash-object", "-t", "tree", "--stdin"], cwd, input=b"").strip().decode("ascii")


def set_pipe_size(fd: int, size: int = PIPE_SIZE) -> None:
    """Grow a pipe's kernel buffer (Linux ``F_SETPIPE_SZ``); silently a no-op elsewhere."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


def c_unquote(text: bytes) -> bytes:
    """Undo git's C-style quoting of a path (``"a\\303\\251"`` -> ``a\xc3\xa9``)."""
    if not (text.startswith(b'"') and text.endswith(b'"')):
        return text
    body, out, i = text[1:-1], bytearray(), 0
    escapes = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("a"): 7, ord("b"): 8, ord("f"): 12,
               ord("v"): 11, ord("\\"): 92, ord('"'): 34}
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):
            n = body[i + 1]
            if 48 <= n <= 55 and i + 4 <= len(body):
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(escapes.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


class BatchReader:
    """Parses ``git cat-file --batch`` output from a binary stream, object by object."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream

    def header(self) -> tuple[str, str, int] | None:
        """The next ``(id, type, size)``; type ``missing`` (size -1) for unknown ids; None at EOF."""
        line = self.stream.readline()
        if not line:
            return None
        parts = line.split()
        if len(parts) == 2 and parts[1] in (b"missing", b"ambiguous"):
            return parts[0].decode("ascii", "replace"), parts[1].decode(), -1
        if len(parts) != 3:
            raise GitError(f"git cat-file: unexpected output {line[:60]!r}")
        return parts[0].decode("ascii"), parts[1].decode("ascii"), int(parts[2])

    def body(self, size: int) -> bytes:
        """The whole content of the current object (and its trailing newline)."""
        data = self.stream.read(size + 1)
        if len(data) != size + 1:
            raise GitError("git cat-file: output ended early")
        return data[:size]

    def chunks(self, size: int, chunk: int = 8 << 20) -> Iterator[bytes]:
        """The content of the current object in pieces of at most ``chunk`` bytes.

        The caller must consume the iterator fully before reading the next header.
        """
        left = size
        while left > 0:
            data = self.stream.read(min(chunk, left))
            if not data:
                raise GitError("git cat-file: output ended early")
            left -= len(data)
            yield data
        self.stream.read(1)

    def skip(self, size: int) -> None:
        """Discard the content of the current object."""
        for _ in self.chunks(size):
            pass


class CatFile:
    """A persistent ``git cat-file --batch`` process for reading objects by id, one at a time."""

    def __init__(self, cwd: str | Path, env: dict[str, str] | None = None):
        try:
            self.proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=cwd,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, env=env or git_env())
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        self.reader = BatchReader(self.proc.stdout)

    def _ask(self, oid: str) -> tuple[str, int]:
        if not oid or any(c in oid for c in " \n"):
            raise GitError(f"not an object id: {oid!r}")
        try:
            self.proc.stdin.write(oid.encode("ascii") + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise GitError("git cat-file stopped unexpectedly") from None
        head = self.reader.header()
        if head is None:
            raise GitError("git cat-file stopped unexpectedly")
        return head[1], head[2]

    def read(self, oid: str) -> tuple[str, bytes] | None:
        """``(type, content)`` of the object ``oid``, or None if it does not exist."""
        kind, size = self._ask(oid)
        if size < 0:
            return None
        return kind, self.reader.body(size)

    def open(self, oid: str) -> tuple[str, int] | None:
        """Start reading ``oid``: ``(type, size)``; then call ``reader.body``/``chunks``/``skip``."""
        kind, size = self._ask(oid)
        return None if size < 0 else (kind, size)

    def close(self) -> None:
        """Stop the git process."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self) -> "CatFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def require_repo(cwd: str | Path) -> Path:
    """The work-tree root, or for a bare repository (a mirror) its git directory.

    History scans and audits need no work tree, so they run in mirrors too.
    """
    root = find_root(cwd)
    if root is not None:
        return root
    proc = run(["rev-parse", "--is-bare-repository"], cwd, check=False)
    if proc.returncode == 0 and proc.stdout.strip() == b"true":
        return git_dir(cwd)
    raise GitError(f"not inside a git repository: {cwd}")
