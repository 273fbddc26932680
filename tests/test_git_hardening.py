"""A repository's configuration never makes keyguard run programs, and git children see no credentials.

The repository below is hostile: ``core.fsmonitor``, ``gpg.program`` with
``log.showSignature`` and a signed-looking commit, a clean/smudge filter and a
textconv driver on every file, an external diff, a pager, and hooks. Each
configured program would create a sentinel file. keyguard's ``scan``,
``scan --staged``, ``scan --history``, ``audit`` and ``incident`` (with
``--purge``) run through the real CLI; the sentinel must never appear.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keys import platform_key


def _script(path: Path, sentinel: Path) -> str:
    path.write_text(f"#!/bin/sh\necho \"$0 $*\" >> '{sentinel}'\ncat\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _sign(repo) -> None:
    """Rewrite HEAD as a commit carrying a (fake) PGP signature header."""
    raw = repo.git("cat-file", "commit", "HEAD")
    head, _, msg = raw.partition("\n\n")
    sig = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----"
    new = repo.git("hash-object", "-t", "commit", "-w", "--stdin",
                   input=(head + "\n" + sig + "\n\n" + msg).encode()).strip()
    repo.git("update-ref", "refs/heads/main", new)


@pytest.fixture
def hostile(repo, tmp_path):
    """(repo, key, sentinel): a key in history, staged and on disk; hostile config set last."""
    key = platform_key("flux_prod_")
    sentinel = tmp_path / "SENTINEL"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    repo.write("app.py", "x = 1\n")
    repo.commit("init")
    repo.write("deploy.env", f"KEY={key}\n")
    repo.commit("deploy")
    _sign(repo)
    repo.git("tag", "-a", "v1", "-m", "release")
    repo.write("staged.py", f"K = '{key}'\n")
    repo.git("add", "staged.py")
    repo.write("app.py", f"x = 2\nK = '{key}'\n")  # a stat-dirty tracked file
    repo.write(".gitattributes", "* filter=evil diff=evil\n")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("pre-auto-gc", "post-checkout", "reference-transaction", "post-index-change"):
        _script(hooks / name, sentinel)
    config = {
        "core.fsmonitor": _script(bin_dir / "fsmonitor", sentinel),
        "core.hooksPath": str(hooks),
        "core.pager": _script(bin_dir / "pager", sentinel),
        "gpg.program": _script(bin_dir / "gpg", sentinel),
        "gpg.ssh.program": _script(bin_dir / "gpg-ssh", sentinel),
        "log.showSignature": "true",
        "filter.evil.clean": _script(bin_dir / "clean", sentinel),
        "filter.evil.smudge": _script(bin_dir / "smudge", sentinel),
        "filter.evil.required": "true",
        "diff.evil.textconv": _script(bin_dir / "textconv", sentinel),
        "diff.external": _script(bin_dir / "extdiff", sentinel),
        "core.alternateRefsCommand": _script(bin_dir / "altrefs", sentinel),
        "uploadpack.packObjectsHook": _script(bin_dir / "packhook", sentinel),
        "gc.auto": "1",
    }
    for k, v in config.items():
        repo.git("config", k, v)
    # the trap is armed: a plain `git log` here would run the fake gpg
    assert not sentinel.exists()
    return repo, key, sentinel


def test_the_hostile_config_is_live_for_plain_git(hostile):
    """The fixture is not a dud: git itself runs the configured programs."""
    repo, _, sentinel = hostile
    repo.git("log", "-1", check=False)
    repo.git("status", check=False)
    assert sentinel.exists()
    ran = sentinel.read_text()
    assert "gpg" in ran and "fsmonitor" in ran


@pytest.mark.parametrize("args", [
    ("scan",), ("scan", "--staged"), ("scan", "--history"), ("scan", "--history", "--include-unreachable"),
    ("audit", "--no-verify", "--no-hygiene", "--sarif", "-", "--json", "-", "--markdown", "-"),
], ids=lambda a: " ".join(a[:3]))
def test_scans_run_no_configured_program(hostile, keyguard, tmp_path, args):
    repo, key, sentinel = hostile
    if args[0] == "audit":
        out = tmp_path / "out"
        out.mkdir()
        args = ("audit", "--no-verify", "--no-hygiene", "--sarif", str(out / "a.sarif"),
                "--json", str(out / "a.json"), "--markdown", str(out / "a.md"))
    r = keyguard(*args, cwd=repo.path, env={"HOME": str(tmp_path)})
    assert r.returncode == 1, r.stderr  # the key is found ...
    assert not sentinel.exists(), sentinel.read_text()  # ... and nothing configured ran
    assert key not in r.stdout.decode() + r.stderr.decode()


def test_incident_and_purge_run_no_configured_program(hostile, keyguard, tmp_path):
    repo, key, sentinel = hostile
    out = tmp_path / "incident"
    r = keyguard("incident", "--offline", "--purge", "--output-dir", str(out), cwd=repo.path,
                 input=(key + "\n").encode(), env={"HOME": str(tmp_path)})
    assert r.returncode in (0, 1), r.stderr
    assert (out / "incident.json").exists()
    assert not sentinel.exists(), sentinel.read_text()


def test_git_children_get_no_credentials(repo, monkeypatch):
    """Through keyguard's git layer, a real git runs a shell (a `!` alias) that prints its environment."""
    from keyguard.git.run import output

    planted = {"FLUXLOOP_API_KEY": platform_key("flux_prod_"), "FLUXLOOP_TOKEN": "t0ken-value-1",
               "AWS_SECRET_ACCESS_KEY": "aws-secret-value", "GITHUB_TOKEN": "ghp-value-123",
               "MY_SERVICE_API_KEY": "svc-api-key-value", "NPM_TOKEN": "npm-token-value",
               "GIT_DIR": "/nonexistent/hook/dir", "GIT_WORK_TREE": "/nonexistent/tree"}
    for k, v in planted.items():
        monkeypatch.setenv(k, v)
    repo.git("config", "alias.envdump", "!env")
    env_out = output(["envdump"], repo.path).decode()
    names = {line.partition("=")[0] for line in env_out.splitlines()}
    for k, v in planted.items():
        assert k not in names and v not in env_out, k
    assert "PATH" in names and os.environ["PATH"] in env_out  # git still finds itself
    assert "core.fsmonitor" in env_out  # the hardening reaches git's own children (GIT_CONFIG_PARAMETERS)
