"""Precision and recall on a generated corpus: planted random keys vs. every placeholder family.

Several hundred random keys of every kind are planted in the contexts keys are leaked in
(.env, YAML, JSON, Python/JS/Go strings, Markdown, URLs, minified JS, notebooks,
Kubernetes base64, URL-encoded query strings); several hundred decoys cover every
placeholder family the seeds use. A planted key counts as found when an unsuppressed
hit carries exactly that key; any other unsuppressed hit is a false positive.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import string

import keys
from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules

PLAIN_CONTEXTS = [
    "FLUXLOOP_API_KEY={k}\n",                                              # .env
    "fluxloop:\n  api_key: {k}\n  endpoint: https://api.fluxloop.ai\n",     # YAML
    '{{"profiles": {{"default": {{"api_key": "{k}"}}}}}}\n',               # JSON
    'API_KEY = "{k}"  # TODO move to env\n',                               # Python
    "client = fluxloop.Client(api_key='{k}', timeout=30)\n",               # Python call
    "const key = `{k}`;\nexport default key;\n",                           # JS
    'var a=1;fetch(u,{{headers:{{Authorization:"Bearer {k}"}}}}),b=a+2;\n',  # minified JS
    'key := "{k}"\nclient := fluxloop.New(key)\n',                         # Go
    "Use `{k}` to authenticate:\n\n| env | key |\n|---|---|\n| prod | {k} |\n",  # Markdown
    "curl 'https://api.fluxloop.ai/v1/scenarios?api_key={k}&page=2'\n",   # URL
    '{{"cells": [{{"source": ["import os\\n", "os.environ[\'FLUXLOOP_API_KEY\'] = \'{k}\'\\n"]}}]}}\n',  # notebook
    'export FLUXLOOP_API_KEY="{k}"\n',                                      # shell
    "ENV FLUXLOOP_API_KEY={k}\n",                                           # Dockerfile
    '[fluxloop]\napi_key = "{k}"\n',                                        # TOML
    "<config><apiKey>{k}</apiKey></config>\n",                              # XML
    "2024-01-15 10:32:11 INFO auth ok token={k} user=alice\n",              # log line
    "Ключ доступа: «{k}» — не публиковать\n",                              # non-ASCII prose
]

WORDS = ["deployment", "pipeline", "settings", "config", "production", "manager", "service",
         "account", "handler", "default", "webhook", "callback", "session", "timeout",
         "logger", "metrics", "client", "server", "profile", "environment", "scenario",
         "results", "upload", "staging", "rotation", "backup"]


def planted_keys(rng: random.Random) -> list[str]:
    out = []
    for _ in range(50):
        out += [keys.platform_key(p, n=rng.choice([24, 32, 32, 40])) for p in keys.PLATFORM_PREFIXES]
        out += [keys.api_key(p, n=rng.choice([24, 32, 32, 48])) for p in keys.API_PREFIXES]
        out.append(keys.jwt_key(exp_in=rng.choice([86400, 90 * 86400, -86400])))
    return out


def positive_docs(rng: random.Random) -> list[tuple[str, bytes]]:
    """(key, document) pairs: every key once in a plain context, plus encoded forms."""
    docs = []
    for i, key in enumerate(planted_keys(rng)):
        ctx = PLAIN_CONTEXTS[i % len(PLAIN_CONTEXTS)]
        docs.append((key, ctx.format(k=key).encode("utf-8")))
        if i % 5 == 0 and not key.startswith("eyJ"):
            blob = base64.b64encode(f"{rng.choice(['', 'KEY=', 'token: '])}{key}\n".encode()).decode()
            docs.append((key, f"apiVersion: v1\nkind: Secret\ndata:\n  api_key: {blob}\n".encode()))
        if i % 7 == 0 and not key.startswith("eyJ"):
            docs.append((key, f"GET /v1/x?api_key={key.replace('_', '%5F')}&q=1\n".encode()))
    return docs


def _ascending(rng: random.Random, alphabet: str, n: int) -> str:
    start = rng.randrange(len(alphabet))
    return "".join(alphabet[(start + j) % len(alphabet)] for j in range(n))


def seed_like(rng: random.Random) -> str:
    """A never-seen body with the seeds' structure: abc123def456…, new123new456…, xyz789…"""
    if rng.random() < 0.5:
        return "".join(_ascending(rng, string.ascii_lowercase, 3) + _ascending(rng, string.digits, 3)
                       for _ in range(rng.randint(3, 5)))
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(3))
    return "".join(word + _ascending(rng, string.digits, 3) for _ in range(rng.randint(3, 5)))


