"""The ``keyguard`` command: argument wiring only.

Each sub-command lives in ``keyguard.commands.<name>`` and exposes
``register(parser)`` (adds its arguments) and ``run(args) -> int``. Only the
module of the command being run is imported, so ``keyguard scan --staged``
(the pre-commit path) never pays for the API client or the report writers it
does not use. The hook's own command line (``scan --staged`` and file names,
exactly: ``_hook_args``) is not even given to argparse: its namespace is the
command's defaults as ``register`` declares them (``_Defaults``), which spares
argparse, gettext and the parser building (~8 ms of every commit); tests check
it equals argparse's. Expected failures are ``KeyguardError``s: one line on stderr and
their exit code; ``--debug`` also shows the traceback, every known secret and
key-shaped string in it redacted. SIGINT and SIGTERM unwind the run (children
stopped, temp files removed, no partial report) and exit 130 and 143.
"""

from __future__ import annotations

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


def _parser_class():
    """keyguard's ``ArgumentParser`` (argparse is imported only when a parser is built)."""
    import argparse

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

    return _Parser


def add_common(parser) -> None:
    """Options every command takes."""
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and the report")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show suppressed candidates and why")


def build_parser(only: str | None = None):
    """The parser; with ``only``, that sub-command alone, with its arguments (and its module imported);
    without, every sub-command listed (for ``--help`` and the error naming the choices)."""
    _Parser = _parser_class()
    parser = _Parser(prog="keyguard",
                     description="Find FluxLoop API keys in git and keep the keys that exist healthy.")
    parser.add_argument("--version", action="version", version=f"keyguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        aliases = [a for a, target in ALIASES.items() if target == name]
        if only is not None and name != only:
            continue  # a named command's run never lists the others (each parser costs ~0.4 ms)
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
        args = _hook_args(argv)
        if args is None:
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


HOOK = ("scan", "--staged")
"""The pre-commit hook's command line (``.pre-commit-hooks.yaml``); file names follow it."""


def _hook_args(argv: list[str]):
    """The namespace of ``keyguard scan --staged [FILE...]`` (no FILE starting with ``-``) without
    argparse, or None for any other command line."""
    if tuple(argv[:2]) != HOOK or any(a.startswith("-") for a in argv[2:]):
        return None
    module = COMMANDS["scan"][0]
    defaults = _Defaults()
    add_common(defaults)
    importlib.import_module(module).register(defaults)
    args = defaults.namespace(command="scan", _module=module)
    args.staged = True
    args.paths = list(argv[2:])
    return args


class _Defaults:
    """Stands in for an argparse parser in ``register``: collects each option's default
    value under its destination, as argparse would set it when the option is not given."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def add_argument(self, *names: str, **kw) -> None:
        if "dest" in kw:
            dest = kw["dest"]
        else:
            long = [n for n in names if n.startswith("--")]
            dest = (long or list(names))[0].lstrip("-").replace("-", "_")
        action = kw.get("action")
        if "default" in kw:
            value = kw["default"]
        elif action == "store_true":
            value = False
        elif action == "store_false":
            value = True
        elif kw.get("nargs") == "*" and not names[0].startswith("-"):
            value = []
        else:
            value = None
        if isinstance(value, str) and kw.get("type") is not None:
            value = kw["type"](value)
        self.values.setdefault(dest, value)

    def add_argument_group(self, *args, **kw) -> "_Defaults":
        return self

    def add_mutually_exclusive_group(self, *args, **kw) -> "_Defaults":
        return self

    def set_defaults(self, **kw) -> None:
        self.values.update(kw)

    def namespace(self, **kw):
        from types import SimpleNamespace

        return SimpleNamespace(**{**self.values, **kw})


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
