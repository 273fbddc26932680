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

from conftest import GIT_ENV, OBJECT_FORMATS, ROOT
from keys import api_key, platform_key
from test_source_support import make_detector, secrets

pytestmark = pytest.mark.usefixtures("git_identity")

from keyguard.errors import GitError
from keyguard.git import diff as gdiff
from keyguard.git import repo as gitcmd
from keyguard.sources import staged as staged_mod
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


def test_git_calls_clean_commit_one_new_keyed_file_one_modified_keyed_file_two(repo, detector, tmp_path,
                                                                               monkeypatch):
    repo.write("a.py", "print('hello')\n")
    repo.commit("base")
    bindir, log = _counting_git(tmp_path)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    repo.write("a.py", "print('hello')\nprint('world')\n")
    repo.git("add", "a.py")
    log.write_text("")
    found, _ = staged(repo, detector)
    assert found == []
    assert len(log.read_text().splitlines()) == 1  # diff-index --raw only: nothing looked like a key
    repo.write("a.py", "print('hello')\n")
    repo.write("new.py", f"K = '{platform_key()}'\n")
    repo.git("add", "-A")
    log.write_text("")
    found, _ = staged(repo, detector)
    assert [(lh.path, lh.hit.line) for lh in found] == [("new.py", 1)]
    assert len(log.read_text().splitlines()) == 1  # a new file: every line is added, the blob is on disk
    repo.write("a.py", f"print('hello')\nK = '{platform_key()}'\n")
    repo.git("add", "a.py")
    log.write_text("")
    found, _ = staged(repo, detector)
    assert {(lh.path, lh.hit.line) for lh in found} == {("a.py", 2), ("new.py", 1)}
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and "--patch" in calls[1] and calls[1].endswith("-- a.py")


def test_outside_a_repository_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert gitcmd.find_root(plain) is None
    with pytest.raises(GitError, match="not inside a git repository"):
        gitcmd.require_root(plain)
    with pytest.raises(GitError) as err:
        list(StagedSource(plain).located_hits(make_detector()))
    assert "\n" not in str(err.value)


# -- the blob path: blobs read from the work tree when they hash to the staged id, else from git ----

def _filler(n: int, tag: str) -> str:
    return "".join(f"value_{tag}_{i} = {i} * 2  # plain code\n" for i in range(n))


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_a_large_change_finds_the_key_on_its_added_line_of_a_modified_file(repo, detector, monkeypatch):
    """Hundreds of staged files, one modified file with an old key and a new one: only the new
    one, at its line; a big blob (hashed with hashlib) and a work tree edited after staging too."""
    old, new, big_key = platform_key(), api_key(), platform_key("flux_ci_")
    body = _filler(400, "m")
    repo.write("pkg/settings.py", f"OLD = '{old}'\n{body}")
    repo.commit("base with an old key")
    for i in range(300):
        repo.write(f"pkg/mod{i}.py", _filler(40, str(i)))
    lines = body.splitlines(keepends=True)
    lines.insert(250, f"NEW = '{new}'\n")
    repo.write("pkg/settings.py", f"OLD = '{old}'\n" + "".join(lines))
    repo.write("data/big.py", _filler(30_000, "big") + f"K = '{big_key}'\n")  # > SMALL_HASH
    assert (repo.path / "data/big.py").stat().st_size > staged_mod.SMALL_HASH
    repo.git("add", "-A")
    expected = [("data/big.py", 30_001, big_key), ("pkg/settings.py", 252, new)]
    found, src = staged(repo, detector)
    assert sorted((lh.path, lh.hit.line, lh.hit.secret) for lh in found) == expected
    assert src.stats["files"] == 302
    # the work tree no longer holds the staged content: the blobs come from git, same answer
    repo.write("pkg/settings.py", "gone\n")
    (repo.path / "data/big.py").unlink()
    found, _ = staged(repo, detector)
    assert sorted((lh.path, lh.hit.line, lh.hit.secret) for lh in found) == expected
    # more modified files with hits than pathspecs on one command line: the whole patch is read
    monkeypatch.setattr(gdiff, "MAX_PATHSPECS", 0)
    found, _ = staged(repo, detector)
    assert sorted((lh.path, lh.hit.line, lh.hit.secret) for lh in found) == expected


def test_a_rename_is_a_new_file(repo, detector):
    key = platform_key()
    repo.write("old.env", f"A=1\nK={key}\n")
    repo.commit("key")
    repo.git("mv", "old.env", "new.env")
    found, _ = staged(repo, detector)
    assert [(lh.path, lh.hit.line) for lh in found] == [("new.env", 2)]