def decoy_lines(rng: random.Random) -> list[str]:
    """Several hundred placeholders of every family, in the same contexts."""
    all_prefixes = list(keys.PLATFORM_PREFIXES) + list(keys.API_PREFIXES)
    bodies = []
    for _ in range(40):
        p = rng.choice(all_prefixes)
        rnd = keys._body(keys.LOWER_DIGITS, 8)
        bodies += [
            "flux_dev_abc123def456ghi789jkl012mno34", "flux_ci_xyz789abc123def456ghi789jkl",
            "flux_dev_new123new456new789", "flux_prod_abc123def456ghi789jkl012mno",
            "flux_prod_xyz789abc123...", "flux_dev_abc123...",
            p + seed_like(rng),                                              # seed structure
            p + "****..." + rnd[:4], p + rnd[:4] + "..." + rnd[4:],          # masked
            "flux_dev_****...mno34", "flux_dev_abc1...mno34", "flux_ci_xyz7...jkl",
            p + "...", p + "\u2026", "flx_new_key...", "flx_old_key...", "flx_compromised_key",  # elided
            p + rng.choice("x0X*") * rng.choice([16, 24, 32]),               # fillers
            p + _ascending(rng, string.ascii_lowercase, 20),                 # alphabet run
            p + _ascending(rng, string.digits, 20),                          # digit run
            p + keys._body(keys.LOWER_DIGITS, 6) * 5,                        # repeated chunk
            p + "${FLUXLOOP_API_KEY}", p + "{{ secrets.FLUXLOOP_API_KEY }}", p + "<YOUR_API_KEY>",
            "$FLUXLOOP_API_KEY", 'os.environ["FLUXLOOP_API_KEY"]', "process.env.FLUXLOOP_API_KEY",
            p + "".join(rng.sample(WORDS, rng.randint(2, 4))),               # identifiers
            p + "_".join(rng.sample(WORDS, rng.randint(2, 3))),
            p + "example" + keys._body(keys.LOWER_DIGITS, 12),               # placeholder word
        ]
    seed_jwt = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImFwaS1rZXktMSJ9."
                + keys.b64url(json.dumps({"sub": "user-123", "scopes": ["api:read"], "key_id": "key-1",
                                          "exp": 1713192000}).encode()) + ".signature")
    other_jwt = ".".join([keys.b64url(b'{"alg":"HS256","typ":"JWT"}'),
                          keys.b64url(json.dumps({"sub": "42", "name": "x", "iat": 1}).encode()),
                          keys.b64url(secrets.token_bytes(32))])
    bodies += [seed_jwt, other_jwt, "eyJhbGciOiJSUzI1NiIs..."] * 20
    return [PLAIN_CONTEXTS[i % len(PLAIN_CONTEXTS)].format(k=b) for i, b in enumerate(bodies)]


def test_precision_and_recall_at_least_99_percent(capsys):
    rng = random.Random(secrets.randbits(64))
    detector = Detector(load_rules())
    positives = positive_docs(rng)
    decoys = decoy_lines(rng)
    assert len({k for k, _ in positives}) >= 400 and len(decoys) >= 400

    tp = fn = fp = 0
    missed, false = [], []
    for key, doc in positives:
        found = [h.secret for h in detector.scan(doc) if h.suppressed is None]
        if key in found:
            tp += 1
        else:
            fn += 1
            missed.append(key[:14])
        extra = [s for s in found if s != key]
        fp += len(extra)
        false += [s[:14] for s in extra]
    for line in decoys:
        found = [h.secret for h in detector.scan(line.encode("utf-8")) if h.suppressed is None]
        fp += len(found)
        false += [s[:14] for s in found]
    # one big mixed file too: every planted key, every decoy, in shuffled order
    mixed = [doc for _, doc in positives] + [d.encode() for d in decoys]
    rng.shuffle(mixed)
    big = b"\n".join(mixed)
    big_found = {h.secret for h in detector.scan(big) if h.suppressed is None}
    planted = {k for k, _ in positives}

    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    with capsys.disabled():
        print(f"\nprecision/recall: {len(positives)} planted documents ({len(planted)} keys), "
              f"{len(decoys)} decoys: precision={precision:.4f} recall={recall:.4f} "
              f"(tp={tp} fn={fn} fp={fp}); mixed file: {len(big_found & planted)}/{len(planted)} found, "
              f"{len(big_found - planted)} false")
    assert precision >= 0.99, false[:10]
    assert recall >= 0.99, missed[:10]
    assert len(big_found & planted) >= 0.99 * len(planted)
    assert len(big_found - planted) <= 0.01 * len(planted)
