"""``keyguard scan --pre-receive``: real ``git push`` into a real bare repository with the hook.

Every push goes through the real git transport: ``file://`` and a local
``git daemon`` (127.0.0.1, a free port, receive-pack enabled, stopped at the
end). The hook is installed as a server would install it: a ``pre-receive``
script that execs keyguard with the server's options.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import GIT_ENV, Repo, run_keyguard
from keys import platform_key

TRANSPORTS = ["file", "daemon"]


def _git(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(GIT_ENV, HOME=str(cwd.parent / "home"))
    e.update(env or {})
    return subprocess.run(["git", *args], cwd=cwd, env=e, capture_output=True, timeout=300)


class Server:
    """A bare repository with keyguard as its pre-receive hook, and a URL to push to."""

    def __init__(self, base: Path, object_format: str = "sha1"):
        self.base = base
        self.path = base / "srv" / "repo.git"
        self.path.parent.mkdir(parents=True)
        assert _git(self.path.parent, "init", "-q", "--bare", f"--object-format={object_format}",
                    str(self.path)).returncode == 0
        _git(self.path, "config", "receive.advertisePushOptions", "true")
        self.allow_log = base / "allow.log"
        self.url = self.path.as_uri()
        self.daemon: subprocess.Popen | None = None
        self.install()

    def install(self, *options: str) -> None:
        """(Re)write the hook with these server options (default: break-glass enabled)."""
        opts = list(options) or ["--allow-log", str(self.allow_log)]
        hook = self.path / "hooks" / "pre-receive"
        cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "keyguard", "scan", "--pre-receive", *opts])
        hook.write_text(f"#!/bin/sh\nexec {cmd}\n")
        hook.chmod(0o755)

    def serve(self) -> None:
        """Serve over git:// from a local daemon on a free port."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_ENV, USER="gitd")  # the hook runs as the daemon's user, not the pusher's
        self.daemon = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1",
             f"--port={port}", f"--base-path={self.path.parent}", str(self.path.parent)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("git daemon did not start")
        self.url = f"git://127.0.0.1:{port}/repo.git"

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.terminate()
            self.daemon.wait(timeout=10)

    def refs(self) -> dict[str, str]:
        out = _git(self.path, "for-each-ref", "--format=%(refname) %(objectname)").stdout.decode()
        return dict(line.split(" ") for line in out.splitlines())

    def log_entries(self) -> list[dict]:
        if not self.allow_log.exists():
            return []
        return [json.loads(line) for line in self.allow_log.read_text().splitlines()]


class Client(Repo):
    def push(self, *args: str, url: str) -> tuple[int, str]:
        r = _git(self.path, "push", "--porcelain", url, *args)
        return r.returncode, r.stdout.decode() + r.stderr.decode()


def _client(base: Path, server: Server, object_format: str = "sha1") -> Client:
    path = base / "client"
    path.mkdir()
    (base / "home").mkdir(exist_ok=True)
    c = Client(path)
    c.git("init", "-q", "-b", "main", f"--object-format={object_format}")
    c.git("config", "commit.gpgsign", "false")
    c.write("README.md", "service\n")
    c.commit("init")
    code, out = c.push("main", url=server.url)
    assert code == 0, out
    return c


@pytest.fixture(params=TRANSPORTS)
def setup(request, tmp_path):
    server = Server(tmp_path)
    if request.param == "daemon":
        server.serve()
    try:
        yield server, _client(tmp_path, server)
    finally:
        server.stop()


@pytest.fixture
def local(tmp_path):
    server = Server(tmp_path)
    return server, _client(tmp_path, server)


def fast_import_branch(client: Client, branch: str, commits: int, key_at: int | None, key: str = "") -> None:
    """``commits`` commits on a new ``branch`` from main; commit ``key_at`` adds ``key`` to notes/n00.txt."""
    parent = client.git("rev-parse", "main").strip()
    chunks = []
    for i in range(1, commits + 1):
        body = f"entry {i}\n" + (f"FLUXLOOP_API_KEY={key}\n" if i == key_at else "")
        msg = f"change {i}\n"
        chunks.append(f"commit refs/heads/{branch}\nmark :{i}\n"
                      f"committer Test <t@example.com> {1_700_000_000 + i} +0000\n"
                      f"data {len(msg)}\n{msg}" + (f"from {parent}\n" if i == 1 else "") +
                      f"M 644 inline notes/n{i % 50:02d}.txt\ndata {len(body.encode())}\n{body}\n")
    client.git("fast-import", "--quiet", input="".join(chunks).encode())


