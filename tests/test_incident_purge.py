"""``keyguard incident --purge``: git filter-repo on a fresh mirror clone, then a re-scan.

Needs git-filter-repo (it is in the ``test`` extra); the user's repository must
come out byte-for-byte untouched, and the mirror must hold the key nowhere.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

import keys
from keyguard.incident import purge

needs_filter_repo = pytest.mark.skipif(purge.find_filter_repo() is None,
                                       reason="git-filter-repo is not installed (pip install git-filter-repo)")


def _state(repo) -> dict:
    """What 'untouched' means: refs, reflogs, every object, the work tree."""
    objs = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch-check"], cwd=repo.path,
                          capture_output=True, check=True).stdout
    files = {}
    for p in sorted(repo.path.rglob("*")):
        if ".git" not in p.relative_to(repo.path).parts and p.is_file():
            files[str(p.relative_to(repo.path))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return {"refs": repo.git("for-each-ref"), "reflog": repo.git("reflog", "--all"),
            "objects": hashlib.sha256(objs).hexdigest(), "files": files,
            "status": repo.git("status", "--porcelain")}


def _all_object_bytes(path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=path,
                          capture_output=True, check=True).stdout


@pytest.fixture
def history(repo):
    key = keys.api_key("flx_sa_")
    repo.write("app.py", "print('hi')\n")
    repo.commit("init")
    repo.write("settings.py", f"TOKEN = '{key}'\nDEBUG = True\n")
    repo.commit("settings")
    repo.git("checkout", "-q", "-b", "release")
    repo.write("notes.txt", f"deploy with {key}\n")
    repo.commit(f"deploy notes, key {key}")
    repo.git("tag", "-a", "v2", "-m", f"v2 {key}")
    repo.git("checkout", "-q", "main")
    repo.write("settings.py", "import os\nTOKEN = os.environ['TOKEN']\nDEBUG = True\n")
    repo.commit("read the token from the environment")
    return repo, key


@needs_filter_repo
def test_purge_rewrites_a_mirror_and_leaves_the_repo_alone(history, keyguard, tmp_path):
    repo, key = history
    before = _state(repo)
    out = tmp_path / "out"
    r = keyguard("incident", "--offline", "--purge", "--output-dir", str(out), cwd=repo.path,
                 input=(key + "\n").encode())
    assert r.returncode == 1, r.stderr  # offline: still unknown whether the key is live
    assert key.encode() not in r.stdout + r.stderr
    doc = json.loads((out / "incident.json").read_text())
    res = doc["purge"]["result"]
    assert res["clean"] is True and res["remaining"] == []
    assert b"the key is gone" in r.stdout

    mirror = out / "mirror.git"
    assert res["mirror"] == str(mirror)
    # independently of keyguard: no object of the mirror holds the key, the refs are all there
    assert key.encode() not in _all_object_bytes(mirror)
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)"], cwd=mirror, capture_output=True,
                          check=True).stdout.decode().split()
    assert {"refs/heads/main", "refs/heads/release", "refs/tags/v2"} <= set(refs)
    notes = subprocess.run(["git", "show", "release:notes.txt"], cwd=mirror, capture_output=True,
                           check=True).stdout
    assert notes == b"deploy with ***REMOVED***\n"
    msg = subprocess.run(["git", "log", "-1", "--format=%s", "release"], cwd=mirror, capture_output=True,
                         check=True).stdout
    assert msg.strip() == b"deploy notes, key ***REMOVED***"

    # the user's repository: untouched, and still holding the key
    assert _state(repo) == before
    assert key.encode() in _all_object_bytes(repo.path)


@needs_filter_repo
def test_purge_with_nothing_in_history(repo, keyguard, tmp_path):
    repo.write("a.txt", "a\n")
    repo.commit("a")
    key = keys.platform_key()
    repo.write("local.env", f"K={key}\n")  # only on disk
    out = tmp_path / "out"
    r = keyguard("incident", "--offline", "--purge", "--output-dir", str(out), cwd=repo.path,
                 input=(key + "\n").encode())
    doc = json.loads((out / "incident.json").read_text())
    assert doc["purge"]["result"] is None
    assert any("nothing to rewrite" in w for w in doc["warnings"])
    assert not (out / "mirror.git").exists()
    assert key.encode() not in r.stdout + r.stderr


def test_missing_filter_repo_says_how_to_install(history, keyguard, tmp_path, monkeypatch):
    """With git-filter-repo on neither PATH nor beside the Python, --purge stops before doing anything."""
    repo, key = history
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # a Python whose bin folder has no git-filter-repo; PATH with git only
    (bindir / "python").symlink_to(sys.executable)
    git = subprocess.run(["which", "git"], capture_output=True, check=True).stdout.decode().strip()
    (bindir / "git").symlink_to(git)
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    monkeypatch.setenv("PATH", str(bindir))
    assert purge.find_filter_repo() is None
    with pytest.raises(purge.FilterRepoMissing) as exc:
        purge.run_purge(repo.path, key, tmp_path / "r.txt", tmp_path / "m.git")
    assert "pip install git-filter-repo" in str(exc.value)
    assert not (tmp_path / "m.git").exists()
