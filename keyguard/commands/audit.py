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
``--cache DIR`` for CI caches), so a re-run reads only new objects, and
``keyguard.audit.attribution`` replays where the findings are while neither
they nor the refs changed (no history walk). Findings not seen by the
previous audit are marked new (all of them on the first).
A found key that is revoked or expired stays a finding at ``info`` ("purging
history is optional"). The baseline applies. Exit code (``errors.exit_code``):
3 a found key is live and was not revoked; 4 a step that was asked for could
not be done (verification, or hygiene with a rejected credential or no
``manage_keys``), and every report says which and why; 1 findings at
``--fail-on``, or hygiene findings at ``--fail-on-hygiene`` (default: hygiene
is reported, never failing); 5 a key was revoked and then writing failed.
In a shallow clone every report warns that only part of history was read;
``--fail-on-shallow`` makes that exit 4 (the full history was asked for and
could not be read).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(p: argparse.ArgumentParser) -> None:
    """Add ``audit``'s arguments."""
    from keyguard.commands.common import add_api_options, hygiene_severity_arg, severity_arg

    p.add_argument("--repo", metavar="DIR", help="the repository (default: the current directory)")
    from keyguard.audit import outputs as default

    out = p.add_argument_group("outputs (the findings are also printed as text on stdout)")
    from keyguard.commands.common import add_outputs
    add_outputs(out, default.SARIF, default.JSON, default.MARKDOWN)
    cache = p.add_argument_group("cache")
    cache.add_argument("--cache", metavar="DIR", help="cache folder (default: .git/keyguard/)")
    cache.add_argument("--no-cache", action="store_true", help="scan everything, do not read or write the cache")
    reach = p.add_mutually_exclusive_group()
    reach.add_argument("--include-unreachable", dest="include_unreachable", action="store_true", default=True,
                       help="also every reflog, unreachable commit and blob and the index (what "
                            "`keyguard incident` searches, the work tree aside; the default)")
    reach.add_argument("--no-include-unreachable", dest="include_unreachable", action="store_false",
                       help="only what refs reach (faster re-runs: see docs/audit.md)")
    pol = p.add_argument_group("policy")
    pol.add_argument("--fail-on", metavar="SEVERITY", type=severity_arg,
                     help="lowest severity of a repository finding that fails the audit "
                          "(default: the config's fail-on, else low)")
    pol.add_argument("--fail-on-hygiene", metavar="SEVERITY", type=hygiene_severity_arg, default=None,
                     help="lowest severity of a hygiene (tenant) finding that fails the audit, or none "
                          "(default: none: hygiene findings are reported, they do not fail the audit)")
    pol.add_argument("--fail-on-shallow", action="store_true",
                     help="a shallow clone (git clone --depth) makes the audit incomplete: exit 4 "
                          "(default: a warning in every report)")
    pol.add_argument("--rules", action="append", default=[], metavar="PATH", help="extra rule file or folder")
    pol.add_argument("--config", metavar="FILE", help="config file")
    pol.add_argument("--no-repo-config", action="store_true",
                     help="ignore the repository's own .keyguard.toml / pyproject.toml and baseline "
                          "(CI audits, server hooks: the scanned content must not set the policy; "
                          "--config FILE still applies)")
    pol.add_argument("--baseline", metavar="FILE", help="baseline file (default: .keyguard-baseline.json)")
    pol.add_argument("--no-baseline", action="store_true", help="report baselined findings too")
    api = p.add_argument_group("FluxLoop API")
    api.add_argument("--no-verify", action="store_true", help="do not ask the API whether found keys are live")
    api.add_argument("--no-hygiene", action="store_true", help="skip the key hygiene report")
    api.add_argument("--revoke", action="store_true", help="revoke every live found key")
    api.add_argument("--yes", action="store_true", help="revoke without asking")
    api.add_argument("--dry-run", action="store_true", help="with --revoke: only say what would be revoked")
    add_api_options(api)
    from keyguard.audit.org import add_org_options
    add_org_options(p)


def run(args: argparse.Namespace) -> int:
    """Run the audit; exit 0, 1, 3, 4 or 5 (see the module docstring), 2 on usage errors."""
    from keyguard.commands.common import check_writable, command_line, load_baseline, load_config
    from keyguard.errors import PartlyDone, UsageError, exit_code
    from keyguard.model import Severity
    from keyguard.git import repo as grepo

    if args.dry_run and not args.revoke:
        raise UsageError("--dry-run goes with --revoke")
    if args.revoke and args.no_verify:
        raise UsageError("--revoke needs verification: drop --no-verify")
    if args.repos or args.shard:
        from keyguard.audit.org import run_org
        return run_org(args, audit_one=run)  # each repository is audited by this same run()
    cwd = Path(args.repo) if args.repo else Path.cwd()
    root = grepo.require_repo(cwd)
    from keyguard.audit.outputs import prepare
    for flag, path in (("--sarif", args.sarif), ("--json", args.json), ("--markdown", args.markdown)):
        if path:
            try:
                prepare(path)  # the default folder, self-ignoring
            except OSError:
                pass  # check_writable says why, in one line
            check_writable(path, flag)
    if args.revoke and not args.dry_run:
        from keyguard.commands.common import check_writable_dir
        check_writable_dir(grepo.git_dir(root) / "keyguard", "the revocation ledger's folder")
    config = load_config(args, root)
    baseline = None if args.no_baseline else load_baseline(args, config, root)
    cache_dir = Path(args.cache) if args.cache else grepo.git_dir(root) / "keyguard"

    report, finish_cache = _scan(args, root, config, baseline, cache_dir)
    report.command = command_line("audit")
    if report.stats.get("shallow") and getattr(args, "fail_on_shallow", False):
        report.incomplete.append(("full history", "a shallow clone holds only part of history "
                                                  "(--fail-on-shallow; git fetch --unshallow)"))
    ledger = _ledger(root)
    partly = _verify(args, report, ledger) if report.findings and not args.no_verify else ""
    if not args.no_hygiene:
        _hygiene(args, config, report)

    _write_outputs(report, args)
    finish_cache(report.findings)
    if partly:
        raise PartlyDone(partly)
    fail_on = args.fail_on or Severity.parse(config.fail_on)
    return exit_code(report.findings, fail_on, hygiene=report.hygiene, fail_on_hygiene=args.fail_on_hygiene,
                     incomplete=bool(report.incomplete))


def _scan(args, root, config, baseline, cache_dir):
    """The history scan through the cache: ``(report, finish(findings))``; ``finish`` saves the cache."""
    from dataclasses import replace

    from keyguard.audit.cache import check_location, load_cache, load_seen, rule_digest, save_seen
    from keyguard.commands.common import state_policy
    from keyguard.git import repo as grepo
    from keyguard.sources.history import HistorySource
    from keyguard.sources.submodules import WithSubmodules
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    from keyguard.scan import ScanPolicy, collect

    rules = load_rules([*config.rule_paths, *[Path(r) for r in args.rules]])
    digests = {r.id: rule_digest(r) for r in rules}
    repo_id = grepo.identity(root)
    if not args.no_cache:
        check_location(cache_dir, root)
    cache = None if args.no_cache else load_cache(cache_dir, repo_id)
    skip: set[bytes] = set()
    if cache is not None and not cache.rules_to_rescan(digests):
        skip = cache.clean
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from keyguard.progress import ProgressBar
        progress = ProgressBar("auditing history")
    memo = None
    if cache is not None:
        from keyguard.audit.attribution import Memo
        memo = Memo(cache_dir, digests.values())
    # the work tree is not the audit's (it is `keyguard scan`'s; in CI it is HEAD again)
    source = WithSubmodules(HistorySource(root, skip=skip, progress=progress, memo=memo,
                                          include_unreachable=args.include_unreachable, worktree=False))
    policy = ScanPolicy(exclude=config.exclude, allow=config.allow, baseline=baseline)
    report = collect(source, Detector(rules), policy, kind="audit")
    state_policy(report, args, config, root, baseline, check_excludes=True)
    report.root = str(root)
    if cache is not None:
        report.warnings[:0] = cache.warnings
        if cache.rules_to_rescan(digests) and cache.clean:
            report.warnings.append(f"rules changed since the last audit "
                                   f"({', '.join(cache.rules_to_rescan(digests))}): everything scanned again")
    if report.stale_baseline:
        report.warnings.append(f"{report.stale_baseline} baseline entries no longer match anything")
    if cache is not None:
        seen_before = load_seen(cache_dir, repo_id)  # None: the first audit, so everything is new
        report.findings = [replace(f, is_new=seen_before is None or _identity(f) not in seen_before)
                           for f in report.findings]

    def finish(findings) -> None:
        """Save the cache; best effort (a cache that cannot be written only makes the next audit slower)."""
        if cache is None:
            return
        try:
            cache.save(frozenset(digests.values()), source.known_clean | source.clean_after)
            save_seen(cache_dir, repo_id, {_identity(f) for f in findings})
        except OSError as exc:
            from keyguard.commands.common import warn
            warn(f"audit cache {cache_dir} not saved ({exc.strerror or type(exc).__name__}): "
                 f"the next audit scans everything again")
    return report, finish


def _identity(finding) -> str:
    """What makes a finding 'the same' across audits: the key, the path, the commit."""
    commit = finding.provenance.commit if finding.provenance else ""
    return f"{finding.fingerprint}|{finding.path}|{commit}"


def _ledger(root):
    from keyguard.incident.ledger import Ledger
    from keyguard.git import repo as grepo
    return Ledger(grepo.git_dir(root) / "keyguard" / "revocations.json")


def _verify(args, report, ledger) -> str:
    """Verify (and with ``--revoke`` revoke) the found keys; a key that could not be verified is a step not done."""
    from keyguard.commands.common import verify_and_revoke

    from keyguard.errors import PartlyDone

    partly = ""
    try:
        report.findings = verify_and_revoke(report.findings, args, revoke=args.revoke, ledger=ledger)
    except PartlyDone as exc:  # keys were revoked, the ledger could not record it: report, then fail
        report.findings = exc.findings
        report.warnings.append(str(exc))
        partly = str(exc)
    unknown = {f.fingerprint: f.verification.reason for f in report.findings
               if f.verification is not None and f.verification.status == "unknown"}
    if unknown:
        why = next(iter(unknown.values())) or "no answer"
        report.incomplete.append(("verify", f"{len(unknown)} found key{'s' if len(unknown) != 1 else ''} "
                                            f"could not be verified ({why})"))
    return partly


def _hygiene(args, config, report) -> None:
    """The hygiene report when an operator credential is present (none: a warning, not a failure).

    A credential that is present but rejected (expired, revoked, invalid) or
    lacks ``manage_keys`` means the step asked for was not done: ``report.incomplete``.
    """
    from keyguard.commands.common import api_client
    from keyguard.errors import ApiError
    from keyguard.fluxloop.credentials import resolve

    settings = resolve(api_key=getattr(args, "api_key", None), profile=getattr(args, "profile", None),
                       api_endpoint=getattr(args, "api_endpoint", None))
    if settings.credential is None and "no FluxLoop credential" in str(settings.error):
        report.warnings.append("key hygiene skipped: no operator credential (set FLUXLOOP_API_KEY, "
                               "or pass --no-hygiene)")
        return
    from keyguard.fluxloop.hygiene import check_keys, policy_from_config
    try:
        client = api_client(args)
        tenant = client.whoami().tenant
        records = client.list_keys(tenant)
    except ApiError as exc:
        report.incomplete.append(("hygiene", str(exc)))
        return
    report.tenant = tenant
    report.hygiene = check_keys(records, policy_from_config(dict(config.hygiene)))
    report.stats["keys"] = len(records)


def _write_outputs(report, args) -> None:
    """SARIF, JSON and Markdown; the step summary is best effort (a warning when it cannot be written)."""
    from keyguard.commands.common import done_so_far, warn
    from keyguard.errors import KeyguardError, PartlyDone
    from keyguard.report.interface import ReportOptions, write_report
    from keyguard.report.summary import counts_phrase

    options = ReportOptions(verbose=args.verbose, color=False if os.environ.get("NO_COLOR") else None)
    summary = os.environ.get("GITHUB_STEP_SUMMARY") if getattr(args, "step_summary", True) else None
    if summary and args.markdown:
        from keyguard.commands.common import check_writable
        try:
            check_writable(summary, "$GITHUB_STEP_SUMMARY")
        except KeyguardError as exc:
            report.warnings.append(f"step summary not written: {exc}")
            summary = None
    written = []
    try:
        for fmt, path in (("sarif", args.sarif), ("json", args.json), ("markdown", args.markdown)):
            if path:
                write_report(report, fmt, path, options)
                written.append(path)
    except KeyguardError as exc:
        done = done_so_far(report.findings)
        if done:
            raise PartlyDone(f"{exc}; {done}") from None
        raise
    if summary and args.markdown:
        try:
            with open(args.markdown, encoding="utf-8") as src, open(summary, "a", encoding="utf-8") as dst:
                dst.write(src.read())
                dst.write("\n")
        except OSError as exc:
            warn(f"step summary {summary} not written ({exc.strerror or type(exc).__name__})")
    if getattr(args, "print_text", True):  # an organisation audit prints one line per repository
        write_report(report, "text", None, options)  # the findings, as scan shows them (warnings included)
    if not args.quiet:
        new = sum(1 for f in report.findings if f.is_new)
        live = sum(1 for f in report.findings if f.verification and f.verification.status == "live"
                   and not (f.revocation and f.revocation.off))
        revoked = sum(1 for f in report.findings if f.revocation and f.revocation.off)
        print(f"keyguard audit: {len(report.findings)} findings ({new} new, {live} live, {revoked} revoked), "
              f"{counts_phrase(report.hygiene, 'hygiene finding')}; {report.stats.get('objects', 0)} objects "
              f"({report.stats.get('blobs', 0)} blobs scanned), "
              f"{report.stats.get('cached', 0)} known clean from the cache", file=sys.stderr)
        print(f"keyguard audit: wrote {', '.join(written)}", file=sys.stderr)
    if report.stats.get("shallow") and not args.quiet:  # the reports carry it; stderr says it once
        from keyguard.git.repo import SHALLOW_WARNING
        print(f"keyguard: warning: {SHALLOW_WARNING}", file=sys.stderr)
    from keyguard.redact import scrub_all
    for step, why in report.incomplete:
        print(f"keyguard: audit incomplete: {step} not done: {scrub_all(why)}", file=sys.stderr)
