#!/usr/bin/env bash
# The incident report's Mermaid diagrams through the real mermaid parser. The
# tests check the same blocks offline with a structural checker
# (tests/mermaid_check.py); this script is the networked cross-check.
#
# usage: bench/mermaid_check.sh [OUTDIR]
#   OUTDIR  where incident.md and audit.md go (default: a temp dir)
# env:    PYTHON (default: .venv/bin/python of this checkout, else python3)
#         MERMAID_DIR (default: ${XDG_CACHE_HOME:-~/.cache}/keyguard-bench/mermaid): where
#         `npm install mermaid jsdom` puts the parser, once
#         MERMAID_VERSION (default 11)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-}
[ -n "$PY" ] || { [ -x "$here/.venv/bin/python" ] && PY="$here/.venv/bin/python" || PY=python3; }
TOOLDIR=${MERMAID_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyguard-bench/mermaid}
command -v npm >/dev/null || { echo "mermaid_check: needs npm (Node.js)" >&2; exit 2; }
if [ ! -d "$TOOLDIR/node_modules/mermaid" ] || [ ! -d "$TOOLDIR/node_modules/jsdom" ]; then
  mkdir -p "$TOOLDIR"
  npm install --prefix "$TOOLDIR" --no-audit --no-fund --loglevel=error \
      "mermaid@${MERMAID_VERSION:-11}" jsdom >&2
fi
out=${1:-}
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
"$PY" "$here/bench/incident_sample.py" "$out" >&2
cp "$here/bench/mermaid_check.mjs" "$TOOLDIR/check.mjs"  # resolved from where mermaid is installed
node "$TOOLDIR/check.mjs" "$out/incident.md" "$out/audit.md"
