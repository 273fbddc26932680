"""Steps several commands share (not a command itself): options, loading, prompts, messages.

The API options every API-using command takes and the client built from them
(credential warnings and "still waiting" lines go to stderr here: the
``fluxloop`` library prints nothing); config and baseline loading; the command
line as reports show it (secrets out); checking that an output can be written
before anything is done; the revoke confirmation on a terminal and the one
line per key acted on. Nothing but ``os``, ``sys`` and ``pathlib`` is imported at
top level (not even argparse: the pre-commit hook's arguments are not parsed by
it, see ``keyguard.cli``), so registering a command stays cheap.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing and argparse are not imported on the pre-commit path
if TYPE_CHECKING:
    import argparse

DEFAULT_API_DEADLINE = 120.0
"""Seconds all API work of one run may take (``--api-deadline``)."""


# -- small argparse types ----------------------------------------------------------------
def bounded(cast, low, high, unit: str, *, low_open: bool = False):
    """An argparse type: ``cast(text)`` within ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    def parse(text: str):
        from argparse import ArgumentTypeError

        from keyguard.redact import shown_value
        try:
            value = cast(text)
        except ValueError:
            raise ArgumentTypeError(f"expected {unit}, got {shown_value(text)!r}") from None
        if value < low or value > high or (low_open and value == low):
            raise ArgumentTypeError(f"expected {unit} from {low}{' (exclusive)' if low_open else ''} "
                                             f"to {high}")
        return value
    return parse


def severity_arg(text: str):
    """argparse type for a severity name."""
    from argparse import ArgumentTypeError

    from keyguard.model import Severity
    from keyguard.redact import shown_value
    try:
        return Severity.parse(text)
    except ValueError:
        raise ArgumentTypeError(f"unknown severity {shown_value(text)!r} (choose from "
                                         f"{', '.join(s.value for s in Severity)})") from None


def hygiene_severity_arg(text: str):
    """argparse type for a severity name or ``none`` (None: never fail)."""
    if text.strip().lower() == "none":
        return None
    return severity_arg(text)


_seconds = bounded(float, 0, 600, "seconds", low_open=True)
_run_seconds = bounded(float, 0, 86400, "seconds", low_open=True)
_attempts = bounded(int, 1, 20, "a whole number of attempts")


# -- the FluxLoop API ----------------------------------------------------------------------
def add_api_options(parser) -> None:
    """Add the operator-credential and connection options (a parser or an argument group)."""
    parser.add_argument("--api-key", metavar="KEY",
                        help="operator credential (else FLUXLOOP_API_KEY, FLUXLOOP_TOKEN, then "
                             "~/.fluxloop/credentials); visible in shell history, prefer the environment")
    parser.add_argument("--profile", metavar="NAME",
                        help="profile of ~/.fluxloop/credentials (else FLUXLOOP_PROFILE, else the "
                             "file's default_profile, else 'default')")
    parser.add_argument("--api-endpoint", metavar="URL",
                        help="API base URL (else FLUXLOOP_API_ENDPOINT, else the profile's, "
                             "else https://api.fluxloop.ai)")
    parser.add_argument("--api-timeout", metavar="SECONDS", type=_seconds, default=None,
                        help="longest one API request may take in all, not per read (default: 10)")
    parser.add_argument("--api-retries", metavar="N", type=_attempts, default=None,
                        help="attempts per API request on 5xx, 429, resets and timeouts (default: 4)")
    parser.add_argument("--api-deadline", metavar="SECONDS", type=_run_seconds, default=None,
                        help=f"longest all API work of this run may take, retries included "
                             f"(default: {DEFAULT_API_DEADLINE:g})")


