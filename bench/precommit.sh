#!/usr/bin/env bash
# Pre-commit path benchmark: `keyguard scan --staged` on a staged change of 11
# files / ~16k lines, beside the floor (the git calls any staged scanner must
# make, and a bare Python start) and the peer scanners when installed.
#
# usage: bench/precommit.sh [REPO] [RUNS]
#   REPO  a git repository or bare mirror to take real source text from
#         (e.g. a clone of pallets/flask); without it a synthetic repo is made
#   RUNS  runs per command (default 15); medians are reported
# env:    KEYGUARD (default: keyguard on PATH), PEERS_BIN (folder holding
#         kingfisher / betterleaks / detect-secrets-hook, optional)
# Prints medians (ms) and ratios; the target is keyguard <= 80 ms median and
# no slower than the fastest peer measured in the same run.
set -euo pipefail
SRC=${1:-}
RUNS=${2:-15}
KG=${KEYGUARD:-$(command -v keyguard || true)}
[ -n "$KG" ] || { echo "bench: no keyguard on PATH (set KEYGUARD=/path/to/keyguard)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
PY=$(head -1 "$KG" | sed 's/^#!//')
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
repo="$work/repo"

if [ -n "$SRC" ]; then
  git clone -q "$SRC" "$repo"
else
  mkdir -p "$repo"; git -C "$repo" init -q
  python3 - "$repo" <<'PY'
import random, sys, pathlib
random.seed(7)
root = pathlib.Path(sys.argv[1]) / "src"
root.mkdir(parents=True)
words = "request response session config token handler route blueprint context app".split()
for i in range(40):
    lines = []
    for j in range(400):
        w = random.sample(words, 3)
        lines.append(f"def {w[0]}_{w[1]}_{j}(x, y={j}):\n    return x.{w[2]}(y) + '{w[0]}-{j}'\n")
    (root / f"mod{i}.py").write_text("".join(lines))
PY
  git -C "$repo" add -A; git -C "$repo" -c user.name=b -c user.email=b@b commit -q -m init
fi

# The staged change: 11 new files of ~1,450 lines each, made of the repo's own text files.
python3 - "$repo" <<'PY'
import subprocess, sys, pathlib
repo = pathlib.Path(sys.argv[1])
names = subprocess.run(["git", "-C", str(repo), "ls-files", "*.py", "*.rst", "*.md", "*.txt"],
                       capture_output=True, text=True, check=True).stdout.split()
pool = []
for n in names:
    try:
        pool.extend((repo / n).read_text(encoding="utf-8").splitlines(keepends=True))
    except (UnicodeDecodeError, OSError):
        pass
out = repo / "staged_change"
out.mkdir()
i = 0
for k in range(11):
    chunk = []
    while len(chunk) < 1450:
        chunk.append(pool[i % len(pool)]); i += 1
    (out / f"part{k}.py").write_text("".join(chunk))
PY
git -C "$repo" add staged_change
lines=$(git -C "$repo" diff --cached --numstat | awk '{s+=$1} END {print s}')
files=$(git -C "$repo" diff --cached --name-only | wc -l)
echo "staged change: $files files, $lines added lines"

cmds=(-n floor-git "git diff --cached --name-status -z >/dev/null && git diff --cached -U0 >/dev/null"
      -n floor-python "$PY -S -c pass"
      -n keyguard "$KG scan --staged")
PB=${PEERS_BIN:-}
if [ -n "$PB" ] && [ -x "$PB/kingfisher" ]; then
  cmds+=(-n kingfisher "$PB/kingfisher scan . --staged --no-validate --no-update-check -q >/dev/null 2>&1 || true")
fi
if [ -n "$PB" ] && [ -x "$PB/betterleaks" ]; then
  cmds+=(-n betterleaks "$PB/betterleaks git --staged . --no-color >/dev/null 2>&1 || true")
fi
if [ -n "$PB" ] && [ -x "$PB/detect-secrets-hook" ]; then
  cmds+=(-n detect-secrets "git diff --cached --name-only -z | xargs -0 $PB/detect-secrets-hook >/dev/null 2>&1 || true")
fi
cd "$repo"
"$KG" scan --staged >/dev/null 2>&1 || { echo "bench: keyguard reported findings on the clean change" >&2; }
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/h.json" "${cmds[@]}" >/dev/null 2>&1 || \
  hyperfine --warmup 3 --runs "$RUNS" --export-json "$work/h.json" "${cmds[@]}" >/dev/null
python3 - "$work/h.json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in res.items()}
kg = med["keyguard"]
print(f"{'command':<16}{'median ms':>10}{'min ms':>9}{'max ms':>9}")
for k, v in res.items():
    print(f"{k:<16}{med[k]:>10.1f}{v['min']*1000:>9.1f}{v['max']*1000:>9.1f}")
print(f"keyguard / floor-git     = {kg / med['floor-git']:.2f}x")
print(f"keyguard / floor-python  = {kg / med['floor-python']:.2f}x")
peers = {k: m for k, m in med.items() if k not in ("keyguard", "floor-git", "floor-python")}
if peers:
    best = min(peers, key=peers.get)
    print(f"keyguard / fastest peer ({best}) = {kg / peers[best]:.2f}x")
print(f"target keyguard <= 80 ms: {'met' if kg <= 80 else 'NOT met'} ({kg:.1f} ms)")
PY
