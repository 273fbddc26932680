"""Revocation: switch off live leaked keys, each exactly once.

A key is revoked with the operator credential when that credential holds
``manage_keys`` in the key's tenant; otherwise (or when the API refuses the
operator) the key revokes itself, its own value as the bearer, which the API
allows. Revocation is idempotent on the server (``already_revoked: true``), and
keyguard also never sends a second revoke for a key it has handled in the run.
Every finding holding a revoked key gets the same ``Revocation``.

The endpoint's word is not enough (issue 14, point 4): before a revoke the
record auth/status returned must match the key that was found (its
``key_hint``: the literal prefix and the last four characters), else nothing
is revoked; after it, auth/status is asked again with the key, and only a key
that no longer answers live is reported revoked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable

from keyguard.errors import ApiError, CredentialError
from keyguard.model import (ALREADY_REVOKED, DECLINED, FAILED, REVOKED, WOULD_REVOKE, Finding, Revocation,
                            Verification, is_off)
from keyguard.sanitize import clean

Confirm = Callable[[list[Finding]], bool]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def operator_identity(client):
    """``(Identity | None, note)``: who the operator is, or why it cannot revoke for others."""
    from keyguard.fluxloop.client import ApiUnavailable

    if getattr(client, "credential", None) is None:
        return None, "no operator credential"
    try:
        return client.whoami(), ""
    except (CredentialError, ApiUnavailable, ApiError) as exc:
        return None, str(exc)


def plan_via(verification: Verification, operator) -> str:
    """``operator`` when ``operator`` (an Identity) may revoke keys of the key's tenant, else ``self``."""
    if operator is not None and operator.tenant == verification.tenant and operator.can("manage_keys"):
        return "operator"
    return "self"


def why_self(verification: Verification, operator, note: str = "") -> str:
    """Why the key revokes itself rather than the operator doing it (one line)."""
    if operator is None:
        return f"operator credential not used: {note or 'none'}"
    if operator.tenant != verification.tenant:
        return f"operator credential belongs to tenant '{operator.tenant}', not '{verification.tenant}'"
    return "operator credential lacks manage_keys"


def identity_mismatch(secret: str, verification: Verification) -> str | None:
    """Why the API's record is not provably the record of ``secret`` (None when its hint matches).

    The hint is ``PREFIX****...LAST4`` (``flux_ci_****...x2q9``); the key must start
    with the prefix and end with the (at least four) last characters.
    """
    from keyguard.redact import redact

    hint = verification.key_hint
    masked = re.fullmatch(r"([^*.\u2026]*)[*.\u2026]+([^*.\u2026]{4,})", hint or "")
    if masked is None:
        return "the API gave no usable key hint to check its record against the found key; nothing revoked"
    prefix, last = masked.groups()
    if not (secret.startswith(prefix) and secret.endswith(last)):
        return (f"the API answered with the record of another key (hint {clean(hint)[:40]}, "
                f"found {redact(secret)}); nothing revoked")
    return None


def _rechecked(client, secret: str, rev: Revocation) -> Revocation:
    """``rev`` if auth/status now says the key is off; else ``failed`` (never on the API's word alone)."""
    if not rev.off:
        return rev
    after = client.auth_status(secret)
    if after.status in ("revoked", "invalid", "expired"):  # statuses, not outcomes
        return rev
    why = ("the key still answers live" if after.status == "live"
           else f"the re-check failed ({after.reason})")
    return replace(rev, outcome=FAILED, at="",
                   reason=f"the API confirmed the revoke but {why}; treat the key as live")


