"""False positives on real-word prefixed names and random tokens, and time per finding.

    python bench/precision.py [--names 16000] [--tokens 28000] [--keys 10000] [--runs 3]

Writes into a temporary folder (1) source files holding ``--names`` real-word
identifiers behind a key prefix (words taken from the identifiers of Python's own
standard library, some with digits: ``flx_parseHttp2Headers``, ``..._settings2024``),
(2) files holding ``--tokens`` random tokens (hex, UUIDs, base64, base64url) in
assignments, and (3) a file of ``--keys`` random real-shaped keys. Runs
``keyguard scan -f json`` on (1)+(2) and prints how many were reported (target:
at most 0.1 %), then times the scan of (1)+(2) alone and with (3) added (median of
``--runs``) and prints the time per true finding. Exit 1 over 0.1 %.
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


def scan(folder: str) -> tuple[float, int]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "keyguard", "scan", "-f", "json", folder],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - t
    return took, len(json.loads(r.stdout)["findings"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, default=16000)
    ap.add_argument("--tokens", type=int, default=28000)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    rng = random.Random(12)
    with tempfile.TemporaryDirectory() as tmp:
        clean = os.path.join(tmp, "clean")
        for k in range(0, a.names, 2000):
            write(clean, f"names_{k}.py", names(min(2000, a.names - k), rng))
        for k in range(0, a.tokens, 2000):
            write(clean, f"tokens_{k}.py", tokens(min(2000, a.tokens - k)))
        _, reported = scan(clean)
        total = a.names + a.tokens
        share = reported / total
        print(f"decoys: {a.names} names + {a.tokens} tokens, reported {reported} ({100 * share:.3f} %, target <= 0.1 %)")
        with_keys = os.path.join(tmp, "keys")
        os.rename(clean, with_keys)
        os.makedirs(clean)
        write(with_keys, "keys.py", real_keys(a.keys))
        t_keys, found = [], 0
        t_clean = []
        for _ in range(a.runs):  # alternate the two scans
            os.rename(os.path.join(with_keys, "keys.py"), os.path.join(tmp, "keys.py"))
            t_clean.append(scan(with_keys)[0])
            os.rename(os.path.join(tmp, "keys.py"), os.path.join(with_keys, "keys.py"))
            took, found = scan(with_keys)
            t_keys.append(took)
        c, k = statistics.median(t_clean), statistics.median(t_keys)
        print(f"scan time: {c:.2f} s with 0 true findings, {k:.2f} s with {found} "
              f"({1000 * (k - c) / max(found, 1):.3f} ms per finding)")
    return 0 if share <= 0.001 else 1


if __name__ == "__main__":
    sys.exit(main())
