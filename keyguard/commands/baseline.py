"""``keyguard baseline [--update]``: record today's findings so later scans show only new ones.

Scans like ``keyguard scan`` (files on disk by default, ``--history`` for all
of git history) and writes the salted fingerprints of every key found to
``.keyguard-baseline.json`` (or ``--baseline FILE``). ``--update`` rewrites an
existing baseline with the same salt, adding new keys and dropping entries that
no longer match anything. The write is atomic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(p: argparse.ArgumentParser) -> None:
    """Add ``baseline``'s arguments."""
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: the repository)")
    p.add_argument("--history", action="store_true", help="baseline every key in git history")
    p.add_argument("--update", action="store_true", help="rewrite an existing baseline")
    p.add_argument("--baseline", metavar="FILE", help="baseline file (default: .keyguard-baseline.json)")
    p.add_argument("--rules", action="append", default=[], metavar="PATH", help="extra rule file or folder")
    p.add_argument("--config", metavar="FILE", help="config file")
    p.add_argument("--repo", metavar="DIR", help="the repository (default: the current directory)")


def run(args: argparse.Namespace) -> int:
    """Write or update the baseline; exit 0, or 2 when it exists and --update was not given."""
    from keyguard.baseline import Baseline, load_baseline
    from keyguard.commands.common import baseline_path, load_config, make_source
    from keyguard.detect.detector import Detector
    from keyguard.detect.rulepack import load_rules
    from keyguard.errors import UsageError
    from keyguard.scan import ScanPolicy, collect

    for name, default in (("staged", False), ("stdin", False), ("pre_push", False), ("since", None),
                          ("no_progress", False)):
        setattr(args, name, default)
    cwd = Path(args.repo) if args.repo else Path.cwd()
    source, root = make_source(args, cwd)
    config = load_config(args, root)
    path = baseline_path(args, config, root)

    existing = load_baseline(path)
    if existing is not None and not args.update:
        raise UsageError(f"{path} exists; use --update to rewrite it")
    detector = Detector(load_rules([*config.rule_paths, *[Path(r) for r in args.rules]]))
    report = collect(source, detector, ScanPolicy(exclude=config.exclude, allow=config.allow))
    from keyguard.model import identity

    found = [(identity(f.secret, f.partial), f.rule_id) for f in report.findings]

    baseline = existing or Baseline(path=path)
    before = set(baseline.entries)
    baseline.replace_with(found)
    after = set(baseline.entries)
    baseline.save()
    if not args.quiet:
        print(f"keyguard: baseline {path}: {len(after)} keys "
              f"({len(after - before)} added, {len(before - after)} removed)", file=sys.stderr)
    return 0
