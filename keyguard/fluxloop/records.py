"""API bodies turned into frozen values: ``KeyRecord``, ``Identity`` (auth/status), ``KeyUsage``.

The only place that knows the JSON field names of the FluxLoop API
(docs/fluxloop-api.md). A body that does not have the documented shape
is an ``ApiError`` saying which field is wrong, never a ``KeyError``.

The endpoint is not trusted (a proxy, a typo in a host name, a hostile server):
every string field goes through ``sanitize.clean`` (no terminal escapes or bidi
overrides) and through the redactor with every secret the caller knows (an
endpoint that echoes the bearer as a key's name gets it shown redacted), and a
time outside years 1970-9999 (``1e300``, ``10**15``) is an ``ApiError``, which
callers turn into status ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from keyguard.errors import ApiError
from keyguard.model import KeyRecord
from keyguard.redact import scrub
from keyguard.sanitize import clean

MAX_COUNT = 10 ** 15
"""Largest request count believed."""
MAX_EPOCH = 253402300799
"""9999-12-31T23:59:59Z: a time past it cannot be shown and is a malformed answer."""


def _text(v: str) -> str:
    return clean(v)


def scrubbed(value, secrets):
    """``value`` (a record, an Identity, a KeyUsage, or tuples/strings of them) with every
    string scrubbed of ``secrets`` (the bearer an endpoint may echo back)."""
    import dataclasses

    secrets = tuple(s for s in secrets if s)
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, tuple):
        return tuple(scrubbed(v, secrets) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: scrubbed(getattr(value, f.name), secrets)
                                             for f in dataclasses.fields(value) if f.init})
    return value


@dataclass(frozen=True)
class Organization:
    """One organisation the account belongs to, with its role."""

    name: str
    role: str = ""


@dataclass(frozen=True)
class Identity:
    """What ``GET /api/v1/auth/status`` says about a token: account, tenant, the key itself."""

    account: str
    tenant: str
    organizations: tuple[Organization, ...]
    key: KeyRecord

    def can(self, permission: str) -> bool:
        """True when the key holds ``permission`` (or ``*``, all permissions)."""
        return permission in self.key.permissions or "*" in self.key.permissions


@dataclass(frozen=True)
class KeyUsage:
    """``GET .../api-keys/{id}/usage``: the blast radius of one key."""

    total_requests: int = 0
    by_operation: tuple[tuple[str, int], ...] = ()
    by_project: tuple[tuple[str, int], ...] = ()
    by_day: tuple[tuple[str, int], ...] = ()
    last_used: int | None = None
    last_ip: str = ""
    last_location: str = ""
    last_user_agent: str = ""
    days: int = 30
    """The period the counts cover (the ``days`` the call asked for)."""


def _bad(what: str, field: str, expected: str) -> ApiError:
    return ApiError(f"unexpected API response for {what}: field '{field}' should be {expected}")


def _str(d: dict, key: str, what: str, default: str = "") -> str:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str):
        raise _bad(what, key, "a string")
    return _text(v)


def _int_or_none(d: dict, key: str, what: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= MAX_EPOCH:
        raise _bad(what, key, "a number of seconds since 1970 (before year 10000) or null")
    return int(v)


def _str_tuple(d: dict, key: str, what: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _bad(what, key, "a list of strings")
    return tuple(_text(x) for x in v)


def _counts(d: dict, key: str, what: str) -> tuple[tuple[str, int], ...]:
    v = d.get(key, {})
    if v is None:
        return ()
    if not isinstance(v, dict) or not all(isinstance(n, (int, float)) and not isinstance(n, bool)
                                          and 0 <= n <= MAX_COUNT for n in v.values()):
        raise _bad(what, key, "a mapping of names to counts")
    return tuple((_text(str(k)), int(n)) for k, n in v.items())


def key_record(d, what: str = "a key record") -> KeyRecord:
    """A ``KeyRecord`` from one element of the list endpoint (or ``key`` of auth/status)."""
    if not isinstance(d, dict):
        raise ApiError(f"unexpected API response for {what}: expected an object")
    key_id = d.get("id")
    if not isinstance(key_id, str) or not key_id or clean(key_id) != key_id or len(key_id) > 200:
        raise _bad(what, "id", "a non-empty string without control characters")
    revoked = d.get("revoked", False)
    if not isinstance(revoked, bool):
        raise _bad(what, "revoked", "true or false")
    return KeyRecord(
        id=key_id, name=_str(d, "name", what), description=_str(d, "description", what),
        type=_str(d, "type", what, "user") or "user", key_hint=_str(d, "key_hint", what),
        projects=_str_tuple(d, "projects", what), permissions=_str_tuple(d, "permissions", what),
        created_at=_int_or_none(d, "created_at", what), expires_at=_int_or_none(d, "expires_at", what),
        last_used=_int_or_none(d, "last_used", what), revoked=revoked,
        created_by=_str(d, "created_by", what))


def identity(d) -> Identity:
    """An ``Identity`` from the body of ``GET /api/v1/auth/status``."""
    what = "auth/status"
    if not isinstance(d, dict):
        raise ApiError(f"unexpected API response for {what}: expected an object")
    tenant = d.get("tenant")
    if not isinstance(tenant, str) or not tenant or clean(tenant) != tenant or len(tenant) > 200:
        raise _bad(what, "tenant", "a non-empty string without control characters")
    orgs_raw = d.get("organizations") or []
    if not isinstance(orgs_raw, list):
        raise _bad(what, "organizations", "a list")
    orgs = []
    for o in orgs_raw:
        if not isinstance(o, dict):
            raise _bad(what, "organizations", "a list of objects")
        orgs.append(Organization(_str(o, "name", what), _str(o, "role", what)))
    return Identity(account=_str(d, "account", what), tenant=tenant, organizations=tuple(orgs),
                    key=key_record(d.get("key"), "auth/status key"))


def key_usage(d) -> KeyUsage:
    """A ``KeyUsage`` from the body of the usage endpoint."""
    what = "usage"
    if not isinstance(d, dict):
        raise ApiError(f"unexpected API response for {what}: expected an object")
    total = d.get("total_requests", 0)
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not 0 <= total <= MAX_COUNT:
        raise _bad(what, "total_requests", "a number")
    return KeyUsage(total_requests=int(total), by_operation=_counts(d, "by_operation", what),
                    by_project=_counts(d, "by_project", what), by_day=_counts(d, "by_day", what),
                    last_used=_int_or_none(d, "last_used", what), last_ip=_str(d, "last_ip", what),
                    last_location=_str(d, "last_location", what),
                    last_user_agent=_str(d, "last_user_agent", what))


def fmt_time(ts: int | None, never: str = "never") -> str:
    """Epoch seconds as ``2024-04-15 10:00 UTC`` (``never`` for None)."""
    if ts is None:
        return never
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
