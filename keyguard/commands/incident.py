"""``keyguard incident KEY``: a leaked key from start to finish.

Wiring only: read the key (stdin, a terminal prompt, the argument) or a
``kg1:`` fingerprint, then ``keyguard.incident``: locate it everywhere, identify
it through the API (unless ``--offline``), revoke it if live (confirmed unless
``--yes``), write ``incident.md``/``incident.json`` and the filter-repo
replacement file into the output directory, print the summary and the purge
plan, and with ``--purge`` rewrite a fresh mirror clone and re-scan it.
Exit 0: handled (revoked, or not live); 1: live or unknown and not revoked,
or the purge left the key behind; 2: usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


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
    from keyguard.fluxloop.options import add_api_options
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


def _confirm(from_stdin: bool, prompt: str):
    """A function asking ``prompt`` on the terminal (stdin, else /dev/tty); None with no terminal."""
    if sys.stdin is not None and sys.stdin.isatty() and not from_stdin:
        def ask() -> bool:
            try:
                return input(prompt).strip().lower() in ("y", "yes")
            except EOFError:
                return False
        return ask
    if sys.stderr.isatty() and os.path.exists("/dev/tty"):
        def ask_tty() -> bool:
            try:
                with open("/dev/tty", "r+", encoding="utf-8") as tty:
                    tty.write(prompt)
                    tty.flush()
                    return tty.readline().strip().lower() in ("y", "yes")
            except OSError:
                return False
        return ask_tty
    return None


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"keyguard: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Handle the incident; exit 0 handled, 1 not handled, 2 usage."""
    from keyguard.errors import ApiError, KeyguardError, UsageError
    from keyguard.git import repo as grepo
    from keyguard.incident import identify, purge, timeline
    from keyguard.report import incident as report
    from keyguard.incident.candidates import find_secret, is_fingerprint
    from keyguard.incident.facts import Incident
    from keyguard.incident.ledger import Ledger
    from keyguard.incident.locate import locate
    from keyguard.incident.revoke import DONE, recorded, revoke_if_live
    from keyguard.model import Revocation
    from keyguard.detect.rulepack import load_rules
    from keyguard.redact import fingerprint, redact, scrub

    if args.yes and args.no_revoke:
        raise UsageError("--yes and --no-revoke contradict each other")
    value, from_stdin = _read_key(args)
    cwd = Path(args.repo) if args.repo else Path.cwd()
    if args.repo and not cwd.is_dir():
        raise UsageError(f"--repo {args.repo}: not a directory")
    root = grepo.require_repo(cwd)
    bare = grepo.is_bare(root)
    git_dir = grepo.common_dir(root)
    if args.purge and purge.find_filter_repo() is None:
        raise purge.FilterRepoMissing(purge.INSTALL_HINT)

    if is_fingerprint(value):
        fp = value.strip().lower()
        _say(args, f"looking for the key with fingerprint {fp} (every object and file)...")
        found = find_secret(root, fp)
        if found is None:
            raise KeyguardError(f"no key with fingerprint {fp} is in this repository (objects, reflogs, "
                                "working tree); pass the key itself on stdin")
        secret = found
    else:
        _check_value(value)
        secret = value
        if args.key not in (None, "-"):
            _say(args, "the key was given as an argument: it may now be in your shell history; "
                       "pass it on stdin next time")
        fp = fingerprint(secret)
    load_rules()  # redaction shows the key prefixes the rules define
    shown = redact(secret)
    out_dir = _output_dir(args, root, git_dir, bare)
    if args.purge and (out_dir / "mirror.git").exists():
        raise UsageError(f"{out_dir / 'mirror.git'} already exists: remove it or choose another --output-dir")

    # 1. where it is
    location = locate(root, secret)

    # 2. what it is
    if args.offline:
        ident = identify.offline()
        client = None
    else:
        try:
            from keyguard.fluxloop.options import client_from_args
            client = client_from_args(args, require_operator=False)
            ident = identify.identify(client, secret)
        except ApiError as exc:
            client = None
            ident = identify.unavailable(str(exc))

    # 3. revoke it
    ledger = Ledger(git_dir / "keyguard" / "revocations.json")
    v = ident.verification
    if client is None or args.no_revoke:
        revocation = recorded(ledger, fp)
        if revocation is None and args.no_revoke and v.status == "live":
            revocation = Revocation("declined", reason="--no-revoke")
    else:
        key_desc = f"{shown} (id {v.key_id}, '{v.name}', tenant {v.tenant})"
        revocation = revoke_if_live(client, secret, fp, ident, ledger, yes=args.yes,
                                    confirm=_confirm(from_stdin, f"Revoke the live key {key_desc} now? [y/N] "))

    # 4./5. report and purge plan
    warnings: list[str] = []
    has_history = any(report.needs_rewrite(o) for o in location.occurrences)
    repl_path = out_dir / "replacements.txt"
    cmds: tuple[str, ...] = ()
    remote = ""
    if has_history:
        purge.write_replacements(repl_path, purge.replacement_lines(secret, location))
        remote = grepo.remote_url(root)
        cmds = tuple(purge.commands(root, remote, repl_path, fp))
    purged = None
    if args.purge:
        if has_history:
            _say(args, "rewriting a fresh mirror clone with git filter-repo (your repository is not touched)...")
            purged = purge.run_purge(root, secret, repl_path, out_dir / "mirror.git")
        else:
            warnings.append("--purge: the key is in no commit, tag or object; nothing to rewrite")

    off = revocation is not None and revocation.outcome in DONE
    anomaly = off and v.status == "live" and revocation is not None and "earlier" in revocation.reason
    handled = (off and not anomaly) or v.status in ("invalid", "expired", "revoked")
    exit_code = 0 if handled and (purged is None or purged.clean) else 1
    tl = timeline.build(location, ident, revocation)
    inc = Incident(
        redacted=shown, fingerprint=fp, repository=str(root), location=location, identification=ident,
        revocation=revocation, timeline=tl, output_dir=str(out_dir),
        replacements_file=str(repl_path) if has_history else "", purge_commands=cmds, remote_url=remote,
        purge=purged, remediation=report.remediation(location, ident, revocation, tl, has_history),
        warnings=tuple(warnings), exit_code=exit_code)
    report.write_files(out_dir, inc, secret)
    sys.stdout.write(scrub(report.to_text(inc, verbose=args.verbose), [secret]))
    sys.stdout.flush()
    return exit_code
