#!/usr/bin/env python3
"""A big push through the pre-receive hook, against the same push with no hook.

    bench/pre_receive.py [REPO] [--commits 10000] [--runs 3]

Without REPO a client repository with ``--commits`` commits (each changing one of
200 small files, one key-free history) is generated with git fast-import; with
REPO (a local repository or bare mirror), its HEAD history is pushed. Each run
pushes it over file:// into two fresh bare repositories, one with
``keyguard scan --pre-receive --timeout 0`` as its hook and one without, in
alternating order; medians and the ratio are printed, and whether the hook
alone would fit GitHub Enterprise's 5 s.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import median_line, parser, workdir

ROOT = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
ENV.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com", GIT_COMMITTER_NAME="b",
           GIT_COMMITTER_EMAIL="b@example.com", GIT_CONFIG_NOSYSTEM="1", PYTHONPATH=str(ROOT))


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, env=ENV, input=input, capture_output=True)
    if r.returncode:
        sys.exit(f"git {' '.join(args)}: {r.stderr.decode()[-300:]}")
    return r.stdout.decode()


def generate(path: Path, commits: int) -> None:
    git(path.parent, "init", "-q", "-b", "main", str(path))
    chunks = []
    for i in range(1, commits + 1):
        body = f"version {i}\n" + "x = 1\n" * (i % 40)
        chunks.append(f"commit refs/heads/main\ncommitter b <b@example.com> {1_600_000_000 + i} +0000\n"
                      f"data 9\nchange {i % 10}\nM 644 inline src/m{i % 200:03d}.py\ndata {len(body)}\n{body}\n")
    git(path, "fast-import", "--quiet", input="".join(chunks).encode())


def push_once(client: Path, work: Path, hook: bool) -> float:
    server = work / ("hooked.git" if hook else "plain.git")
    shutil.rmtree(server, ignore_errors=True)
    git(work, "init", "-q", "--bare", str(server))
    if hook:
        h = server / "hooks" / "pre-receive"
        cmd = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "keyguard", "scan", "--pre-receive",
                                                 "--timeout", "0"))
        h.write_text(f"#!/bin/sh\nexec {cmd}\n")
        h.chmod(0o755)
    start = time.perf_counter()
    git(client, "push", "-q", server.as_uri(), "HEAD:refs/heads/main")
    return time.perf_counter() - start


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("repo", nargs="?")
    ap.add_argument("--commits", type=int, default=10_000)
    a = ap.parse_args()
    with workdir("kg-push-bench-") as work:
        client = work / "client"
        if a.repo:
            git(work, "clone", "-q", "--no-local", a.repo, str(client))
        else:
            generate(client, a.commits)
        n = git(client, "rev-list", "--count", "HEAD").strip()
        print(f"pushing {n} commits over file://, {a.runs} runs each, alternating")
        plain, hooked = [], []
        for i in range(a.runs):
            for hook in ((False, True) if i % 2 == 0 else (True, False)):
                (hooked if hook else plain).append(push_once(client, work, hook))
        mp, mh = statistics.median(plain), statistics.median(hooked)
        print(median_line("no hook: ", plain))
        print(median_line("keyguard:", hooked))
        print(f"ratio {mh / mp:.2f}x; the hook's own time {mh - mp:.2f} s "
              f"({'within' if mh - mp < 5 else 'over'} GitHub Enterprise's 5 s)")


if __name__ == "__main__":
    main()
