"""Running git: the hardened command line and the environment every git child gets.

A repository keyguard reads may have been written by an attacker (a CI audit of a
pull request, a cloned repository, a pushed branch): its ``.git/config`` must not
make keyguard run programs, and git children must not see keyguard's credentials.

Command line: every call is ``git --no-pager -c K=V ... ARGS`` with ``HARDENING``.
The configuration that can start a program, reviewed one by one:

``core.fsmonitor=false``
    the file-system monitor hook runs on any command that reads the index
    (``ls-files``, ``diff --cached``, ``diff-index``, ``status``); off.
``core.hooksPath=/dev/null``
    our read commands run no hooks, and ``clone --mirror`` (``--purge``) runs
    none either; pointing hooks at an empty place makes that hold by design.
``log.showSignature=false`` (and ``--no-show-signature`` on every ``log``)
    with it, ``git log`` verifies signed commits by running ``gpg.program`` /
    ``gpg.ssh.program`` / ``gpg.x509.program`` from the repository's config.
    keyguard never asks for a signature check (no ``%G`` formats, no
    ``verify-*``), so with this off no gpg program is reached.
``diff.external=`` is not settable to "none"; instead every diff-producing call
    passes ``--no-ext-diff`` (``diff.external`` and ``diff.<driver>.command``)
    and ``--no-textconv`` (``diff.<driver>.textconv``); ``--raw`` output never
    uses either.
``core.pager`` / ``pager.<cmd>``
    ``--no-pager`` (and output is a pipe, never a terminal).
``filter.<driver>.clean`` / ``smudge`` / ``process``
    run only when content moves between the work tree and the object store
    (``add``, ``checkout``, ``hash-object`` of a path, a stat-dirty ``status``).
    keyguard reads the work tree itself and asks git only ``ls-files`` and
    ``diff --cached`` (index against HEAD), which never filter; the one
    ``hash-object`` call hashes an empty tree from stdin with ``--no-filters``.
    Driver names are arbitrary, so they cannot be overridden with ``-c``.
``gc.auto=0``, ``maintenance.auto=false``
    no background ``git gc``/``maintenance`` (and their ``pre-auto-gc`` hook)
    left running after keyguard exits.
``submodule.recurse=false``
    no child git in submodules (``grep``).
``protocol.allow=never``, ``protocol.file.allow=always``
    ``ext::`` and network transports cannot be used; the only transport
    keyguard uses is a local ``clone --mirror --no-local`` (``--purge``).
``credential.helper=``
    (empty: resets the list) no credential helper; local reads never need one.
``core.sshCommand``, ``core.gitProxy``, ``core.askPass``, ``remote.*.uploadpack``
    network transports only, which ``protocol.allow=never`` rules out.
``uploadpack.packObjectsHook``, ``core.alternateRefsCommand``
    git honours the first only from system/global config (never the
    repository's); the second runs only in ``receive-pack`` and in fetches
    into a repository with alternates, neither of which keyguard does.
``core.editor``, ``sequence.editor``, ``merge.<driver>.driver``, ``alias.*``
    not reached by the commands keyguard runs.

Environment (``git_env``): an allow-list, not a deny-list. A git child gets
only what git needs to find itself, its configuration and its locale (PATH,
HOME, the locale and time zone, temp folders, XDG and Windows system folders)
plus the ``GIT_*`` variables a user sets on purpose for configuration and
transport (``_KEEP``). Everything else is dropped: ``FLUXLOOP_*``, tokens,
cloud credentials (``AWS_*``, ``*_TOKEN``, ``*_API_KEY``, ``*_SECRET``...) and
any variable whose name keyguard cannot know. The ``GIT_*`` variables git
exports to hooks (``GIT_DIR``, ``GIT_WORK_TREE``, ``GIT_INDEX_FILE``...) would
point our calls at the wrong place (pre-commit #300, #1849) and are dropped too,
except ``GIT_INDEX_FILE`` on request (``keep_index``) and the push quarantine
(``quarantine_env``).

Push quarantine (``quarantine_env``): while a pre-receive hook runs, the pushed
objects sit in a quarantine folder that ``git receive-pack`` names in
``GIT_OBJECT_DIRECTORY`` (the repository's own objects in
``GIT_ALTERNATE_OBJECT_DIRECTORIES``, the folder in ``GIT_QUARANTINE_PATH``).
Without those three a hook's git calls cannot see what is being pushed. Only
receive-pack sets ``GIT_QUARANTINE_PATH``, and only for its hooks, so it is the
switch: when it is set, ``git_env`` passes the three on (made absolute); when
it is not, none of them reaches a git child. It is read from the process
environment on each call (no module state to set or forget to reset).

Remote transports (``NETWORK``): ``git/mirror.py`` clones and fetches the
repositories of an organisation audit over ``https``/``ssh``/``git``/``http``.
Those calls add ``NETWORK`` after ``HARDENING`` (``protocol.<name>.allow``
wins over ``protocol.allow``); ``ext::`` and ``fd::`` stay refused, and the
environment adds ``GIT_TERMINAL_PROMPT=0`` and ssh ``BatchMode`` (never wait
for a password).

Starting git (``run``, ``run_into``): on Linux with ``os.posix_spawn`` and
memory files (``memfd``) for the output, so a clean pre-commit run never imports
``subprocess`` (with ``threading``, ``selectors``, ``locale``: ~5 ms of each
commit); the child's working folder is given as ``git -C DIR``, SIGPIPE and
SIGXFSZ are reset to their defaults in it (as ``subprocess`` does), and it is
killed and reaped if keyguard is interrupted while waiting. ``popen`` (streams,
``cat-file``) and other platforms use ``subprocess``.

Only the standard library is imported (this is on the pre-commit hook path).
"""

