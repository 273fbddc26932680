"""``keyguard whoami``: which operator credential keyguard would use, and what it may do.

Prints where the credential came from (never the credential), the endpoint,
and what ``GET /api/v1/auth/status`` says about it: account, tenant,
organisations, key name/id/hint, permissions, projects and expiry.
"""

from __future__ import annotations

import argparse


def register(p: argparse.ArgumentParser) -> None:
    """Add ``whoami``'s arguments."""
    from keyguard.commands.common import add_api_options

    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    add_api_options(p.add_argument_group("FluxLoop API"))


def run(args: argparse.Namespace) -> int:
    """Show the operator identity; exit 0, or 2 when there is no usable credential."""
    import json
    import time

    from keyguard.commands.common import api_client
    from keyguard.fluxloop.records import fmt_time
    from keyguard.redact import scrub
    from keyguard.sanitize import clean
    from keyguard.report.summary import plural

    client = api_client(args)
    ident = client.whoami()
    k = ident.key
    if args.json:
        print(scrub(json.dumps({
            "credential_source": client.operator.source, "endpoint": client.endpoint,
            "account": ident.account, "tenant": ident.tenant,
            "organizations": [{"name": o.name, "role": o.role} for o in ident.organizations],
            "key": {"id": k.id, "name": k.name, "type": k.type, "key_hint": k.key_hint,
                    "permissions": list(k.permissions), "projects": list(k.projects),
                    "created_at": k.created_at, "expires_at": k.expires_at}}, indent=2),
            [client.operator.token]))
        return 0
    now = time.time()
    if k.expires_at is None:
        expiry = "never"
    else:
        left = int((k.expires_at - now) // 86400)
        expiry = fmt_time(k.expires_at) + (f" ({plural(left, 'day')} left)" if left >= 0 else " (expired)")
    orgs = ", ".join(f"{o.name} ({o.role})" if o.role else o.name for o in ident.organizations) or "none"
    projects = "All Projects" if "*" in k.projects else (", ".join(k.projects) or "none")
    perms = "all ('*')" if "*" in k.permissions else (", ".join(k.permissions) or "none")
    rows = [("credential", client.operator.source), ("endpoint", client.endpoint),
            ("account", ident.account or "-"), ("tenant", ident.tenant), ("organizations", orgs),
            ("key", f"{k.name or '(unnamed)'} ({k.id}{', ' + k.key_hint if k.key_hint else ''}, {k.type})"),
            ("permissions", perms), ("projects", projects), ("expires", expiry),
            ("manage keys", "yes" if ident.can("manage_keys") else "no (keys/hygiene and revoking "
                                                                    "others' keys need manage_keys)")]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(clean(scrub(f"{label + ':':<{width + 1}} {value}", [client.operator.token])))
    return 0