def _assert_no_key(key: str, *texts: str) -> None:
    for t in texts:
        assert key not in t


# ------------------------------------------------------------------------------------------------

def test_clean_push_is_accepted(setup):
    server, client = setup
    client.write("app.py", "print('hello')\n")
    sha = client.commit("feature")
    code, out = client.push("main", url=server.url)
    assert code == 0, out
    assert server.refs()["refs/heads/main"] == sha


def test_a_key_in_the_500th_commit_of_a_new_branch_is_refused(setup):
    server, client = setup
    key = platform_key("flux_prod_")
    fast_import_branch(client, "feature", 600, key_at=500, key=key)
    code, out = client.push("feature", url=server.url)
    assert code != 0
    assert "refs/heads/feature" not in server.refs()
    culprit = client.git("rev-parse", "feature~100").strip()
    assert "push refused: 1 FluxLoop key" in out
    assert f"commit {culprit[:10]}  notes/n00.txt:2" in out
    assert "flux_prod_" in out and "…" in out  # the redacted key
    assert "git rebase -i" in out and "git commit --amend" in out and "git filter-repo" in out
    _assert_no_key(key, out)


def test_a_tag_whose_message_holds_a_key_is_refused(setup):
    server, client = setup
    key = platform_key("flux_dev_")
    client.git("tag", "-a", "v1.0", "-m", f"release\n\nused {key} for the smoke test", "main")
    code, out = client.push("v1.0", url=server.url)
    assert code != 0
    assert "refs/tags/v1.0" not in server.refs()
    assert "<tag-message:v1.0>" in out and "git tag -f -a" in out
    _assert_no_key(key, out)
    client.git("tag", "-f", "-a", "v1.0", "-m", "release", "main")
    code, out = client.push("-f", "v1.0", url=server.url)
    assert code == 0, out


def test_a_deletion_is_accepted(setup):
    server, client = setup
    client.git("branch", "old-work")
    assert client.push("old-work", url=server.url)[0] == 0
    code, out = client.push("--delete", "old-work", url=server.url)
    assert code == 0, out
    assert "refs/heads/old-work" not in server.refs()


def test_break_glass_lets_the_push_through_and_logs_who_when_what_and_why(setup):
    server, client = setup
    key = platform_key("flux_ci_")
    client.write("ci/fixture.env", f"TOKEN={key}\n")
    sha = client.commit("test fixture")
    r = _git(client.path, "push", "--porcelain", "-o", f"keyguard-allow=revoked test key {key}", server.url,
             "main", env={"USER": "alice"})
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0, out
    assert server.refs()["refs/heads/main"] == sha
    [entry] = server.log_entries()
    assert entry["user"] == ("gitd (USER)" if server.daemon else "alice (USER)")
    if server.daemon:
        assert entry["from"] == "127.0.0.1"
    assert entry["refs"][0]["ref"] == "refs/heads/main" and entry["refs"][0]["new"] == sha
    assert entry["findings"][0]["path"] == "ci/fixture.env" and entry["findings"][0]["commit"] == sha
    assert entry["fingerprints"] == [entry["findings"][0]["fingerprint"]]
    assert entry["reason"].startswith("revoked test key flux_ci_") and entry["time"]
    assert "break-glass" in out
    _assert_no_key(key, out, server.allow_log.read_text())


def test_break_glass_needs_a_log_and_a_reason(local):
    server, client = local
    key = platform_key("flux_ci_")
    client.write("k.env", f"TOKEN={key}\n")
    client.commit("key")
    r = _git(client.path, "push", "-o", "keyguard-allow=", server.url, "main")
    assert r.returncode != 0 and b"give a reason" in r.stderr
    server.install("--timeout", "30")
    r = _git(client.path, "push", "-o", "keyguard-allow=urgent", server.url, "main")
    assert r.returncode != 0 and b"not enabled on this server" in r.stderr
    assert server.log_entries() == []
    _assert_no_key(key, r.stderr.decode())


