"""Random, real-looking FluxLoop keys for tests (never committed as literals).

Every test that needs a key makes one here at run time, so keyguard's own
repository holds no key-shaped literal outside the rule packs' examples.
"""

import base64
import json
import secrets
import string
import time

LOWER_DIGITS = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits

PLATFORM_PREFIXES = ("flux_dev_", "flux_ci_", "flux_stg_", "flux_prod_")
API_PREFIXES = ("flx_api_", "flx_sa_", "flx_refresh_", "flx_")


def _body(alphabet: str, n: int) -> str:
    while True:
        s = "".join(secrets.choice(alphabet) for _ in range(n))
        # real generators produce letters and digits mixed; avoid the rare all-letter draw
        if any(c.isdigit() for c in s) and any(c.isalpha() for c in s):
            return s


def platform_key(prefix: str = "flux_prod_", n: int = 32) -> str:
    """A random platform key: prefix + lowercase letters and digits."""
    return prefix + _body(LOWER_DIGITS, n)


def api_key(prefix: str = "flx_api_", n: int = 32) -> str:
    """A random API / service-account / session key: prefix + letters and digits."""
    return prefix + _body(ALNUM, n)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_key(exp_in: int = 90 * 86400, scopes=("api:read", "api:write"), kid: str = "api-key-1",
            key_id: str | None = None, iss: str = "https://auth.fluxloop.ai") -> str:
    """A FluxLoop JWT API key with a random signature; ``exp_in`` < 0 makes it expired."""
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    claims = {"sub": "user-" + _body(LOWER_DIGITS, 6), "scopes": list(scopes),
              "key_id": key_id or "key-" + _body(LOWER_DIGITS, 12), "iss": iss,
              "iat": now - 3600, "exp": now + exp_in}
    sig = secrets.token_bytes(256)
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(sig)])


def any_key() -> str:
    """One random key of a random kind."""
    kind = secrets.randbelow(3)
    if kind == 0:
        return platform_key(secrets.choice(PLATFORM_PREFIXES))
    if kind == 1:
        return api_key(secrets.choice(API_PREFIXES))
    return jwt_key()
