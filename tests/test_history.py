"""HistorySource: every hiding place in git history, in real repositories."""

from __future__ import annotations

import pytest

from conftest import OBJECT_FORMATS, Repo
from keys import api_key, platform_key
from test_source_support import secrets

from keyguard.sources.history import HistorySource

pytestmark = pytest.mark.usefixtures("git_identity")



def history(repo: Repo, detector, **kw):
    src = HistorySource(repo.path, **kw)
    return list(src.located_hits(detector)), src


def by_secret(found, key):
    return [lh for lh in found if lh.hit.secret == key]


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_key_added_then_deleted_is_found_with_provenance(repo, detector):
    key = platform_key()
    repo.write("README", "hi\n")
    repo.commit("init")
    repo.write("config.env", f"TOKEN={key}\n")
    intro = repo.commit("add config")
    repo.git("rm", "-q", "config.env")
    repo.commit("remove config")
    found, src = history(repo, detector)
    [lh] = by_secret(found, key)
    assert lh.path == "config.env" and lh.hit.line == 1
    p = lh.provenance
    assert p.commit == intro and p.kind == "blob"
    assert p.author == "Test Author <author@example.com>"
    assert p.date[:4].isdigit() and "T" in p.date
    assert p.blob == repo.git("rev-parse", f"{intro}:config.env").strip()
    assert "main" in p.refs
    assert p.present_at_head is False
    assert src.stats["commits"] == 3


def test_key_still_at_head_is_marked(repo, detector):
    key = api_key()
    repo.write("a.py", f"K = '{key}'\n")
    repo.commit("add")
    found, _ = history(repo, detector)
    assert [lh.provenance.present_at_head for lh in found] == [True]


