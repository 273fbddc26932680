"""The key hygiene checks: which of a tenant's keys are unhealthy, and how badly.

Pure functions over ``KeyRecord``s (no I/O): ``check_keys(records, policy, now)``
returns ``HygieneFinding``s. A revoked key gets only the ``revoked`` inventory
line; an expired key gets only the ``expired-not-revoked`` check. The checks
and their severities:

| check | severity | when |
|---|---|---|
| ``over-broad`` | high | ``permissions: ["*"]``, or ``manage_keys`` on a CI key |
| ``over-broad`` | medium | All Projects (``projects: ["*"]``) with a write/manage permission |
| ``over-broad`` | low | All Projects with read-only permissions |
| ``can-manage-keys`` | info | holds ``manage_keys``: may create and revoke the tenant's keys (who can revoke) |
| ``revoked`` | info | revoked (listed so the inventory is complete) |
| ``never-expires`` | medium | a user key with ``expires_at: null`` |
| ``service-account-never-expires`` | low | a service account with ``expires_at: null`` (allowed by the docs, "use with caution") |
| ``never-used`` | medium | ``last_used: null`` and created more than ``never_used_days`` ago |
| ``unused`` | medium | last used more than ``unused_days`` ago |
| ``rotation-overdue`` | medium | created more than ``rotation_days`` ago (the docs: rotate every 90 days) |
| ``expires-soon`` | low | expires within ``expiring_days`` |
| ``expired-not-revoked`` | low | past ``expires_at`` but never revoked (harmless until someone extends it) |

A key is a *CI key* when its name or description mentions CI as a word
(``CI/CD Pipeline``, ``ci-bot``) or its ``key_hint`` has a ``ci`` environment
segment (the platform's CI prefix, as in ``..._ci_****...x2q9``). A permission is
*write/manage* unless it is read-only (``read``, ``read_*``, ``*:read``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, fields
from typing import Iterable, Mapping

from keyguard.errors import ConfigError
from keyguard.model import HygieneFinding, KeyRecord, Severity

DAY = 86400
CI_WORD = re.compile(r"(?<![a-z0-9])ci(?![a-z0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class HygienePolicy:
    """The thresholds of the checks, in days (flags > ``[tool.keyguard.hygiene]`` > these defaults)."""

    unused_days: int = 90
    """``unused``: last use older than this."""
    never_used_days: int = 30
    """``never-used``: created longer ago than this and never used."""
    expiring_days: int = 14
    """``expires-soon``: expiry within this."""
    rotation_days: int = 90
    """``rotation-overdue``: created longer ago than this."""


def policy_from_config(table: Mapping, overrides: Mapping[str, int | None] | None = None,
                       where: str = "[tool.keyguard.hygiene]") -> HygienePolicy:
    """A policy from the config table (``unused-days`` or ``unused_days`` ...) and flag overrides."""
    names = {f.name for f in fields(HygienePolicy)}
    values: dict[str, int] = {}
    for key, value in (table or {}).items():
        name = str(key).replace("-", "_")
        if name == "fail_on":
            continue  # read by the keys command
        if name not in names:
            choices = ", ".join(sorted(n.replace("_", "-") for n in names | {"fail_on"}))
            raise ConfigError(f"{where}: unknown key '{key}' (known: {choices})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where}: '{key}' must be a whole number of days (got {value!r})")
        values[name] = value
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    return HygienePolicy(**values)


def is_read_only(permission: str) -> bool:
    """True for a permission that only reads (``read``, ``read_scenarios``, ``api:read``)."""
    p = permission.strip().lower()
    return p == "read" or p.startswith("read_") or p.endswith(":read")


def is_ci_key(key: KeyRecord) -> bool:
    """True when the key looks like a CI key (name/description says CI, or a ``ci`` hint segment)."""
    if CI_WORD.search(key.name or "") or CI_WORD.search(key.description or ""):
        return True
    head = re.split(r"\*|\u2026|\.\.\.", key.key_hint or "", maxsplit=1)[0]
    return "ci" in head.lower().split("_")


def _days(seconds: float) -> int:
    return int(seconds // DAY)


def _n_days(seconds: float) -> str:
    """``1 day`` / ``12 days``."""
    n = _days(seconds)
    return f"{n} day{'s' if n != 1 else ''}"


def _over_broad(key: KeyRecord) -> tuple[Severity, str] | None:
    reasons: list[tuple[Severity, str]] = []
    if "*" in key.permissions:
        reasons.append((Severity.HIGH, "has all permissions ('*')"))
    if "manage_keys" in key.permissions and is_ci_key(key):
        reasons.append((Severity.HIGH, "is a CI key with manage_keys (a leak would let anyone mint keys)"))
    writes = [p for p in key.permissions if not is_read_only(p)]
    if "*" in key.projects and writes:
        shown = ", ".join(writes[:4]) + (" ..." if len(writes) > 4 else "")
        reasons.append((Severity.MEDIUM, f"reaches All Projects with write/manage permissions ({shown})"))
    elif "*" in key.projects:
        reasons.append((Severity.LOW, "reaches All Projects (read-only): scope it to the projects it reads"))
    if not reasons:
        return None
    worst = max((s for s, _ in reasons), key=lambda s: s.rank)
    return worst, "; ".join(text for _, text in reasons)


def check_key(key: KeyRecord, policy: HygienePolicy = HygienePolicy(), now: float | None = None) -> list[HygieneFinding]:
    """Every hygiene finding for one key (none for a revoked key)."""
    now = time.time() if now is None else now
    out: list[HygieneFinding] = []

    def add(check: str, severity: Severity, message: str) -> None:
        out.append(HygieneFinding(check=check, severity=severity, message=message, key=key))

    if key.revoked:
        add("revoked", Severity.INFO, "revoked (listed for a complete inventory)")
        return out
    if key.expires_at is not None and key.expires_at <= now:
        add("expired-not-revoked", Severity.LOW,
            f"expired {_n_days(now - key.expires_at)} ago but was never revoked")
        return out

    broad = _over_broad(key)
    if broad:
        add("over-broad", broad[0], broad[1])
    if key.expires_at is None:
        if key.type == "service-account":
            add("service-account-never-expires", Severity.LOW, "service account key never expires")
        else:
            add("never-expires", Severity.MEDIUM, "never expires (user keys should expire; 90 days recommended)")
    elif key.expires_at - now <= policy.expiring_days * DAY:
        left = key.expires_at - now
        when = "today" if left < DAY else f"in {_n_days(left)}"
        add("expires-soon", Severity.LOW, f"expires {when}: rotate it before systems using it break")
    age = None if key.created_at is None else now - key.created_at
    if key.last_used is None:
        if age is not None and age > policy.never_used_days * DAY:
            add("never-used", Severity.MEDIUM, f"never used since it was created {_n_days(age)} ago")
    elif now - key.last_used > policy.unused_days * DAY:
        add("unused", Severity.MEDIUM, f"unused for {_n_days(now - key.last_used)} "
                                       f"(threshold {policy.unused_days})")
    if age is not None and age > policy.rotation_days * DAY:
        add("rotation-overdue", Severity.MEDIUM, f"created {_n_days(age)} ago, older than the "
                                                 f"{policy.rotation_days}-day rotation period")
    if "manage_keys" in key.permissions or "*" in key.permissions:
        add("can-manage-keys", Severity.INFO, "may create and revoke the tenant's keys")
    return out


def check_keys(keys: Iterable[KeyRecord], policy: HygienePolicy = HygienePolicy(),
               now: float | None = None) -> list[HygieneFinding]:
    """Hygiene findings for all ``keys``, worst first (then by key name and id)."""
    now = time.time() if now is None else now
    found = [f for k in keys for f in check_key(k, policy, now)]
    found.sort(key=lambda f: (-f.severity.rank, f.key.name.lower(), f.key.id, f.check))
    return found
