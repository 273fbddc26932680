"""Time and peak memory of keyguard on hostile inputs (issue 14, point 1), against the targets.

Each case runs ``keyguard`` in a fresh process on an input made at run time
(``tests/hostile_inputs.py``) at two sizes, N and 2N, and prints wall time,
peak resident memory of the keyguard process (``ru_maxrss`` from ``wait4``),
time per MB of input and the ratio t(2N) / (2 t(N)): about 1.0 means time grows
linearly, about 2.0 means quadratically. Targets: peak < 256 MB for every run,
ratio < 1.5 (noise allowance; medians of RUNS runs).

usage: python bench/hostile.py [--runs 3] [--keyguard PATH] [--only NAME] [--scale 1.0]
Exits 1 if a target is missed. The child gets an address-space limit (--limit-mb,
default 4096) so a regression cannot take the machine down; a run that hits it is
reported as "over limit".
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import hostile_inputs as hi  # noqa: E402

MB = 1 << 20
TARGET_MB = 256
TARGET_RATIO = 1.5


def _git(repo: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@b", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _repo(work: Path, name: str, data: bytes, stage: bool) -> Path:
    repo = work / name
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "input.bin").write_bytes(data)
    if stage:
        _git(repo, "add", "input.bin")
    return repo


# name -> (how the size N is counted, generator(scale) -> bytes, staged?, base size)
CASES = {
    # 557-byte class: three levels of 16 copies of a zip of 8 MB of placeholders
    "nested-zip": ("inner MB", lambda n: hi.nested_zip(3, 16, n * MB), False, 8),
    # 2.6 MB class: 64 members of 32 MB of placeholders
    "zip-bomb": ("members", lambda n: hi.zip_bomb(n, 32 * MB), False, 32),
    # 20 MB of flux_prod_abab... placeholders through `scan --staged`
    "placeholders-staged": ("MB", lambda n: hi.placeholder_text(n * MB), True, 10),
    # 16,000 distinct keys in ~688 KB
    "distinct-keys": ("keys", lambda n: hi.distinct_keys(n), False, 8000),
}


def run_once(kg: str, repo: Path, staged: bool, limit_mb: int) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of one fresh keyguard process."""
    cmd = [kg, "scan", "--staged"] if staged else [kg, "scan", "input.bin"]
    cmd += ["--format", "json", "--no-progress"]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb * MB, limit_mb * MB))

    t0 = time.perf_counter()
    with open(repo.parent / "stderr.txt", "wb") as err:
        p = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit)
        _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return dt, usage.ru_maxrss / 1024, p.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keyguard", default=shutil.which("keyguard") or "keyguard")
    ap.add_argument("--only", action="append", choices=sorted(CASES))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every case's base size")
    ap.add_argument("--limit-mb", type=int, default=4096)
    args = ap.parse_args()
    args.keyguard = str(Path(args.keyguard).resolve())
    ok = True
    print(f"{'case':22} {'N':>10} {'input':>9} {'time s':>8} {'peak MB':>8} {'s/MB in':>8}  exit")
    with tempfile.TemporaryDirectory(prefix="kg-hostile-") as tmp:
        work = Path(tmp)
        for name in args.only or CASES:
            unit, make, staged, base = CASES[name]
            times = {}
            for n in (max(1, int(base * args.scale)), max(2, int(2 * base * args.scale))):
                data = make(n)
                repo = _repo(work, name, data, staged)
                runs = [run_once(args.keyguard, repo, staged, args.limit_mb) for _ in range(args.runs)]
                t = statistics.median(r[0] for r in runs)
                peak = max(r[1] for r in runs)
                codes = sorted({r[2] for r in runs})
                times[n] = t
                over = peak >= TARGET_MB
                ok &= not over
                print(f"{name:22} {n:>7} {unit[:2]:2} {len(data) / MB:8.2f}M {t:8.2f} {peak:8.0f}"
                      f"{' !' if over else '  '}{t / max(len(data) / MB, 1e-9):8.3f}  {codes}")
            (n1, t1), (n2, t2) = times.items()
            ratio = t2 / max(t1, 1e-3) / (n2 / n1)
            ok &= ratio < TARGET_RATIO
            print(f"{'':22} ratio t(2N)/(2 t(N)) = {ratio:.2f} (target < {TARGET_RATIO}: "
                  f"{'ok' if ratio < TARGET_RATIO else 'MISSED'}); peak target < {TARGET_MB} MB")
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
