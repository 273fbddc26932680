"""How a secret is shown and remembered without being revealed.

``redact`` is the only way a secret value may reach a human (``flux_dev_8f3k…x2q9``:
the literal prefix plus the first and last four characters of the body).
``fingerprint`` is a stable, keyed hash of the value: the same key gives the
same fingerprint on every machine and every run (SARIF partialFingerprints,
allow lists, ``keyguard incident <fingerprint>``), and it cannot be reversed.
"""

_prefixes: tuple[str, ...] = ()
"""The literal prefixes of the loaded rules, longest first (``flx_refresh_`` wins over ``flx_``).
Filled by ``keyguard.detect.rulepack.load_rules`` through ``use_rules``: the rule packs are the
one place a prefix is written."""
_FINGERPRINT_KEY = b"keyguard/fingerprint/v1"
ELLIPSIS = "\u2026"


def use_rules(rules) -> None:
    """Show the literal ``prefix`` of each of ``rules`` (and those already known) in full."""
    global _prefixes
    known = set(_prefixes) | {r.prefix for r in rules if getattr(r, "prefix", "")}
    _prefixes = tuple(sorted(known, key=lambda p: (-len(p), p)))


def redact(secret: str) -> str:
    """Return the displayable form of ``secret``: prefix + first 4 + … + last 4.

    The prefix is a loaded rule's literal prefix; before any rule is loaded
    there is none, and only the first and last four characters show."""
    prefix = ""
    for p in _prefixes:
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
