"""``keyguard scan``: staged changes, files on disk, git history or stdin.

Wiring only: choose the source, load config, rules and baseline, collect the
findings (``keyguard.scan``), optionally verify/revoke them through the API,
write the report, pick the exit code. Everything heavy is imported inside
``run`` and only when needed, so ``scan --staged`` on a clean commit imports
neither rich nor the HTTP client nor the report writers' dependencies.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    from keyguard.fluxloop.options import add_api_options
    add_api_options(api)


def severity_arg(text: str):
    """argparse type for a severity name."""
    from keyguard.model import Severity
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run the scan; exit 0 clean, 1 findings, 2 usage/config error, 3 a key verified live."""
    from keyguard.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_LIVE, UsageError
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
        return run_pre_receive(args)

    source, root = _make_source(args, cwd)
    config = _load_config(args, root)
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    detector = Detector(load_rules([*config.rule_paths, *[Path(r) for r in args.rules]]))
    baseline = None if args.no_baseline else _load_baseline(args, config, root)

    from keyguard.scan import ScanPolicy, collect
    policy = ScanPolicy(exclude=config.exclude, allow=config.allow, baseline=baseline)
    report = collect(source, detector, policy)
    report.root = str(root) if root else ""
    report.command = "keyguard scan " + " ".join(_safe_argv(sys.argv[2:]))
    if report.kind not in ("worktree", "history"):
        report.stale_baseline = 0
    if report.stale_baseline:
        report.warnings.append(f"{report.stale_baseline} baseline entries no longer match anything "
                               f"(run `keyguard baseline --update` to drop them)")

    if (args.verify or args.revoke) and report.findings:
        report.findings = _act(args, report.findings)

    fail_on = args.fail_on or Severity.parse(config.fail_on)
    report_has_warnings = False
    if report.findings or args.format != "text" or args.output or args.verbose:
        _write(report, args)
        report_has_warnings = args.format == "text" and not args.output
    elif not args.quiet:
        counts = _counts_line(report)
        print(f"keyguard: no FluxLoop keys found{counts}", file=sys.stderr)
    if not (args.quiet or report_has_warnings):
        for w in report.warnings:
            print(f"keyguard: warning: {w}", file=sys.stderr)

    if any(f.verification and f.verification.status == "live" and not
           (f.revocation and f.revocation.outcome in ("revoked", "already_revoked"))
           for f in report.findings):
        return EXIT_LIVE
    if any(f.severity.rank >= fail_on.rank for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _counts_line(report) -> str:
    parts = []
    for n, label in ((report.stats.get("files"), "files"), (report.stats.get("objects"), "objects"),
                     (report.stats.get("blobs"), "blobs"),
                     (report.allowed, "allowed"), (report.baselined, "baselined"),
                     (len(report.suppressed), "placeholders ignored")):
        if n:
            parts.append(f"{n} {label}")
    return f" ({', '.join(parts)})" if parts else ""


def _safe_argv(argv: list[str]) -> list[str]:
    """The arguments with the value of --api-key removed."""
    out, skip = [], False
    for a in argv:
        if skip:
            out.append("***")
            skip = False
        elif a == "--api-key":
            out.append(a)
            skip = True
        elif a.startswith("--api-key="):
            out.append("--api-key=***")
        else:
            out.append(a)
    return out


def _make_source(args, cwd: Path):
    """The source for the chosen mode and the repository root (None outside a repo)."""
    from keyguard.errors import UsageError
    from keyguard.git import repo as grepo

    if args.stdin:
        from keyguard.sources.stdin import StdinSource
        if args.paths:
            raise UsageError("--stdin takes no PATH")
        return StdinSource(sys.stdin.buffer), grepo.find_root(cwd)
    if args.staged:
        from keyguard.sources.staged import StagedSource
        root = grepo.require_root(cwd)
        return StagedSource(root, files=args.paths or None), root
    if args.history or args.pre_push:
        from keyguard.sources.history import HistorySource
        root = grepo.require_repo(cwd)
        rev_range = None
        if args.pre_push:
            if args.paths:
                raise UsageError("--pre-push takes no PATH")
            rev_range = push_range(os.environ)
        elif args.paths:
            if len(args.paths) > 1:
                raise UsageError("--history takes one revision RANGE")
            rev_range = args.paths[0]
        progress = None
        if not (args.quiet or args.no_progress) and sys.stderr.isatty():
            from keyguard.progress import ProgressBar
            progress = ProgressBar("scanning history")
        return HistorySource(root, rev_range=rev_range, since=args.since, progress=progress,
                             include_unreachable=args.include_unreachable), root
    from keyguard.sources.worktree import WorktreeSource
    root = grepo.find_root(cwd)
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise UsageError(f"{p}: no such file or folder")
    return WorktreeSource(root or cwd, paths=paths or None, in_repo=root is not None), root


def push_range(environ) -> str:
    """The revision range a pre-push hook must scan, from pre-commit's variables.

    pre-commit sets PRE_COMMIT_FROM_REF/TO_REF (legacy: ORIGIN/SOURCE) when the
    remote has a base; when the push holds the branch's root commit it sets
    neither (all_files) and only PRE_COMMIT_LOCAL_BRANCH: then the whole branch.
    """
    from keyguard.errors import UsageError

    from_ref = environ.get("PRE_COMMIT_FROM_REF") or environ.get("PRE_COMMIT_ORIGIN")
    to_ref = environ.get("PRE_COMMIT_TO_REF") or environ.get("PRE_COMMIT_SOURCE")
    if to_ref:
        if not from_ref or not from_ref.strip("0"):  # all zeros (any object format): a new branch
            return to_ref
        return f"{from_ref}..{to_ref}"
    local = environ.get("PRE_COMMIT_LOCAL_BRANCH")
    if local:
        return local
    if environ.get("PRE_COMMIT") == "1":
        return "HEAD"
    raise UsageError("--pre-push needs PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF "
                     "(run it from pre-commit's pre-push stage, or use --history RANGE)")


def _load_config(args, root):
    from keyguard.config import load_config
    return load_config(root or Path.cwd(), explicit=args.config)


def _load_baseline(args, config, root):
    from keyguard.baseline import load_baseline
    name = args.baseline or config.baseline
    path = Path(name) if os.path.isabs(name) or args.baseline else (root or Path.cwd()) / name
    baseline = load_baseline(path)
    if baseline is None and args.baseline:
        from keyguard.errors import UsageError
        raise UsageError(f"{args.baseline}: baseline file not found")
    return baseline


def _act(args, findings):
    """--verify / --revoke through the FluxLoop API."""
    from keyguard.fluxloop.actions import act_on_findings
    return act_on_findings(findings, args)


def _write(report, args) -> None:
    from keyguard.report.interface import ReportOptions, write_report
    options = ReportOptions(show_secrets=args.show_secrets, verbose=args.verbose,
                            color=False if os.environ.get("NO_COLOR") else None)
    write_report(report, args.format, args.output, options)
    if args.output and not args.quiet:
        print(f"keyguard: {len(report.findings)} findings written to {args.output}", file=sys.stderr)
