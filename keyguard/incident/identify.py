"""What the FluxLoop API says about the leaked key: live or not, its record, its 30-day usage.

``identify`` asks ``GET /api/v1/auth/status`` with the key itself as the bearer
(the client maps the answer to ``live``/``invalid``/``expired``/``revoked``,
or ``unknown`` with the reason), then the usage endpoint for the blast radius:
with the operator credential when there is one, else with the key itself
(allowed while it is live). With no network (``offline``) nothing is asked and
everything is ``unknown``, with what to do by hand.
"""

from __future__ import annotations

from dataclasses import replace

from keyguard.errors import ApiError
from keyguard.fluxloop.records import KeyUsage
from keyguard.incident.facts import Identification
from keyguard.model import Verification

USAGE_DAYS = 30

BY_HAND = ("check the key in the FluxLoop console (Settings > API keys, match the key hint), "
           "revoke it there if it is live, and read its usage for the last 30 days")
"""What to do when the API could not be asked."""


def offline(reason: str = "no network requested (--offline)") -> Identification:
    """The identification when the API is not to be asked."""
    return Identification(Verification(status="unknown", reason=reason), None,
                          usage_error=f"{reason}; {BY_HAND}", offline=True)


def unavailable(reason: str) -> Identification:
    """The identification when the API could not be used at all (bad settings, no network)."""
    return Identification(Verification(status="unknown", reason=reason), None,
                          usage_error=f"the API could not be asked ({reason}); {BY_HAND}")


def identify(client, secret: str, *, days: int = USAGE_DAYS) -> Identification:
    """Status and record of ``secret`` via auth/status, plus its usage over ``days`` days."""
    v: Verification = client.auth_status(secret)
    if v.status != "live":
        why = v.reason or v.status
        if v.status == "unknown":
            return Identification(v, None, usage_error=f"the API could not be asked ({why}); {BY_HAND}")
        return Identification(v, None, usage_error=f"the API gives no identity for a key that is {v.status}; "
                                                   "ask your FluxLoop admin for its usage logs")
    if not v.key_id or not v.tenant:
        return Identification(v, None, usage_error="the API did not say which key this is (no id or tenant)")
    return Identification(v, *_usage(client, secret, v, days))


def _usage(client, secret: str, v: Verification, days: int) -> tuple[KeyUsage | None, str]:
    """``(usage, "")`` or ``(None, why not)``: the operator first, then the key itself."""
    from keyguard.fluxloop.client import ApiUnavailable

    errors = []
    attempts = []
    if getattr(client, "credential", None) is not None:
        attempts.append(("the operator credential", None))
    attempts.append(("the key itself", secret))
    for who, token in attempts:
        try:
            u = client.usage(v.tenant, v.key_id, days=days, token=token)
        except ApiUnavailable as exc:
            return None, f"usage unknown: {exc}"
        except ApiError as exc:  # no permission, operator rejected, key rejected meanwhile
            errors.append(f"{who}: {exc}")
            continue
        return replace(u, days=days), ""
    return None, "usage unknown: " + "; ".join(errors)
