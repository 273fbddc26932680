"""``keyguard scan``: staged changes, files on disk, git history or stdin.

Wiring only: choose the source, load config, rules and baseline, collect the
findings (``keyguard.scan``), optionally verify/revoke them through the API,
write the report, pick the exit code. Everything heavy is imported inside
``run`` and only when needed, so ``scan --staged`` on a clean commit imports
neither rich nor the HTTP client nor the report writers' dependencies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from keyguard.commands.common import add_api_options, severity_arg

TYPE_CHECKING = False  # typing and argparse are not imported on the pre-commit path
if TYPE_CHECKING:
    import argparse

FORMATS = ("text", "json", "sarif", "markdown", "gitlab")


def register(p: argparse.ArgumentParser) -> None:
    """Add ``scan``'s arguments."""
    what = p.add_argument_group("what to scan (default: the repository's files on disk)")
    what.add_argument("paths", nargs="*", metavar="PATH",
                      help="files or folders; with --staged, exactly these staged files (whole); "
                           "with --history, one revision RANGE such as origin/main..HEAD")
    mode = what.add_mutually_exclusive_group()
    mode.add_argument("--staged", action="store_true",
                      help="what the next commit adds (the index, not the working tree)")
    mode.add_argument("--history", action="store_true", help="git history (all refs by default)")
    mode.add_argument("--stdin", action="store_true", help="text read from standard input")
    mode.add_argument("--pre-push", action="store_true",
                      help="commits being pushed (PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF)")
    mode.add_argument("--pre-receive", action="store_true",
                      help="as a git server's pre-receive hook: what a push adds (docs/pre-receive.md)")
    what.add_argument("--since", metavar="REF", help="with --history: only commits after REF")
    what.add_argument("--include-unreachable", action="store_true",
                      help="with --history: also every reflog, stash entry and unreachable object")
    what.add_argument("--repo", metavar="DIR", help="the repository (default: the current directory)")

    rep = p.add_argument_group("report")
    rep.add_argument("-f", "--format", choices=FORMATS, default="text",
                     help="output format (default: text; gitlab: GitLab's secret-detection report)")
    rep.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (atomically)")
    rep.add_argument("--show-secrets", action="store_true", help="print full secret values (dangerous)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")

    pol = p.add_argument_group("policy")
    pol.add_argument("--rules", action="append", default=[], metavar="PATH",
                     help="extra rule file or folder (repeatable)")
    pol.add_argument("--config", metavar="FILE", help="config file (default: .keyguard.toml or pyproject.toml)")
    pol.add_argument("--no-repo-config", action="store_true",
                     help="ignore the repository's own .keyguard.toml / pyproject.toml and baseline "
                          "(CI audits, server hooks: the scanned content must not set the policy; "
                          "--config FILE still applies)")
    pol.add_argument("--baseline", metavar="FILE", help="baseline file (default: .keyguard-baseline.json)")
    pol.add_argument("--no-baseline", action="store_true", help="report baselined findings too")
    pol.add_argument("--fail-on", metavar="SEVERITY", type=severity_arg,
                     help="lowest severity that fails the scan: critical, high, medium, low, info "
                          "(default: low, or fail-on in the config)")

    hook = p.add_argument_group("pre-receive hook (server side)")
    hook.add_argument("--timeout", metavar="SECONDS", type=float, default=4.0,
                      help="time budget of the hook (default: 4, under GitHub Enterprise's 5 s; 0: none)")
    hook.add_argument("--on-timeout", choices=("closed", "open"), default="closed",
                      help="when the budget runs out: refuse (closed, default) or accept (open) the push")
    hook.add_argument("--allow-log", metavar="FILE",
                      help="enables git push -o keyguard-allow=REASON; each use is appended to FILE")

    api = p.add_argument_group("FluxLoop API (network; off by default)")
    api.add_argument("--verify", action="store_true", help="ask the API whether each found key is live")
    api.add_argument("--revoke", action="store_true", help="revoke every live found key (implies --verify)")
    api.add_argument("--yes", action="store_true", help="revoke without asking")
    api.add_argument("--dry-run", action="store_true", help="with --revoke: show what would be revoked")
    add_api_options(api)


