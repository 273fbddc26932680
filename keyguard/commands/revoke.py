"""``keyguard revoke [KEY]``: switch off one known key, read from stdin to keep it out of shell history.

Identifies the key through ``auth/status`` (its own value as the bearer),
then revokes it with the operator credential when that holds ``manage_keys``
in the key's tenant, else by the key revoking itself. Asks first on a terminal
(``--yes`` skips; without a terminal ``--yes`` is required); ``--dry-run`` only
says what would happen. Exit 0 when the key is revoked or already was, 1 when
it was not (invalid, expired, declined, failed), 2 on usage errors, 3 when the
key is live and stays live because the API's record is not the key's (its hint
does not match) or a re-check after the revoke still finds it live.
"""

from __future__ import annotations

import argparse


def register(p: argparse.ArgumentParser) -> None:
    """Add ``revoke``'s arguments."""
    from keyguard.commands.common import add_api_options

    p.add_argument("key", nargs="?", default="-", metavar="KEY",
                   help="the key to revoke; omit it or give '-' to read it from stdin (stays out of "
                        "shell history)")
    p.add_argument("--yes", action="store_true", help="revoke without asking")
    p.add_argument("--dry-run", action="store_true", help="identify the key and say what would be done")
    add_api_options(p.add_argument_group("FluxLoop API (operator credential, optional)"))


def _read_key(arg: str) -> str:
    import sys

    from keyguard.errors import UsageError

    if arg != "-":
        from keyguard.commands.common import warn_key_on_command_line
        warn_key_on_command_line("the key to revoke", "pipe it on stdin instead: keyguard revoke - < FILE")
        return arg.strip()
    if sys.stdin is None:
        raise UsageError("no key given: pass KEY or pipe it on stdin")
    if sys.stdin.isatty():
        import getpass
        return getpass.getpass("FluxLoop key to revoke (not echoed): ").strip()
    for line in sys.stdin:
        if line.strip():
            return line.strip()
    raise UsageError("no key given: pass KEY or pipe it on stdin")


def run(args: argparse.Namespace) -> int:
    """Identify and revoke the key; exit 0 revoked/already revoked, 1 not revoked."""
    import sys

    from keyguard.errors import EXIT_FINDINGS, EXIT_LIVE, UsageError
    from keyguard.commands.common import api_client, ask_yes
    from keyguard.fluxloop.revoke import identity_mismatch, operator_identity, plan_via, revoke_key, why_self
    from keyguard.detect.rulepack import load_rules
    from keyguard.model import ALREADY_REVOKED, REVOKED
    from keyguard.redact import redact, remember

    key = _read_key(args.key)
    if not key:
        raise UsageError("no key given: pass KEY or pipe it on stdin")
    if any(c.isspace() for c in key):
        raise UsageError("the key contains spaces: give exactly one key")
    load_rules()  # redaction shows the key prefixes the rules define
    remember(key)
    shown = redact(key)
    client = api_client(args, require_operator=False)
    v = client.auth_status(key)
    if v.status == "revoked":
        print(f"keyguard: {shown} is already revoked")
        return 0
    if v.status == "invalid":
        print(f"keyguard: {shown} is not a known FluxLoop key (the API says: Invalid API key); "
              f"nothing to revoke", file=sys.stderr)
        return EXIT_FINDINGS
    if v.status == "expired":
        print(f"keyguard: {shown} has expired, so the API will not say which key it is; keyguard cannot "
              f"revoke it (revoke it by id in the FluxLoop web platform)", file=sys.stderr)
        return EXIT_FINDINGS
    if v.status != "live":
        print(f"keyguard: could not learn whether {shown} is live: {v.reason}; nothing revoked", file=sys.stderr)
        return EXIT_FINDINGS

    mismatch = identity_mismatch(key, v)
    if mismatch is not None:
        print(f"keyguard: {shown} is live but {mismatch}", file=sys.stderr)
        return EXIT_LIVE
    operator, note = operator_identity(client)
    via = plan_via(v, operator)
    name = f" '{v.name}'" if v.name else ""
    what = f"{shown}: key {v.key_id or '?'}{name} of tenant {v.tenant or '?'}" + (
        f" ({v.account})" if v.account else "")
    how = "the operator credential" if via == "operator" else \
        f"the key itself ({why_self(v, operator, note)})"
    if args.dry_run:
        print(f"would revoke {what} using {how}")
        return 0
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError("refusing to revoke without confirmation: no terminal to ask on (pass --yes)")
        if not ask_yes(sys.stderr, f"Revoke {what}?\nSystems using it will stop working. [y/N] "):
            print("keyguard: not revoked", file=sys.stderr)
            return EXIT_FINDINGS
    rev = revoke_key(client, key, v, operator=operator)
    if rev.outcome == REVOKED:
        print(f"revoked {what} via {rev.via} at {rev.at}")
        return 0
    if rev.outcome == ALREADY_REVOKED:
        print(f"already revoked: {what}")
        return 0
    print(f"keyguard: could not revoke {what}: {rev.reason}", file=sys.stderr)
    return EXIT_LIVE if "treat the key as live" in rev.reason else EXIT_FINDINGS
