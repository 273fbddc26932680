"""The record of keys keyguard has revoked in this repository: when, how, which key.

It lives in ``.git/keyguard/revocations.json`` (never in the work tree, never
committed) and is keyed by the value's fingerprint, so the secret is not in it.
``incident`` reads it before revoking: a key recorded as revoked is never sent
a second revoke, and its report keeps the original time. Writes are atomic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from keyguard.atomic import write_atomic

from keyguard.errors import KeyguardError
from keyguard.model import OFF_OUTCOMES, REVOKED

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Entry:
    """One recorded revocation."""

    fingerprint: str
    revoked_at: str
    """ISO 8601 UTC."""
    key_id: str = ""
    tenant: str = ""
    via: str = ""
    """``operator`` or ``self``."""
    outcome: str = REVOKED
    """One of ``OFF_OUTCOMES``: ``revoked`` or ``already_revoked`` (the API said it was off already)."""


class Ledger:
    """The revocations file of one repository."""

    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": FORMAT_VERSION, "keys": {}}
        except OSError as exc:
            raise KeyguardError(f"{self.path}: cannot read ({exc.strerror})") from None
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
                raise ValueError
        except ValueError:
            raise KeyguardError(f"{self.path}: not a keyguard revocations file (fix or delete it)") from None
        return doc

    def get(self, fingerprint: str) -> Entry | None:
        """The recorded revocation of the value with ``fingerprint``, if any."""
        d = self._load()["keys"].get(fingerprint)
        if not isinstance(d, dict) or not isinstance(d.get("revoked_at"), str):
            return None
        return Entry(fingerprint, d["revoked_at"], str(d.get("key_id", "")), str(d.get("tenant", "")),
                     str(d.get("via", "")), str(d.get("outcome", REVOKED)) if d.get("outcome") in OFF_OUTCOMES else REVOKED)

    def record(self, entry: Entry) -> None:
        """Add (or replace) ``entry``; atomic rewrite."""
        doc = self._load()
        doc["keys"][entry.fingerprint] = {"revoked_at": entry.revoked_at, "key_id": entry.key_id,
                                          "tenant": entry.tenant, "via": entry.via, "outcome": entry.outcome}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
