"""Generate a benchmark repository with git fast-import: N commits, a side branch, a few planted keys.

Usage: python bench/gen_repo.py DEST [--commits 20000] [--files 300]
Keys are random at run time (tests/keys.py); the planted ones are printed
redacted so a run can be checked against them.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from keys import api_key, platform_key  # noqa: E402

from keyguard.redact import redact  # noqa: E402

WORDS = ("select from where join session engine query column table index mapper "
         "relationship commit rollback flush metadata dialect compile execute").split()


def text(rng: random.Random, lines: int) -> str:
    return "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n" for _ in range(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dest")
    ap.add_argument("--commits", type=int, default=20000)
    ap.add_argument("--files", type=int, default=300)
    args = ap.parse_args()
    dest = Path(args.dest)
    dest.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    rng = random.Random(42)
    files = {f"src/mod{i:03d}.py": text(rng, rng.randint(20, 400)) for i in range(args.files)}
    planted = {"deleted-later": platform_key(), "side-branch": api_key("flx_sa_"),
               "commit-message": platform_key("flux_ci_"), "at-head": platform_key("flux_dev_")}
    out = []
    mark = 0

    def blob(data: str) -> int:
        nonlocal mark
        mark += 1
        raw = data.encode()
        out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(raw), raw))
        return mark

    def commit(branch: str, n: int, msg: str, changes: dict[str, str | None], parent: str | None = None):
        nonlocal mark
        raw = msg.encode()
        mark += 1
        me = mark
        head = (f"commit refs/heads/{branch}\nmark :{me}\nauthor Bench <bench@example.com> {1600000000 + n * 60} +0000\n"
                f"committer Bench <bench@example.com> {1600000000 + n * 60} +0000\n").encode()
        body = [head, b"data %d\n%s\n" % (len(raw), raw)]
        if parent:
            body.append(f"from {parent}\n".encode())
        for path, content in changes.items():
            if content is None:
                body.append(f"D {path}\n".encode())
            else:
                body.append(f"M 100644 :{blob(content)} {path}\n".encode())
        out.extend(body)
        out.append(b"\n")
        return me

    commit("main", 0, "initial", dict(files))
    for n in range(1, args.commits):
        path = rng.choice(list(files))
        lines = files[path].splitlines(keepends=True)
        at = rng.randrange(len(lines) + 1)
        lines[at:at + rng.randint(0, 2)] = [text(rng, rng.randint(1, 4))]
        files[path] = "".join(lines)
        change: dict[str, str | None] = {path: files[path]}
        msg = f"change {n}"
        if n == args.commits // 4:
            change["config/old.env"] = f"TOKEN={planted['deleted-later']}\n"
        if n == args.commits // 4 + 10:
            change["config/old.env"] = None
        if n == args.commits // 2:
            msg = f"debug login\n\nworked with {planted['commit-message']}"
        if n == args.commits - 1:
            change["settings.py"] = f"KEY = '{planted['at-head']}'\n"
        last = commit("main", n, msg, change)
    commit("side", args.commits, "side work", {"deploy/side.sh": f"export K={planted['side-branch']}\n"},
           parent=f":{last}")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=dest, input=b"".join(out), check=True)
    subprocess.run(["git", "repack", "-a", "-d", "-q", "--depth=50", "--window=10"], cwd=dest, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=dest, check=True)
    for name, key in planted.items():
        print(f"planted {name}: {redact(key)}")


if __name__ == "__main__":
    main()
