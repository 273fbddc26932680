"""``scan --verify`` / ``scan --revoke``: the API steps the scan command runs on its findings.

Builds the client from the scan's options (no operator credential is needed
to verify: each found key is its own bearer), verifies every distinct key, and
with ``--revoke`` revokes the live ones after asking on a terminal (``--yes``
skips the question; without a terminal and without ``--yes`` nothing is revoked
and the findings say ``declined``). ``--dry-run`` only says what would happen.
One line per revoked key goes to stderr (redacted) unless ``--quiet``.
"""

from __future__ import annotations

import sys

from keyguard.model import Finding
from keyguard.redact import redact


def describe_key(f: Finding) -> str:
    """``flux_prod_abcd…wxyz (key_123 'CI/CD Pipeline', tenant acme)`` without the secret."""
    v = f.verification
    if v is None or not v.key_id:
        return f.redacted or redact(f.secret)
    from keyguard.sanitize import clean

    name = f" '{v.name}'" if v.name else ""
    return clean(f"{f.redacted or redact(f.secret)} ({v.key_id}{name}, tenant {v.tenant})")


def terminal_confirm(keys: list[Finding], stream=None) -> bool:
    """Ask on the terminal whether to revoke ``keys``; False when stdin is not a terminal."""
    stream = stream or sys.stderr
    if not sys.stdin or not sys.stdin.isatty():
        print("keyguard: not revoking: no terminal to confirm on (pass --yes)", file=stream)
        return False
    print(f"keyguard: {len(keys)} live key{'s' if len(keys) != 1 else ''} to revoke:", file=stream)
    for f in keys:
        print(f"  {describe_key(f)}", file=stream)
    stream.write("Revoke now? Systems using them will stop working. [y/N] ")
    stream.flush()
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def act_on_findings(findings: list[Finding], args) -> list[Finding]:
    """Verify (and with ``args.revoke`` revoke) the findings; returns them with results recorded."""
    from keyguard.fluxloop.options import client_from_args
    from keyguard.fluxloop.revoke import revoke_findings
    from keyguard.fluxloop.verify import verify_findings

    client = client_from_args(args, require_operator=False)
    findings = verify_findings(findings, client)
    if not getattr(args, "revoke", False):
        return findings
    dry_run = bool(getattr(args, "dry_run", False))
    confirm = None if getattr(args, "yes", False) else terminal_confirm
    findings = revoke_findings(findings, client, confirm=confirm, dry_run=dry_run)
    if not getattr(args, "quiet", False):
        from keyguard.sanitize import clean

        seen: set[str] = set()
        for f in findings:
            r = f.revocation
            if r is None or f.secret in seen:
                continue
            seen.add(f.secret)
            how = f" via {r.via}" if r.via else ""
            why = f": {clean(r.reason)}" if r.reason and r.outcome not in ("revoked", "already_revoked") else ""
            print(f"keyguard: {r.outcome.replace('_', ' ')}{how}: {describe_key(f)}{why}", file=sys.stderr)
    return findings
