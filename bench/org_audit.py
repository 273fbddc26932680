#!/usr/bin/env python3
"""Organisation audit, two nights: ``keyguard audit --repos`` cold, then with nothing new.

    bench/org_audit.py REPO [REPO ...] [--cold 1] [--runs 3]

Each REPO (a local path or URL, e.g. a bare mirror of flask and one of
sqlalchemy) goes into a repository list; the mirror cache and reports go to a
temp folder. Night 1 clones every mirror and scans all history from an empty
cache (``--cold`` times: it is the expensive one); night 2 fetches (nothing
changed) and scans only what the cache does not know (``--runs`` times after
each night 1). Medians are printed with the ratio night 2 / night 1, and the
stats the reports carry (blobs scanned, known clean, refs updated).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import median_line, parser, workdir

ROOT = Path(__file__).resolve().parent.parent


def night(work: Path) -> tuple[float, list[dict]]:
    """Run one org audit; its wall time and the per-repository JSON reports."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "keyguard", "audit", "--repos", str(work / "repos.txt"),
                           "--mirror-cache", str(work / "cache"), "--out", str(out), "--no-verify", "-q"],
                          env=env, cwd=work, capture_output=True)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"audit failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return took, [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--cold", type=int, default=1)
    a = ap.parse_args()
    with workdir("kg-org-bench-") as work:
        (work / "repos.txt").write_text("\n".join(str(Path(r).resolve()) if Path(r).exists() else r
                                                  for r in a.repos) + "\n")
        first, second = [], []
        for _ in range(a.cold):
            shutil.rmtree(work / "cache", ignore_errors=True)
            t1, docs1 = night(work)
            first.append(t1)
            for _ in range(a.runs):
                t2, docs2 = night(work)
                second.append(t2)
        for label, docs in (("night 1", docs1), ("night 2", docs2)):
            for d in docs:
                s, r = d.get("stats", {}), d["repository"]
                print(f"  {label} {r['name']}: {s.get('blobs', 0)} blobs scanned, {s.get('cached', 0)} known "
                      f"clean, fetch {r['fetch']}")
        print(median_line("night 1 (clone + full scan):", first))
        print(median_line("night 2 (nothing new):      ", second))
        print(f"ratio night 2 / night 1: {statistics.median(second) / statistics.median(first):.3f}")


if __name__ == "__main__":
    main()