from __future__ import annotations

import os
from pathlib import Path

from keyguard.errors import GitError

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    import subprocess
    from typing import Sequence

_SPAWN = hasattr(os, "posix_spawnp") and hasattr(os, "memfd_create")
"""Whether ``run``/``run_into`` start git with ``posix_spawn`` (Linux) rather than ``subprocess``."""

HARDENING: tuple[str, ...] = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "log.showSignature=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "submodule.recurse=false",
    "protocol.allow=never",
    "protocol.file.allow=always",
    "credential.helper=",
)
"""``-c`` overrides on every git call (the reasons are in the module doc)."""

NETWORK: tuple[str, ...] = (
    "protocol.https.allow=always",
    "protocol.http.allow=always",
    "protocol.ssh.allow=always",
    "protocol.git.allow=always",
)
"""``-c`` overrides added (after ``HARDENING``) to the calls that clone or fetch a remote URL."""

QUARANTINE_VARS = ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")
"""What ``git receive-pack`` exports to a pre-receive hook about the push's quarantine."""

GIT = ("git", "--no-pager", *(a for kv in HARDENING for a in ("-c", kv)))
"""The start of every git command line."""

_KEEP = frozenset({
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
    "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS", "GIT_HTTP_PROXY_AUTHMETHOD",
    "GIT_ALLOW_PROTOCOL", "GIT_ASKPASS",
    # config isolation chosen by the user or a test harness, not by a hook
    "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CEILING_DIRECTORIES",
})
_KEEP_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")
_BASICS = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
    "TMPDIR", "TEMP", "TMP", "PWD",
    "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
    # Windows: git for Windows needs these to start at all
    "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE", "APPDATA",
    "LOCALAPPDATA", "PROGRAMDATA", "HOMEDRIVE", "HOMEPATH", "MSYSTEM",
})
_BASIC_PREFIXES = ("LC_",)


def _allowed(name: str) -> bool:
    if name.startswith("GIT_"):
        return name in _KEEP or name.startswith(_KEEP_PREFIXES)
    return name in _BASICS or name.startswith(_BASIC_PREFIXES)


