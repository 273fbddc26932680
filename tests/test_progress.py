"""The history progress bar: drawn on a terminal's stderr, silent when piped or with --quiet."""

from __future__ import annotations

import os
import re
import signal

from conftest import Repo, run_keyguard_on_tty
from keys import platform_key


def run_with_tty_stderr(args: list[str], cwd) -> tuple[int, bytes, bytes]:
    """Run keyguard with stderr on a real pseudo-terminal; return (code, stdout, terminal bytes)."""
    return run_keyguard_on_tty(args, cwd)


def test_progress_bar_on_a_terminal_only(repo: Repo, keyguard):
    key = platform_key("flux_dev_")
    for i in range(5):
        repo.write(f"f{i}.txt", f"v{i}\n")
        repo.commit(f"c{i}")
    repo.write("k.env", f"K={key}\n")
    repo.commit("key")
    code, out, tty = run_with_tty_stderr(["scan", "--history"], repo.path)
    assert code == 1 and b"k.env" in out
    assert b"scanning history" in tty and key.encode() not in tty
    code, _, tty = run_with_tty_stderr(["scan", "--history", "--quiet"], repo.path)
    assert b"scanning history" not in tty
    piped = keyguard("scan", "--history", cwd=repo.path)
    assert b"scanning history" not in piped.stderr and b"\x1b[" not in piped.stderr


ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def test_bar_counts_objects_as_the_summary_does_and_labels_its_estimate(repo: Repo):
    for i in range(6):
        repo.write(f"f{i}.txt", f"v{i}\n")
        repo.commit(f"c{i}")
    code, _, tty = run_with_tty_stderr(["scan", "--history"], repo.path)
    assert code == 0
    plain = ANSI.sub(b"", tty).decode()
    drawn = re.findall(r"(\d+)/(\d+) objects, eta", plain)
    assert drawn, plain
    summary = re.search(r"no FluxLoop keys found \((\d+) objects", plain)
    assert summary, plain
    assert int(drawn[-1][1]) == int(summary.group(1))  # the same unit, the same total
    assert int(summary.group(1)) == 18  # 6 blobs, 6 commits (messages), 6 trees (file and folder names)


def test_ctrl_c_ends_the_bars_line_and_shows_the_cursor_again(repo: Repo):
    # a history slow enough to interrupt: 1,500 blobs full of placeholder candidates
    doc = "FLUXLOOP_API_KEY=flux_dev_abc123def456ghi789jkl012mno34\n" * 800
    stream = [b"commit refs/heads/main\n", b"committer T <t@example.com> 1700000000 +0000\n",
              b"data 4\nbig\n"]
    for i in range(1500):
        data = f"# file {i}\n{doc}".encode()
        stream += [f"M 100644 inline f{i}.env\n".encode(), f"data {len(data)}\n".encode(), data, b"\n"]
    repo.git("fast-import", "--quiet", input=b"".join(stream))
    sent = []

    def ctrl_c_once_the_bar_shows(p, seen: bytes) -> None:
        if not sent and b"objects, eta" in ANSI.sub(b"", seen):
            os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
            sent.append(True)

    code, _, seen = run_keyguard_on_tty(["scan", "--history"], repo.path, on_output=ctrl_c_once_the_bar_shows)
    assert sent, "the bar never showed"
    assert code == 130, seen[-500:]
    plain = ANSI.sub(b"", seen)
    at = plain.rindex(b"keyguard: interrupted")
    assert plain[at - 1:at] in (b"\n", b"\r"), plain[at - 200:at + 30]  # on a line of its own
    assert seen.rfind(b"\x1b[?25h") > seen.rfind(b"\x1b[?25l")  # the cursor is visible again
