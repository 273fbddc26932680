"""Run the history source over a repository (bare or not) and print time, findings and peak RSS.

Usage: python bench/run_history.py REPO [WORKERS]
Prints one line: findings, objects, bytes, and the peak RSS of this process
and of its largest child (a reader process or a git cat-file).
"""

import resource
import sys
import time

from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules
from keyguard.sources.history import HistorySource

repo = sys.argv[1]
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