def test_key_only_on_an_unmerged_branch(repo, detector):
    repo.write("README", "hi\n")
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature/x")
    key = platform_key("flux_stg_")
    repo.write("deploy.sh", f"export K={key}\n")
    c = repo.commit("wip")
    repo.git("checkout", "-q", "main")
    found, _ = history(repo, detector)
    [lh] = by_secret(found, key)
    assert lh.provenance.commit == c
    assert lh.provenance.refs == ("feature/x",)
    assert lh.provenance.present_at_head is False


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_key_introduced_by_a_merge_resolution(repo, detector):
    """The key is in neither parent: `git log -p` shows no diff for it; the combined diff does."""
    repo.write("settings.txt", "a\nb\nc\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("settings.txt", "a\nside\nc\n")
    repo.commit("side")
    repo.git("checkout", "-q", "main")
    repo.write("settings.txt", "a\nmain\nc\n")
    repo.commit("main")
    repo.git("merge", "-q", "side", check=False)  # conflict
    key = platform_key()
    repo.write("settings.txt", f"a\nresolved {key}\nc\n")
    merge = repo.commit("merge side")
    assert len(repo.git("rev-list", "--parents", "-n1", merge).split()) == 3
    assert key not in repo.git("log", "-p", "--format=", merge, "-1")  # invisible to plain log -p
    found, _ = history(repo, detector)
    [lh] = by_secret(found, key)
    assert lh.provenance.commit == merge
    assert lh.path == "settings.txt" and lh.hit.line == 2


def test_key_in_a_commit_message(repo, detector):
    key = api_key("flx_refresh_")
    repo.write("a", "1\n")
    c = repo.commit(f"fix login\n\nused token {key} to test")
    found, _ = history(repo, detector)
    [lh] = by_secret(found, key)
    assert lh.path == "<commit-message>"
    assert lh.provenance.kind == "commit-message" and lh.provenance.commit == c
    assert lh.hit.line == 3


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_key_in_an_annotated_tag_message(repo, detector):
    key = platform_key()
    repo.write("a", "1\n")
    c = repo.commit("release")
    repo.git("tag", "-a", "v1.0", "-m", f"release notes\nprod key {key}")
    found, _ = history(repo, detector)
    [lh] = by_secret(found, key)
    assert lh.path == "<tag-message:v1.0>"
    assert lh.provenance.kind == "tag-message"
    assert lh.provenance.commit == c
    assert lh.provenance.refs == ("tags/v1.0",)


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_stash_entries_older_unstaged_and_untracked(repo, detector):
    repo.write("app.py", "x = 1\n")
    repo.commit("base")
    older, unstaged, untracked = platform_key(), platform_key("flux_dev_"), api_key()
    repo.write("app.py", f"x = '{older}'\n")
    repo.git("add", "app.py")
    repo.git("stash", "-q")                      # stash@{1} after the next one
    repo.write("app.py", f"x = '{unstaged}'\n")  # unstaged change
    repo.write("new.env", f"K={untracked}\n")    # untracked file
    repo.git("stash", "-q", "-u")                # stash@{0}, with untracked part
    assert len(repo.git("stash", "list").splitlines()) == 2
    assert "flux" not in (repo.path / "app.py").read_text() and not (repo.path / "new.env").exists()
    found, _ = history(repo, detector)
    assert {older, unstaged, untracked} <= set(secrets(found))
    [old] = by_secret(found, older)
    assert "stash@{1}" in old.provenance.refs
    [u] = by_secret(found, untracked)
    assert u.path == "new.env"
    assert "stash@{0}" in u.provenance.refs


def test_remote_tracking_ref(repo, detector, tmp_path):
    repo.write("a", "1\n")
    repo.commit("init")
    other = Repo(tmp_path / "other")
    repo.git("clone", "-q", str(repo.path), str(other.path))
    key = platform_key()
    other.write("b.env", f"K={key}\n")
    other.commit("remote work")
    repo.git("remote", "add", "peer", str(other.path))
    repo.git("fetch", "-q", "peer")
    found, _ = history(repo, detector)
    [lh] = by_secret(found, key)
    assert "peer/main" in lh.provenance.refs


def test_renamed_file_attributes_the_new_path(repo, detector):
    key = platform_key()
    repo.write("old/name.env", f"K={key}\n")
    first = repo.commit("add")
    (repo.path / "new").mkdir()
    repo.git("mv", "old/name.env", "new/place.env")
    moved = repo.commit("rename")
    found, _ = history(repo, detector)
    where = {(lh.path, lh.provenance.commit) for lh in by_secret(found, key)}
    assert where == {("old/name.env", first), ("new/place.env", moved)}


def test_each_blob_is_read_once_and_reported_once(repo, detector):
    key = platform_key()
    repo.write("keys.env", f"K={key}\n")
    first = repo.commit("key file")
    for i in range(50):
        repo.write("counter.txt", f"{i}\n")
        repo.commit(f"bump {i}")
    # also edit the key file without touching the key: a new blob, but the key is inherited
    repo.write("keys.env", f"K={key}\nOTHER=1\n")
    repo.commit("edit keys")
    found, src = history(repo, detector)
    [lh] = by_secret(found, key)
    assert lh.provenance.commit == first
    n_blobs = repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype)").split().count("blob")
    assert src.stats["blobs"] == n_blobs == 52  # 50 counters + 2 key-file versions, each read once
    # without the inherited-key filter the second blob is reported too, once
    found, _ = history(repo, detector, only_new=False)
    assert len(by_secret(found, key)) == 2


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_range_and_since(repo, detector):
    old, new = platform_key(), platform_key()
    repo.write("a.env", f"K={old}\n")
    base = repo.commit("old key")
    repo.write("b.env", f"K={new}\n")
    tip = repo.commit("new key")
    for kw in ({"rev_range": f"{base}..HEAD"}, {"since": base}):
        found, src = history(repo, detector, **kw)
        assert secrets(found) == [new]
        assert found[0].provenance.commit == tip
        assert src.stats["commits"] == 1
    # a new branch pushed for the first time: FROM is all zeros => what no remote has
    found, _ = history(repo, detector, rev_range=f"{'0' * 40}..{tip}")
    assert sorted(secrets(found)) == sorted([old, new])
    # a file with an old key edited inside the range: the old key is not new
    repo.write("a.env", f"K={old}\nX=1\n")
    repo.commit("touch")
    found, _ = history(repo, detector, rev_range=f"{tip}..HEAD")
    assert found == []


def test_bad_range_is_a_one_line_error(repo, detector):
    from keyguard.errors import GitError
    repo.write("a", "1\n")
    repo.commit("init")
    with pytest.raises(GitError) as err:
        history(repo, detector, rev_range="nope..HEAD")
    assert "\n" not in str(err.value)
    with pytest.raises(GitError, match="unknown revision"):
        history(repo, detector, since="nope")


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_unreachable_objects_only_on_request(repo, detector):
    repo.write("a", "1\n")
    repo.commit("init")
    key = platform_key()
    repo.write("lost.env", f"K={key}\n")
    oops = repo.commit("oops")
    repo.git("reset", "-q", "--hard", "HEAD~1")  # commit only in the reflog now
    found, _ = history(repo, detector)
    assert by_secret(found, key) == []
    found, _ = history(repo, detector, include_unreachable=True)
    [lh] = by_secret(found, key)
    # the reflog is walked: the commit and path are known, and no ref holds it
    assert (lh.path, lh.provenance.kind, lh.provenance.commit, lh.provenance.refs) == \
        ("lost.env", "reflog", oops, ())
    repo.git("reflog", "expire", "--expire=now", "--all")
    found, _ = history(repo, detector, include_unreachable=True)
    [lh] = by_secret(found, key)  # the commit is unreachable now, still in the store
    assert (lh.path, lh.provenance.kind, lh.provenance.commit) == ("lost.env", "unreachable", oops)


