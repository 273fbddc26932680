#!/usr/bin/env bash
# History-scan benchmark: keyguard's history source against the git floor.
#
#   bench/history.sh [REPO]      (RUNS=3 by default; PYTHON=.venv/bin/python;
#                                 NEEDLES=1 adds per-needle hit rates and prefilter speed)
#
# Without REPO a repository of 20k commits with planted keys is generated
# (bench/gen_repo.py). Compared, median of RUNS alternating runs each:
#   floor-2readers   bench/floor_readers.py REPO 2: list every object, drop trees, split the
#                    pack-ordered list in two slices of equal bytes, two parallel
#                    `git cat-file --batch` readers, output discarded (list and split included)
#   keyguard         bench/run_history.py REPO (HistorySource + the real Detector, default workers)
#   keyguard-cli     keyguard scan --history --repo REPO (the whole command a user runs, JSON report)
#   keyguard-cli-std the same with KEYGUARD_NATIVE=0: the standard-library needle search even
#                    where the native one (keyguard[fast], Hyperscan) is installed
# Target: keyguard <= 2.0x floor-2readers.
# Peak RSS: keyguard's own Python process and its largest child (from getrusage), and
# the floor's largest git process (GNU time), measured in one extra run each.
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

# Timed ALTERNATELY (floor, keyguard, keyguard-cli, floor, ...; bench/alternate.py), medians.
"$PY" "$HERE/alternate.py" --runs "$RUNS" --warmup 1 --title "history scan of $REPO" \
  --ratio keyguard/floor-2readers --ratio keyguard-cli/floor-2readers --ratio keyguard-cli-std/floor-2readers \
  "floor-2readers=$PY '$HERE/floor_readers.py' '$REPO' 2" \
  "keyguard=PYTHONPATH='$ROOT' '$PY' '$HERE/run_history.py' '$REPO'" \
  "keyguard-cli=PYTHONPATH='$ROOT' '$PY' -m keyguard scan --history --repo '$REPO' -q --no-progress -f json -o '$WORK/report.json'" \
  "keyguard-cli-std=KEYGUARD_NATIVE=0 PYTHONPATH='$ROOT' '$PY' -m keyguard scan --history --repo '$REPO' -q --no-progress -f json -o '$WORK/report-std.json'"
echo "  target: keyguard / floor-2readers <= 2.0x"

echo "peak RSS (one more run each):"
"$PY" "$HERE/floor_readers.py" "$REPO" 2
PYTHONPATH=$ROOT "$PY" "$HERE/run_history.py" "$REPO"

if [ "${NEEDLES:-0}" = 1 ]; then
  PYTHONPATH=$ROOT "$PY" "$HERE/run_history.py" "$REPO" --needles
fi