def api_client(args: argparse.Namespace, *, require_operator: bool = True):
    """A ``FluxLoopClient`` from parsed options; CredentialError now if an operator is required and absent.

    With ``require_operator=False`` (verifying found keys needs no operator) a
    missing or broken credential is kept on the client and raised only when an
    operator call is made. Credential warnings go to stderr; so do "still
    waiting" lines (unless ``--quiet``).
    """
    from dataclasses import replace

    from keyguard.fluxloop.client import FluxLoopClient, RetryPolicy
    from keyguard.fluxloop.credentials import resolve
    from keyguard.fluxloop.deadline import Deadline
    from keyguard.redact import remember

    if getattr(args, "api_key", None):
        warn_key_on_command_line("--api-key", "set FLUXLOOP_API_KEY in the environment or use a "
                                              "profile of ~/.fluxloop/credentials instead")
    settings = resolve(api_key=getattr(args, "api_key", None), profile=getattr(args, "profile", None),
                       api_endpoint=getattr(args, "api_endpoint", None))
    if settings.credential is not None:
        remember(settings.credential.token)
    for w in settings.warnings:
        warn(w)
    if require_operator and settings.credential is None:
        raise settings.error  # type: ignore[misc]  # resolve() always sets one of the two
    policy = RetryPolicy()
    timeout = getattr(args, "api_timeout", None)
    retries = getattr(args, "api_retries", None)
    if timeout is not None or retries is not None:
        policy = replace(policy, timeout=timeout or policy.timeout, max_attempts=retries or policy.max_attempts)
    deadline = Deadline(getattr(args, "api_deadline", None) or DEFAULT_API_DEADLINE)
    notify = None if getattr(args, "quiet", False) else (lambda text: say(args, text))
    return FluxLoopClient.from_settings(settings, policy, deadline=deadline, notify=notify)


# -- messages --------------------------------------------------------------------------------
def say(args: argparse.Namespace, text: str) -> None:
    """``keyguard: text`` on stderr unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        from keyguard.redact import scrub_all
        from keyguard.sanitize import clean
        print(f"keyguard: {clean(scrub_all(text))}", file=sys.stderr, flush=True)


def warn(text: str) -> None:
    """``keyguard: warning: text`` on stderr."""
    from keyguard.redact import scrub_all
    from keyguard.sanitize import clean
    print(f"keyguard: warning: {clean(scrub_all(text))}", file=sys.stderr, flush=True)


def warn_key_on_command_line(what: str, instead: str) -> None:
    """Say on stderr that a key given as an argument is readable by other local users (``ps``)."""
    warn(f"{what} was given on the command line, where other users of this machine can read it "
         f"(ps, /proc); {instead}")


def safe_argv(argv: list[str]) -> list[str]:
    """The arguments as reports may show them: ``--api-key``'s value removed, key-shaped values redacted."""
    from keyguard.redact import shown_value

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
            out.append(shown_value(a, limit=400))
    return out


def command_line(name: str) -> str:
    """``keyguard <name> <arguments>`` with secrets removed (for the reports' ``command``)."""
    return f"keyguard {name} " + " ".join(safe_argv(sys.argv[2:]))


# -- what to scan ----------------------------------------------------------------------------

def make_source(args, cwd: Path):
    """The source for the chosen mode and the repository root (None outside a repo)."""
    from keyguard.errors import GitError, UsageError
    from keyguard.git import repo as grepo

    if args.stdin:
        from keyguard.sources.stdin import StdinSource
        if args.paths:
            raise UsageError("--stdin takes no PATH")
        try:  # only to find the config: text on stdin needs no git (nor a repository)
            root = grepo.find_root(cwd)
        except GitError:
            root = None
        return StdinSource(sys.stdin.buffer), root
    if args.staged:
        from keyguard.sources.staged import StagedSource
        root = grepo.plain_top(cwd) or grepo.require_root(cwd)
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
        history = HistorySource(root, rev_range=rev_range, since=args.since, progress=progress,
                                include_unreachable=getattr(args, "include_unreachable", False))
        if rev_range is None and args.since is None:  # the full history: each submodule's too
            from keyguard.sources.submodules import WithSubmodules
            return WithSubmodules(history), root
        return history, root
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


