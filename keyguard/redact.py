"""How a secret is shown and remembered without being revealed.

``redact`` is the only way a secret value may reach a human (``flux_dev_8f3k…x2q9``:
the literal prefix plus the first and last four characters of the body).
``fingerprint`` is a stable, keyed hash of the value: the same key gives the
same fingerprint on every machine and every run (SARIF partialFingerprints,
allow lists, ``keyguard incident <fingerprint>``), and it cannot be reversed.
"""

# Known literal prefixes, longest first, so flx_refresh_ wins over flx_.
# (Display only: the rules in rules/*.toml decide what is a key.)
_PREFIXES = (
    "flx_refresh_", "flux_prod_", "flux_dev_", "flux_stg_", "flux_ci_",
    "flx_api_", "flx_sa_", "flx_",
)
_FINGERPRINT_KEY = b"keyguard/fingerprint/v1"
ELLIPSIS = "\u2026"


def redact(secret: str) -> str:
    """Return the displayable form of ``secret``: prefix + first 4 + … + last 4."""
    prefix = ""
    for p in _PREFIXES:
        if secret.startswith(p):
            prefix = p
            break
    body = secret[len(prefix):]
    if len(body) <= 12:
        # Too short to show 8 characters of it: show only its length.
        return f"{prefix}{ELLIPSIS}({len(body)} chars)"
    return f"{prefix}{body[:4]}{ELLIPSIS}{body[-4:]}"


def fingerprint(secret: str) -> str:
    """Stable keyed hash of the secret value: ``kg1:`` + 32 hex digits."""
    import hashlib  # here, not at the top: a clean pre-commit run never needs it
    import hmac

    digest = hmac.new(_FINGERPRINT_KEY, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return "kg1:" + digest[:32]


def scrub(text: str, secrets) -> str:
    """Replace every occurrence of each secret in ``text`` with its redacted form."""
    for s in secrets:
        if s and s in text:
            text = text.replace(s, redact(s))
    return text
