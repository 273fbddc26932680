"""The Markdown report: a CI summary in the style of a GitHub step summary.

A headline with counts by severity, for an audit a small table of findings
by severity and status, a table of findings (location, rule,
severity, redacted key, commit, status), the hygiene table and the fix. Every
cell is escaped (pipes, backticks, HTML and emphasis characters), so a file
name cannot break the table or inject markup. Tables stop at ``MAX_ROWS`` rows
(GitHub caps a step summary at 1 MiB); the JSON report has everything. The
secret itself is never written here, not even with ``show_secrets``: step
summaries are visible to everyone who can read the workflow run.
"""

from __future__ import annotations

import re
from typing import TextIO

from keyguard.model import ScanReport
from keyguard.report.interface import ReportOptions
from keyguard.report.summary import (HISTORY_FIX, SecretGuard, clean, counts_phrase,
                                     epoch_date, fix_advice, ordered, ordered_hygiene,
                                     short_commit, status_phrase, summary_line, tally_phrase)

MAX_ROWS = 1000
"""Most rows a table gets; the rest are counted in a line below it."""

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&!])")


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:
    """Write ``report`` as GitHub-flavoured Markdown."""
    stream.write(render(report, options))


def render(report: ScanReport, options: ReportOptions = ReportOptions()) -> str:
    """The Markdown text of ``report``."""
    guard = SecretGuard(report, show_secrets=False)
    out: list[str] = []
    out.append(f"## keyguard {escape(report.kind)}: {escape(_headline(report))}")
    out.append("")
    if report.kind != "hygiene" or report.findings:
        out.append(escape(tally_phrase(report)) + ".")
        out.append("")
    if report.incomplete:
        out.append("### Steps not done")
        out.append("")
        out += [f"- **{escape(step)}**: {escape(guard.any(why))}" for step, why in report.incomplete]
        out.append("")
    if report.findings and report.kind == "audit":
        out += _by_severity_and_status(report)
    if report.findings:
        out += _findings(report)
    if report.hygiene:
        out += _hygiene(report)
    if report.findings:
        out += _fix(report)
    if report.warnings:
        out.append("### Warnings")
        out.append("")
        out += [f"- {escape(guard.any(w))}" for w in report.warnings]
        out.append("")
    if options.verbose and report.suppressed:
        out.append("<details><summary>Suppressed candidates</summary>")
        out.append("")
        out += _table(["Location", "Key", "Reason"],
                      [[code(f"{p}:{line}"), code(r), escape(why)]
                       for p, r, line, why in sorted(report.suppressed)])
        out.append("</details>")
        out.append("")
    out.append(f"_{escape(summary_line(report))}_")
    if report.policy:
        from keyguard.report.summary import policy_line
        out += ["", escape(policy_line(report.policy))]
    return "\n".join(out) + "\n"


def escape(text: str) -> str:
    """Plain text made inert in a Markdown table cell (one line, specials backslash-escaped)."""
    return _SPECIAL.sub(r"\\\1", clean(" ".join(str(text).splitlines())))


def code(text: str) -> str:
    """``text`` as an inline code span that survives backticks and pipes inside a table cell."""
    text = clean(" ".join(str(text).splitlines())).replace("|", "\\|")
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _headline(report: ScanReport) -> str:
    if report.kind == "hygiene" and not report.findings:
        return counts_phrase(report.hygiene, "unhealthy key")
    head = counts_phrase(report.findings)
    if report.hygiene:
        head += f", {counts_phrase(report.hygiene, 'unhealthy key')}"
    return head


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines += ["", f"_…and {len(rows) - MAX_ROWS} more (see the JSON or SARIF report)._"]
    return lines + [""]


def _findings(report: ScanReport) -> list[str]:
    rows = []
    for f in ordered(report.findings):
        where = f"{f.path}:{f.line}" if f.line else f.path
        commit = code(short_commit(f.provenance.commit)) if f.provenance else ""
        status = escape(status_phrase(f))
        if f.is_new:
            status += " (new)"
        rows.append([code(where), code(f.rule_id), escape(f.severity.value), code(f.redacted),
                     commit, status])
    return ["### Findings", ""] + _table(
        ["Location", "Rule", "Severity", "Key", "Commit", "Status"], rows)


def _by_severity_and_status(report: ScanReport) -> list[str]:
    """The audit's overview: how many findings of each severity are in each status."""
    counts: dict[tuple[str, str], int] = {}
    for f in report.findings:
        key = (f.severity.value, status_phrase(f))
        counts[key] = counts.get(key, 0) + 1
    severities = [s.value for s in sorted({f.severity for f in report.findings}, key=lambda s: -s.rank)]
    statuses = sorted({st for _, st in counts})
    rows = [[escape(sev)] + [str(counts.get((sev, st), "")) for st in statuses]
            + [str(sum(n for (s, _), n in counts.items() if s == sev))] for sev in severities]
    return ["### Findings by severity and status", ""] + _table(
        ["Severity"] + [escape(st) for st in statuses] + ["Total"], rows)


def _hygiene(report: ScanReport) -> list[str]:
    rows = []
    for h in ordered_hygiene(report.hygiene):
        k = h.key
        rows.append([escape(h.check), escape(h.severity.value), code(k.id), escape(k.name),
                     code(k.key_hint), escape(k.created_by), escape(epoch_date(k.expires_at)),
                     escape(h.message)])
    return ["### Key hygiene", ""] + _table(
        ["Check", "Severity", "Key id", "Name", "Hint", "Owner", "Expires", "Message"], rows)


def _fix(report: ScanReport) -> list[str]:
    out = ["### How to fix", ""]
    for n, (rule_ids, text) in enumerate(fix_advice(report.findings), 1):
        ids = ", ".join(code(r) for r in rule_ids.split(", ")) if rule_ids else ""
        out.append(f"{n}. {ids}: {escape(text)}" if ids else f"{n}. {escape(text)}")
    if any(f.provenance for f in report.findings):
        out += ["", escape(HISTORY_FIX)]
    return out + [""]