# -- config and baseline ---------------------------------------------------------------------
def add_outputs(group, sarif: str, json: str, markdown: str) -> None:
    """``--sarif``, ``--json`` and ``--markdown`` with these default paths (audit, report merge)."""
    group.add_argument("--sarif", metavar="FILE", default=sarif,
                       help=f"SARIF file for code scanning (default: {sarif})")
    group.add_argument("--json", metavar="FILE", default=json, help=f"JSON report (default: {json})")
    group.add_argument("--markdown", metavar="FILE", default=markdown,
                       help=f"Markdown summary (default: {markdown}; also appended to "
                            "$GITHUB_STEP_SUMMARY when set)")


def load_config(args, root):
    """The config of ``root`` (or ``--config``); none from the repository with ``--no-repo-config``."""
    from keyguard.config import Config, load_config as load
    if getattr(args, "no_repo_config", False) and not args.config:
        return Config()
    return load(root or Path.cwd(), explicit=args.config)


def state_policy(report, args, config, root, baseline, *, check_excludes: bool) -> None:
    """Record the policy applied on the report; warn when the excludes hide most files."""
    from keyguard.policy import describe, exclude_warning
    report.policy = describe(args, config, root, str(baseline.path) if baseline is not None else None)
    if check_excludes:
        warning = exclude_warning(root, config.exclude)
        if warning:
            report.warnings.append(warning)


def baseline_path(args, config, root) -> Path | None:
    """The baseline file: ``--baseline`` as given, else the config's, kept inside the repository.

    None with ``--no-repo-config`` and no ``--baseline`` (a committed baseline is content too).
    """
    if args.baseline:
        return Path(args.baseline)
    if getattr(args, "no_repo_config", False):
        return None
    from keyguard.errors import ConfigError
    base = root or Path.cwd()
    path = base / config.baseline
    try:
        path.resolve().relative_to(Path(base).resolve())
    except ValueError:
        raise ConfigError(f"baseline {config.baseline}: leads outside the repository (a symbolic link?); "
                          f"refusing to read or write it") from None
    return path


def load_baseline(args, config, root):
    """The baseline (``baseline_path``); None when absent."""
    from keyguard.baseline import load_baseline as load
    path = baseline_path(args, config, root)
    if path is None:
        return None
    baseline = load(path)
    if baseline is None and args.baseline:
        from keyguard.errors import UsageError
        raise UsageError(f"{args.baseline}: baseline file not found")
    return baseline