def git_env(keep_index: bool = False) -> dict[str, str]:
    """The environment of a git child: the allow-listed part of ``os.environ`` (see the module doc).

    With ``keep_index`` the ``GIT_INDEX_FILE`` git sets for a pre-commit hook is
    kept (made absolute): ``git commit -a`` / ``git commit PATH`` run the hook
    against a temporary index that holds what is really being committed (the
    same reason prek keeps it; see stackoverflow.com/q/65639403).
    """
    env = {k: v for k, v in os.environ.items() if _allowed(k)}
    index = os.environ.get("GIT_INDEX_FILE")
    if keep_index and index:
        env["GIT_INDEX_FILE"] = os.path.abspath(index)
    env.update(quarantine_env())
    env.setdefault("LC_ALL", "C")  # stable messages; content is bytes anyway
    env["GIT_OPTIONAL_LOCKS"] = "0"  # reads never rewrite the index (no stat refresh)
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def quarantine_env(environ=None) -> dict[str, str]:
    """The push quarantine variables of ``environ`` (default ``os.environ``), made absolute;
    empty unless ``GIT_QUARANTINE_PATH`` is set (a pre-receive hook under quarantine)."""
    environ = os.environ if environ is None else environ
    if not environ.get("GIT_QUARANTINE_PATH"):
        return {}
    env = {}
    for name in QUARANTINE_VARS:
        value = environ.get(name)
        if not value:
            continue
        if name == "GIT_ALTERNATE_OBJECT_DIRECTORIES":
            value = os.pathsep.join(os.path.abspath(p) for p in value.split(os.pathsep) if p)
        else:
            value = os.path.abspath(value)
        env[name] = value
    return env


def network_env() -> dict[str, str]:
    """``git_env`` for a call that reaches a remote: never waits for a password or a host-key prompt."""
    env = git_env()
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def program_env() -> dict[str, str]:
    """``git_env`` plus ``HARDENING`` as ``GIT_CONFIG_*`` variables, for a program that runs git itself.

    ``git filter-repo`` starts its own git processes; they get the same overrides
    through the environment (git reads ``GIT_CONFIG_COUNT`` since 2.31).
    """
    env = git_env()
    try:
        n = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        n = 0
    for kv in HARDENING:
        key, _, value = kv.partition("=")
        env[f"GIT_CONFIG_KEY_{n}"], env[f"GIT_CONFIG_VALUE_{n}"] = key, value
        n += 1
    env["GIT_CONFIG_COUNT"] = str(n)
    return env


def first_line(stderr: bytes) -> str:
    """The first non-empty line of git's stderr (at most 300 characters)."""
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return "no error message"


def _subcommand(args: Sequence[str]) -> str:
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a == "-c":
            skip = True
        elif not a.startswith("-"):
            return a
    return "?"


class Completed:
    """What ``run`` returns: the ``subprocess.CompletedProcess`` fields keyguard reads."""

    __slots__ = ("args", "returncode", "stdout", "stderr")

    def __init__(self, args, returncode: int, stdout: bytes, stderr: bytes):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr


def run(args: Sequence[str], cwd: str | Path, *, input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None, ok: Sequence[int] = (0,)) -> Completed:
    """Run ``git ARGS`` in ``cwd``; with ``check``, a one-line ``GitError`` unless the exit code is in ``ok``."""
    env = env if env is not None else git_env()
    if _SPAWN:
        fds = [_memfd("out"), _memfd("err")]
        try:
            if input is not None:  # stdin: a memory file holding ``input``
                fds.append(_memfd("in"))
                view = memoryview(input)
                while view:
                    view = view[os.write(fds[2], view):]
                os.lseek(fds[2], 0, os.SEEK_SET)
            code = _spawn(args, cwd, env, fds[0], fds[1], fds[2] if input is not None else None)
            proc = Completed(args, code, _read_all(fds[0]), _read_all(fds[1]))
        finally:
            for fd in fds:
                os.close(fd)
    else:
        import subprocess
        try:
            done = subprocess.run([*GIT, *args], cwd=cwd, input=input, capture_output=True, env=env)
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        except NotADirectoryError:
            raise GitError(f"{cwd}: not a directory") from None
        proc = Completed(args, done.returncode, done.stdout, done.stderr)
    if check and proc.returncode not in ok:
        raise GitError(f"git {_subcommand(args)} failed: {first_line(proc.stderr)}")
    return proc


def run_into(args: Sequence[str], cwd: str | Path, fd: int, *, env: dict[str, str] | None = None) -> int:
    """Run ``git ARGS`` in ``cwd`` with its stdout written into the open file ``fd`` (stderr discarded);
    its exit code. For output read whole once git is done (``keyguard.git.diff``)."""
    env = env if env is not None else git_env()
    if _SPAWN:
        null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        try:
            return _spawn(args, cwd, env, fd, null)
        finally:
            os.close(null)
    import subprocess
    try:
        return subprocess.run([*GIT, *args], cwd=cwd, stdout=fd, stderr=subprocess.DEVNULL,
                              env=env).returncode
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    except NotADirectoryError:
        raise GitError(f"{cwd}: not a directory") from None


