"""The history progress bar: drawn on a terminal's stderr, silent when piped or with --quiet."""

from __future__ import annotations

import os
import select
import subprocess
import sys

from conftest import GIT_ENV, Repo
from keys import platform_key


def run_with_tty_stderr(args: list[str], cwd) -> tuple[int, bytes, bytes]:
    """Run keyguard with stderr on a real pseudo-terminal; return (code, stdout, terminal bytes)."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env.pop("NO_COLOR", None)
    p = subprocess.Popen([sys.executable, "-m", "keyguard", *args], cwd=cwd, env=env,
                         stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out = p.stdout.read()
    os.close(master)
    return p.wait(timeout=60), out, seen


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
