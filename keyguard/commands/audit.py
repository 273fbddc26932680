"""``keyguard audit``: one command for a scheduled CI job.

Scans the full history (all refs, stashes), verifies the keys it finds,
optionally revokes live ones (``--revoke``), runs the key-hygiene report when
an operator credential is present, prints the findings as text on stdout (as
``scan`` does), and writes one SARIF file (for GitHub code scanning), one JSON
file and a Markdown summary (appended to ``$GITHUB_STEP_SUMMARY`` when that
variable is set), by default in a self-ignoring ``keyguard-audit/`` folder
(``keyguard.audit.outputs``).

Incremental: ``keyguard.audit.cache`` remembers which objects were already
scanned clean under which rules (default under ``.git/keyguard/``, or
``--cache DIR`` for CI caches), so a re-run reads only new objects. Findings
not seen by the previous audit are marked new. The baseline applies; the exit
code follows ``--fail-on`` (3 when a found key is live and was not revoked).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(p: argparse.ArgumentParser) -> None:
    """Add ``audit``'s arguments."""
    from keyguard.commands.scan import severity_arg
    from keyguard.fluxloop.options import add_api_options

    p.add_argument("--repo", metavar="DIR", help="the repository (default: the current directory)")
    from keyguard.audit import outputs as default

    add_outputs(p.add_argument_group("outputs (the findings are also printed as text on stdout)"),
                default.SARIF, default.JSON, default.MARKDOWN)
    cache = p.add_argument_group("cache")
    cache.add_argument("--cache", metavar="DIR", help="cache folder (default: .git/keyguard/)")
    cache.add_argument("--no-cache", action="store_true", help="scan everything, do not read or write the cache")
    p.add_argument("--include-unreachable", action="store_true",
                   help="also every reflog and unreachable object (what `keyguard incident` searches)")
    pol = p.add_argument_group("policy")
    pol.add_argument("--fail-on", metavar="SEVERITY", type=severity_arg,
                     help="lowest severity that fails the audit (default: the config's fail-on, else low)")
    pol.add_argument("--rules", action="append", default=[], metavar="PATH", help="extra rule file or folder")
    pol.add_argument("--config", metavar="FILE", help="config file")
    pol.add_argument("--baseline", metavar="FILE", help="baseline file (default: .keyguard-baseline.json)")
    pol.add_argument("--no-baseline", action="store_true", help="report baselined findings too")
    api = p.add_argument_group("FluxLoop API")
    api.add_argument("--no-verify", action="store_true", help="do not ask the API whether found keys are live")
    api.add_argument("--no-hygiene", action="store_true", help="skip the key hygiene report")
    api.add_argument("--revoke", action="store_true", help="revoke every live found key")
    api.add_argument("--yes", action="store_true", help="revoke without asking")
    api.add_argument("--dry-run", action="store_true", help="with --revoke: only say what would be revoked")
    add_api_options(api)
    from keyguard.commands.org_audit import add_org_options
    add_org_options(p)


def add_outputs(group, sarif: str, json: str, markdown: str) -> None:
    """``--sarif``, ``--json`` and ``--markdown`` with these default paths."""
    group.add_argument("--sarif", metavar="FILE", default=sarif,
                       help=f"SARIF file for code scanning (default: {sarif})")
    group.add_argument("--json", metavar="FILE", default=json, help=f"JSON report (default: {json})")
    group.add_argument("--markdown", metavar="FILE", default=markdown,
                       help=f"Markdown summary (default: {markdown}; also appended to "
                            "$GITHUB_STEP_SUMMARY when set)")