def _memfd(name: str) -> int:
    return os.memfd_create(f"keyguard-git-{name}", os.MFD_CLOEXEC)


def _read_all(fd: int) -> bytes:
    """Everything written into the memory file ``fd``."""
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    if not size:
        return b""
    with open(fd, "rb", closefd=False) as fh:
        return fh.read()


def _spawn(args: Sequence[str], cwd: str | Path, env: dict[str, str], out_fd: int, err_fd: int,
           in_fd: int | None = None) -> int:
    """Start ``git -C CWD ARGS`` (``posix_spawn``) with stdout on ``out_fd``, stderr on ``err_fd``
    (and stdin from ``in_fd``; else keyguard's own) and wait for it: its exit code (negative:
    the signal that ended it)."""
    import signal

    if not os.path.isdir(cwd):
        raise GitError(f"{cwd}: not a directory")
    argv = [GIT[0], "-C", os.fspath(cwd), *GIT[1:], *args]
    reset = tuple(getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, n))
    actions = [(os.POSIX_SPAWN_DUP2, out_fd, 1), (os.POSIX_SPAWN_DUP2, err_fd, 2)]
    if in_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, in_fd, 0))
    # A stop (Ctrl-C, SIGTERM, the pre-receive hook's time budget) raised as posix_spawnp returns,
    # before ``pid`` is kept, would leave git running: those signals wait until the try below.
    stops = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGALRM") if hasattr(signal, n)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        pid = os.posix_spawnp(argv[0], argv, env, setsigdef=reset, setsigmask=mask, file_actions=actions)
    except BaseException as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if isinstance(exc, FileNotFoundError):
            raise GitError("git is not installed or not on PATH") from None
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a stop that came meanwhile is raised here
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C, SIGTERM (Terminated), out of time: leave no git running
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status)


def output(args: Sequence[str], cwd: str | Path, **kw) -> bytes:
    """The stdout of a successful ``git ARGS``."""
    return run(args, cwd, **kw).stdout


def popen(args: Sequence[str], cwd: str | Path, *, stdin=None, stderr=-3,
          env: dict[str, str] | None = None, bufsize: int = -1) -> subprocess.Popen:
    """Start ``git ARGS`` with stdout piped (streams; the caller waits for it); ``stderr``
    defaults to ``subprocess.DEVNULL`` (-3)."""
    import subprocess
    try:
        return subprocess.Popen([*GIT, *args], cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=stderr, env=env if env is not None else git_env(),
                                bufsize=bufsize)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None


def run_program(argv: Sequence[str], cwd: str | Path) -> subprocess.CompletedProcess:
    """Run a git tool that is not git itself (``git-filter-repo``) with ``program_env``."""
    import subprocess
    return subprocess.run(list(argv), cwd=cwd, env=program_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)


PIPE_SIZE = 1 << 20
"""F_SETPIPE_SZ target: 1 MiB (the default unprivileged maximum)."""


def set_pipe_size(fd: int, size: int = PIPE_SIZE) -> None:
    """Grow a pipe's kernel buffer (Linux ``F_SETPIPE_SZ``); silently a no-op elsewhere."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


def decode_path(raw: bytes) -> str:
    """A path from git output as ``str`` (undecodable bytes kept via surrogateescape)."""
    return raw.decode("utf-8", "surrogateescape")


def zsplit(out: bytes) -> list[str]:
    """Split NUL-terminated ``-z`` output into decoded paths."""
    return [decode_path(p) for p in out.split(b"\0") if p]


def c_unquote(text: bytes) -> bytes:
    """Undo git's C-style quoting of a path (``"a\\303\\251"`` -> ``a\\xc3\\xa9``)."""
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


def is_null_id(oid: str | bytes) -> bool:
    """Whether ``oid`` is git's all-zero id (any object format)."""
    return bool(oid) and not oid.strip("0" if isinstance(oid, str) else b"0")
