"""Fingerprints are stable: configs' allow lists and reports keep them across versions."""

from __future__ import annotations

import hashlib
import hmac

from keys import any_key
from keyguard.redact import _FINGERPRINT_KEY, fingerprint


def test_fingerprint_is_hmac_sha256_of_the_key():
    for secret in [any_key() for _ in range(20)] + ["", "é" * 70, "x" * 1000]:
        expected = "kg1:" + hmac.new(_FINGERPRINT_KEY, secret.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        assert fingerprint(secret) == expected
    assert fingerprint("a") != fingerprint("b")
