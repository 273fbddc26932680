"""``keyguard incident KEY``: a leaked key from start to finish.

Wiring only: read the key (stdin, a terminal prompt, the argument) or a
``kg1:`` fingerprint, check that the output directory and the ledger's folder
can be written, build the API client (unless ``--offline``), then hand over to
``keyguard.incident.respond`` (locate, identify, revoke if live, purge plan,
reports) and print the summary. The prompts live here.
Exit 0: handled (revoked, or not live); 1: live or unknown and not revoked,
or the purge left the key behind; 2: usage; 5: revoked, then a step failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from keyguard.sanitize import clean_lines


def register(p: argparse.ArgumentParser) -> None:
    """Add ``incident``'s arguments."""
    p.add_argument("key", nargs="?", metavar="KEY",
                   help="the leaked key, or a finding fingerprint (kg1:...); '-' or nothing reads it from "
                        "stdin (safer: an argument lands in your shell history)")
    p.add_argument("--repo", metavar="DIR", help="the repository (default: the current directory)")
    p.add_argument("--output-dir", metavar="DIR",
                   help="where incident.md, incident.json and replacements.txt go "
                        "(default: .git/keyguard/incident-<UTC time>/; never inside the working tree)")
    act = p.add_argument_group("actions")
    act.add_argument("--offline", action="store_true",
                     help="do not call the FluxLoop API (status and usage are then 'unknown')")
    act.add_argument("--yes", action="store_true", help="revoke a live key without asking")
    act.add_argument("--no-revoke", action="store_true", help="identify the key but never revoke it")
    act.add_argument("--purge", action="store_true",
                     help="run git filter-repo on a fresh mirror clone (in the output directory) and "
                          "re-scan it; your repository is not touched; needs git-filter-repo")
    api = p.add_argument_group("FluxLoop API")
    from keyguard.commands.common import add_api_options
    add_api_options(api)


def _read_key(args: argparse.Namespace) -> tuple[str, bool]:
    """``(value, from_stdin)``: the key or fingerprint, from the argument, stdin or a hidden prompt."""
    from keyguard.errors import UsageError

    if args.key not in (None, "-"):
        return args.key.strip(), False
    if sys.stdin is None:
        raise UsageError("no key given: pass it on stdin (or as an argument)")
    if sys.stdin.isatty():
        import getpass
        try:
            value = getpass.getpass("Leaked key (not echoed): ")
        except EOFError:
            value = ""
        return value.strip(), False
    text = sys.stdin.read(1 << 16)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        raise UsageError("expected one key on stdin, got several lines")
    return (lines[0] if lines else ""), True


def _check_value(value: str) -> None:
    from keyguard.errors import UsageError

    if not value:
        raise UsageError("no key given: pass it on stdin (echo ... | keyguard incident) or as an argument")
    if any(c.isspace() for c in value):
        raise UsageError("expected one key (no spaces)")
    if len(value) < 16:
        raise UsageError(f"that is too short to be a FluxLoop key ({len(value)} characters); "
                         "searching for it would match unrelated text")


def _output_dir(args: argparse.Namespace, root: Path, git_dir: Path, bare: bool) -> Path:
    """The output directory: the user's (never inside the working tree) or a fresh one under .git."""
    from datetime import datetime, timezone

    from keyguard.errors import UsageError

    if args.output_dir:
        out = Path(args.output_dir).expanduser().resolve()
        if not bare and out.is_relative_to(root.resolve()) and not out.is_relative_to(git_dir.resolve()):
            raise UsageError(f"--output-dir {args.output_dir}: inside the working tree; the replacement file "
                             "holds the secret, so choose a place outside it (default: .git/keyguard/)")
        return out
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = git_dir / "keyguard" / f"incident-{stamp}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _confirm(from_stdin: bool):
    """A function asking a yes/no question on the terminal (stdin, else /dev/tty); None with no terminal."""
    if sys.stdin is not None and sys.stdin.isatty() and not from_stdin:
        def ask(prompt: str) -> bool:
            try:
                return input(prompt).strip().lower() in ("y", "yes")
            except EOFError:
                return False
        return ask
    if sys.stderr.isatty() and os.path.exists("/dev/tty"):
        def ask_tty(prompt: str) -> bool:
            try:
                with open("/dev/tty", "r+", encoding="utf-8") as tty:
                    tty.write(clean_lines(prompt))
                    tty.flush()
                    return tty.readline().strip().lower() in ("y", "yes")
            except OSError:
                return False
        return ask_tty
    return None


