"""Git places keys hide in besides files, each found by the real CLI in a real repository.

Tag messages, file and folder names, author/committer identities and trailers,
git notes, submodules and shallow clones, in every mode where they can occur
(history, range, pre-push, work tree, staged). Every test also checks that no
output holds the planted key.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import GIT_ENV, Repo
from keys import api_key, platform_key


def _no_key(key: str, *texts) -> None:
    for t in texts:
        if isinstance(t, bytes):
            t = t.decode("utf-8", "replace")
        assert key not in t


def _json(keyguard, cwd: Path, *args: str):
    r = keyguard("scan", "-f", "json", "--no-progress", *args, cwd=cwd)
    assert r.returncode in (0, 1), r.stderr
    return r, json.loads(r.stdout)


def _git_as(repo: Repo, who: dict[str, str], *args: str) -> None:
    """``git`` in ``repo`` with other author/committer variables (the fixture's are fixed)."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV, HOME=str(repo.path.parent / "home"), **who)
    subprocess.run(["git", *args], cwd=repo.path, env=env, check=True, capture_output=True)


def _clone(src: Path, dest: Path, *args: str) -> Repo:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    subprocess.run(["git", "clone", "-q", *args, f"file://{src}", str(dest)], check=True, env=env,
                   capture_output=True)
    return Repo(dest)


# -- shallow clones ------------------------------------------------------------------------

def _audit_every_report(tmp_path: Path) -> tuple[Path, list[str]]:
    """An offline ``audit`` writing JSON, SARIF and Markdown into ``tmp_path/out``: (that folder, its args)."""
    out = tmp_path / "out"
    out.mkdir()
    return out, ["audit", "--no-verify", "--no-hygiene", "--no-cache", "--json", str(out / "a.json"),
                 "--sarif", str(out / "a.sarif"), "--markdown", str(out / "a.md")]


def _deep(repo: Repo, key: str) -> None:
    repo.write("old.env", f"FLUXLOOP_API_KEY={key}\n")
    repo.commit("old key")
    repo.git("rm", "-q", "old.env")
    repo.commit("drop the key")
    repo.write("a.txt", "later\n")
    repo.commit("later")


def test_shallow_clone_scan_warns_everywhere(repo, keyguard, tmp_path):
    key = platform_key()
    _deep(repo, key)
    shallow = _clone(repo.path, tmp_path / "shallow", "--depth", "1")
    r, doc = _json(keyguard, shallow.path, "--history")
    assert doc["findings"] == []  # the key is before the shallow boundary
    assert any("shallow clone" in w for w in doc["warnings"])
    assert r.stderr.count(b"shallow clone") == 1
    r = keyguard("scan", "--history", "-f", "sarif", "--no-progress", cwd=shallow.path)
    run = json.loads(r.stdout)["runs"][0]
    assert run["properties"]["shallowClone"] is True
    assert any("shallow clone" in n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"])
    r = keyguard("scan", "--history", "-f", "markdown", "--no-progress", cwd=shallow.path)
    assert b"shallow clone" in r.stdout
    r = keyguard("scan", "--history", "--no-progress", cwd=shallow.path)
    assert r.stderr.count(b"shallow clone") == 1
    # a full clone says nothing of the kind
    full = _clone(repo.path, tmp_path / "full")
    r, doc = _json(keyguard, full.path, "--history")
    assert not any("shallow" in w for w in doc["warnings"]) and len(doc["findings"]) == 1
    run = json.loads(keyguard("scan", "--history", "-f", "sarif", cwd=full.path).stdout)["runs"][0]
    assert run["properties"]["shallowClone"] is False
    _no_key(key, r.stdout, r.stderr)


def test_shallow_clone_range_scan_warns(repo, keyguard, tmp_path):
    _deep(repo, platform_key())
    shallow = _clone(repo.path, tmp_path / "shallow", "--depth", "1")
    r, doc = _json(keyguard, shallow.path, "--history", "--since", "HEAD")
    assert any("shallow clone" in w for w in doc["warnings"])


def test_audit_in_a_shallow_clone_warns_and_can_fail(repo, keyguard, tmp_path):
    _deep(repo, platform_key())
    shallow = _clone(repo.path, tmp_path / "shallow", "--depth", "1")
    out, args = _audit_every_report(tmp_path)
    r = keyguard(*args, cwd=shallow.path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count(b"shallow clone") == 1
    assert any("shallow clone" in w for w in json.loads((out / "a.json").read_text())["warnings"])
    assert "shallow clone" in (out / "a.md").read_text()
    sarif = json.loads((out / "a.sarif").read_text())
    assert sarif["runs"][0]["properties"]["shallowClone"] is True
    r = keyguard(*args, "--fail-on-shallow", cwd=shallow.path)
    assert r.returncode == 4
    assert b"audit incomplete: full history not done" in r.stderr
    full = _clone(repo.path, tmp_path / "full")
    r = keyguard(*args, "--fail-on-shallow", cwd=full.path)
    assert r.returncode == 1  # the old key, found: the full history was read


def test_incident_in_a_shallow_clone_never_says_a_flat_zero(repo, keyguard, tmp_path):
    key = platform_key()
    _deep(repo, key)
    shallow = _clone(repo.path, tmp_path / "shallow", "--depth", "1")
    out = tmp_path / "out"
    r = keyguard("incident", "--offline", "--output-dir", str(out), cwd=shallow.path,
                 input=(key + "\n").encode())
    assert b"found in 0 places in the part of history this shallow clone holds" in r.stdout
    assert b"found in 0 places:" not in r.stdout
    assert r.stderr.count(b"shallow clone") == 1
    md = (out / "incident.md").read_text()
    assert "in the part of history this shallow clone holds" in md
    doc = json.loads((out / "incident.json").read_text())
    assert any("shallow clone" in w for w in doc["warnings"])
    _no_key(key, r.stdout, r.stderr, md)


# -- author/committer identities and trailers -----------------------------------------------

def _by_path(doc) -> dict:
    return {f["path"]: f for f in doc["findings"]}


def test_author_committer_and_trailers_in_history_and_ranges(repo, keyguard):
    k_author, k_committer, k_trailer = api_key(), platform_key(), api_key("flx_sa_")
    repo.write("a.txt", "one\n")
    base = repo.commit("base")
    repo.write("a.txt", "two\n")
    repo.git("add", "-A")
    _git_as(repo, {"GIT_AUTHOR_EMAIL": f"{k_author}@example.com"}, "commit", "-q", "-m",
            f"tune\n\nSigned-off-by: Dev <dev@example.com>\nCo-authored-by: Bot <{k_trailer}@bots.example>")
    repo.write("a.txt", "three\n")
    repo.git("add", "-A")
    _git_as(repo, {"GIT_COMMITTER_NAME": f"ci {k_committer}"}, "commit", "-q", "-m", "three")
    for args in (["--history"], ["--history", f"{base}..HEAD"], ["--history", "--since", base]):
        r, doc = _json(keyguard, repo.path, *args)
        by = {(f["path"], f["provenance"]["kind"]) for f in doc["findings"]}
        assert ("<commit-author>", "commit-identity") in by, args
        assert ("<commit-committer>", "commit-identity") in by, args
        assert ("<commit-message>", "commit-message") in by, args  # the Co-authored-by trailer
        assert r.returncode == 1
        _no_key(k_author, r.stdout, r.stderr)
        _no_key(k_committer, r.stdout, r.stderr)
        _no_key(k_trailer, r.stdout, r.stderr)
    r = keyguard("scan", "--history", "--no-progress", cwd=repo.path)
    assert b"<commit-author>" in r.stdout and b"<commit-committer>" in r.stdout
    for k in (k_author, k_committer, k_trailer):
        _no_key(k, r.stdout, r.stderr)
    # pre-push: the range pre-commit hands over
    r = keyguard("scan", "--pre-push", "-f", "json", cwd=repo.path,
                 env={"PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": "HEAD"})
    assert {f["path"] for f in json.loads(r.stdout)["findings"]} >= {"<commit-author>", "<commit-committer>",
                                                                       "<commit-message>"}


def test_a_pushed_commit_whose_author_holds_a_key_is_refused(tmp_path):
    from test_pre_receive import Server, _client

    server = Server(tmp_path)
    client = _client(tmp_path, server)
    key = api_key()
    client.write("b.txt", "b\n")
    client.git("add", "-A")
    _git_as(client, {"GIT_AUTHOR_NAME": f"dev {key}"}, "commit", "-q", "-m", "b")
    code, out = client.push("main", url=server.url)
    assert code != 0 and "<commit-author>" in out
    _no_key(key, out)


def test_a_pushed_path_whose_name_holds_a_key_is_refused(tmp_path):
    from test_pre_receive import Server, _client

    server = Server(tmp_path)
    client = _client(tmp_path, server)
    key = platform_key()
    client.write(f"exports/{key}.csv", "a,b\n")
    client.commit("export")
    code, out = client.push("main", url=server.url)
    assert code != 0 and "exports/" in out and ".csv" in out
    _no_key(key, out)


# -- tag messages in range scans -------------------------------------------------------------

def test_tag_messages_in_ranges_since_and_pre_push(repo, keyguard):
    key = platform_key()
    repo.write("a.txt", "one\n")
    base = repo.commit("base")
    repo.git("tag", "-a", "v0", "-m", "old release, clean", base)
    repo.write("a.txt", "two\n")
    repo.commit("two")
    repo.git("tag", "-a", "v1", "-m", f"release\n\nsmoke-tested with {key}")
    for args in (["--history", f"{base}..HEAD"], ["--history", "--since", base], ["--history"]):
        r, doc = _json(keyguard, repo.path, *args)
        assert [(f["path"], f["provenance"]["kind"]) for f in doc["findings"]] == \
            [("<tag-message:v1>", "tag-message")], args
        _no_key(key, r.stdout, r.stderr)
    # a range that ends before the tagged commit holds no tag
    r, doc = _json(keyguard, repo.path, "--history", f"{base}..{base}")
    assert doc["findings"] == []
    # pre-push of the tag itself (pre-commit hands over the tag object as TO_REF)
    tag = repo.git("rev-parse", "v1").strip()
    for frm in ("0" * 40, base):
        r = keyguard("scan", "--pre-push", "-f", "json", cwd=repo.path,
                     env={"PRE_COMMIT_FROM_REF": frm, "PRE_COMMIT_TO_REF": tag})
        assert [f["path"] for f in json.loads(r.stdout)["findings"]] == ["<tag-message:v1>"], frm
        assert r.returncode == 1


# -- git notes ---------------------------------------------------------------------------------

def test_git_notes_in_history_and_ranges(repo, keyguard):
    key = api_key()
    repo.write("a.txt", "one\n")
    base = repo.commit("base")
    repo.write("a.txt", "two\n")
    second = repo.commit("two")
    repo.git("notes", "add", "-m", f"deployed with {key}", second)
    repo.git("notes", "--ref", "review", "add", "-m", "looks fine", base)
    for args in (["--history"], ["--history", f"{base}..HEAD"], ["--history", "--since", base]):
        r, doc = _json(keyguard, repo.path, *args)
        found = [(f["path"], f["provenance"]["kind"], f["provenance"]["commit"]) for f in doc["findings"]]
        assert found == [("<note:refs/notes/commits>", "note", second)], args
        _no_key(key, r.stdout, r.stderr)
    # a range without the annotated commit reads no note
    r, doc = _json(keyguard, repo.path, "--history", base)
    assert doc["findings"] == []


# -- file and folder names ----------------------------------------------------------------------

def test_keys_in_file_and_folder_names_in_history_and_ranges(repo, keyguard):
    k_file, k_dir = api_key(), platform_key()
    repo.write("a.txt", "one\n")
    base = repo.commit("base")
    repo.write(f"backup/{k_file}.json", "{}\n")
    repo.write(f"{k_dir}/settings.txt", "nothing secret inside\n")
    added = repo.commit("add odd names")
    for args in (["--history"], ["--history", f"{base}..HEAD"], ["--history", "--since", base]):
        r, doc = _json(keyguard, repo.path, *args)
        found = sorted((f["provenance"]["kind"], f["provenance"]["commit"], f["line"]) for f in doc["findings"])
        assert found == [("tree", added, 1)] * 2, args
        assert [f["provenance"]["present_at_head"] for f in doc["findings"]] == [True, True], args
        paths = {f["path"] for f in doc["findings"]}
        assert any(p.startswith("backup/") and p.endswith(".json") and "…" in p for p in paths), paths
        assert any(p.endswith("/settings.txt") and "…" in p for p in paths), paths
        _no_key(k_file, r.stdout, r.stderr)
        _no_key(k_dir, r.stdout, r.stderr)
    r = keyguard("scan", "--pre-push", "-f", "json", cwd=repo.path,
                 env={"PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": "HEAD"})
    assert r.returncode == 1 and len(json.loads(r.stdout)["findings"]) == 2
    r = keyguard("scan", "--history", "--no-progress", cwd=repo.path)
    assert r.returncode == 1 and b"settings.txt" in r.stdout
    _no_key(k_file, r.stdout, r.stderr)
    _no_key(k_dir, r.stdout, r.stderr)
    # renamed away later: still in history, reported once per path
    repo.git("mv", f"backup/{k_file}.json", "backup/plain.json")
    repo.commit("rename")
    r, doc = _json(keyguard, repo.path, "--history")
    assert sorted((f["path"].endswith(".json"), f["provenance"]["present_at_head"]) for f in doc["findings"]) == \
        [(False, True), (True, False)]  # the renamed file's name is gone from HEAD, the folder's is not
    r, doc = _json(keyguard, repo.path, "--history", "--since", added)
    assert doc["findings"] == []


# -- reflog-only commits and dangling blobs: on by default in audit ------------------------------

def test_audit_reads_reflog_only_commits_and_dangling_blobs_by_default(repo, keyguard, tmp_path):
    k_amended, k_blob = platform_key(), api_key()
    repo.write("a.txt", "one\n")
    repo.commit("base")
    repo.write("deploy.env", f"FLUXLOOP_API_KEY={k_amended}\n")
    repo.write("deploy.sh", "./run\n")
    repo.commit("deploy")
    repo.git("rm", "-q", "--cached", "deploy.env")
    (repo.path / "deploy.env").unlink()
    repo.git("commit", "-q", "--amend", "-m", "deploy, without the env file")  # the key: only in the reflog
    repo.git("hash-object", "-w", "--stdin", input=f"token={k_blob}\n".encode())  # a dangling blob
    out, args = _audit_every_report(tmp_path)
    r = keyguard(*args, cwd=repo.path)
    assert r.returncode == 1, r.stderr
    kinds = sorted((f["path"], f["provenance"]["kind"]) for f in json.loads((out / "a.json").read_text())["findings"])
    assert kinds == [("<unreachable>", "unreachable"), ("deploy.env", "reflog")]
    r = keyguard(*args, "--no-include-unreachable", cwd=repo.path)
    assert r.returncode == 0 and json.loads((out / "a.json").read_text())["findings"] == []
    # with the cache: the attribution memo is replayed only while the reflogs and the store stay the same
    cached = [a for a in args if a != "--no-cache"]
    for _ in range(2):
        r = keyguard(*cached, cwd=repo.path)
        found = json.loads((out / "a.json").read_text())["findings"]
        assert sorted(f["provenance"]["kind"] for f in found) == ["reflog", "unreachable"], r.stderr
    repo.git("reflog", "expire", "--expire=now", "--all")  # no ref moves: the amended commit loses its reflog
    r = keyguard(*cached, cwd=repo.path)
    found = json.loads((out / "a.json").read_text())["findings"]
    assert sorted(f["provenance"]["kind"] for f in found) == ["unreachable", "unreachable"], r.stderr
    for k in (k_amended, k_blob):
        _no_key(k, r.stdout, r.stderr, (out / "a.json").read_text(), (out / "a.md").read_text())


def test_keys_in_names_on_disk_and_staged(repo, keyguard):
    key = api_key()
    repo.write("a.txt", "one\n")
    repo.commit("base")
    repo.write(f"dumps/{key}/notes.txt", "nothing inside\n")
    r, doc = _json(keyguard, repo.path)  # the work tree (untracked file)
    [f] = doc["findings"]
    assert f["path"].startswith("dumps/") and f["path"].endswith("/notes.txt") and "…" in f["path"]
    assert f["line"] == 1 and r.returncode == 1
    _no_key(key, r.stdout, r.stderr)
    repo.git("add", "-A")
    r = keyguard("scan", "--staged", "-f", "json", cwd=repo.path)  # the pre-commit path: a new path
    assert r.returncode == 1, r.stderr
    [f] = json.loads(r.stdout)["findings"]
    assert f["path"].endswith("/notes.txt") and "…" in f["path"]
    r = keyguard("scan", "--staged", cwd=repo.path)
    assert r.returncode == 1 and b"notes.txt" in r.stdout + r.stderr
    _no_key(key, r.stdout, r.stderr)
    repo.commit("dumps")
    repo.write(f"dumps/{key}/notes.txt", "changed, still nothing\n")
    repo.git("add", "-A")
    r = keyguard("scan", "--staged", "-f", "json", cwd=repo.path)  # a changed file: its path is not new
    assert json.loads(r.stdout)["findings"] == []


# -- submodules ---------------------------------------------------------------------------------

def _with_submodule(repo: Repo, tmp_path: Path, key_file: str, key_msg: str) -> Repo:
    lib = Repo(tmp_path / "lib")
    lib.path.mkdir()
    lib.git("init", "-q", "-b", "main")
    lib.write("README.md", "lib\n")
    lib.commit("lib")
    lib.write("config.py", f"KEY = '{key_file}'\n")
    lib.commit("config")
    lib.write("config.py", "KEY = None\n")
    lib.commit(f"drop it (was {key_msg})")
    repo.write("a.txt", "app\n")
    repo.commit("app")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "vendor/lib")
    repo.commit("add lib")
    return lib


def test_submodules_worktree_and_history(repo, keyguard, tmp_path):
    k_file, k_msg, k_disk = platform_key(), api_key(), api_key("flx_sa_")
    _with_submodule(repo, tmp_path, k_file, k_msg)
    (repo.path / "vendor/lib/local.env").write_text(f"FLUXLOOP_API_KEY={k_disk}\n")
    r, doc = _json(keyguard, repo.path)  # the work tree enters the checked-out submodule
    assert [f["path"] for f in doc["findings"]] == ["vendor/lib/local.env"]
    r, doc = _json(keyguard, repo.path, "--history")  # each submodule repository's history too
    assert sorted(f["path"] for f in doc["findings"]) == ["vendor/lib/<commit-message>", "vendor/lib/config.py"]
    assert not any("submodule" in w for w in doc["warnings"])
    for k in (k_file, k_msg, k_disk):
        _no_key(k, r.stdout, r.stderr)
    # a range scan reads the superproject only, and says so
    r, doc = _json(keyguard, repo.path, "--history", "--since", "HEAD~1")
    assert doc["findings"] == []
    assert any("1 submodule repository (vendor/lib) not scanned" in w for w in doc["warnings"])
    # audit and incident read each submodule repository as the full history scan does
    r = keyguard("audit", "--no-verify", "--no-hygiene", "--json", str(tmp_path / "a.json"), cwd=repo.path)
    assert r.returncode == 1, r.stderr
    audit = json.loads((tmp_path / "a.json").read_text())
    assert {"vendor/lib/<commit-message>", "vendor/lib/config.py"} <= {f["path"] for f in audit["findings"]}
    assert not any("submodule" in w for w in audit["warnings"])
    r = keyguard("incident", "--offline", "--no-revoke", "--output-dir", str(tmp_path / "inc"), cwd=repo.path,
                 input=(k_file + "\n").encode())
    occ = json.loads((tmp_path / "inc" / "incident.json").read_text())["occurrences"]
    assert "vendor/lib/config.py" in {o["path"] for o in occ}, occ
    for k in (k_file, k_msg, k_disk):
        _no_key(k, r.stdout, r.stderr, json.dumps(audit), json.dumps(occ))


# -- incident: the same places -----------------------------------------------------------------

def test_incident_lists_names_identities_and_notes(repo, keyguard, tmp_path):
    key = platform_key()
    repo.write("a.txt", "one\n")
    repo.commit("base")
    repo.write(f"keys/{key}.txt", "x\n")
    repo.git("add", "-A")
    _git_as(repo, {"GIT_AUTHOR_EMAIL": f"{key}@example.com"}, "commit", "-q", "-m", "odd")
    repo.git("notes", "add", "-m", f"deployed with {key}", "HEAD")
    out = tmp_path / "out"
    r = keyguard("incident", "--offline", "--output-dir", str(out), cwd=repo.path, input=(key + "\n").encode())
    doc = json.loads((out / "incident.json").read_text())
    kinds = {o["kind"] for o in doc["occurrences"]}
    assert {"tree", "commit-identity", "note", "worktree"} <= kinds, kinds
    assert b"commit author/committer" in r.stdout and b"git note" in r.stdout and b"file name" in r.stdout
    _no_key(key, r.stdout, r.stderr, (out / "incident.md").read_text(), json.dumps(doc))
