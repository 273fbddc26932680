"""``keyguard rules list`` and ``keyguard rules test``: show the rules, run their self-test.

Both read the bundled rule packs, the team rule paths from the config
(``[tool.keyguard] rules = [...]``) and any ``--rules PATH`` given. ``test`` exits 0
when every rule passes and 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``list`` and ``test`` sub-actions."""
    sub = parser.add_subparsers(dest="rules_action", metavar="ACTION", parser_class=type(parser))
    for name, help_text in (("list", "print every rule: id, severity, keywords, description, file"),
                            ("test", "check every rule's examples and negatives; exit 1 on a failure")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--rules", action="append", default=[], metavar="PATH",
                       help="extra rule file or folder (repeatable)")
        p.add_argument("--config", metavar="FILE", help="config file (default: pyproject.toml or .keyguard.toml)")
        # the common flags are also accepted after the action; SUPPRESS keeps the parent's value
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--rules", action="append", default=[], metavar="PATH", dest="rules_top",
                        help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Load the rules and list or test them."""
    from keyguard.detect.rulepack import load_rules
    from keyguard.errors import UsageError

    action = getattr(args, "rules_action", None)
    if action is None:
        raise UsageError("rules: choose an action: 'keyguard rules list' or 'keyguard rules test'")
    paths = [*_config_rule_paths(getattr(args, "config", None)), *args.rules_top, *args.rules]
    rules = load_rules(paths)
    if action == "list":
        _list(rules)
        return 0
    return _test(rules, quiet=args.quiet)


def _config_rule_paths(explicit: str | None) -> tuple[Path, ...]:
    """Team rule paths named by the config of the current directory."""
    from keyguard.config import load_config

    return tuple(load_config(Path.cwd(), explicit).rule_paths)


def _list(rules) -> None:
    """Print the rules: a table on a terminal, tab-separated lines otherwise."""
    rows = [(r.id, r.severity.value, ", ".join(k.decode("utf-8", "replace") for k in r.keywords),
             r.description, r.source_file) for r in rules]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "severity", "keywords", "description", "file")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    for row in rows:
        print("\t".join(row))


def _test(rules, quiet: bool = False) -> int:
    """Print PASS/FAIL per rule; 0 if all pass, 1 otherwise."""
    from keyguard.detect.selftest import run_selftest

    results = run_selftest(rules)
    for r in results:
        if r.passed:
            if not quiet:
                print(f"PASS  {r.rule.id}  ({r.examples} examples, {r.negatives} negatives; {r.rule.source_file})")
        else:
            print(f"FAIL  {r.rule.id}  ({r.rule.source_file})")
            for line in r.failures:
                print(f"        {line}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} of {len(results)} rules pass" if failed else f"all {len(results)} rules pass")
    return 1 if failed else 0
