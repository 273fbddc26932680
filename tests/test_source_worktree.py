"""WorktreeSource and StdinSource: files on disk and piped text, in real repositories and folders."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import GIT_ENV, ROOT
from keys import api_key, platform_key
from test_source_support import secrets

pytestmark = pytest.mark.usefixtures("git_identity")

from keyguard.sources.stdin import StdinSource
from keyguard.sources.worktree import WorktreeSource




def scan(detector, root, **kw):
    src = WorktreeSource(root, **kw)
    return list(src.located_hits(detector)), src


def test_default_is_tracked_and_untracked_not_ignored(repo, detector):
    tracked, untracked, ignored, deleted = (platform_key() for _ in range(4))
    repo.write(".gitignore", "secret.local\n")
    repo.write("tracked.env", f"K={tracked}\n")
    repo.write("gone.env", f"K={deleted}\n")
    repo.commit("base")
    (repo.path / "gone.env").unlink()  # tracked but deleted on disk: skipped quietly
    repo.write("sub/untracked.env", f"K={untracked}\n")
    repo.write("secret.local", f"K={ignored}\n")
    found, src = scan(detector, repo.path)
    assert sorted(secrets(found)) == sorted([tracked, untracked])
    assert {lh.path for lh in found} == {"tracked.env", "sub/untracked.env"}
    assert src.warnings == []


def test_paths_in_a_repo_respect_gitignore_but_explicit_files_are_scanned(repo, detector, monkeypatch):
    a, b, c = platform_key(), platform_key(), platform_key()
    repo.write(".gitignore", "*.local\n")
    repo.write("cfg/a.env", f"K={a}\n")
    repo.write("cfg/b.local", f"K={b}\n")
    repo.write("other/c.env", f"K={c}\n")
    monkeypatch.chdir(repo.path / "cfg")
    found, _ = scan(detector, repo.path, paths=["."])
    assert secrets(found) == [a]
    assert found[0].path == "cfg/a.env"
    found, _ = scan(detector, repo.path, paths=["b.local"])
    assert secrets(found) == [b]


def test_outside_a_repository_walks_the_folder_and_skips_dot_git(tmp_path, detector):
    top = tmp_path / "plain"
    (top / "deep" / "er").mkdir(parents=True)
    (top / ".git").mkdir()
    k1, k2 = platform_key(), api_key()
    (top / "deep" / "er" / "x.yaml").write_text(f"key: {k1}\n")
    (top / ".git" / "config").write_text(f"k = {k2}\n")
    found, _ = scan(detector, top, in_repo=False)
    assert secrets(found) == [k1]
    assert found[0].path == "deep/er/x.yaml"


def test_symlinks_are_not_followed_out_of_the_tree(repo, detector, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "creds.env").write_text(f"K={platform_key()}\n")
    os.symlink(outside / "creds.env", repo.path / "link.env")
    os.symlink(outside, repo.path / "linkdir")
    found, _ = scan(detector, repo.path)
    assert found == []
    found, _ = scan(detector, repo.path, paths=[repo.path], in_repo=False)
    assert found == []


def test_crlf_and_utf16_files(repo, detector):
    k1, k2 = platform_key(), api_key()
    repo.write("win.env", f"A=1\r\nKEY={k1}\r\nB=2\r\n".encode())
    repo.write("utf16.txt", f"first\r\ntoken = {k2}\r\n".encode("utf-16"))  # with BOM
    found, _ = scan(detector, repo.path)
    got = {lh.hit.secret: lh for lh in found}
    assert got[k1].hit.line == 2 and got[k1].path == "win.env"
    assert k2 in got and got[k2].path == "utf16.txt" and got[k2].hit.line == 2


def test_text_runs_of_binary_files_are_scanned(repo, detector):
    # a key in a PNG's text chunk, or after one NUL byte, is still a leak (issue 14, point 3)
    key, other = platform_key(), platform_key()
    repo.write("image.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + f"junk {key} junk".encode() + b"\0" * 100)
    repo.write("notes.txt", b"\0" + f"K={other}\n".encode())
    repo.write("data.gz", b"\x1f\x8b\x08\0" + f"{platform_key()}".encode())  # opaque stream: skipped
    found, src = scan(detector, repo.path)
    assert sorted(lh.hit.secret for lh in found) == sorted([key, other])
    assert src.stats["skipped"] == 1


def test_unreadable_file_is_a_warning_not_a_crash(repo, detector, monkeypatch):
    key = platform_key()
    repo.write("ok.env", f"K={key}\n")
    repo.write("locked.env", "K=1\n")
    real_open = open

    def guarded_open(path, *a, **kw):  # root ignores chmod 000, so refuse like the kernel would
        if str(path).endswith("locked.env"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)
    monkeypatch.setattr("builtins.open", guarded_open)
    found, src = scan(detector, repo.path)
    assert secrets(found) == [key]
    assert src.warnings == ["locked.env: not readable (Permission denied)"]


def test_size_limit_skips_with_a_warning(repo, detector):
    repo.write("big.txt", "x" * 5000 + platform_key())
    found, src = scan(detector, repo.path, max_size=4096)
    assert found == []
    assert src.warnings and "big.txt" in src.warnings[0] and "size limit" in src.warnings[0]


_RSS_SCRIPT = textwrap.dedent("""
    import resource, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from test_source_support import make_detector
    from keyguard.sources.worktree import WorktreeSource
    src = WorktreeSource(sys.argv[1], in_repo=False)
    hits = list(src.located_hits(make_detector()))
    # VmHWM is this process's own peak; ru_maxrss would carry the (big) pytest parent's
    # peak across fork+exec on Linux
    peak_kb = next((int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")),
                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(len(hits), src.stats["bytes"], peak_kb // 1024)
""")


@pytest.mark.parametrize("shape", ["200MB-lines", "50MB-one-line"])
def test_huge_files_finish_with_bounded_memory(tmp_path, shape):
    top = tmp_path / "huge"
    top.mkdir()
    key = platform_key()
    path = top / "huge.txt"
    with open(path, "wb") as fh:
        if shape == "200MB-lines":
            line = b"lorem ipsum dolor sit amet " * 3 + b"\n"
            block = line * ((1 << 20) // len(line) + 1)
            for _ in range(200):
                fh.write(block[: 1 << 20])
            fh.write(f"\nTOKEN={key}\n".encode())
        else:
            fh.write(b"a" * (50 << 20) + f" {key}".encode())
    size_mb = path.stat().st_size >> 20
    env = {**os.environ, **GIT_ENV}
    r = subprocess.run([sys.executable, "-c", _RSS_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")),
                        str(top)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    n_hits, scanned, rss_mb = map(int, r.stdout.split())
    assert n_hits == 1
    assert scanned >> 20 == size_mb >= 50
    # the 200 MB file is read in 8 MB pieces; the 50 MB line is one read of 50 MB
    limit = 160 if shape == "200MB-lines" else 220
    assert rss_mb < limit, f"peak RSS {rss_mb} MB for a {size_mb} MB file"


def test_stdin_small_and_chunked(detector):
    key = platform_key()
    found = list(StdinSource(io.BytesIO(f"a\nb {key}\n".encode())).located_hits(detector))
    assert [(lh.path, lh.hit.line, lh.hit.secret) for lh in found] == [("<stdin>", 2, key)]
    big = b"filler line\n" * 10000 + f"K={key}\n".encode()
    src = StdinSource(io.BytesIO(big), chunk_threshold=4096)
    found = list(src.located_hits(detector))
    assert [(lh.hit.line, lh.hit.secret) for lh in found] == [(10001, key)]
    assert src.stats["bytes"] == len(big)
    assert list(StdinSource(io.BytesIO(b"")).located_hits(detector)) == []
