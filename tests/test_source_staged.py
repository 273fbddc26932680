"""StagedSource: what the commit adds, judged on the index, in real repositories."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import GIT_ENV, ROOT
from keys import api_key, platform_key
from test_source_support import make_detector, secrets

pytestmark = pytest.mark.usefixtures("git_identity")

from keyguard.errors import GitError
from keyguard.git import repo as gitcmd
from keyguard.sources.staged import StagedSource




def staged(repo, detector, **kw):
    src = StagedSource(repo.path, **kw)
    return list(src.located_hits(detector)), src


def test_only_lines_the_commit_adds_are_reported(repo, detector):
    old, new = platform_key(), api_key()
    repo.write("app.env", f"A={old}\nB=1\n")
    repo.commit("old key already committed")
    repo.write("app.env", f"A={old}\nB=1\nC={new}\n")
    repo.git("add", "app.env")
    found, src = staged(repo, detector)
    assert secrets(found) == [new]
    assert found[0].path == "app.env" and found[0].hit.line == 3
    assert src.stats["files"] == 1


def test_partial_staging_is_judged_on_the_index(repo, detector):
    key = platform_key("flux_dev_")
    repo.write("settings.py", "DEBUG = True\nNAME = 'x'\n")
    repo.commit("base")
    # stage a key with `git apply --cached` (what `git add -p` does), keep it out of the work tree
    patch = ("diff --git a/settings.py b/settings.py\n--- a/settings.py\n+++ b/settings.py\n"
             "@@ -1,2 +1,3 @@\n DEBUG = True\n NAME = 'x'\n"
             f"+KEY = '{key}'\n")
    repo.git("apply", "--cached", input=patch.encode())
    assert key not in (repo.path / "settings.py").read_text()
    found, _ = staged(repo, detector)
    assert secrets(found) == [key]
    assert found[0].hit.line == 3

    # the other way round: a key only in the work tree is not part of the commit
    repo.git("reset", "-q")
    other = platform_key()
    repo.write("settings.py", f"DEBUG = True\nNAME = 'x'\nKEY = '{other}'\n")
    found, _ = staged(repo, detector)
    assert found == []


def test_repository_without_commits(repo, detector):
    key = api_key("flx_sa_")
    repo.write("config/ci.yml", f"token: {key}\n")
    repo.write("README", "hello\n")
    repo.git("add", "-A")
    found, src = staged(repo, detector)
    assert secrets(found) == [key]
    assert found[0].path == "config/ci.yml"
    assert src.stats["files"] == 2


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def test_binary_files_report_all_their_hits(repo, detector):
    first, second = platform_key(), platform_key("flux_ci_")
    repo.write("bundle.zip", _zip({"a.env": f"K={first}\n"}))
    repo.commit("zip")
    repo.write("bundle.zip", _zip({"a.env": f"K={first}\n", "b.env": f"K={second}\n"}))
    repo.git("add", "bundle.zip")
    found, _ = staged(repo, detector)
    # git cannot diff a zip by lines: every hit in it counts, the old one too
    assert sorted(set(secrets(found))) == sorted({first, second})
    assert {lh.path for lh in found} == {"bundle.zip"}


def test_deleted_and_mode_only_changes_report_nothing(repo, detector):
    key = platform_key()
    repo.write("gone.env", f"K={key}\n")
    repo.write("run.sh", f"echo {key}\n")
    repo.commit("keys")
    repo.git("rm", "-q", "gone.env")
    os.chmod(repo.path / "run.sh", 0o755)
    repo.git("add", "run.sh")
    assert "run.sh" in repo.git("diff", "--cached", "--name-only")
    found, _ = staged(repo, detector)
    assert found == []


def test_odd_file_names(repo, detector):
    key = platform_key()
    name = 'we ird "näme"\t.txt'
    repo.write(name, f"x\n{key}\n")
    repo.git("add", "-A")
    found, _ = staged(repo, detector)
    assert [(lh.path, lh.hit.line) for lh in found] == [(name, 2)]


def test_files_mode_scans_the_whole_index_content(repo, detector, monkeypatch):
    committed, only_disk = platform_key(), platform_key()
    repo.write("a.env", f"K={committed}\n")
    repo.write("b.txt", "clean\n")
    repo.commit("key already committed")
    # the work tree differs from the index: the index is what counts
    repo.write("a.env", "K=removed-on-disk-only\n")
    repo.write("untracked.env", f"K={only_disk}\n")
    monkeypatch.chdir(repo.path)
    found, src = staged(repo, detector, files=["a.env", "b.txt", "untracked.env"])
    assert sorted(secrets(found)) == sorted([committed, only_disk])
    assert {lh.path for lh in found} == {"a.env", "untracked.env"}


def test_commit_all_hook_sees_the_temporary_index(repo, tmp_path):
    """`git commit -a` runs the hook on a temporary index (GIT_INDEX_FILE): the key must be seen."""
    repo.write("app.py", "X = 1\n")
    repo.commit("base")
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
        "from keyguard.sources.staged import StagedSource\n"
        "from test_source_support import make_detector\n"
        "hits = list(StagedSource('.').located_hits(make_detector()))\n"
        "print('HITS', len(hits))\n"
        "sys.exit(1 if hits else 0)\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    repo.write("app.py", f"X = 1\nKEY = '{platform_key()}'\n")  # modified, not staged
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env["HOME"] = str(repo.path.parent / "home")
    r = subprocess.run(["git", "commit", "-a", "-m", "sneak"], cwd=repo.path, env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "HITS 1" in r.stdout + r.stderr
    # and a clean `commit -a` passes
    repo.write("app.py", "X = 2\n")
    r = subprocess.run(["git", "commit", "-a", "-m", "clean"], cwd=repo.path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _counting_git(tmp_path: Path) -> tuple[Path, Path]:
    """A `git` wrapper on PATH that logs each call, to count subprocesses."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "git-calls.log"
    wrapper = bindir / "git"
    wrapper.write_text(f"#!/bin/sh\necho \"$*\" >> {log}\nexec {real} \"$@\"\n")
    wrapper.chmod(0o755)
    return bindir, log


def test_clean_commit_costs_one_git_call_and_a_keyish_one_two(repo, detector, tmp_path, monkeypatch):
    repo.write("a.py", "print('hello')\n")
    repo.commit("base")
    bindir, log = _counting_git(tmp_path)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    repo.write("a.py", "print('hello')\nprint('world')\n")
    repo.git("add", "a.py")
    log.write_text("")
    found, _ = staged(repo, detector)
    assert found == []
    assert len(log.read_text().splitlines()) == 1  # diff-index only: nothing looked like a key
    repo.write("a.py", f"print('hello')\nK = '{platform_key()}'\n")
    repo.git("add", "a.py")
    log.write_text("")
    found, _ = staged(repo, detector)
    assert len(found) == 1
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and "cat-file" in calls[1]


def test_outside_a_repository_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert gitcmd.find_root(plain) is None
    with pytest.raises(GitError, match="not inside a git repository"):
        gitcmd.require_root(plain)
    with pytest.raises(GitError) as err:
        list(StagedSource(plain).located_hits(make_detector()))
    assert "\n" not in str(err.value)
