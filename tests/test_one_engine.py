"""``keyguard incident`` and ``keyguard scan --history --include-unreachable`` see a repository the same way.

One real repository (real git porcelain) holds one key in every place git can
keep it: a branch, a tag message, a commit message, the three parts of a stash
(index, unstaged, untracked), a merge resolution, a deleted file, a commit left
only in the reflog, a dangling blob, an index-only change and the work tree.
Both commands run through the real CLI with JSON output; the set of places
(commit, path, line) and the ref names of each place must be equal, and every
expected place must be there. SHA-1 and SHA-256 repositories alike.
"""

from __future__ import annotations

import json

import pytest

from conftest import OBJECT_FORMATS
from keys import platform_key


def _build(repo):
    key = platform_key("flux_prod_")
    at = {}
    repo.write("README.md", "hello\n")
    repo.write("app.py", "x = 1\n")
    repo.write("conf.ini", "[a]\nv = 1\n")
    at["base"] = repo.commit("init")
    # a deleted file
    repo.write("old/secret.cfg", f"[api]\nkey = {key}\n")
    at["deleted"] = repo.commit("add old config")
    repo.git("rm", "-q", "old/secret.cfg")
    repo.commit("drop old config")
    # a branch, and a merge whose resolution brings the key in
    repo.git("checkout", "-q", "-b", "feature/deploy")
    repo.write("deploy/app.env", f"# deploy\nFLUXLOOP_API_KEY={key}\n")
    repo.write("conf.ini", "[a]\nv = 2\n")
    at["branch"] = repo.commit("deploy env")
    repo.git("checkout", "-q", "main")
    repo.write("conf.ini", "[a]\nv = 3\n")
    repo.commit("main side")
    repo.git("merge", "-q", "--no-edit", "feature/deploy", check=False)  # conflict on conf.ini
    repo.write("conf.ini", f"[a]\nv = 4\nkey = {key}\n")
    repo.git("add", "conf.ini")
    repo.git("commit", "-q", "--no-edit")
    at["merge"] = repo.git("rev-parse", "HEAD").strip()
    # a commit message, and an annotated tag message
    repo.git("commit", "-q", "--allow-empty", "-m", f"rotate\n\nthe old key was {key}")
    at["message"] = repo.git("rev-parse", "HEAD").strip()
    repo.git("tag", "-a", "v1", "-m", f"release\n\nbuilt with {key}")
    # a reflog-only commit (amended away)
    repo.write("debug.py", f"print(1)\nKEY = '{key}'\n")
    at["amended"] = repo.commit("debug")
    repo.write("debug.py", "print(1)\n")
    repo.git("commit", "-q", "-a", "--amend", "-m", "debug (clean)")
    # a stash with an index part, an unstaged part and an untracked part
    repo.write("staged.txt", f"s = {key}\n")
    repo.git("add", "staged.txt")
    repo.write("app.py", f"x = 1\ny = '{key}'\n")
    repo.write("untracked.env", f"U={key}\n")
    repo.git("stash", "push", "-q", "-u")
    # a dangling blob (written to the store, never staged)
    at["dangling"] = repo.git("hash-object", "-w", "--stdin", input=f"one\ntwo\nK={key}\n".encode()).strip()
    # an index-only change: staged with the key, the file on disk without it
    repo.write("index_only.txt", f"i = {key}\n")
    repo.git("add", "index_only.txt")
    repo.write("index_only.txt", "i = ${KEY}\n")
    # the work tree: an untracked file
    repo.write("local.env", f"\nLOCAL={key}\n")
    return key, at


def _incident(keyguard, repo, key, out):
    r = keyguard("incident", "--offline", "--no-revoke", "--output-dir", str(out), cwd=repo.path,
                 input=(key + "\n").encode())
    assert r.returncode in (0, 1), r.stderr
    assert key not in r.stdout.decode() + r.stderr.decode()
    doc = json.loads((out / "incident.json").read_text())
    return {(o["commit"], o["path"], o["line"]): tuple(o["refs"]) for o in doc["occurrences"]}


def _scan(keyguard, repo, key):
    r = keyguard("scan", "--history", "--include-unreachable", "-f", "json", "--no-progress", cwd=repo.path)
    assert r.returncode == 1, r.stderr
    assert key not in r.stdout.decode() + r.stderr.decode()
    doc = json.loads(r.stdout)
    return {(f["provenance"]["commit"], f["path"], f["line"]): tuple(f["provenance"]["refs"])
            for f in doc["findings"]}


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_incident_and_scan_include_unreachable_see_the_same_places(repo, keyguard, tmp_path):
    key, at = _build(repo)
    incident = _incident(keyguard, repo, key, tmp_path / "out")
    scan = _scan(keyguard, repo, key)
    assert incident == scan

    stash = repo.git("rev-parse", "refs/stash").strip()
    stash_index, stash_untracked = repo.git("rev-parse", "refs/stash^2", "refs/stash^3").split()
    expected = {
        (at["deleted"], "old/secret.cfg", 2): ("feature/deploy", "main", "tags/v1"),
        (at["branch"], "deploy/app.env", 2): ("feature/deploy", "main", "tags/v1"),
        (at["merge"], "conf.ini", 3): ("main", "tags/v1"),
        (at["message"], "<commit-message>", 3): ("main", "tags/v1"),
        (at["message"], "<tag-message:v1>", 3): ("tags/v1",),
        (at["amended"], "debug.py", 2): (),
        (stash_index, "staged.txt", 1): ("stash@{0}",),
        (stash, "app.py", 2): ("stash@{0}",),
        (stash_untracked, "untracked.env", 1): ("stash@{0}",),
        ("", "<unreachable>", 3): (),
        ("", "index_only.txt", 1): (),
        ("", "local.env", 2): (),
        # the work tree also holds the files HEAD still has
        ("", "conf.ini", 3): (),
        ("", "deploy/app.env", 2): (),
    }
    for place, refs in expected.items():
        assert place in scan, place
        assert scan[place] == refs, place
    assert set(scan) == set(expected)
