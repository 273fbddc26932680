"""``keyguard incident``: locating a leaked key in a real repository, offline.

One repository holds the key in every place git can keep it: a branch, a
deleted file, a stash, a commit left only in the reflog by ``reset --hard``,
a commit message, an annotated tag message, and an untracked file. The
command must list each place with commit, path, line, author, date and refs,
write the reports and the 0600 replacement file, say ``unknown`` offline,
and never print the key.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

import keys
from conftest import OBJECT_FORMATS

EARLY = ("Early Bird", "early@example.com", "2024-01-02T10:00:00+00:00")


def _commit(repo, message: str, date: str, author: tuple[str, str] | None = None, *paths: str) -> str:
    repo.git("add", *(paths or ["-A"]))
    args = ["commit", "-q", "--no-verify", "--allow-empty", "-m", message, "--date", date]
    if author:
        args += ["--author", f"{author[0]} <{author[1]}>"]
    repo.git(*args)
    return repo.git("rev-parse", "HEAD").strip()


@pytest.fixture
def leaky(repo):
    """A repository with the key in seven kinds of places; returns (repo, key, commit ids)."""
    key = keys.platform_key("flux_prod_")
    ids = {}
    repo.write("README.md", "hello\n")
    ids["init"] = _commit(repo, "init", "2024-01-01T09:00:00+00:00")
    # a deleted file (the earliest leak, by another author)
    repo.write("config/old.cfg", f"[api]\nurl = x\nkey = {key}\n")
    ids["deleted_add"] = _commit(repo, "add config", EARLY[2], EARLY[:2])
    repo.git("rm", "-q", "config/old.cfg")
    ids["deleted_rm"] = _commit(repo, "remove config", "2024-01-03T10:00:00+00:00")
    # a branch
    repo.git("checkout", "-q", "-b", "feature/x")
    repo.write("deploy/app.env", f"# deploy\nFLUXLOOP_API_KEY={key}\n")
    ids["branch"] = _commit(repo, "deploy env", "2024-01-04T10:00:00+00:00")
    repo.git("checkout", "-q", "main")
    # a commit left only in the reflog by reset --hard
    repo.write("tmp/debug.py", f"print('debug')\nKEY = '{key}'\n")
    ids["reset"] = _commit(repo, "debug", "2024-01-05T10:00:00+00:00")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    # a commit message and an annotated tag message
    ids["message"] = _commit(repo, f"rotate key\n\nold one was {key}", "2024-01-06T10:00:00+00:00")
    repo.git("tag", "-a", "v1.0", "-m", f"release\n\nbuilt with {key}")
    # a stash (modified tracked file)
    repo.write("README.md", f"hello\nkey={key}\n")
    repo.git("stash", "-q")
    ids["stash"] = repo.git("rev-parse", "refs/stash").strip()
    # the working tree: an untracked file
    repo.write("local.env", f"FLUXLOOP_API_KEY={key}\n")
    return repo, key, ids


def _run(keyguard, repo, key: str, *args: str, out: Path | None = None):
    extra = ["--output-dir", str(out)] if out is not None else []
    return keyguard("incident", *args, *extra, cwd=repo.path, input=(key + "\n").encode())


def _report(out: Path) -> dict:
    return json.loads((out / "incident.json").read_text())


def _no_key(key: str, *texts) -> None:
    for t in texts:
        if isinstance(t, bytes):
            t = t.decode("utf-8", "replace")
        assert key not in t


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_offline_lists_every_place(leaky, keyguard, tmp_path):
    repo, key, ids = leaky
    out = tmp_path / "out"
    r = _run(keyguard, repo, key, "--offline", out=out)
    assert r.returncode == 1, r.stderr  # unknown status: not handled
    doc = _report(out)
    occ = doc["occurrences"]

    def find(kind, **kw):
        hits = [o for o in occ if o["kind"] == kind and all(o[k] == v for k, v in kw.items())]
        assert hits, f"no {kind} {kw} in {[(o['kind'], o['path']) for o in occ]}"
        return hits[0]

    deleted = find("commit", path="config/old.cfg")
    assert (deleted["commit"], deleted["line"]) == (ids["deleted_add"], 3)
    assert deleted["author"] == "Early Bird <early@example.com>"
    assert deleted["date"].startswith("2024-01-02T10:00:00")
    assert deleted["removed_in"] == [ids["deleted_rm"]]
    assert "main" in deleted["refs"] and "tags/v1.0" in deleted["refs"]

    branch = find("commit", path="deploy/app.env")
    assert (branch["commit"], branch["line"], branch["refs"]) == (ids["branch"], 2, ["feature/x"])

    reflog = find("reflog", path="tmp/debug.py")
    assert (reflog["commit"], reflog["line"], reflog["refs"]) == (ids["reset"], 2, [])

    stash = find("stash", path="README.md")
    assert (stash["commit"], stash["line"], stash["refs"]) == (ids["stash"], 2, ["stash@{0}"])

    msg = find("commit-message")
    assert (msg["commit"], msg["line"]) == (ids["message"], 3)
    assert "main" in msg["refs"]

    tag = find("tag-message", path="<tag-message:v1.0>")  # spelled as scan --history spells it
    assert (tag["commit"], tag["line"], tag["refs"]) == (ids["message"], 3, ["tags/v1.0"])

    wt = find("worktree", path="local.env")
    assert wt["line"] == 1
    # the stash put README.md back: the working tree copy is clean, and nothing else is claimed
    assert {(o["kind"], o["path"]) for o in occ if o["kind"] == "worktree"} == {("worktree", "local.env")}

    # timeline: the earliest commit, by its author
    tl = doc["timeline"]
    assert tl["first_commit"] == ids["deleted_add"]
    assert tl["first_author"] == "Early Bird <early@example.com>"
    assert tl["still_present"] is True
    assert tl["revoked_at"] == ""

    # offline: unknown, and what to do by hand
    assert doc["identification"]["status"] == "unknown"
    assert doc["blast_radius"] is None
    assert "by hand" in doc["summary"]
    md = (out / "incident.md").read_text()
    assert "unknown" in md and "FluxLoop console" in md
    assert b"revocation: unknown" in r.stdout and b"by hand" in r.stdout
    for what in ("config/old.cfg", "deploy/app.env", "tmp/debug.py", "stash@{0}", "v1.0", "local.env",
                 ids["deleted_add"][:12], "feature/x"):
        assert what in md
    _no_key(key, r.stdout, r.stderr, md, (out / "incident.json").read_text())
    assert "flux_prod_" + key[len("flux_prod_"):][:4] in r.stdout.decode()  # redacted form shown


def test_replacement_file_is_private_and_exact(leaky, keyguard, tmp_path):
    repo, key, _ = leaky
    out = tmp_path / "out"
    r = _run(keyguard, repo, key, "--offline", out=out)
    repl = out / "replacements.txt"
    assert stat.S_IMODE(repl.stat().st_mode) == 0o600
    lines = repl.read_bytes().splitlines()
    assert lines == [b"literal:" + key.encode() + b"==>***REMOVED***"]  # found only as is: no encoded forms
    text = r.stdout.decode()
    assert str(repl) in text and "HOLDS THE SECRET" in text
    assert "git filter-repo --replace-text" in text and "--replace-message" in text
    assert "git push --force" in text
    assert "re-clone" in text and "Forks" in text and "Revocation is what actually protects you" in text
    _no_key(key, r.stdout, r.stderr)


def test_default_output_dir_is_under_dot_git(leaky, keyguard):
    repo, key, _ = leaky
    r = _run(keyguard, repo, key, "--offline")
    assert r.returncode == 1
    dirs = list((repo.path / ".git" / "keyguard").glob("incident-*"))
    assert len(dirs) == 1
    assert {p.name for p in dirs[0].iterdir()} == {"incident.md", "incident.json", "replacements.txt"}
    # nothing was added to the working tree
    assert "keyguard" not in repo.git("status", "--porcelain", "--untracked-files=all")


def test_output_dir_inside_worktree_is_refused(leaky, keyguard):
    repo, key, _ = leaky
    r = _run(keyguard, repo, key, "--offline", out=repo.path / "incident")
    assert r.returncode == 2
    assert b"inside the working tree" in r.stderr
    assert not (repo.path / "incident").exists()
    _no_key(key, r.stdout, r.stderr)


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_unreachable_objects_dropped_stash_and_staged_blob(repo, keyguard, tmp_path):
    key = keys.api_key("flx_api_")
    repo.write("a.txt", "a\n")
    base = _commit(repo, "base", "2024-02-01T00:00:00+00:00")
    repo.write("secret.txt", f"k={key}\n")
    lost = _commit(repo, "lost", "2024-02-02T00:00:00+00:00")
    repo.git("reset", "-q", "--hard", base)
    repo.write("a.txt", f"a\n{key}\n")
    repo.git("stash", "-q")
    dropped = repo.git("rev-parse", "refs/stash").strip()
    repo.git("stash", "drop", "-q")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.write("b.txt", f"b\n\n{key}\n")  # staged, then unstaged: a loose blob no commit holds
    repo.git("add", "b.txt")
    repo.git("reset", "-q", "b.txt")
    repo.write("b.txt", "b\n")
    repo.write("c.txt", f"{key}\n")  # staged and still staged
    repo.git("add", "c.txt")
    repo.write("c.txt", "c\n")       # ...but the file on disk no longer has it

    out = tmp_path / "out"
    r = _run(keyguard, repo, key, "--offline", out=out)
    occ = _report(out)["occurrences"]
    got = {(o["kind"], o["commit"], o["path"], o["line"]) for o in occ}
    assert ("unreachable", lost, "secret.txt", 1) in got
    assert ("unreachable", dropped, "a.txt", 2) in got
    assert ("index", "", "c.txt", 1) in got
    assert ("loose-blob", "", "<unreachable>", 3) in got
    assert not any(o["kind"] == "worktree" for o in occ)
    # no ref reaches any of it: no history rewrite (no file holding the secret), a local clean-up instead
    assert not (out / "replacements.txt").exists()
    assert "git reflog expire --expire=now --all && git gc --prune=now" in (out / "incident.md").read_text()
    _no_key(key, r.stdout, r.stderr)


def test_base64_form_found_and_in_replacements(repo, keyguard, tmp_path):
    import base64
    key = keys.platform_key("flux_ci_")
    blob = base64.b64encode(b'{"auth": "' + key.encode() + b'", "x": 1}').decode()
    repo.write("k8s/secret.yaml", f"data:\n  config: {blob}\n")
    c = _commit(repo, "k8s", "2024-03-01T00:00:00+00:00")
    out = tmp_path / "out"
    r = _run(keyguard, repo, key, "--offline", out=out)
    doc = _report(out)
    hits = [o for o in doc["occurrences"] if o["kind"] == "commit"]
    assert [(o["commit"], o["path"], o["line"], o["encoding"]) for o in hits] == [(c, "k8s/secret.yaml", 2, "base64")]
    repl = (out / "replacements.txt").read_bytes()
    assert any(line[len(b"literal:"):].split(b"==>")[0] in blob.encode() for line in repl.splitlines()[1:])
    _no_key(key, r.stdout, r.stderr)


def test_not_found_anywhere(repo, keyguard, tmp_path):
    repo.write("a.txt", "nothing here\n")
    _commit(repo, "a", "2024-01-01T00:00:00+00:00")
    key = keys.platform_key()
    out = tmp_path / "out"
    r = _run(keyguard, repo, key, "--offline", out=out)
    doc = _report(out)
    assert doc["occurrences"] == []
    assert not (out / "replacements.txt").exists()  # nothing to purge, so no file holding the secret
    assert b"found in 0 places" in r.stdout
    assert r.returncode == 1  # still unknown whether it is live


def test_fingerprint_finds_the_key(leaky, keyguard, tmp_path):
    from keyguard.redact import fingerprint
    repo, key, ids = leaky
    out = tmp_path / "out"
    r = keyguard("incident", fingerprint(key), "--offline", "--output-dir", str(out), cwd=repo.path)
    assert r.returncode == 1, r.stderr
    doc = _report(out)
    assert doc["key"]["fingerprint"] == fingerprint(key)
    assert any(o["commit"] == ids["branch"] for o in doc["occurrences"])
    _no_key(key, r.stdout, r.stderr)


def test_unknown_fingerprint_is_an_error(leaky, keyguard):
    repo, key, _ = leaky
    r = keyguard("incident", "kg1:" + "0" * 32, "--offline", cwd=repo.path)
    assert r.returncode == 2
    assert b"no key with fingerprint" in r.stderr


def test_key_as_argument_warns_and_never_echoes(leaky, keyguard, tmp_path):
    repo, key, _ = leaky
    r = keyguard("incident", key, "--offline", "--output-dir", str(tmp_path / "o"), cwd=repo.path)
    assert r.returncode == 1
    assert b"shell history" in r.stderr
    _no_key(key, r.stdout, r.stderr)


@pytest.mark.parametrize("stdin, why", [(b"", b"no key given"), (b"short_key\n", b"too short"),
                                        (b"a b c d e f g h i j k l\n", b"one key")])
def test_bad_input_is_a_usage_error(repo, keyguard, stdin, why):
    r = keyguard("incident", "--offline", cwd=repo.path, input=stdin)
    assert r.returncode == 2
    assert why in r.stderr
    assert b"Traceback" not in r.stderr


def test_outside_a_repository(tmp_path, keyguard):
    (tmp_path / "plain").mkdir()
    r = keyguard("incident", "--offline", cwd=tmp_path / "plain", input=(keys.platform_key() + "\n").encode())
    assert r.returncode == 2
    assert b"not inside a git repository" in r.stderr


def test_locate_reads_big_blobs_in_chunks(repo):
    """A value straddling the 1 MiB read boundary of a big blob is found, with its line."""
    from keyguard.sources import blob
    from keyguard.incident.locate import locate
    key = keys.platform_key()
    filler = ("x" * 99 + "\n") * ((blob.CHUNK // 100))
    head = filler[: blob.CHUNK - 10]
    repo.write("big.txt", head + key + "\n")
    c = _commit(repo, "big", "2024-01-01T00:00:00+00:00")
    loc = locate(repo.path, key)
    got = [(o.kind, o.commit, o.line) for o in loc.occurrences]
    line = head.count("\n") + 1
    assert ("commit", c, line) in got and ("worktree", "", line) in got
    assert loc.stat("object_bytes") > blob.CHUNK


def test_matcher_counts_each_occurrence_once_across_chunks():
    from keyguard.incident.needles import Matcher, needles_for
    key = keys.platform_key()
    text = (f"a\n{key}\n" + "y" * 50 + key + "\n").encode()
    for size in (1, 5, 17, len(key), 4096):
        m = Matcher(needles_for([key]))
        for i in range(0, len(text), size):
            m.feed(text[i:i + size])
        plain = [x for x in m.done() if x.needle.encoding == ""]
        assert [(x.offset, x.line, x.count) for x in plain] == [(2, 2, 2)], size


def test_edited_versions_and_merges(repo, keyguard, tmp_path):
    """Each version of a file holding the key is listed once; a merge that brings it in is not a new place."""
    key = keys.platform_key("flux_stg_")
    repo.write("a.txt", "a\n")
    _commit(repo, "init", "2024-01-01T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("conf.ini", f"key={key}\nlevel=1\n")
    v1 = _commit(repo, "conf v1", "2024-01-02T00:00:00+00:00")
    repo.write("conf.ini", f"key={key}\nlevel=2\n")
    v2 = _commit(repo, "conf v2", "2024-01-03T00:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.write("b.txt", "b\n")
    _commit(repo, "b", "2024-01-04T00:00:00+00:00")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "topic")
    repo.write("conf.ini", "key=${FLUXLOOP_API_KEY}\nlevel=2\n")
    gone = _commit(repo, "read key from env", "2024-01-06T00:00:00+00:00")

    out = tmp_path / "out"
    _run(keyguard, repo, key, "--offline", out=out)
    doc = _report(out)
    got = [(o["kind"], o["commit"], o["path"], o["removed_in"]) for o in doc["occurrences"]]
    assert sorted(got) == sorted([("commit", v1, "conf.ini", []), ("commit", v2, "conf.ini", [gone])])
    assert doc["timeline"]["first_commit"] == v1 and doc["timeline"]["last_commit"] == v2
    assert doc["timeline"]["still_present"] is False


def test_a_partial_keys_fingerprint_names_no_key(repo, keyguard):
    """A fragment of a concatenation is reported with a fingerprint, but incident never takes it for a key."""
    from keyguard.redact import fingerprint

    fragment = keys.platform_key("flux_prod_")[:24]
    repo.write("app.py", f"KEY = '{fragment}' + os.environ['REST']\n")
    repo.commit("fragment")
    r = keyguard("scan", "--history", "-f", "json", cwd=repo.path)
    [f] = json.loads(r.stdout)["findings"]
    assert f["partial"] is True
    for fp in (f["fingerprint"], fingerprint(fragment)):
        r = keyguard("incident", fp, "--offline", cwd=repo.path)
        assert r.returncode == 2 and b"no key with fingerprint" in r.stderr
        assert fragment.encode() not in r.stdout + r.stderr