def run(args: argparse.Namespace) -> int:
    """Run the audit; exit 0 clean, 1 findings at --fail-on, 2 errors, 3 a live key left unrevoked."""
    from keyguard.audit.cache import load_cache, load_seen, rule_digest, save_seen
    from keyguard.commands import scan as scan_cmd
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    from keyguard.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_LIVE, UsageError
    from keyguard.model import ScanReport, Severity
    from keyguard.scan import ScanPolicy, collect
    from keyguard.git import repo as grepo
    from keyguard.sources.history import HistorySource

    if args.dry_run and not args.revoke:
        raise UsageError("--dry-run goes with --revoke")
    if args.repos or args.shard:
        from keyguard.commands.org_audit import run_org
        return run_org(args)
    cwd = Path(args.repo) if args.repo else Path.cwd()
    root = grepo.require_repo(cwd)
    # an organisation audit hands down its own policy (never the audited repository's)
    config = getattr(args, "policy_config", None) or scan_cmd._load_config(args, root)
    rules = load_rules([*config.rule_paths, *[Path(r) for r in args.rules]])
    detector = Detector(rules)
    baseline = None if args.no_baseline else scan_cmd._load_baseline(args, config, root)

    digests = {r.id: rule_digest(r) for r in rules}
    cache_dir = Path(args.cache) if args.cache else grepo.git_dir(root) / "keyguard"
    repo_id = grepo.identity(root)
    cache = None if args.no_cache else load_cache(cache_dir, repo_id)
    skip: set[bytes] = set()
    if cache is not None and not cache.rules_to_rescan(digests):
        skip = cache.clean
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from keyguard.progress import ProgressBar
        progress = ProgressBar("auditing history")
    source = HistorySource(root, skip=skip, progress=progress,
                           include_unreachable=args.include_unreachable)
    policy = ScanPolicy(exclude=config.exclude, allow=config.allow, baseline=baseline)
    report: ScanReport = collect(source, detector, policy, kind="audit")
    report.root = str(root)
    report.command = "keyguard audit " + " ".join(scan_cmd._safe_argv(sys.argv[2:]))
    if cache is not None:
        report.warnings[:0] = cache.warnings
        if cache.rules_to_rescan(digests) and cache.clean:
            report.warnings.append(f"rules changed since the last audit "
                                   f"({', '.join(cache.rules_to_rescan(digests))}): everything scanned again")
    if report.stale_baseline:
        report.warnings.append(f"{report.stale_baseline} baseline entries no longer match anything")

    seen_before = load_seen(cache_dir, repo_id) if cache is not None else None
    if seen_before is not None:
        from dataclasses import replace
        report.findings = [replace(f, is_new=_identity(f) not in seen_before) for f in report.findings]

    if report.findings and not args.no_verify:
        args.verify = True
        report.findings = scan_cmd._act(args, report.findings)
    if not args.no_hygiene:
        _hygiene(args, config, report)

    _write_outputs(report, args)

    if cache is not None:
        cache.save(frozenset(digests.values()), source.known_clean | source.clean_after)
        save_seen(cache_dir, repo_id, {_identity(f) for f in report.findings})

    fail_on = args.fail_on or Severity.parse(config.fail_on)
    if any(f.verification and f.verification.status == "live" and not
           (f.revocation and f.revocation.outcome in ("revoked", "already_revoked"))
           for f in report.findings):
        return EXIT_LIVE
    if any(f.severity.rank >= fail_on.rank for f in report.findings) or \
            any(h.severity.rank >= fail_on.rank for h in report.hygiene):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _identity(finding) -> str:
    """What makes a finding 'the same' across audits: the key, the path, the commit."""
    commit = finding.provenance.commit if finding.provenance else ""
    return f"{finding.fingerprint}|{finding.path}|{commit}"


def _hygiene(args, config, report) -> None:
    """Add the hygiene report when an operator credential is present; problems become warnings."""
    from keyguard.errors import ApiError
    from keyguard.fluxloop.credentials import resolve

    settings = resolve(api_key=getattr(args, "api_key", None), profile=getattr(args, "profile", None),
                       api_endpoint=getattr(args, "api_endpoint", None))
    if settings.credential is None:
        report.warnings.append("key hygiene skipped: no operator credential (set FLUXLOOP_API_KEY)")
        return
    from keyguard.fluxloop.hygiene import check_keys, policy_from_config
    from keyguard.fluxloop.options import client_from_args
    try:
        client = client_from_args(args)
        tenant = client.whoami().tenant
        records = client.list_keys(tenant)
    except ApiError as exc:
        report.warnings.append(f"key hygiene skipped: {exc}")
        return
    report.tenant = tenant
    report.hygiene = check_keys(records, policy_from_config(dict(config.hygiene)))
    report.stats["keys"] = len(records)


def _write_outputs(report, args) -> None:
    from keyguard.audit.outputs import prepare
    from keyguard.report.interface import ReportOptions, write_report

    options = ReportOptions(verbose=args.verbose, color=False if os.environ.get("NO_COLOR") else None)
    for fmt, path in (("sarif", args.sarif), ("json", args.json), ("markdown", args.markdown)):
        if path:
            prepare(path)
            write_report(report, fmt, path, options)
    summary = os.environ.get("GITHUB_STEP_SUMMARY") if getattr(args, "step_summary", True) else None
    if summary and args.markdown:
        with open(args.markdown, encoding="utf-8") as src, open(summary, "a", encoding="utf-8") as dst:
            dst.write(src.read())
            dst.write("\n")
    if getattr(args, "print_text", True):  # an organisation audit prints one line per repository
        write_report(report, "text", None, options)  # the findings, as scan shows them (warnings included)
    if not args.quiet:
        new = sum(1 for f in report.findings if f.is_new)
        live = sum(1 for f in report.findings if f.verification and f.verification.status == "live")
        print(f"keyguard audit: {len(report.findings)} findings ({new} new, {live} live), "
              f"{len(report.hygiene)} hygiene findings; {report.stats.get('objects', 0)} objects "
              f"({report.stats.get('blobs', 0)} blobs scanned), "
              f"{report.stats.get('cached', 0)} known clean from the cache", file=sys.stderr)
        written = [p for p in (args.sarif, args.json, args.markdown) if p]
        print(f"keyguard audit: wrote {', '.join(written)}", file=sys.stderr)
