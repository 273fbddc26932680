"""The pre-receive hook's flow: read the push, scan what it adds, accept or refuse it.

Policy comes from the server only: ``--config FILE`` (excludes, allowed
fingerprints, ``fail-on``, extra rules) and ``--baseline FILE``; nothing in the
pushed content (a pushed ``.keyguard.toml`` is just a file being pushed).
No network call is made unless the server passes ``--verify``/``--revoke``.

Everything the pusher sees goes to stderr, which git relays as ``remote:``
lines: a short refusal naming commit, path, line and the redacted key of at
most ``SHOWN`` findings, and how to rewrite the commits. Never a full key.

Time budget: ``--timeout`` seconds (default 4, declared with ``scan``'s options: GitHub
Enterprise Server gives all pre-receive hooks of a push 5 s together). When it
runs out the scan stops (its git children are stopped with it) and
``--on-timeout`` decides: ``closed`` (default) refuses the push, ``open``
accepts it with a warning. The break-glass option also lets a timed-out push
through (logged as unchecked).

Exit codes (git refuses the push on any non-zero): 0 accepted, 1 refused
(keys found, or the budget ran out with ``--on-timeout closed``, or a
break-glass request that cannot be honoured), 2 the hook is misconfigured or
not run as a hook (the push is refused too).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from keyguard.errors import EXIT_CLEAN, EXIT_FINDINGS, KeyguardError

SHOWN = 10
"""At most this many findings are listed in the refusal (the remote: channel is for short text)."""


class _OutOfTime(BaseException):
    """Raised by the alarm when the time budget is spent (BaseException: no handler swallows it)."""


def run_pre_receive(args, act=None) -> int:
    """The hook; returns its exit code.

    ``act(findings) -> findings`` verifies (and with ``--revoke`` revokes) the found keys;
    the command hands in its shared step (``commands.common.verify_and_revoke``), so
    this module imports no command. It is called only with ``--verify``/``--revoke``.
    """
    from keyguard.config import Config, load_config
    from keyguard.receive import breakglass
    from keyguard.git import repo as grepo
    from keyguard.sources.push import parse_updates

    if args.paths:
        raise KeyguardError("--pre-receive takes no PATH (git gives the ref updates on stdin)")
    updates = parse_updates(sys.stdin.read())
    root = grepo.git_dir(Path(args.repo) if args.repo else Path.cwd())
    config = load_config(root, explicit=args.config) if args.config else Config()
    reason = breakglass.requested_reason()
    out = sys.stderr

    started = time.monotonic()
    try:
        with _budget(args.timeout):
            report, detector = _scan(args, root, updates, config, act)
    except _OutOfTime:
        spent = time.monotonic() - started
        if reason is not None:
            return _break_glass(args, root, updates, [], reason, None, unchecked=True)
        if args.on_timeout == "open":
            print(f"keyguard: warning: push not fully checked for FluxLoop keys within {spent:.1f} s; "
                  f"accepted (server policy: --on-timeout open)", file=out)
            return EXIT_CLEAN
        print(f"keyguard: push refused: it could not be checked for FluxLoop keys within {spent:.1f} s "
              f"(server policy: --on-timeout closed). Push fewer commits at a time, or ask an "
              f"administrator.", file=out)
        return EXIT_FINDINGS

    from keyguard.model import Severity
    fail_on = args.fail_on or Severity.parse(config.fail_on)
    blocking = [f for f in report.findings if f.severity.rank >= fail_on.rank]
    if not blocking:
        if not args.quiet and report.findings:
            print(f"keyguard: {len(report.findings)} finding(s) below the server's fail-on "
                  f"({fail_on.value}); push accepted", file=out)
        return EXIT_CLEAN
    if reason is not None:
        return _break_glass(args, root, updates, blocking, reason, detector)
    print(refusal(blocking, allow_enabled=bool(args.allow_log)), file=out, end="")
    return EXIT_FINDINGS


def _scan(args, root: Path, updates, config, act):
    """Collect the push's findings under the server's policy (and verify when configured)."""
    from keyguard.baseline import load_baseline
    from keyguard.errors import UsageError
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    from keyguard.scan import ScanPolicy, collect
    from keyguard.sources.push import PushSource

    detector = Detector(load_rules([*config.rule_paths, *[Path(r) for r in args.rules]]))
    baseline = load_baseline(Path(args.baseline)) if args.baseline else None  # the server's file only
    if args.baseline and baseline is None:
        raise UsageError(f"{args.baseline}: baseline file not found")
    policy = ScanPolicy(exclude=config.exclude, allow=config.allow, baseline=baseline)
    report = collect(PushSource(root, updates), detector, policy)
    if (args.verify or args.revoke) and report.findings:
        report.findings = act(report.findings)
    return report, detector


class _budget:
    """A wall-clock budget: raises ``_OutOfTime`` in the main thread when ``seconds`` pass."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        if self.seconds and self.seconds > 0:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    @staticmethod
    def _expire(signum, frame):
        raise _OutOfTime()

    def __exit__(self, *exc):
        if self.seconds and self.seconds > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def refusal(findings, allow_enabled: bool) -> str:
    """The short message the pusher sees (through ``remote:``)."""
    from keyguard.report.summary import short_commit

    n = len(findings)
    lines = [f"keyguard: push refused: {n} FluxLoop key{'s' if n != 1 else ''} in the pushed commits"]
    for f in findings[:SHOWN]:
        commit = short_commit(f.provenance.commit) if f.provenance else "?"
        lines.append(f"  commit {commit}  {f.path}:{f.line}  {f.redacted}  ({f.rule_id})")
    if n > SHOWN:
        lines.append(f"  ...and {n - SHOWN} more")
    lines += [
        "A pushed key is a leaked key: rotate it. Then take it out of the commits:",
        "  in the last commit:   remove it, git add, git commit --amend",
        "  in older commits:     git rebase -i <commit>~1  (mark it 'edit', remove the key, continue)",
        "  across many commits:  git filter-repo --replace-text <file listing the key>",
    ]
    if any(f.provenance and f.provenance.kind == "tag-message" for f in findings):
        lines.append("  in a tag message:     git tag -f -a <tag> <commit> (a new message)")
    lines += ["and push again."]
    if allow_enabled:
        lines.append('False positive? git push -o keyguard-allow="<reason>" (logged on the server)')
    return "\n".join(lines) + "\n"


