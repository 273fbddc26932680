#!/usr/bin/env bash
# Every SARIF keyguard writes, checked under GitHub's ingestion rules with
# Microsoft's SARIF Multitool (`validate --rule-kind "Gh;Sarif"`: the GitHub
# upload rules plus the SARIF spec's own). The tests keep a jsonschema check of
# the OASIS schema; this script is the stricter, networked check.
#
# usage: bench/sarif_check.sh [OUTDIR]
#   OUTDIR  where the SARIF files and the Multitool's logs go (default: a temp dir)
# env:    PYTHON (default: .venv/bin/python of this checkout, else python3): runs keyguard
#         and bench/sarif_outputs.py (needs the test extras: the FluxLoop test server)
#         SARIF_MULTITOOL_DIR (default: ${XDG_CACHE_HOME:-~/.cache}/keyguard-bench/sarif-multitool):
#         where `npm install @microsoft/sarif-multitool` puts the tool, once
#         SARIF_MULTITOOL_VERSION (default 5.7.0)
# Prints one line per file (errors, warnings, and notes for information) and a
# total; exits 1 when any file draws an error or a warning.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-}
[ -n "$PY" ] || { [ -x "$here/.venv/bin/python" ] && PY="$here/.venv/bin/python" || PY=python3; }
VERSION=${SARIF_MULTITOOL_VERSION:-5.7.0}
TOOLDIR=${SARIF_MULTITOOL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyguard-bench/sarif-multitool}
command -v npm >/dev/null || { echo "sarif_check: needs npm (Node.js)" >&2; exit 2; }

# The npm package holds a self-contained binary per platform; its `sarif-multitool`
# wrapper passes arguments through a shell (splitting "Gh;Sarif" at the ';'), so the
# binary is called directly.
bin="$TOOLDIR/node_modules/@microsoft/sarif-multitool-$(node -p process.platform)/Sarif.Multitool"
if [ ! -e "$bin" ]; then
  mkdir -p "$TOOLDIR"
  npm install --prefix "$TOOLDIR" --no-audit --no-fund --loglevel=error \
      "@microsoft/sarif-multitool@$VERSION" >&2
fi
chmod u+x "$bin"  # npm may skip the package's postinstall (which only does this chmod)

out=${1:-}
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out/logs"
rm -f "$out"/*.sarif "$out"/logs/*.sarif
"$PY" "$here/bench/sarif_outputs.py" "$out" >&2

echo "SARIF Multitool $VERSION, validate --rule-kind \"Gh;Sarif\" --level \"Error;Warning;Note\""
for f in "$out"/*.sarif; do
  log="$out/logs/$(basename "$f")"
  "$bin" validate --rule-kind "Gh;Sarif" --level "Error;Warning;Note" -o "$log" "$f" >/dev/null 2>&1 || true
  [ -s "$log" ] || { echo "sarif_check: the Multitool wrote no log for $f" >&2; exit 2; }
done
"$PY" - "$out" <<'PY'
import collections, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
total = collections.Counter()
for f in sorted(out.glob("*.sarif")):
    doc = json.loads((out / "logs" / f.name).read_text(encoding="utf-8-sig"))
    results = [r for run in doc["runs"] for r in run.get("results", [])]
    levels = collections.Counter(r.get("level", "warning") for r in results)
    bad = sorted({r["ruleId"] for r in results if r.get("level", "warning") in ("error", "warning")})
    notes = sorted({r["ruleId"] for r in results if r.get("level") == "note"})
    mine = json.loads(f.read_text(encoding="utf-8"))
    n = sum(len(run["results"]) for run in mine["runs"])
    total.update(levels)
    print(f"{f.name:22} {n:3} results  errors {levels['error']:2}  warnings {levels['warning']:2}  "
          f"notes {levels['note']:2}" + (f"  {' '.join(bad)}" if bad else "")
          + (f"  (notes: {' '.join(notes)})" if notes else ""))
print(f"total: {total['error']} errors, {total['warning']} warnings, {total['note']} notes "
      f"in {len(list(out.glob('*.sarif')))} files")
sys.exit(1 if total["error"] or total["warning"] else 0)
PY