def run(args: argparse.Namespace) -> int:
    """Handle the incident; exit 0 handled, 1 not handled, 2 usage, 5 revoked and then failed."""
    import shutil

    from keyguard.commands.common import check_writable_dir, say
    from keyguard.errors import GitError, UsageError
    from keyguard.detect.rulepack import load_rules
    from keyguard.git import repo as grepo
    from keyguard.incident import purge
    from keyguard.incident.respond import Request, respond
    from keyguard.redact import remember, scrub
    from keyguard.report import incident as report

    if args.yes and args.no_revoke:
        raise UsageError("--yes and --no-revoke contradict each other")
    value, from_stdin = _read_key(args)
    cwd = Path(args.repo) if args.repo else Path.cwd()
    if args.repo and not cwd.is_dir():
        raise UsageError(f"--repo {args.repo}: not a directory")
    if shutil.which("git") is None:
        raise GitError("git is not installed or not on PATH (keyguard incident reads the repository with it)")
    root = grepo.require_repo(cwd)
    git_dir = grepo.common_dir(root)
    if args.purge and purge.find_filter_repo() is None:
        raise purge.FilterRepoMissing(purge.INSTALL_HINT)
    secret = _secret(args, root, value)
    remember(secret)
    load_rules()  # redaction shows the key prefixes the rules define
    out_dir = _output_dir(args, root, git_dir, grepo.is_bare(root))
    if args.purge and (out_dir / "mirror.git").exists():
        raise UsageError(f"{out_dir / 'mirror.git'} already exists: remove it or choose another --output-dir")
    check_writable_dir(out_dir, "--output-dir")  # before anything is done
    if not (args.offline or args.no_revoke):
        check_writable_dir(git_dir / "keyguard", "the revocation ledger's folder")

    client, ident = _client(args)
    inc = respond(secret, Request(root, git_dir, out_dir, no_revoke=args.no_revoke, yes=args.yes, purge=args.purge),
                  client=client, writer=report, ident=ident, say=lambda text: say(args, text),
                  confirm=_confirm(from_stdin))
    sys.stdout.write(clean_lines(scrub(report.to_text(inc, verbose=args.verbose), [secret])))
    sys.stdout.flush()
    if inc.location.stat("shallow"):  # the count covers part of history: said on stderr too
        from keyguard.git.repo import SHALLOW_WARNING
        print(f"keyguard: warning: {SHALLOW_WARNING}", file=sys.stderr)
    return inc.exit_code


def _secret(args: argparse.Namespace, root: Path, value: str) -> str:
    """The secret: ``value`` itself, or the key a ``kg1:`` fingerprint names (searched for in the repository)."""
    from keyguard.commands.common import say
    from keyguard.errors import KeyguardError
    from keyguard.incident.candidates import find_secret, is_fingerprint

    if is_fingerprint(value):
        fp = value.strip().lower()
        say(args, f"looking for the key with fingerprint {fp} (every object and file)...")
        found = find_secret(root, fp)
        if found is None:
            raise KeyguardError(f"no key with fingerprint {fp} is in this repository (objects, reflogs, "
                                "working tree); pass the key itself on stdin")
        return found
    _check_value(value)
    if args.key not in (None, "-"):
        from keyguard.commands.common import warn_key_on_command_line
        warn_key_on_command_line("the key", "it may also be in your shell history; pass it on stdin "
                                            "(keyguard incident - < FILE) or give its fingerprint")
    return value


def _client(args: argparse.Namespace):
    """``(client, None)``, or ``(None, identification)`` when offline or the API cannot be used at all."""
    from keyguard.commands.common import api_client
    from keyguard.errors import ApiError
    from keyguard.incident import identify

    if args.offline:
        return None, identify.offline()
    try:
        return api_client(args, require_operator=False), None
    except ApiError as exc:
        return None, identify.unavailable(str(exc))