def _break_glass(args, root: Path, updates, findings, reason: str, detector, unchecked: bool = False) -> int:
    """Let the push through and log it, or refuse when break-glass is not possible."""
    from keyguard.receive import breakglass

    out = sys.stderr
    if not args.allow_log:
        print("keyguard: push refused: break-glass (-o keyguard-allow) is not enabled on this server",
              file=out)
        if findings:
            print(refusal(findings, allow_enabled=False), file=out, end="")
        return EXIT_FINDINGS
    if not reason:
        print('keyguard: push refused: give a reason: git push -o keyguard-allow="<why this is safe>"',
              file=out)
        return EXIT_FINDINGS
    if detector is None:
        from keyguard.detect.detector import Detector
        from keyguard.detect.rulepack import load_rules
        detector = Detector(load_rules())
    try:
        breakglass.log_use(args.allow_log, reason=breakglass.clean_reason(reason, detector),
                           repository=str(root), updates=updates, findings=findings, unchecked=unchecked)
    except OSError as exc:
        print(f"keyguard: push refused: the break-glass log cannot be written "
              f"({exc.strerror or exc}); tell the server's administrator", file=out)
        return EXIT_FINDINGS
    what = "unchecked push" if unchecked else f"{len(findings)} key(s)"
    print(f"keyguard: break-glass: {what} let through; recorded with your reason for review", file=out)
    for f in findings[:SHOWN]:
        print(f"  {f.path}:{f.line}  {f.redacted}  - rotate this key if it is real", file=out)
    return EXIT_CLEAN