def revoke_key(client, secret: str, verification: Verification, *, operator=None,
               dry_run: bool = False) -> Revocation:
    """Revoke one live key identified by ``verification`` (tenant and key id); never raises ApiError.

    The record must match ``secret`` (``identity_mismatch``) and the result is re-checked.
    """
    if verification.status != "live":
        return Revocation(FAILED, reason=f"the key is {verification.status}, not live")
    if not verification.key_id or not verification.tenant:
        return Revocation(FAILED, reason="the API did not say which key this is (no id or tenant)")
    mismatch = identity_mismatch(secret, verification)
    if mismatch is not None:
        return Revocation(FAILED, reason=mismatch)
    rev = _revoke_checked(client, secret, verification, operator=operator, dry_run=dry_run)
    return rev if dry_run else _rechecked(client, secret, rev)


def _revoke_checked(client, secret: str, verification: Verification, *, operator, dry_run: bool) -> Revocation:
    """The revoke calls themselves (operator first, else the key itself)."""
    from keyguard.fluxloop.client import ApiUnavailable, TokenRejected

    via = plan_via(verification, operator)
    if dry_run:
        return Revocation(WOULD_REVOKE, via=via)
    note = ""
    if via == "operator":
        try:
            already = client.revoke(verification.tenant, verification.key_id)
            return Revocation(ALREADY_REVOKED if already else REVOKED, at=_now(), via="operator")
        except ApiUnavailable as exc:
            return Revocation(FAILED, via="operator", reason=str(exc))
        except (CredentialError, ApiError) as exc:
            note = f"operator refused ({exc}); "  # fall through: the key revokes itself
    try:
        already = client.revoke(verification.tenant, verification.key_id, token=secret)
        return Revocation(ALREADY_REVOKED if already else REVOKED, at=_now(), via="self",
                          reason=note.rstrip("; "))
    except TokenRejected as exc:
        if exc.description == "API key has been revoked":
            return Revocation(ALREADY_REVOKED, at=_now(), via="self", reason=note + "revoked meanwhile")
        return Revocation(FAILED, via="self", reason=note + str(exc))
    except ApiError as exc:
        return Revocation(FAILED, via="self", reason=note + str(exc))


def revoke_findings(findings: list[Finding], client, *, operator=None, confirm: Confirm | None = None,
                    dry_run: bool = False) -> list[Finding]:
    """Revoke every live key among ``findings`` once; record the ``Revocation`` on each finding of it.

    Unverified findings are verified first. ``operator`` is the operator's
    ``Identity`` (looked up from the client's credential when None).
    ``confirm(keys)`` gets one finding per key to revoke and returns True to go
    ahead (False records ``declined``); it is not asked on a dry run.
    """
    if any(f.verification is None and not f.partial for f in findings):
        from keyguard.fluxloop.verify import verify_findings
        todo = [f for f in findings if f.verification is None]
        verified = iter(verify_findings(todo, client))
        findings = [next(verified) if f.verification is None else f for f in findings]

    # One representative finding per live key not already switched off in this run.
    keys: dict[str, Finding] = {}
    for f in findings:
        v = f.verification
        if v is None or v.status != "live" or f.secret in keys or f.partial:  # a fragment is no key
            continue
        if is_off(f.revocation):
            continue
        keys[f.secret] = f
    if not keys:
        return list(findings)

    op_note = ""
    if operator is None:
        operator, op_note = operator_identity(client)

    results: dict[str, Revocation] = {}
    if not dry_run and confirm is not None and not confirm(list(keys.values())):
        results = {s: Revocation(DECLINED, reason="not confirmed") for s in keys}
    else:
        by_id: dict[tuple[str, str], Revocation] = {}
        for secret, f in keys.items():
            v: Verification = f.verification  # type: ignore[assignment]
            ident = (v.tenant, v.key_id)
            if v.key_id and ident in by_id:  # two values of one key id: one revoke
                results[secret] = by_id[ident]
                continue
            rev = revoke_key(client, secret, v, operator=operator, dry_run=dry_run)
            if rev.via == "self" and not rev.reason:
                rev = replace(rev, reason=why_self(v, operator, op_note))
            results[secret] = rev
            if v.key_id:
                by_id[ident] = rev
    return [replace(f, revocation=results[f.secret]) if f.secret in results and
            not is_off(f.revocation) else f
            for f in findings]

