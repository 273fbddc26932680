"""The ``keyguard`` command: argument wiring only.

Each sub-command lives in ``keyguard.commands.<name>`` and exposes
``register(parser)`` (adds its arguments) and ``run(args) -> int``. Only the
module of the command being run is imported, so ``keyguard scan --staged``
(the pre-commit path) never pays for the API client or the report writers it
does not use. Expected failures are ``KeyguardError``s: one line on stderr and
their exit code; ``--debug`` also shows the traceback, every known secret and
key-shaped string in it redacted. SIGINT and SIGTERM unwind the run (children
stopped, temp files removed, no partial report) and exit 130 and 143.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from keyguard import __version__
from keyguard.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, KeyguardError, Terminated

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("keyguard.commands.scan", "find FluxLoop keys in staged changes, files, history or stdin"),
    "rules": ("keyguard.commands.rules", "list the rules or run their self-test"),
    "baseline": ("keyguard.commands.baseline", "record current findings so later scans report only new ones"),
    "whoami": ("keyguard.commands.whoami", "show which operator credential keyguard would use"),
    "keys": ("keyguard.commands.keys", "key hygiene report for the tenant (alias: hygiene)"),
    "revoke": ("keyguard.commands.revoke", "revoke one known key (argument or stdin)"),
    "audit": ("keyguard.commands.audit", "scheduled CI audit: history scan, verify, hygiene, reports"),
    "incident": ("keyguard.commands.incident", "leaked-key incident response for one key"),
    "report": ("keyguard.commands.report", "merge per-repository audit reports into one organisation report"),
}
ALIASES = {"hygiene": "keys"}


class _Formatter(argparse.HelpFormatter):
    """Help formatter that asks the terminal for its width directly.

    argparse's own default imports shutil (and with it bz2 and lzma) for every
    parser it builds, ~2 ms on each pre-commit run that never prints help.
    """

    def __init__(self, prog: str, **kwargs):
        if kwargs.get("width") is None:
            import os
            try:
                kwargs["width"] = max(40, os.get_terminal_size(sys.stdout.fileno()).columns - 2)
            except (OSError, ValueError):
                kwargs["width"] = 100
        super().__init__(prog, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one keyguard line and exit 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        from keyguard.redact import shown_value
        where = self.prog.partition(" ")[2]  # "keyguard scan" -> "scan"; the top level: ""
        text = shown_value(message, limit=400)
        raise KeyguardError(f"{where}: {text} (see --help)" if where else f"{text} (see --help)", EXIT_USAGE)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every command takes."""
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and the report")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show suppressed candidates and why")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the sub-command ``only`` gets its arguments (and its module imported)."""
    parser = _Parser(prog="keyguard",
                     description="Find FluxLoop API keys in git and keep the keys that exist healthy.")
    parser.add_argument("--version", action="version", version=f"keyguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        aliases = [a for a, target in ALIASES.items() if target == name]
        if name != only:  # listed for --help, but not imported
            sub.add_parser(name, help=help_text, aliases=aliases, add_help=False)
            continue
        p = sub.add_parser(name, help=help_text, aliases=aliases, description=help_text)
        add_common(p)
        importlib.import_module(module).register(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``keyguard`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    only = ALIASES.get(first, first) if first in COMMANDS or first in ALIASES else None
    debug = "--debug" in argv
    try:
        signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread (keyguard called as a library): leave signals alone
        pass
    try:
        parser = build_parser(only)
        args = parser.parse_args(argv)
        if not getattr(args, "_module", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        module = importlib.import_module(args._module)
        try:
            return int(module.run(args) or 0)
        finally:  # before any message below: a bar left drawn would swallow its line (Ctrl-C)
            bars = sys.modules.get("keyguard.progress")  # never imported just for this
            if bars is not None:
                bars.close_all()
    except KeyguardError as exc:
        if debug:
            _traceback()
        from keyguard.redact import scrub_all
        from keyguard.sanitize import clean
        print(f"keyguard: {clean(scrub_all(str(exc)))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: finish unwinding quietly
        terminated = isinstance(exc, Terminated)
        print(f"keyguard: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an unexpected failure: one line, no traceback
        if debug:
            _traceback()
        print(f"keyguard: internal error: {type(exc).__name__} (run again with --debug for details)",
              file=sys.stderr)
        return EXIT_USAGE


def _terminated(signum, frame):
    """SIGTERM handler: unwind like Ctrl-C, once (a second SIGTERM must not cut the cleanup short).

    Reader processes forked during a history scan inherit it: the parent's
    ``terminate()`` makes them unwind too, closing and waiting for their git.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def _traceback() -> None:
    """The current exception's traceback on stderr, every known secret and key-shaped string redacted."""
    import traceback

    from keyguard.redact import scrub_all
    sys.stderr.write(scrub_all(traceback.format_exc()))
