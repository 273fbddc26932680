"""Run the history source over a repository (bare or not) and print time, findings and peak RSS.

Usage: python bench/run_history.py REPO [WORKERS]
       python bench/run_history.py REPO --needles
The first form prints one line: findings, objects, bytes, and the peak RSS of this
process and of its largest child (a reader process or a git cat-file).
``--needles`` streams every object (``git cat-file --batch-all-objects --batch
--unordered``) in history-sized windows and prints, per prefilter needle, its
occurrences and the share of windows it hits, how often each search's probe
occurs, and the prefilter speed (CPU seconds per 800 MB and GB/s, one core): one
``in`` per needle, the detector's standard-library searches
(``Detector.pieces_by_search``) and the native one-pass search (``prefilter``, when
Hyperscan is installed), timed on the same windows.
"""

import resource
import subprocess
import sys
import time

from keyguard.detect import prefilter
from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules
from keyguard.sources import history
from keyguard.sources.history import HistorySource


def needles(repo: str) -> None:
    """Per-needle hit rates and prefilter speed over every object of ``repo``."""
    det = Detector(load_rules())
    proc = subprocess.Popen(["git", "-C", repo, "cat-file", "--batch-all-objects", "--batch", "--unordered"],
                            stdout=subprocess.PIPE)
    occ = dict.fromkeys(det.keywords, 0)
    hit = dict.fromkeys(det.keywords, 0)
    probes = {s[0]: 0 for s in det._searches}
    total = windows = 0
    native = prefilter.native(det.keywords)
    spent = {"one `in` per needle": 0.0, "standard searches": 0.0, "native search": 0.0}
    while True:
        data = proc.stdout.read(history.WINDOW)
        if not data:
            break
        total += len(data)
        windows += 1
        t0 = time.process_time()
        for n in det.keywords:
            _ = n in data
        t1 = time.process_time()
        det.pieces_by_search(data, [len(data)])
        t2 = time.process_time()
        if native is not None:
            native.pieces(data, [len(data)])
        t3 = time.process_time()
        spent["one `in` per needle"] += t1 - t0
        spent["standard searches"] += t2 - t1
        spent["native search"] += t3 - t2
        for n in det.keywords:
            c = data.count(n)
            occ[n] += c
            hit[n] += c > 0
        for p in probes:
            probes[p] += data.count(p)
    proc.wait()
    print(f"{repo}: {total / 1e9:.2f} GB in {windows} windows of {history.WINDOW >> 10} KiB")
    for n in det.keywords:
        print(f"  needle {n.decode():6s} {occ[n]:8d} occurrences, {100 * hit[n] / max(windows, 1):6.2f}% of windows")
    for p, c in probes.items():
        print(f"  probe  {p.decode():6s} one per {total // max(c, 1)} bytes")
    if native is None:
        del spent["native search"]
        print("  (native search: Hyperscan not installed or KEYGUARD_NATIVE=0)")
    for name, seconds in spent.items():
        print(f"prefilter, {name}: {seconds * 800e6 / max(total, 1):.3f} s CPU per 800 MB, "
              f"{total / max(seconds, 1e-9) / 1e9:.2f} GB/s (one core)")


def main() -> None:
    repo = sys.argv[1]
    if sys.argv[2:3] == ["--needles"]:
        needles(repo)
        return
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else None
    start = time.perf_counter()
    src = HistorySource(repo, workers=workers)
    found = list(src.located_hits(Detector(load_rules())))
    elapsed = time.perf_counter() - start
    kinds = sorted({lh.provenance.kind for lh in found})
    print(f"findings={len(found)} kinds={','.join(kinds)} blobs={src.stats['blobs']} commits={src.stats['commits']} "
          f"bytes={src.stats['bytes']} seconds={elapsed:.1f} "
          f"rss_self_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} "
          f"rss_max_child_mb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}", file=sys.stderr)


if __name__ == "__main__":
    main()
