"""False positives on real-word prefixed names and random tokens, and time per finding.

    python bench/precision.py [--names 16000] [--tokens 28000] [--keys 1000,10000]
                              [--formats json] [--runs 3]

Writes into a temporary folder (1) source files holding ``--names`` real-word
identifiers behind a key prefix (words taken from the identifiers of Python's own
standard library, some with digits: ``flx_parseHttp2Headers``, ``..._settings2024``),
(2) files holding ``--tokens`` random tokens (hex, UUIDs, base64, base64url) in
assignments, and (3) files of random real-shaped keys, one key per line and 1,000
per file (under the detector's 10,000 keys kept per file), each one true finding.

Prints how many of (1)+(2) ``keyguard scan -f json`` reported (target: at most
0.1 %; exit 1 over it), then, for each of ``--formats``, the scan time of (1)+(2)
with 0 true findings and with each count of ``--keys`` added: the scans run in
turn (0, 1k, 10k, 0, 1k, 10k, ...) so they share the machine's load, and medians
of ``--runs`` are printed, wall and CPU (user+sys of the keyguard process, steadier
on a shared machine). Time per finding = (median with N - median with 0) / N; it
should be the same at 1,000 and 10,000 findings (linear cost), and small.
To time another version: ``PYTHONPATH=/path/to/other/checkout python bench/precision.py``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import secrets
import statistics
import string
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid

PREFIXES = ("flux_prod_", "flux_dev_", "flux_ci_", "flux_stg_", "flx_api_", "flx_sa_", "flx_")


def stdlib_words(limit: int) -> list[str]:
    """Identifiers of two or more words from the standard library's sources."""
    root = sysconfig.get_paths()["stdlib"]
    found: set[str] = set()
    ident = re.compile(r"\b([a-z]+(?:_[a-z]+)+|[a-z]+(?:[A-Z][a-z]+)+)\b")
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                try:
                    with open(os.path.join(folder, name), encoding="utf-8") as fh:
                        found.update(m.group(1) for m in ident.finditer(fh.read()) if len(m.group(1)) >= 12)
                except (OSError, UnicodeDecodeError):
                    continue
            if len(found) >= 4 * limit:
                return sorted(found)
    return sorted(found)


def names(n: int, rng: random.Random) -> list[str]:
    words = stdlib_words(n)
    out = []
    for i in range(n):
        w = rng.choice(words)
        if i % 4 == 1:
            w += rng.choice(("v2", "2024", "3", "64"))
        elif i % 4 == 2:
            w = "".join(p.capitalize() if k else p for k, p in enumerate(w.split("_")))
        out.append(rng.choice(PREFIXES) + w)
    return out


def tokens(n: int) -> list[str]:
    makers = (lambda: secrets.token_hex(16), lambda: secrets.token_hex(20), lambda: str(uuid.uuid4()),
              lambda: base64.b64encode(secrets.token_bytes(30)).decode(),
              lambda: base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("="))
    return [makers[i % len(makers)]() for i in range(n)]


def real_keys(n: int) -> list[str]:
    alnum = string.ascii_lowercase + string.digits
    return ["flux_prod_" + "".join(secrets.choice(alnum) for _ in range(32)) for _ in range(n)]


def write(folder: str, name: str, values: list[str]) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "w") as fh:
        for i, v in enumerate(values):
            fh.write(f'value_{i} = "{v}"  # {v}\n' if i % 2 else f"config.set('k{i}', {v!r})\n")


def write_keys(folder: str, keys: list[str]) -> None:
    """One key per line (one finding each), 1,000 per file."""
    os.makedirs(folder, exist_ok=True)
    for k in range(0, len(keys), 1000):
        with open(os.path.join(folder, f"keys_{k // 1000:03d}.py"), "w") as fh:
            fh.writelines(f'API_KEY_{i} = "{v}"\n' for i, v in enumerate(keys[k:k + 1000]))


def scan(folder: str, fmt: str = "json") -> tuple[float, float, bytes]:
    """Wall and CPU seconds of ``keyguard scan -f fmt folder``, and its output."""
    before = os.times()
    t = time.perf_counter()
    # run from the folder's parent: ``-m`` puts the working directory first on sys.path, and a
    # keyguard checkout there would shadow the one installed (or named by PYTHONPATH)
    r = subprocess.run([sys.executable, "-m", "keyguard", "scan", "-f", fmt, folder],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=os.path.dirname(folder))
    took = time.perf_counter() - t
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return took, cpu, r.stdout


def findings(out: bytes) -> int:
    return len(json.loads(out)["findings"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, default=16000)
    ap.add_argument("--tokens", type=int, default=28000)
    ap.add_argument("--keys", default="1000,10000", help="true-finding counts to time, comma-separated")
    ap.add_argument("--formats", default="json", help="report formats to time, comma-separated "
                    "(json, text, sarif, markdown, gitlab)")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    counts = [int(n) for n in a.keys.split(",") if n]
    if any(n <= 0 or n % 1000 for n in counts):
        ap.error("--keys: multiples of 1000 (the keys are written 1,000 per file)")
    rng = random.Random(12)
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "repo")
        for k in range(0, a.names, 2000):
            write(folder, f"names_{k}.py", names(min(2000, a.names - k), rng))
        for k in range(0, a.tokens, 2000):
            write(folder, f"tokens_{k}.py", tokens(min(2000, a.tokens - k)))
        reported = findings(scan(folder)[2])
        total = a.names + a.tokens
        share = reported / max(total, 1)
        print(f"decoys: {a.names} names + {a.tokens} tokens, reported {reported} "
              f"({100 * share:.3f} %, target <= 0.1 %)")
        held = os.path.join(tmp, "held")
        write_keys(held, real_keys(max(counts, default=0)))
        key_files = sorted(os.listdir(held))

        def use(n: int) -> None:
            """Leave the first ``n // 1000`` key files in the scanned folder, the rest held back."""
            for i, name in enumerate(key_files):
                inside, outside = os.path.join(folder, name), os.path.join(held, name)
                want = i < n // 1000
                if want and os.path.exists(outside):
                    os.rename(outside, inside)
                elif not want and os.path.exists(inside):
                    os.rename(inside, outside)

        for fmt in a.formats.split(","):
            wall: dict[int, list[float]] = {n: [] for n in [0] + counts}
            cpu: dict[int, list[float]] = {n: [] for n in [0] + counts}
            for _ in range(a.runs):  # in turn, so every count sees the same load
                for n in wall:
                    use(n)
                    w, c, out = scan(folder, fmt)
                    wall[n].append(w)
                    cpu[n].append(c)
                    if fmt == "json" and findings(out) != reported + n:
                        print(f"  (with {n} keys: {findings(out) - reported} true findings reported, not {n})")
            w0, c0 = statistics.median(wall[0]), statistics.median(cpu[0])
            print(f"-f {fmt}: scan time {w0:.2f} s wall, {c0:.2f} s CPU with 0 true findings")
            for n in counts:
                w, c = statistics.median(wall[n]), statistics.median(cpu[n])
                print(f"-f {fmt}: scan time {w:.2f} s wall, {c:.2f} s CPU with {n} true findings: "
                      f"{1000 * (w - w0) / n:.3f} ms wall, {1000 * (c - c0) / n:.3f} ms CPU per finding")
            use(0)
    return 0 if share <= 0.001 else 1


if __name__ == "__main__":
    sys.exit(main())
