"""keyguard through the real pre-commit framework: commits and pushes with keys are refused.

pre-commit installs keyguard from a snapshot of this checkout (a real,
non-editable pip install in its own venv, as users get it), once per session.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import GIT_ENV, ROOT, Repo
from keys import platform_key

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def _env(home: Path, pc_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(GIT_ENV)
    env.update({"HOME": str(home), "PRE_COMMIT_HOME": str(pc_home), "NO_COLOR": "1",
                "PRE_COMMIT_COLOR": "never"})
    env.pop("FLUXLOOP_API_KEY", None)
    return env


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory) -> tuple[str, str]:
    """A git snapshot of this checkout (tracked + untracked-not-ignored files) and its commit."""
    dest = tmp_path_factory.mktemp("keyguard-snapshot")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "snapshot"]):
        subprocess.run(["git", *cmd], cwd=dest, env=env, check=True, capture_output=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=dest, env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    return str(dest), sha


@pytest.fixture(scope="session")
def pc_home(tmp_path_factory) -> Path:
    """One PRE_COMMIT_HOME for the session, so keyguard is installed once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def hooked(repo: Repo, hook_repo, pc_home) -> Repo:
    """A repository whose .pre-commit-config.yaml uses keyguard, with both hooks installed."""
    path, sha = hook_repo
    repo.write(".pre-commit-config.yaml", f"""repos:
- repo: {path}
  rev: {sha}
  hooks:
  - id: keyguard
  - id: keyguard-push
""")
    repo.write("README.md", "# demo\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "init")
    env = _env(repo.path.parent / "home", pc_home)
    for hook_type in ("pre-commit", "pre-push"):
        r = subprocess.run([*PRE_COMMIT, "install", "-t", hook_type], cwd=repo.path, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    # Build the hook environment now (pip install of keyguard), once per session.
    r = subprocess.run([*PRE_COMMIT, "install-hooks"], cwd=repo.path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    repo.env = env
    return repo


def _git(repo: Repo, *args: str) -> subprocess.CompletedProcess:
    """git with the hook environment (so the installed hooks run), not raising."""
    return subprocess.run(["git", *args], cwd=repo.path, env=repo.env, capture_output=True, text=True,
                          timeout=300)


def refuses_a_key_and_passes_a_clean_commit(repo: Repo) -> None:
    """A commit adding a key fails in keyguard's hook (redacted, nothing committed); a clean one passes."""
    key = platform_key("flux_prod_")
    repo.write(".env", f"FLUXLOOP_API_KEY={key}\n")
    repo.git("add", ".env")
    r = _git(repo, "commit", "-m", "add env")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "keyguard" in out and "Failed" in out
    assert ".env" in out
    assert key not in out, "the hook printed the full key"
    assert key[:14] in out or key[-4:] in out  # the redacted form is shown
    # nothing was committed
    assert _git(repo, "log", "--oneline").stdout.count("\n") == 1

    repo.write(".env", "FLUXLOOP_API_KEY=${FLUXLOOP_API_KEY}\n")
    repo.git("add", ".env")
    r = _git(repo, "commit", "-m", "env from the environment")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Passed" in r.stdout + r.stderr


def test_commit_with_key_is_refused_and_clean_commit_passes(hooked: Repo):
    refuses_a_key_and_passes_a_clean_commit(hooked)


def test_partial_staging_checks_the_index_not_the_working_tree(hooked: Repo):
    key = platform_key("flux_dev_")
    hooked.write("app.py", "TIMEOUT = 3\n")
    hooked.git("add", "app.py")
    # the key is only in the working tree, not staged: the commit must pass
    hooked.write("app.py", f"TIMEOUT = 3\nKEY = '{key}'\n")
    r = _git(hooked, "commit", "-m", "timeout")
    assert r.returncode == 0, r.stdout + r.stderr


def test_run_all_files_and_files_really_scan(hooked: Repo):
    key = platform_key("flux_ci_")
    hooked.write("deploy/settings.json", '{"fluxloop": {"api_key": "%s"}}\n' % key)
    hooked.git("add", "-A")
    hooked.git("commit", "-q", "--no-verify", "-m", "sneaked in")
    # nothing is staged now: --all-files and --files must still scan the files
    for extra in (["--all-files"], ["--files", "deploy/settings.json"]):
        r = subprocess.run([*PRE_COMMIT, "run", "keyguard", *extra], cwd=hooked.path, env=hooked.env,
                           capture_output=True, text=True, timeout=300)
        out = r.stdout + r.stderr
        assert r.returncode != 0, f"{extra}: {out}"
        assert "deploy/settings.json" in out
        assert key not in out
    r = subprocess.run([*PRE_COMMIT, "run", "keyguard", "--files", "README.md"], cwd=hooked.path,
                       env=hooked.env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_push_with_key_in_history_is_refused(hooked: Repo, tmp_path: Path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    hooked.git("remote", "add", "origin", str(remote))
    r = _git(hooked, "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stdout + r.stderr
    key = platform_key("flux_stg_")
    hooked.write("notes.md", f"temporary: {key}\n")
    hooked.git("add", "-A")
    hooked.git("commit", "-q", "--no-verify", "-m", "oops")
    hooked.write("notes.md", "nothing to see\n")
    hooked.git("add", "-A")
    hooked.git("commit", "-q", "--no-verify", "-m", "remove it again")
    r = _git(hooked, "push", "origin", "main")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "notes.md" in out and key not in out
    remote_log = subprocess.run(["git", "--git-dir", str(remote), "log", "--oneline", "main"],
                                capture_output=True, text=True).stdout
    assert "oops" not in remote_log


def _readme_hook_snippet() -> str:
    """The README's fenced YAML block that starts with ``# .pre-commit-config.yaml``, as printed."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M)
    found = [b for b in blocks if b.startswith("# .pre-commit-config.yaml")]
    assert len(found) == 1, "README.md must hold exactly one .pre-commit-config.yaml snippet"
    return found[0]


def test_readme_hook_snippet_works_as_printed(repo: Repo, hook_repo, pc_home):
    """The README's snippet and install command, run through the real pre-commit in a new repository.

    The one substitution: the snippet's repository URL is a placeholder for where
    keyguard is hosted, so it is replaced by a local git snapshot of this checkout
    (``hook_repo``: its default branch is ``main``, as the project's). ``rev`` and
    the hook ids stay exactly as printed.
    """
    snippet = _readme_hook_snippet()
    url = yaml.safe_load(snippet)["repos"][0]["repo"]
    path, sha = hook_repo
    config = snippet.replace(url, path, 1) if "://" in url else snippet
    assert config.replace(path, url, 1) == snippet  # only the URL changed
    repo.write(".pre-commit-config.yaml", config)
    repo.write("README.md", "# demo\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "init")
    repo.env = _env(repo.path.parent / "home", pc_home)

    install = re.search(r"`(pre-commit install[^`]*)`", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert install, "README.md must say how to install the hooks"
    argv = install.group(1).split()
    r = subprocess.run([*PRE_COMMIT, *argv[1:]], cwd=repo.path, env=repo.env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (repo.path / ".git" / "hooks" / "pre-commit").is_file()
    assert (repo.path / ".git" / "hooks" / "pre-push").is_file()

    refuses_a_key_and_passes_a_clean_commit(repo)

    # what the README says autoupdate does: the branch becomes the newest commit's id
    r = subprocess.run([*PRE_COMMIT, "autoupdate"], cwd=repo.path, env=repo.env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert yaml.safe_load((repo.path / ".pre-commit-config.yaml").read_text())["repos"][0]["rev"] == sha