def test_force_pushes_are_checked_for_what_they_add(local):
    server, client = local
    key = platform_key("flux_prod_")
    client.write("app.py", "x = 1\n")
    client.commit("app")
    assert client.push("main", url=server.url)[0] == 0
    client.write("app.py", f"x = 1\nkey = '{key}'\n")
    client.git("commit", "-q", "-a", "--amend", "-m", "app")
    code, out = client.push("-f", "main", url=server.url)
    assert code != 0 and "app.py:2" in out
    client.write("app.py", "x = 2\n")
    client.git("commit", "-q", "-a", "--amend", "-m", "app")
    code, out = client.push("-f", "main", url=server.url)
    assert code == 0, out
    _assert_no_key(key, out)


def test_pushed_config_cannot_exempt_the_push(local):
    server, client = local
    key = platform_key("flux_prod_")
    client.write(".keyguard.toml", 'exclude = ["**"]\nallow = []\n')
    client.write("pyproject.toml", '[tool.keyguard]\nexclude = ["**"]\n')
    client.write("deploy.env", f"KEY={key}\n")
    client.commit("hide it")
    code, out = client.push("main", url=server.url)
    assert code != 0 and "deploy.env:1" in out


def test_server_config_decides_policy(local, tmp_path):
    server, client = local
    key = platform_key("flux_dev_")
    client.write("vendor/lib.js", f"k='{key}'\n")
    client.commit("vendored")
    conf = tmp_path / "server.toml"
    conf.write_text('exclude = ["vendor/**"]\n')
    server.install("--config", str(conf))
    code, out = client.push("main", url=server.url)
    assert code == 0, out


def test_sha256_repositories(tmp_path):
    server = Server(tmp_path, object_format="sha256")
    client = _client(tmp_path, server, object_format="sha256")
    key = platform_key("flux_prod_")
    client.git("checkout", "-q", "-b", "topic")
    client.write("a.txt", f"{key}\n")
    sha = client.commit("key")
    assert len(sha) == 64
    code, out = client.push("topic", url=server.url)
    assert code != 0 and f"commit {sha[:10]}  a.txt:1" in out
    client.git("reset", "-q", "--hard", "HEAD~1")
    client.write("b.txt", "fine\n")
    client.commit("fine")
    assert client.push("topic", url=server.url)[0] == 0
    assert client.push("--delete", "topic", url=server.url)[0] == 0
    _assert_no_key(key, out)


@pytest.mark.parametrize("policy", ["closed", "open"])
def test_the_time_budget(local, policy):
    server, client = local
    server.install("--timeout", "0.001", "--on-timeout", policy)
    client.write("x.txt", "x\n")
    sha = client.commit("x")
    code, out = client.push("main", url=server.url)
    if policy == "closed":
        assert code != 0 and "could not be checked for FluxLoop keys within" in out
        assert server.refs()["refs/heads/main"] != sha
    else:
        assert code == 0 and "not fully checked" in out
        assert server.refs()["refs/heads/main"] == sha


def test_not_run_as_a_hook(tmp_path):
    Repo(tmp_path).git("init", "-q", "--bare", str(tmp_path / "r.git"))
    r = run_keyguard("scan", "--pre-receive", cwd=tmp_path / "r.git", input=b"not a ref update\n")
    err = r.stderr.decode()
    assert r.returncode == 2 and "is not '<old-id> <new-id> <ref>'" in err and len(err.splitlines()) == 1


def test_no_api_call_from_the_hook_unless_configured(local, fluxloop_server, tmp_path):
    server, client = local
    live = fluxloop_server.add_key(prefix="flux_prod_", name="deploy")
    client.write("deploy.env", f"KEY={live.secret}\n")
    client.commit("deploy")
    env = fluxloop_server.env(tmp_path / "home")
    r = _git(client.path, "push", server.url, "main", env=env)
    assert r.returncode != 0 and b"deploy.env:1" in r.stderr
    assert fluxloop_server.calls() == []
    server.install("--verify")
    r = _git(client.path, "push", server.url, "main", env=env)
    assert r.returncode != 0 and b"deploy.env:1" in r.stderr
    assert fluxloop_server.calls(key=live)  # asked the API about the found key
    _assert_no_key(live.secret, r.stderr.decode(), r.stdout.decode())
