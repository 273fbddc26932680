"""Verification: ask the API whether each found key is live, each distinct key once per run.

``verify_findings`` calls ``GET /api/v1/auth/status`` with every distinct found
key as the bearer (a bounded thread pool), and returns the findings with
``verification`` filled; a live key's severity is raised one step. A status
that could not be learned is ``unknown`` with the reason, never ``invalid``.
``settle_inactive`` puts the findings of keys that are off (revoked, expired,
or revoked in this run) at ``info``: still in history, no longer a danger.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Mapping, Sequence

from keyguard.model import Finding, Severity, Verification

OPTIONAL_PURGE = "purging history is optional"


def verify_keys(secrets: Sequence[str], client, *, max_workers: int = 8) -> dict[str, Verification]:
    """``{secret: Verification}`` for each distinct secret (one auth/status call each)."""
    distinct = list(dict.fromkeys(s for s in secrets if s))
    if not distinct:
        return {}

    def one(secret: str) -> Verification:
        try:
            return client.auth_status(secret)
        except Exception as exc:  # never let one key sink the run; never leak it either
            return Verification(status="unknown", reason=f"verification failed ({type(exc).__name__})")

    workers = max(1, min(max_workers, len(distinct)))
    if workers == 1:
        return {s: one(s) for s in distinct}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keyguard-verify") as pool:
        return dict(zip(distinct, pool.map(one, distinct)))


def verify_findings(findings: list[Finding], client, *, max_workers: int = 8) -> list[Finding]:
    """The findings with ``verification`` set (each distinct key asked once); live keys raised a severity.

    A partial key (``Finding.partial``: a fragment of a concatenation) is never sent: it is not a key.
    """
    results = verify_keys([f.secret for f in findings if not f.partial], client, max_workers=max_workers)
    out = []
    for f in findings:
        v = None if f.partial else results.get(f.secret)
        if v is None:
            out.append(f)
            continue
        severity = f.severity.raised() if v.status == "live" else f.severity
        out.append(replace(f, verification=v, severity=severity))
    return out


def settle_inactive(findings: list[Finding], revoked_at: Mapping[str, str] | None = None) -> list[Finding]:
    """Findings of keys that are off at ``info``, with "revoked at ...; purging history is optional".

    ``revoked_at``: fingerprint -> when keyguard revoked it earlier (the API does not say).
    The fingerprint (and so the SARIF alert) stays the same: only its severity and advice change.
    """
    from datetime import datetime, timezone

    out = []
    for f in findings:
        v, r = f.verification, f.revocation
        if r is not None and r.off:
            when = f"revoked at {r.at}" if r.at else "revoked"
        elif v is not None and v.status == "revoked":
            at = (revoked_at or {}).get(f.fingerprint)
            when = f"revoked at {at}" if at else "revoked (the API does not say when)"
        elif v is not None and v.status == "expired":
            when = "expired" + (f" at {datetime.fromtimestamp(v.expires_at, timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
                                if v.expires_at else "")
        else:
            out.append(f)
            continue
        out.append(replace(f, severity=Severity.INFO, remediation=f"{when}; {OPTIONAL_PURGE}"))
    return out
