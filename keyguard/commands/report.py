"""``keyguard report merge``: combine per-repository JSON reports into one organisation report.

Wiring only; the merging is ``keyguard.report.merge``. Exit 0 when the
reports were written, 2 on unreadable input or an unwritable output.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(p: argparse.ArgumentParser) -> None:
    """Add ``report``'s sub-commands."""
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = sub.add_parser("merge", help="merge per-repository JSON reports (files or folders)",
                       description="Merge the JSON reports of an organisation audit's shards into one "
                                   "SARIF log, one JSON document and one Markdown summary.")
    m.add_argument("inputs", nargs="+", metavar="REPORT", help="JSON report files or folders of them")
    from keyguard.commands.common import add_outputs
    add_outputs(m, "keyguard-org.sarif", "keyguard-org.json", "keyguard-org.md")


def run(args: argparse.Namespace) -> int:
    """Merge and write the three reports."""
    import json

    from keyguard.atomic import write_atomic
    from keyguard.errors import UsageError
    from keyguard.report.interface import write_report
    from keyguard.report.merge import load_reports, markdown, merge

    merged, org = merge(load_reports(args.inputs))
    text = markdown(merged, org)
    try:
        if args.sarif:
            write_report(merged, "sarif", args.sarif)
        if args.json:
            write_atomic(args.json, json.dumps(org, indent=2, ensure_ascii=False) + "\n")
        if args.markdown:
            write_atomic(args.markdown, text)
    except OSError as exc:
        raise UsageError(f"cannot write the merged reports: {exc.strerror}") from None
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as dst:
                dst.write(text + "\n")
        except OSError as exc:
            print(f"keyguard: warning: cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror}", file=sys.stderr)
    if not args.quiet:
        s = org["summary"]
        print(f"keyguard report merge: {s['repositories']} repositories ({s['failed']} not audited), "
              f"{s['findings']} findings; wrote {', '.join(p for p in (args.sarif, args.json, args.markdown) if p)}",
              file=sys.stderr)
    return 0
