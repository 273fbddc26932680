"""Shared pytest fixtures: real git repositories in temp dirs, run with the real git."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import keys`

# the project's FluxLoop test server (`fluxloop_server`), and the source tests'
# `detector` and `git_identity` fixtures
pytest_plugins = ["fluxloop_server", "test_source_support"]

# keyguard's caches (parsed rule files) go to a temp dir for the whole run, set at
# import time so that rules loaded while collecting tests do not touch ~/.cache
_CACHE = tempfile.mkdtemp(prefix="keyguard-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

# keyguard.redact shows the key prefixes of the loaded rules; tests that call it
# directly compare with what a command that loaded the rules prints
from keyguard.detect.rulepack import load_rules  # noqa: E402

load_rules()

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"
"""The OASIS SARIF 2.1.0 JSON schema, carried in the repository (origin: tests/schemas/README.md)."""

# Tests must not see the developer's git config or identity.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class Repo:
    """A real git repository in a temp dir, driven with the real git."""

    def __init__(self, path: Path):
        self.path = path

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_ENV)
        env["HOME"] = str(self.path.parent / "home")
        r = subprocess.run(["git", *args], cwd=self.path, input=input, env=env,
                           capture_output=True, check=False)
        if check and r.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode(errors="replace")

    def write(self, rel: str, content: str | bytes) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            p.write_bytes(content.encode("utf-8"))
        else:
            p.write_bytes(content)
        return p

    def commit(self, message: str = "change", *paths: str) -> str:
        self.git("add", *(paths or ["-A"]))
        self.git("commit", "-q", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


OBJECT_FORMATS = ("sha1", "sha256")
"""git's object formats; tests parametrize ``repo`` over them with ``indirect=True``."""


@pytest.fixture
def repo(tmp_path: Path, request) -> Repo:
    """An empty repository with branch ``main`` and no commits (SHA-1, or the object
    format given by an indirect parameter: ``@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)``)."""
    path = tmp_path / "repo"
    path.mkdir()
    (tmp_path / "home").mkdir()
    r = Repo(path)
    r.git("init", "-q", "-b", "main", f"--object-format={getattr(request, 'param', 'sha1')}")
    r.git("config", "user.name", "Test Author")
    r.git("config", "user.email", "author@example.com")
    r.git("config", "commit.gpgsign", "false")
    return r


def run_keyguard(*args: str, cwd: Path, input: bytes | None = None, env: dict | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real ``keyguard`` command line in a subprocess (text output)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(GIT_ENV)
    e.pop("FLUXLOOP_API_KEY", None)
    e.pop("FLUXLOOP_TOKEN", None)
    e.setdefault("NO_COLOR", "1")
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "keyguard", *args], cwd=cwd, input=input,
                          env=e, capture_output=True, timeout=timeout)


def run_keyguard_on_tty(args: list[str], cwd, *, tty: str = "stderr", env: dict | None = None,
                        on_output=None, timeout: float = 60) -> tuple[int, bytes, bytes]:
    """Run keyguard with ``tty`` (``stderr`` or ``stdout``) on a real pseudo-terminal.

    Returns ``(exit code, the other stream's bytes, what the terminal received)``.
    ``on_output(process, seen)`` is called after each read (e.g. to send Ctrl-C);
    the child runs in its own session, as a terminal's foreground job would.
    """
    import select

    master, slave = os.openpty()
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(GIT_ENV)
    e.pop("NO_COLOR", None)
    e.pop("FLUXLOOP_API_KEY", None)
    e.update(env or {})
    streams = {"stdout": slave, "stderr": subprocess.PIPE} if tty == "stdout" else \
        {"stdout": subprocess.PIPE, "stderr": slave}
    p = subprocess.Popen([sys.executable, "-m", "keyguard", *args], cwd=cwd, env=e, stdin=subprocess.DEVNULL,
                         start_new_session=True, **streams)
    os.close(slave)
    seen = b""
    while select.select([master], [], [], timeout)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if on_output is not None:
            on_output(p, seen)
    other = (p.stderr if tty == "stdout" else p.stdout).read()
    os.close(master)
    return p.wait(timeout=timeout), other, seen


@pytest.fixture
def keyguard():
    """The ``run_keyguard`` helper as a fixture."""
    return run_keyguard
