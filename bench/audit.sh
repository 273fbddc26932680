#!/usr/bin/env bash
# Audit re-run benchmark: `keyguard audit` run again with nothing new, on a repository whose
# history holds a key (attribution work) against the same repository without it (nothing to
# attribute). Both caches are warm; the two re-runs are timed ALTERNATELY (bench/alternate.py).
#
# usage: bench/audit.sh REPO [RUNS]     (REPO: a repository or bare mirror, e.g. pallets/flask)
# env:   KEYGUARD (a command; default: keyguard on PATH)
# Target: ratio with-findings / clean < 1.5x.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${1:?usage: bench/audit.sh REPO [RUNS]}
RUNS=${2:-9}
KG=${KEYGUARD:-$(command -v keyguard || true)}
[ -n "$KG" ] || { echo "bench: no keyguard on PATH (set KEYGUARD)" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
G="git -c user.name=b -c user.email=b@b"
git clone -q "$SRC" "$work/clean"
git clone -q "$SRC" "$work/keyed"
# one key, committed once on a side branch and still at its tip (generated now, never stored)
python3 - "$work/keyed/settings_local.py" <<'PY'
import secrets, string, sys
key = "flux_prod_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
open(sys.argv[1], "w").write(f'FLUXLOOP_API_KEY = "{key}"\n')
PY
git -C "$work/keyed" add settings_local.py && $G -C "$work/keyed" commit -q -m "local settings"
# reports go to files in the work folder (never /dev/null: write_atomic renames over the target)
AUD="audit --no-verify --no-hygiene --sarif $work/a.sarif --json $work/a.json --markdown $work/a.md -q"
for r in clean keyed; do (cd "$work/$r" && $KG $AUD >/dev/null 2>&1 || true); done
(cd "$work/keyed" && $KG $AUD >/dev/null 2>&1) && echo "bench: the audit missed the key" >&2
grep -q '"path": "settings_local.py"' "$work/a.json" || echo "bench: the key is not in the audit report" >&2
python3 "$HERE/alternate.py" --runs "$RUNS" --title "audit re-run, nothing new" \
  "with-findings=cd $work/keyed && $KG $AUD" "clean=cd $work/clean && $KG $AUD"
echo "  target: with-findings / clean < 1.5x"
