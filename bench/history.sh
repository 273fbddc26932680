#!/usr/bin/env bash
# History-scan benchmark: keyguard's history source against the git floor.
#
#   bench/history.sh [REPO]      (RUNS=3 by default; PYTHON=.venv/bin/python;
#                                 NEEDLES=1 adds per-needle hit rates and prefilter speed)
#
# Without REPO a repository of 20k commits with planted keys is generated
# (bench/gen_repo.py). Compared, median of RUNS runs each (hyperfine):
#   floor-ordered    git cat-file --batch-all-objects --batch             (every object, sha order)
#   floor-unordered  git cat-file --batch-all-objects --batch --unordered (every object, pack order)
#   keyguard         bench/run_history.py REPO (HistorySource + the real Detector, default workers)
#   keyguard-cli     keyguard scan --history --repo REPO (the whole command a user runs, JSON report)
# The target (<= 1.5x) is stated against floor-unordered, the harder one; both ratios are printed.
# Peak RSS: keyguard's own Python process and its largest child (from getrusage), and
# the floor's git process (GNU time), measured in one extra run each.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=${PYTHON:-$ROOT/.venv/bin/python}
RUNS=${RUNS:-3}
REPO=${1:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$REPO" ]; then
  REPO=$WORK/repo
  echo "generating a 20k-commit repository in $REPO ..." >&2
  "$PY" "$HERE/gen_repo.py" "$REPO" --commits "${COMMITS:-20000}" >&2
fi
REPO=$(cd "$REPO" && pwd)
echo "repository: $REPO" >&2
git -C "$REPO" cat-file --batch-check='%(objecttype) %(objectsize)' --batch-all-objects \
  | awk '{n[$1]++; s[$1]+=$2} END {for (t in n) printf "  %-7s %8d objects %8.1f MB\n", t, n[t], s[t]/1e6}' >&2

hyperfine --runs "$RUNS" --warmup 1 --style basic --export-json "$WORK/h.json" \
  -n floor-ordered "git -C '$REPO' cat-file --batch-all-objects --batch > /dev/null" \
  -n floor-unordered "git -C '$REPO' cat-file --batch-all-objects --batch --unordered > /dev/null" \
  -n keyguard "PYTHONPATH='$ROOT' '$PY' '$HERE/run_history.py' '$REPO' 2>/dev/null" \
  -n keyguard-cli "PYTHONPATH='$ROOT' '$PY' -m keyguard scan --history --repo '$REPO' -q --no-progress -f json -o '$WORK/report.json' || true" >&2

echo "peak RSS:" >&2
/usr/bin/time -f "  floor-unordered git: %M KB" git -C "$REPO" cat-file --batch-all-objects --batch --unordered > /dev/null
PYTHONPATH=$ROOT "$PY" "$HERE/run_history.py" "$REPO"

"$PY" - "$WORK/h.json" <<'PYEOF'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: r["median"] for k, r in res.items()}
cpu = {k: r["user"] + r["system"] for k, r in res.items()}
print("median wall s  (mean user+sys s):")
for k in ("floor-ordered", "floor-unordered", "keyguard", "keyguard-cli"):
    print(f"  {k:16s} {med[k]:7.2f}   ({cpu[k]:.2f})")
kg = med["keyguard"]
print(f"ratio keyguard / floor-unordered = {kg / med['floor-unordered']:.2f}x   (target <= 1.5x)")
print(f"ratio keyguard / floor-ordered   = {kg / med['floor-ordered']:.2f}x")
cli = med["keyguard-cli"]
print(f"ratio keyguard-cli / floor-unordered = {cli / med['floor-unordered']:.2f}x   "
      "(the whole command: start-up, attribution, report)")
PYEOF
if [ "${NEEDLES:-0}" = 1 ]; then
  PYTHONPATH=$ROOT "$PY" "$HERE/run_history.py" "$REPO" --needles
fi