# -- outputs -----------------------------------------------------------------------------------
def check_writable(path: str | Path, what: str) -> None:
    """UsageError unless a file can be created at ``path`` (checked by creating and removing a temp file)."""
    import tempfile

    from keyguard.errors import UsageError

    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{what} {path}: is a directory")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-check-", dir=folder)
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot write there ({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    os.unlink(tmp)


def check_writable_dir(path: str | Path, what: str) -> None:
    """UsageError unless ``path`` is (or can be made) a folder keyguard can write files into."""
    import tempfile

    from keyguard.errors import UsageError

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".keyguard-check-", dir=folder)
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot create it or write into it "
                         f"({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    os.unlink(tmp)


# -- verifying and revoking found keys ----------------------------------------------------------
def describe_key(f) -> str:
    """``flux_prod_abcd…wxyz (key_123 'CI/CD Pipeline', tenant acme)`` without the secret."""
    from keyguard.redact import redact

    v = f.verification
    if v is None or not v.key_id:
        return f.redacted or redact(f.secret)
    from keyguard.sanitize import clean

    name = f" '{v.name}'" if v.name else ""
    return clean(f"{f.redacted or redact(f.secret)} ({v.key_id}{name}, tenant {v.tenant})")


def terminal_confirm(keys, stream=None) -> bool:
    """Ask on the terminal whether to revoke ``keys`` (findings); False when stdin is not a terminal."""
    stream = stream or sys.stderr
    if not sys.stdin or not sys.stdin.isatty():
        print("keyguard: not revoking: no terminal to confirm on (pass --yes)", file=stream)
        return False
    print(f"keyguard: {len(keys)} live key{'s' if len(keys) != 1 else ''} to revoke:", file=stream)
    for f in keys:
        print(f"  {describe_key(f)}", file=stream)
    return ask_yes(stream, "Revoke now? Systems using them will stop working. [y/N] ")


def ask_yes(stream, prompt: str) -> bool:
    """Write ``prompt`` to ``stream`` and read a yes/no answer from stdin (EOF: no)."""
    stream.write(prompt)
    stream.flush()
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def verify_and_revoke(findings, args, *, revoke: bool = False, ledger=None):
    """``--verify`` (and with ``revoke``, ``--revoke``): the findings with what the API said and did.

    No operator credential is needed to verify (each found key is its own
    bearer). Revoking asks on a terminal unless ``--yes``; ``--dry-run`` only
    says what would happen. One line per key acted on goes to stderr. Keys that
    are off (revoked, expired, revoked now) drop to ``info``. With a ``ledger``
    (``keyguard.incident.ledger``), keys revoked now are recorded in it and its
    times say when earlier ones were revoked; a ledger that cannot be written
    after a revoke is a ``PartlyDone`` saying what was done.
    """
    from keyguard.errors import PartlyDone
    from keyguard.fluxloop.revoke import revoke_findings
    from keyguard.fluxloop.verify import settle_inactive, verify_findings
    from keyguard.redact import remember

    for f in findings:
        remember(f.secret)
    client = api_client(args, require_operator=False)
    findings = verify_findings(findings, client)
    if revoke:
        confirm = None if getattr(args, "yes", False) else terminal_confirm
        findings = revoke_findings(findings, client, confirm=confirm,
                                   dry_run=bool(getattr(args, "dry_run", False)))
        seen: set[str] = set()
        for f in findings:
            r = f.revocation
            if r is None or f.secret in seen:
                continue
            seen.add(f.secret)
            how = f" via {r.via}" if r.via else ""
            why = f": {r.reason}" if r.reason and not r.off else ""
            say(args, f"{r.outcome.replace('_', ' ')}{how}: {describe_key(f)}{why}")
    revoked_at: dict[str, str] = {}
    if ledger is not None:
        try:
            _record_revocations(findings, ledger)
        except PartlyDone as exc:
            exc.findings = settle_inactive(findings)  # what was done, for the reports
            raise
        for f in findings:
            e = ledger.get(f.fingerprint)
            if e is not None:
                revoked_at[f.fingerprint] = e.revoked_at
    return settle_inactive(findings, revoked_at)


def _record_revocations(findings, ledger) -> None:
    from keyguard.errors import KeyguardError, PartlyDone
    from keyguard.incident.ledger import Entry
    from keyguard.model import REVOKED

    done = {}
    for f in findings:
        r, v = f.revocation, f.verification
        if r is not None and r.outcome == REVOKED and f.fingerprint not in done:
            done[f.fingerprint] = Entry(f.fingerprint, r.at, v.key_id if v else "", v.tenant if v else "",
                                        r.via, r.outcome)
    try:
        for entry in done.values():
            ledger.record(entry)
    except (OSError, KeyguardError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise PartlyDone(f"the revocation ledger {ledger.path} could not be written ({why}); "
                         f"{done_so_far(findings)}") from None


def done_so_far(findings) -> str:
    """What was done in this run that cannot be undone (keys revoked), as one clause; "" if nothing."""
    from keyguard.model import REVOKED

    seen, parts = set(), []
    for f in findings:
        r = f.revocation
        if r is not None and r.outcome == REVOKED and f.fingerprint not in seen:
            seen.add(f.fingerprint)
            parts.append(f"{describe_key(f)} at {r.at}")
    return ("already done: revoked " + "; ".join(parts)) if parts else ""
