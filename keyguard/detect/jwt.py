"""Offline JWT decoding: is a JWT a FluxLoop API key, whose, for what, and still valid?

Nothing is verified cryptographically (keyguard has no public key and must not need the
network to scan); the header and claims are only base64url-decoded and read. A JWT
counts as a FluxLoop API key when its header ``kid`` starts with ``api-key`` or its
claims hold both ``key_id`` and ``scopes`` (seed 004's shape); any other JWT (a session
token of another system, a jwt.io sample) is left alone so it is not noise.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

_SIG_CHARS = re.compile(r"^[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class JwtFacts:
    """What a JWT says about itself, decoded offline."""

    kid: str = ""
    """Header ``kid`` (``api-key-1``)."""
    alg: str = ""
    """Header ``alg`` (``RS256``)."""
    key_id: str = ""
    """Claim ``key_id``: the API key's id in the tenant."""
    scopes: tuple[str, ...] = ()
    """Claim ``scopes``."""
    iss: str = ""
    """Claim ``iss``."""
    sub: str = ""
    """Claim ``sub``."""
    exp: int | None = None
    """Claim ``exp`` (Unix seconds), None if absent."""
    signature: str = ""
    """The third part as written (base64url)."""

    @property
    def is_fluxloop_key(self) -> bool:
        """Shaped like a FluxLoop API key: kid ``api-key*``, or both key_id and scopes."""
        return self.kid.startswith("api-key") or bool(self.key_id and self.scopes)

    def expired(self, now: float) -> bool:
        """Whether ``exp`` lies before ``now``."""
        return self.exp is not None and self.exp < now

    def details(self, now: float) -> tuple[tuple[str, str], ...]:
        """The facts as ``Hit.details`` pairs (only those present)."""
        out = [("kid", self.kid), ("key_id", self.key_id), ("scopes", ",".join(self.scopes)),
               ("iss", self.iss)]
        if self.exp is not None:
            exp = datetime.fromtimestamp(self.exp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            out += [("exp", exp), ("expired", "true" if self.expired(now) else "false")]
        return tuple((k, v) for k, v in out if v)


def decode(token: str) -> JwtFacts | None:
    """Header and claims of a compact JWT, or None if it is not one (bad base64 or JSON)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header, claims = _json_part(parts[0]), _json_part(parts[1])
    if header is None or claims is None:
        return None
    scopes = claims.get("scopes", claims.get("scope", ()))
    if isinstance(scopes, str):
        scopes = scopes.split()
    exp = claims.get("exp")
    return JwtFacts(
        kid=_text(header.get("kid")), alg=_text(header.get("alg")),
        key_id=_text(claims.get("key_id")),
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, (list, tuple)) else (),
        iss=_text(claims.get("iss")), sub=_text(claims.get("sub")),
        exp=int(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
        signature=parts[2],
    )


def placeholder_signature(facts: JwtFacts) -> bool:
    """The signature is a stand-in (``signature``, ``sig``, ``xxx``, empty), not real bytes.

    Real RS256/ES256/HS256 signatures are 32 to 512 random bytes: at least 43 base64url
    characters, with digits or ``-``/``_`` and mixed case somewhere.
    """
    sig = facts.signature
    if len(sig) < 43 or not _SIG_CHARS.match(sig):
        return True
    if sig.isalpha() and (sig.islower() or sig.isupper()):
        return True
    return len(set(sig)) < 12


def _json_part(part: str) -> dict | None:
    """A base64url JSON object, or None."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _text(value) -> str:
    """A claim as one line of text ("" if absent or not a scalar)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).replace("\n", " ")[:200]
    return ""
