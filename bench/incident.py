#!/usr/bin/env python3
"""Incident benchmark: locating a key present in 5,000 commits, against one history scan.

    bench/incident.py [--commits 5000] [--runs 3] [--repo DIR] [--python PY]

Generates (with ``git fast-import``) a repository whose key file is edited by
every commit (so the key is in ``--commits`` distinct blobs, each added by its
own commit), plus a few branches and tags; then times, alternating, median of
``--runs`` each:

  scan      keyguard scan --history --repo REPO -f json      (the floor)
  incident  keyguard incident --offline --no-revoke (key on stdin)

and prints incident/scan. The target (issue 13) is under 5x. ``--python`` picks
the interpreter whose ``keyguard`` is measured (default: this one), so two
checkouts can be compared with the same repository.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "flux_prod_" + "".join(secrets.choice(alphabet) for _ in range(32))


def generate(repo: Path, commits: int, key: str) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    lines = []
    t = 1_700_000_000
    for i in range(1, commits + 1):
        body = f"# settings revision {i}\nFLUXLOOP_API_KEY={key}\nREVISION={i}\n".encode()
        other = f"print({i})\n".encode()
        msg = f"revision {i}\n".encode()
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer Bench <bench@example.com> {t + i * 60} +0000\n".encode())
        lines.append(b"data %d\n%s" % (len(msg), msg))
        lines.append(b"M 100644 inline config.env\ndata %d\n%s\n" % (len(body), body))
        lines.append(b"M 100644 inline src/mod%d.py\ndata %d\n%s\n" % (i % 50, len(other), other))
        if i % 1000 == 0:
            lines.append(f"reset refs/tags/r{i}\nfrom refs/heads/main\n\n".encode())
        if i % 2500 == 0:
            lines.append(f"reset refs/heads/release-{i}\nfrom refs/heads/main\n\n".encode())
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(lines), check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    subprocess.run(["git", "-C", str(repo), "gc", "-q"], check=True)


def timed(argv: list[str], cwd: Path, stdin: bytes | None, env: dict) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, input=stdin, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if r.returncode not in (0, 1):
        sys.exit(f"bench: {' '.join(argv[:4])} failed: {r.stderr.decode(errors='replace')[-300:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repo", type=Path, help="reuse a repository made by an earlier run (with --key-file)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kg-incident-bench-"))
    repo = args.repo or work / "repo"
    key_file = repo.parent / (repo.name + ".key")
    if args.repo is None or not key_file.exists():
        key = make_key()
        t0 = time.perf_counter()
        generate(repo, args.commits, key)
        key_file.write_text(key)
        print(f"generated {args.commits} commits in {time.perf_counter() - t0:.1f} s: {repo}", file=sys.stderr)
    key = key_file.read_text().strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "FLUXLOOP_"))}
    env["NO_COLOR"] = "1"
    out = work / "out"
    scan = [args.python, "-m", "keyguard", "scan", "--history", "--repo", str(repo), "-q",
            "--no-progress", "-f", "json", "-o", os.devnull]
    incident = [args.python, "-m", "keyguard", "incident", "--offline", "--no-revoke", "--repo", str(repo),
                "--output-dir", str(out)]
    times: dict[str, list[float]] = {"scan": [], "incident": []}
    for i in range(args.runs):
        times["scan"].append(timed(scan, repo, None, env))
        times["incident"].append(timed(incident, repo, (key + "\n").encode(), env))
        print(f"run {i + 1}: scan {times['scan'][-1]:.2f} s, incident {times['incident'][-1]:.2f} s",
              file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"median scan --history {med['scan']:.2f} s, incident {med['incident']:.2f} s")
    ratio = med["incident"] / med["scan"]
    print(f"ratio incident / scan --history = {ratio:.2f}x   (target < 5x: {'met' if ratio < 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
