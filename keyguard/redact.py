"""How a secret is shown and remembered without being revealed.

``redact`` is the only way a secret value may reach a human (``flux_dev_8f3k…x2q9``:
the literal prefix plus the first and last four characters of the body).
``fingerprint`` is a stable, keyed hash of the value: the same key gives the
same fingerprint on every machine and every run (SARIF partialFingerprints,
allow lists, ``keyguard incident <fingerprint>``), and it cannot be reversed.

``shown_value`` is how any value a user typed (an option, an environment
variable, a config or credentials field) may appear in a message: key-shaped
parts redacted. ``scrub_all`` is the last guard for free text (``--debug``
tracebacks): every secret keyguard has seen this run (``remember``) and every
key-shaped string redacted.
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
    """Stable keyed hash of the secret value: ``kg1:`` + 32 hex digits.

    HMAC-SHA256 (RFC 2104) written out over CPython's built-in SHA-256: ``hmac`` and
    ``hashlib`` load OpenSSL, ~3 ms of a pre-commit run that refuses a commit.
    """
    inner, outer = _hmac_pads()
    h = inner.copy()
    h.update(secret.encode("utf-8"))
    o = outer.copy()
    o.update(h.digest())
    return "kg1:" + o.hexdigest()[:32]


_PADS: tuple | None = None


def _hmac_pads():
    """The SHA-256 states after the HMAC key's inner and outer pads (made once)."""
    global _PADS
    if _PADS is None:
        try:
            from _sha256 import sha256  # built in: no OpenSSL to load
        except ImportError:  # pragma: no cover - other Pythons (3.12+: _sha2)
            try:
                from _sha2 import sha256
            except ImportError:
                from hashlib import sha256
        key = _FINGERPRINT_KEY if len(_FINGERPRINT_KEY) <= 64 else sha256(_FINGERPRINT_KEY).digest()
        key = key.ljust(64, b"\0")
        _PADS = (sha256(bytes(b ^ 0x36 for b in key)), sha256(bytes(b ^ 0x5C for b in key)))
    return _PADS


def scrub(text: str, secrets) -> str:
    """Replace every occurrence of each secret in ``text`` with its redacted form."""
    for s in secrets:
        if s and s in text:
            text = text.replace(s, redact(s))
    return text


_KNOWN: set[str] = set()
_SHAPES = None


def remember(secret: str) -> None:
    """Note a secret met in this run (operator credential, a found or typed key) for ``scrub_all``."""
    if secret and len(secret) >= 8:
        _KNOWN.add(secret)


def _shapes():
    """Key-shaped text: a known prefix plus a body, a JWT, or a long mixed letters-and-digits token."""
    global _SHAPES
    if _SHAPES is None:
        import re
        # the loaded rules' prefixes, and FluxLoop's prefix shape for when no rules are loaded yet
        prefixes = "|".join([re.escape(p) for p in _prefixes] + [r"flux_[a-z]+_", r"flx_(?:[a-z]+_)?"])
        _SHAPES = (re.compile(rf"(?:{prefixes})[A-Za-z0-9_\-]{{6,}}"),
                   re.compile(r"eyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*"),
                   re.compile(r"(?<![A-Za-z0-9_\-])(?=[A-Za-z_\-]*[0-9])(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{20,}"))
    return _SHAPES


def scrub_shapes(text: str, *, generic: bool = True) -> str:
    """``text`` with every key-shaped string redacted (``generic``: long letter+digit tokens too)."""
    shapes = _shapes() if generic else _shapes()[:2]
    for rx in shapes:
        text = rx.sub(lambda m: redact(m.group()), text)
    return text


def shown_name(text: str, secrets=()) -> str:
    """A name taken from scanned content (commit author, tagger, ref name) as reports show it.

    The ``secrets`` found in this scan and any prefixed or JWT key shape are redacted: a key
    pasted into ``user.name`` or a branch name must not reach a report through the
    provenance of another finding.
    """
    return scrub_shapes(scrub(text, secrets), generic=False) if text else text


def shown_value(value: object, limit: int = 80) -> str:
    """A user-supplied value as a message may quote it: key-shaped parts redacted, at most ``limit`` chars."""
    text = scrub_shapes(scrub(str(value), sorted(_KNOWN, key=len, reverse=True)))
    return text if len(text) <= limit else text[:limit] + ELLIPSIS


_USER_VALUES_READ = False


def _remember_user_values() -> None:
    """Remember the key-shaped parts of the command line and of ``FLUXLOOP_*`` variables (once, lazily)."""
    global _USER_VALUES_READ
    if _USER_VALUES_READ:
        return
    _USER_VALUES_READ = True
    import os
    import sys

    values = list(sys.argv[1:]) + [v for k, v in os.environ.items() if k.startswith("FLUXLOOP_")]
    for value in values:
        for rx in _shapes():
            for m in rx.finditer(value):
                remember(m.group())


def scrub_all(text: str) -> str:
    """Free text (messages, warnings, tracebacks) with every secret keyguard knows of redacted.

    That is: secrets met in this run (``remember``), key-shaped parts of what the
    user typed (arguments, ``FLUXLOOP_*`` variables), and any prefixed or JWT
    key-shaped string.
    """
    _remember_user_values()
    return scrub_shapes(scrub(text, sorted(_KNOWN, key=len, reverse=True)), generic=False)