def test_progress_and_parallel_readers_agree(repo, detector, monkeypatch):
    keys = [platform_key() for _ in range(3)]
    for i, k in enumerate(keys):
        repo.write(f"f{i}.env", f"K={k}\n" + "filler line\n" * 2000)
        repo.commit(f"c{i}")
    calls = []
    import keyguard.sources.history as h
    monkeypatch.setattr(h, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(h, "WINDOW", 30000)
    found, src = history(repo, detector, workers=2, progress=lambda d, t: calls.append((d, t)))
    assert sorted(set(secrets(found))) == sorted(keys)
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] > 0
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    single, _ = history(repo, detector, workers=1)
    assert sorted(secrets(single)) == sorted(secrets(found))


def test_zip_and_utf16_blobs_inside_a_window_of_text(repo, detector):
    """The window prefilter cannot see a deflated zip member or UTF-16 text: they are tested alone."""
    import io
    import zipfile
    zkey, wkey = platform_key(), api_key()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/.env", f"K={zkey}\n" + "padding\n" * 100)
    assert zkey.encode() not in buf.getvalue()
    repo.write("bundle.zip", buf.getvalue())
    repo.write("notes-utf16.txt", f"key: {wkey}\r\n".encode("utf-16-le"))
    for i in range(20):
        repo.write(f"text{i}.txt", f"plain text {i}\n")
    repo.commit("mixed")
    found, _ = history(repo, detector)
    assert {(lh.path, lh.hit.secret) for lh in found} == {("bundle.zip", zkey), ("notes-utf16.txt", wkey)}


def test_explicit_revisions_not_reachable_from_any_ref(repo, detector):
    """``revs=[tip], exclude_all_refs=True`` (what a pre-receive hook asks): only commits no ref
    reaches, an annotated tag among the revisions included; nothing an existing ref holds."""
    old, new, in_tag = platform_key(), platform_key(), platform_key()
    repo.write("old.txt", f"k = {old}\n")
    repo.commit("on main")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("new.txt", f"k = {new}\n")
    tip = repo.commit("not on any ref once side is gone")
    repo.git("tag", "-a", "-m", f"release {in_tag}", "t1", tip)
    tag = repo.git("rev-parse", "t1").strip()
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "side")
    repo.git("tag", "-d", "t1")
    found, src = history(repo, detector, revs=[tip, tag], exclude_all_refs=True)
    assert {lh.hit.secret for lh in found} == {new, in_tag}
    (blob,) = by_secret(found, new)
    assert blob.path == "new.txt" and blob.provenance.commit == tip and blob.provenance.refs == ()
    (msg,) = by_secret(found, in_tag)
    assert msg.provenance.kind == "tag-message" and msg.provenance.commit == tip
    assert src.stats["commits"] == 1 and src.stats["tags"] == 1
    found, _ = history(repo, detector, revs=["main"], exclude_all_refs=True)
    assert found == []  # main's commits are reachable from main


def test_stray_quarantine_variables_do_not_redirect_git(repo, detector, tmp_path, monkeypatch):
    """``GIT_OBJECT_DIRECTORY`` outside a pre-receive hook (no ``GIT_QUARANTINE_PATH``) never
    reaches a git child: the scan still reads the repository's own objects."""
    key = platform_key()
    repo.write("a.txt", f"k = {key}\n")
    repo.commit("key")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", str(tmp_path / "elsewhere"))
    found, _ = history(repo, detector)
    assert [lh.hit.secret for lh in found] == [key]


def test_parallel_readers_that_finished_end_without_a_traceback(repo, detector, monkeypatch, capfd):
    """The parent ends its readers as soon as each said "done", maybe before that send returned in
    the reader: under keyguard's SIGTERM handler this raised there and printed a traceback
    (6 runs in 8 of ``scan --history`` on pallets/flask)."""
    import signal

    import keyguard.sources.history as h
    from keyguard import cli
    for i in range(4):
        repo.write(f"f{i}.txt", "filler line\n" * 2000)
        repo.commit(f"c{i}")
    monkeypatch.setattr(h, "PARALLEL_MIN_BYTES", 0)
    before = signal.signal(signal.SIGTERM, cli._terminated)
    try:
        for _ in range(20):
            found, _ = history(repo, detector, workers=2)
            assert found == []
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Terminated" not in err