def run(args: argparse.Namespace) -> int:
    """Run the scan; exit 0 clean, 1 findings, 2 usage/config error, 3 a key verified live."""
    from keyguard.commands.common import (command_line, load_baseline, load_config, make_source, state_policy,
                                          verify_and_revoke, warn)
    from keyguard.errors import KeyguardError, PartlyDone, UsageError, exit_code
    from keyguard.model import Severity

    if args.since and not args.history:
        raise UsageError("--since goes with --history")
    if args.include_unreachable and not args.history:
        raise UsageError("--include-unreachable goes with --history")
    if args.dry_run and not args.revoke:
        raise UsageError("--dry-run goes with --revoke")
    cwd = Path(args.repo) if args.repo else Path.cwd()
    if args.repo and not cwd.is_dir():
        raise UsageError(f"--repo {args.repo}: not a directory")
    if args.pre_receive:
        from keyguard.receive.hook import run_pre_receive
        return run_pre_receive(args, act=lambda findings: verify_and_revoke(findings, args, revoke=args.revoke))

    if args.output:
        from keyguard.commands.common import check_writable
        check_writable(args.output, "--output")
    if args.show_secrets and args.format in ("sarif", "markdown"):
        warn(f"--show-secrets has no effect with -f {args.format}: {args.format} reports never hold "
             f"a full key (they are uploaded or shown to everyone who can read them)")
    source, root = make_source(args, cwd)
    config = load_config(args, root)
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    detector = Detector(load_rules([*config.rule_paths, *[Path(r) for r in args.rules]]))
    baseline = None if args.no_baseline else load_baseline(args, config, root)

    from keyguard.scan import ScanPolicy, collect
    policy = ScanPolicy(exclude=config.exclude, allow=config.allow, baseline=baseline)
    report = collect(source, detector, policy)
    if not args.staged:  # the pre-commit path states it only when a report is written (no import)
        state_policy(report, args, config, root, baseline, check_excludes=True)
    report.root = str(root) if root else ""
    report.command = command_line("scan")
    if report.kind not in ("worktree", "history"):
        report.stale_baseline = 0
    if report.stale_baseline:
        report.warnings.append(f"{report.stale_baseline} baseline entries no longer match anything "
                               f"(run `keyguard baseline --update` to drop them)")

    if (args.verify or args.revoke) and report.findings:
        report.findings = verify_and_revoke(report.findings, args, revoke=args.revoke)

    fail_on = args.fail_on or Severity.parse(config.fail_on)
    report_has_warnings = False
    if report.findings or args.format != "text" or args.output or args.verbose:
        if args.staged:
            state_policy(report, args, config, root, baseline, check_excludes=False)
        try:
            _write(report, args)
        except KeyguardError as exc:  # after a revoke, say what was done
            from keyguard.commands.common import done_so_far
            done = done_so_far(report.findings)
            if done:
                raise PartlyDone(f"{exc}; {done}") from None
            raise
        report_has_warnings = args.format == "text" and not args.output
    elif not args.quiet:
        counts = _counts_line(report)
        print(f"keyguard: no FluxLoop keys found{counts}", file=sys.stderr)
    if not (args.quiet or report_has_warnings):
        for w in report.warnings:
            warn(w)
    return exit_code(report.findings, fail_on)


def _counts_line(report) -> str:
    parts = []
    for n, label in ((report.stats.get("files"), "files"), (report.stats.get("objects"), "objects"),
                     (report.stats.get("blobs"), "blobs"),
                     (report.allowed, "allowed"), (report.baselined, "baselined"),
                     (len(report.suppressed), "placeholders ignored")):
        if n:
            parts.append(f"{n} {label}")
    return f" ({', '.join(parts)})" if parts else ""


def _write(report, args) -> None:
    from keyguard.report.interface import ReportOptions, write_report
    options = ReportOptions(show_secrets=args.show_secrets, verbose=args.verbose,
                            color=False if os.environ.get("NO_COLOR") else None)
    write_report(report, args.format, args.output, options)
    if args.output:
        from keyguard.commands.common import say
        say(args, f"{len(report.findings)} findings written to {args.output}")