def test_a_staged_symlink_is_judged_by_its_target_name_not_by_the_file_it_points_to(repo, detector):
    key = platform_key()
    repo.write("secret.env", f"K={key}\n")
    repo.commit("a key already committed")
    os.symlink("secret.env", repo.path / "link.env")
    repo.git("add", "link.env")
    found, _ = staged(repo, detector)
    assert found == []


def test_a_fifo_in_the_work_tree_does_not_block_the_staged_scan(repo, detector):
    key = platform_key()
    repo.write("app.env", f"K={key}\n")
    repo.git("add", "app.env")
    (repo.path / "app.env").unlink()
    os.mkfifo(repo.path / "app.env")
    found, _ = staged(repo, detector)
    assert [(lh.path, lh.hit.line, lh.hit.secret) for lh in found] == [("app.env", 1, key)]


def test_a_submodule_and_a_deleted_file_are_not_read(repo, detector, tmp_path):
    sub = _commit_elsewhere(tmp_path / "sub")
    key = platform_key()
    repo.write("gone.env", f"K={key}\n")
    repo.commit("key")
    repo.git("rm", "-q", "gone.env")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub")
    assert "vendor/sub" in repo.git("diff", "--cached", "--name-only")
    found, src = staged(repo, detector)
    assert found == [] and src.warnings == []


def _commit_elsewhere(path: Path) -> str:
    """A commit id in another repository (what a submodule entry points to)."""
    path.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    for cmd in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "sub"]):
        subprocess.run(["git", *cmd], cwd=path, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_a_git_folder_whose_work_tree_is_elsewhere_is_asked_to_git(repo, tmp_path):
    """Next to a `.git` folder whose core.worktree points elsewhere, the work tree is that
    other folder (git's answer), not the folder holding `.git` (the shortcut stands aside)."""
    from keyguard.commands.common import make_source
    from types import SimpleNamespace

    elsewhere = tmp_path / "tree"
    elsewhere.mkdir()
    repo.git("config", "core.worktree", str(elsewhere))
    args = SimpleNamespace(stdin=False, staged=True, history=False, pre_push=False, paths=[])
    assert gitcmd.plain_top(repo.path) is None
    _, root = make_source(args, repo.path)
    assert root == elsewhere.resolve()


def test_the_top_of_a_plain_work_tree_is_known_without_git(repo, tmp_path):
    assert gitcmd.plain_top(repo.path) == repo.path.resolve() == gitcmd.find_root(repo.path).resolve()
    (repo.path / "sub").mkdir()
    assert gitcmd.plain_top(repo.path / "sub") is None  # a subfolder: git is asked
    assert gitcmd.plain_top(tmp_path) is None


def test_without_posix_spawn_git_runs_through_subprocess(repo, detector, monkeypatch):
    """Where there is no posix_spawn/memfd (not Linux), git runs through subprocess: same answers,
    same one-line errors."""
    from keyguard.git import run as grun

    monkeypatch.setattr(grun, "_SPAWN", False)
    key = platform_key()
    repo.write("app.env", f"A=1\nK={key}\n")
    repo.git("add", "app.env")  # no commit yet: the empty tree is hashed from stdin
    found, _ = staged(repo, detector)
    assert [(lh.path, lh.hit.line, lh.hit.secret) for lh in found] == [("app.env", 2, key)]
    with pytest.raises(GitError) as err:
        grun.run(["rev-parse", "--verify", "no-such-ref"], repo.path)
    assert "\n" not in str(err.value) and "rev-parse" in str(err.value)


def test_git_errors_through_posix_spawn_are_one_line(repo, tmp_path):
    from keyguard.git import run as grun

    with pytest.raises(GitError) as err:
        grun.run(["rev-parse", "--verify", "no-such-ref"], repo.path)
    assert "\n" not in str(err.value) and "rev-parse" in str(err.value)
    with pytest.raises(GitError, match="not a directory"):
        grun.run(["status"], tmp_path / "missing")
    assert grun.run(["hash-object", "--stdin"], repo.path, input=b"x\n").stdout.strip() == \
        repo.git("hash-object", "--stdin", input=b"x\n").strip().encode()


def test_a_modified_file_with_an_odd_name_maps_its_hits_to_added_lines(repo, detector):
    old, new = platform_key(), api_key()
    name = 'we ird "näme"\t.env'
    repo.write(name, f"A={old}\n")
    repo.commit("old key")
    repo.write(name, f"A={old}\nB=2\nC={new}\n")
    repo.git("add", "-A")
    found, _ = staged(repo, detector)
    assert [(lh.path, lh.hit.line, lh.hit.secret) for lh in found] == [(name, 3, new)]
