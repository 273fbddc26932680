"""Time commands alternately (A, B, C, A, B, C, ...) and print medians and ratios.

On a shared 2-core machine the load changes from second to second; running the
commands in turn (the order rotated each round) exposes each to the same load,
so the ratio of medians is what one can quote.

usage: python bench/alternate.py [--runs N] [--warmup N] [--cwd DIR] [--title T]
           [--ratio A/B ...] NAME=COMMAND [NAME=COMMAND ...]
COMMAND is run by ``/bin/sh -c`` (its output is discarded); ``--ratio A/B`` prints
median(A) / median(B) (default: the first command against each other one).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def time_once(command: str, cwd: str | None) -> float:
    """Wall seconds of one run of ``command`` (fork and exec of the shell included)."""
    t = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", command], cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def alternate(cmds: dict[str, str], runs: int, warmup: int, cwd: str | None) -> dict[str, list[float]]:
    """``runs`` timings per command, taken in rotating order, after ``warmup`` untimed rounds."""
    names = list(cmds)
    for _ in range(warmup):
        for n in names:
            time_once(cmds[n], cwd)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(runs):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            times[n].append(time_once(cmds[n], cwd))
    return times


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cwd")
    ap.add_argument("--title", default="")
    ap.add_argument("--ratio", action="append", default=[])
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args(argv)
    cmds = dict(c.split("=", 1) for c in a.commands)
    times = alternate(cmds, a.runs, a.warmup, a.cwd)
    med = {n: statistics.median(t) for n, t in times.items()}
    if a.title:
        print(f"== {a.title} ({a.runs} alternating runs each)")
    print(f"  {'command':<22}{'median ms':>10}{'min ms':>9}{'max ms':>9}")
    for n, t in times.items():
        print(f"  {n:<22}{med[n] * 1000:>10.1f}{min(t) * 1000:>9.1f}{max(t) * 1000:>9.1f}")
    names = list(cmds)
    ratios = a.ratio or [f"{names[0]}/{n}" for n in names[1:]]
    for spec in ratios:
        x, y = spec.split("/")
        print(f"  ratio {x} / {y} = {med[x] / med[y]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
