"""Revoking the leaked key when it is live: confirmed, recorded, never twice.

The revocation itself is ``keyguard.fluxloop.revoke.revoke_key`` (the operator
credential when it may manage the key's tenant, else the key revoking itself).
This module adds what an incident needs around it: the ledger check (a key
keyguard already revoked is not revoked again), the confirmation (a terminal
prompt unless ``--yes``; with no terminal and no ``--yes`` nothing is revoked),
and recording the time in the ledger.
"""

from __future__ import annotations

from typing import Callable

from keyguard.errors import KeyguardError, PartlyDone
from keyguard.incident.facts import Identification
from keyguard.incident.ledger import Entry, Ledger
from keyguard.model import ALREADY_REVOKED, DECLINED, Revocation


def recorded(ledger: Ledger, fingerprint: str) -> Revocation | None:
    """The revocation the ledger holds for this value, as a ``Revocation`` (None if none)."""
    e = ledger.get(fingerprint)
    if e is None:
        return None
    return Revocation(ALREADY_REVOKED, at=e.revoked_at, via=e.via,
                      reason="revoked by an earlier keyguard incident run; not sent again")


def revoke_if_live(client, secret: str, fingerprint: str, ident: Identification, ledger: Ledger, *,
                   confirm: Callable[[], bool] | None, yes: bool = False) -> Revocation | None:
    """Revoke the key if it is live and not revoked before; None when there was nothing to do.

    ``confirm()`` asks the user (None: no terminal to ask on); ``yes`` skips it.
    """
    from keyguard.fluxloop.revoke import operator_identity, revoke_key

    before = recorded(ledger, fingerprint)
    if before is not None:
        return before
    v = ident.verification
    if v.status != "live":
        return None
    if not yes:
        if confirm is None:
            return Revocation(DECLINED, reason="no terminal to confirm on: run again with --yes, "
                                                 "or revoke it by hand in the FluxLoop console")
        if not confirm():
            return Revocation(DECLINED, reason="not confirmed")
    operator, _ = operator_identity(client)
    rev = revoke_key(client, secret, v, operator=operator)
    if rev.off:
        try:
            ledger.record(Entry(fingerprint, rev.at, v.key_id, v.tenant, rev.via, rev.outcome))
        except (OSError, KeyguardError) as exc:  # the revoke went out; recording it did not
            why = getattr(exc, "strerror", None) or str(exc)
            raise PartlyDone(f"key {v.key_id} was revoked at {rev.at} via {rev.via}, but the ledger "
                             f"{ledger.path} could not be written ({why})") from None
    return rev
