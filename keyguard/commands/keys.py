"""``keyguard keys`` (alias ``hygiene``): the tenant's keys, and which of them are unhealthy.

``keyguard keys`` lists every key of the tenant (paged list endpoint, needs
``manage_keys``), runs the checks of ``keyguard.fluxloop.hygiene`` and writes a
report (``--format text|json|sarif|markdown``, ``--output FILE``). Thresholds:
flags, else ``[tool.keyguard.hygiene]`` (``unused-days``, ``never-used-days``,
``expiring-days``, ``rotation-days``, ``fail-on``), else the defaults. Exit 1 when
a finding at or above ``--fail-on`` (default ``high``: over-broad keys) exists,
0 otherwise, 2 on usage, credential or API errors.

``keyguard keys show KEY_ID`` prints one key's record, its hygiene findings and
its usage over ``--days`` (default 30): requests by operation, project and
day, last IP, location and user agent.
"""

from __future__ import annotations

import argparse

FORMATS = ("text", "json", "sarif", "markdown")
DEFAULT_FAIL_ON = "high"
THRESHOLDS = (("unused_days", "--unused-days", "unused: last use older than N days (default 90)"),
              ("never_used_days", "--never-used-days", "never-used: created over N days ago (default 30)"),
              ("expiring_days", "--expiring-days", "expires-soon: expiry within N days (default 14)"),
              ("rotation_days", "--rotation-days", "rotation-overdue: created over N days ago (default 90)"))


def _bounded(*args):
    from keyguard.commands.common import bounded
    return bounded(*args)


_days = _bounded(int, 0, 36500, "a whole number of days")
_usage_days = _bounded(int, 1, 365, "a whole number of days")
_page_size = _bounded(int, 1, 500, "a page size")


def register(p: argparse.ArgumentParser) -> None:
    """Add ``keys``' arguments and its ``show`` sub-command."""
    from keyguard.commands.common import add_api_options

    p.add_argument("--tenant", metavar="NAME", help="tenant to report on (default: the operator credential's)")
    p.add_argument("-f", "--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (atomically)")
    p.add_argument("--fail-on", metavar="SEVERITY",
                   help="exit 1 when a finding is at least this severe: critical, high, medium, low, info "
                        "or none (default: high, or [tool.keyguard.hygiene] fail-on)")
    for dest, flag, text in THRESHOLDS:
        p.add_argument(flag, dest=dest, type=_days, metavar="N", help=text)
    p.add_argument("--page-size", type=_page_size, metavar="N", help="keys per list page (API default 100)")
    add_api_options(p.add_argument_group("FluxLoop API (operator credential with manage_keys)"))
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    show = sub.add_parser("show", help="one key: record, hygiene and usage", description="one key: record, "
                          "hygiene findings and usage (by operation, project, day; last IP, location, agent)")
    show.add_argument("key_id", metavar="KEY_ID", help="the key's id (key_...)")
    show.add_argument("--days", type=_usage_days, default=30, help="usage window in days (default 30)")
    show.add_argument("--json", action="store_true", help="print a JSON object")


def _hygiene_config() -> dict:
    """``[tool.keyguard.hygiene]`` of the current directory's config, or {} (guarded: config may lack it)."""
    from pathlib import Path

    try:
        from keyguard.config import load_config
    except ImportError:
        return {}
    return dict(getattr(load_config(Path.cwd()), "hygiene", None) or {})


def _fail_on(args, table: dict):
    from keyguard.errors import ConfigError, UsageError
    from keyguard.model import Severity

    text = args.fail_on
    where = "--fail-on"
    if text is None:
        text = table.get("fail-on", table.get("fail_on"))
        where = "[tool.keyguard.hygiene] fail-on"
    if text is None:
        text = DEFAULT_FAIL_ON
    if str(text).strip().lower() == "none":
        return None
    try:
        return Severity.parse(str(text))
    except ValueError as exc:
        raise (UsageError if where == "--fail-on" else ConfigError)(f"{where}: {exc} or none") from None


def run(args: argparse.Namespace) -> int:
    """The hygiene report (or ``show``); exit 0 healthy, 1 findings at --fail-on or worse, 2 errors."""
    if getattr(args, "action", None) == "show":
        return _show(args)

    from keyguard.fluxloop.hygiene import check_keys, policy_from_config
    from keyguard.commands.common import api_client
    from keyguard.model import ScanReport
    from keyguard.report.interface import ReportOptions, write_report

    table = _hygiene_config()
    fail_on = _fail_on(args, table)
    policy = policy_from_config(table, {dest: getattr(args, dest) for dest, _, _ in THRESHOLDS})
    client = api_client(args)
    tenant = args.tenant or client.whoami().tenant
    records = client.list_keys(tenant, limit=args.page_size)
    found = check_keys(records, policy)
    report = ScanReport(kind="hygiene", hygiene=found, command=f"keyguard keys --tenant {tenant}",
                        stats={"keys": len(records), "revoked": sum(1 for r in records if r.revoked),
                               "keys_with_findings": len({h.key.id for h in found})})
    report.tenant = tenant
    import os
    options = ReportOptions(color=False if os.environ.get("NO_COLOR") else None, verbose=args.verbose)
    write_report(report, args.format, args.output, options)
    if args.output:
        from keyguard.commands.common import say
        say(args, f"{len(found)} hygiene findings for {len(records)} keys of tenant '{tenant}' "
                  f"written to {args.output}")
    from keyguard.errors import exit_code
    return exit_code(hygiene=found, fail_on_hygiene=fail_on)


def _show(args: argparse.Namespace) -> int:
    """``keys show KEY_ID``: record, hygiene and usage of one key (usage needs manage_keys or the key)."""
    import sys

    from keyguard.errors import ApiError
    from keyguard.fluxloop.client import InsufficientScope, NotFound
    from keyguard.fluxloop.hygiene import check_key, policy_from_config
    from keyguard.commands.common import api_client
    from keyguard.report import key_detail
    from keyguard.report.key_detail import KeyDetail

    policy = policy_from_config(_hygiene_config(), {dest: getattr(args, dest) for dest, _, _ in THRESHOLDS})
    client = api_client(args)
    me = client.whoami()
    tenant = args.tenant or me.tenant
    notes: list[str] = []
    try:
        record = next((r for r in client.list_keys(tenant, limit=args.page_size) if r.id == args.key_id), None)
    except InsufficientScope as exc:
        if me.key.id != args.key_id or me.tenant != tenant:
            raise
        record = me.key  # the operator's own key: auth/status has its record
        notes.append(f"record from auth/status ({exc})")
    if record is None:
        raise ApiError(f"no key '{args.key_id}' in tenant '{tenant}'")
    usage = None
    try:
        usage = client.usage(tenant, record.id, days=args.days)
    except (InsufficientScope, NotFound) as exc:
        notes.append(f"usage not available: {exc}")
    findings = check_key(record, policy)
    detail = KeyDetail(tenant, record, tuple(findings), usage, args.days, tuple(notes))
    if args.json:
        key_detail.write_json(detail, sys.stdout)
    else:
        sys.stdout.write(key_detail.to_text(detail))
    return 0
