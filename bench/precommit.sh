#!/usr/bin/env bash
# Pre-commit path benchmark: `keyguard scan --staged` beside kingfisher with FluxLoop-only
# rules (bench/peers/kingfisher-fluxloop.yml, --load-builtins false) and the floors, all
# timed ALTERNATELY in one run (bench/alternate.py), medians and ratios printed.
#
# usage: bench/precommit.sh [SRC_REPO] [BIG_REPO] [RUNS]
#   SRC_REPO  a repository or bare mirror to take source text from (e.g. pallets/flask);
#             without it a synthetic repository is made
#   BIG_REPO  optional (e.g. sqlalchemy): its whole tree staged on top of one initial commit
#             (the first commit of an imported project)
#   RUNS      alternating runs per command (default 11); medians are reported
# env:  KEYGUARD (default: this checkout installed NON-editable into a fresh venv in the temp
#                 folder, as pip/pre-commit users get it: no .pth import hook, compiled .pyc)
#       PEERS_BIN (folder holding kingfisher / betterleaks; default: /tmp/peers/bin if present)
#       ALL_PEERS=1 also times betterleaks with bench/peers/betterleaks-fluxloop.toml
# Scenarios: 1. an 11-file / ~16k-line clean change;  2. the same with a key in it
# (the report path loads);  3. BIG_REPO's tree as a first commit.
# floor-git is the patch a patch-reading staged scanner needs (keyguard reads blob ids
# with `diff-index --raw` and the blobs instead; it can be below this floor).
set -euo pipefail
unset PYTHONDONTWRITEBYTECODE  # a user's Python writes and reuses .pyc files
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${1:-}
BIG=${2:-}
RUNS=${3:-11}
PB=${PEERS_BIN:-}
[ -z "$PB" ] && [ -x /tmp/peers/bin/kingfisher ] && PB=/tmp/peers/bin
KF_RULES=$HERE/peers/kingfisher-fluxloop.yml
BL_RULES=$HERE/peers/betterleaks-fluxloop.toml
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
KG=${KEYGUARD:-}
if [ -z "$KG" ]; then
  # a copy of the checkout (setuptools writes build/ into the tree it installs from)
  mkdir "$work/src"
  tar -C "$HERE/.." -cf - pyproject.toml README.md keyguard rules | tar -C "$work/src" -xf -
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q "$work/src" >/dev/null 2>&1 \
    || { echo "bench: pip install of the checkout failed" >&2; exit 2; }
  KG=$work/venv/bin/keyguard
  echo "keyguard: $("$KG" --version) installed non-editable in $work/venv"
fi
PY=$(head -1 "$KG" | sed 's/^#!//')
repo="$work/repo"
G="git -c user.name=b -c user.email=b@b"

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
  git -C "$repo" add -A; $G -C "$repo" commit -q -m init
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
echo "scenario 1: staged change of $files files, $lines added lines"

# Scenario 2: the same change plus one key (generated now, never stored).
keyed="$work/keyed"
git clone -q "$repo" "$keyed" 2>/dev/null
cp -r "$repo/staged_change" "$keyed/"
python3 - "$keyed/staged_change/part3.py" <<'PY'
import secrets, string, sys
key = "flux_prod_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
with open(sys.argv[1], "a") as fh:
    fh.write(f'\nFLUXLOOP_API_KEY = "{key}"\n')
PY
git -C "$keyed" add staged_change

peer_cmds() {  # $1: extra kingfisher flags
  if [ -n "$PB" ] && [ -x "$PB/kingfisher" ]; then
    echo "kingfisher-flux=$PB/kingfisher scan . --staged --load-builtins false --rules-path $KF_RULES --no-validate --no-update-check -q"
  fi
  if [ "${ALL_PEERS:-0}" = 1 ] && [ -n "$PB" ] && [ -x "$PB/betterleaks" ]; then
    echo "betterleaks-flux=$PB/betterleaks git --staged . --config $BL_RULES --no-color"
  fi
}
mapfile -t PEERS < <(peer_cmds)
first_peer=${PEERS[0]%%=*}

run() {  # $1 title, $2 repo, then NAME=CMD...
  local title=$1 dir=$2; shift 2
  local ratios=()
  [ ${#PEERS[@]} -gt 0 ] && ratios+=(--ratio "keyguard/$first_peer")
  "$PY" "$HERE/alternate.py" --runs "$RUNS" --cwd "$dir" --title "$title" "${ratios[@]}" \
    --ratio keyguard/floor-git "$@" "${PEERS[@]}"
}

"$KG" scan --staged --repo "$repo" >/dev/null 2>&1 || echo "bench: keyguard reported findings on the clean change" >&2
"$KG" scan --staged --repo "$keyed" >/dev/null 2>&1 && echo "bench: keyguard missed the key in scenario 2" >&2
run "1. clean change ($files files, $lines lines)" "$repo" \
  "keyguard=$KG scan --staged" \
  "floor-git=git diff --cached --name-status -z >/dev/null && git diff --cached -U0 >/dev/null" \
  "floor-python=$PY -S -c pass"
run "2. the same change with a key in it" "$keyed" \
  "keyguard=$KG scan --staged" \
  "floor-git=git diff --cached --name-status -z >/dev/null && git diff --cached -U0 >/dev/null"

if [ -n "$BIG" ]; then
  big="$work/big"
  git init -q "$big"
  echo "imported project" > "$big/README.first"
  git -C "$big" add README.first && $G -C "$big" commit -q -m "initial commit"
  git --git-dir="$(git -C "$BIG" rev-parse --absolute-git-dir)" archive HEAD | tar -x -C "$big"
  git -C "$big" add -A
  bfiles=$(git -C "$big" diff --cached --name-only | wc -l)
  blines=$(git -C "$big" diff --cached --numstat | awk '{s+=$1} END {print s}')
  "$KG" scan --staged --repo "$big" >/dev/null 2>&1 || echo "bench: keyguard reported findings on the big change" >&2
  run "3. an imported project's first commit ($bfiles files, $blines lines)" "$big" \
    "keyguard=$KG scan --staged" \
    "floor-git=git diff --cached --name-status -z >/dev/null && git diff --cached -U0 >/dev/null"
fi
