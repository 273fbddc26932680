"""Facts every report writer shows the same way, as plain strings.

Ordering (most severe first), counts by severity, the one-line summary, the
phrases for provenance, verification and revocation, the generic fix, and the
last line of defence against a leaked secret (``SecretGuard``). No formatting
library here: the writers decide how these strings look.
"""

from __future__ import annotations

from collections import Counter

from keyguard.model import (Finding, HygieneFinding, Provenance, Revocation, ScanReport,
                            Severity, Verification)
from keyguard.redact import scrub

TYPE_CHECKING = False  # typing is not imported on the pre-commit path (a refused commit writes a report)
if TYPE_CHECKING:
    from typing import Iterable, Sequence

SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))
"""All severities, worst first."""

SHORT_COMMIT = 10
"""How many hex digits of a commit id a report shows."""

FIX_STEPS: tuple[str, ...] = (
    "Move the key out of the code: read it from the FLUXLOOP_API_KEY environment variable "
    "(a CI secret in pipelines) or keep it in .fluxloop/.env, which is never committed.",
    "Add .fluxloop/.env (and any other file that holds keys) to .gitignore.",
    "Rotate the key: a key that reached git must be treated as leaked. Regenerate it "
    "(fluxloop apikeys regenerate <key-id>) or revoke it (keyguard revoke), then update "
    "the places that use it.",
)
"""The generic fix, shown after the findings by the text and Markdown reports."""

HISTORY_FIX = ("Deleting the key from the file does not remove it from git history: "
               "rotating it is the fix that counts.")
"""Extra advice when a finding comes from history."""


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Findings worst first, then by path, line and column (a stable order for every format)."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.path, f.line, f.column, f.rule_id,
                                           f.provenance.commit if f.provenance else ""))


def ordered_hygiene(items: Iterable[HygieneFinding]) -> list[HygieneFinding]:
    """Hygiene findings worst first, then by key id and check."""
    return sorted(items, key=lambda h: (-h.severity.rank, h.key.id, h.check))


def by_file(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by path; files with the worst finding first, findings by position."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.path, []).append(f)
    for items in groups.values():
        items.sort(key=lambda f: (f.line, f.column, -f.severity.rank, f.rule_id,
                                  f.provenance.commit if f.provenance else ""))
    return sorted(groups.items(), key=lambda kv: (-max(f.severity.rank for f in kv[1]), kv[0]))


def severity_counts(items: Iterable[Finding | HygieneFinding]) -> dict[Severity, int]:
    """How many items of each severity, worst first (zeros included)."""
    counts = Counter(i.severity for i in items)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 finding`` / ``3 findings``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def counts_phrase(items: Sequence[Finding | HygieneFinding], noun: str = "finding") -> str:
    """``3 findings (1 critical, 2 high)`` or ``0 findings``."""
    counts = severity_counts(items)
    parts = [f"{n} {s.value}" for s, n in counts.items() if n]
    head = plural(len(items), noun)
    return f"{head} ({', '.join(parts)})" if parts else head


def tally_phrase(report: ScanReport) -> str:
    """``1 allowed, 0 baselined, 2 suppressed, 1 stale baseline entry``."""
    return ", ".join([
        f"{report.allowed} allowed",
        f"{report.baselined} baselined",
        f"{len(report.suppressed)} suppressed",
        plural(report.stale_baseline, "stale baseline entry", "stale baseline entries"),
    ])


def summary_line(report: ScanReport) -> str:
    """The one-line summary every human-facing format ends with."""
    if report.kind == "hygiene" and not report.findings:
        text = counts_phrase(report.hygiene, "unhealthy key")
    else:
        text = f"{counts_phrase(report.findings)}; {tally_phrase(report)}"
        if report.hygiene:
            text += f"; {counts_phrase(report.hygiene, 'unhealthy key')}"
    if report.warnings:
        text += f"; {plural(len(report.warnings), 'warning')}"
    return text


def short_commit(commit: str) -> str:
    """The first ``SHORT_COMMIT`` hex digits of a commit id."""
    return commit[:SHORT_COMMIT]


def head_phrase(prov: Provenance) -> str:
    """``still at HEAD``, ``removed since`` or ``""`` when unknown."""
    if prov.present_at_head is None:
        return ""
    return "still at HEAD" if prov.present_at_head else "removed since"


def provenance_phrase(prov: Provenance) -> str:
    """``commit 1a2b3c4d5e by A <a@x> on 2024-05-01, removed since`` (commit messages say so)."""
    where = {"commit-message": "in the message of commit", "tag-message": "in the tag message of",
             "commit-identity": "in the author/committer of commit", "note": "in a git note on commit", "tree": "in a file or folder name, commit",
             "unreachable": "in unreachable commit"}.get(prov.kind, "commit")
    text = f"{where} {short_commit(prov.commit)}"
    if prov.author:
        text += f" by {prov.author}"
    if prov.date:
        text += f" on {prov.date}"
    head = head_phrase(prov)
    if head:
        text += f", {head}"
    return text


def verification_phrase(v: Verification) -> str:
    """``live: key "CI" (key_1), permissions a, b`` / ``expired`` / ``unknown: timeout``."""
    text = v.status
    who = []
    if v.name:
        who.append(f'"{v.name}"')
    if v.key_id:
        who.append(f"({v.key_id})")
    if who:
        text += ": key " + " ".join(who)
    if v.status == "live":
        if v.tenant:
            text += f" in tenant {v.tenant}"
        if v.permissions:
            text += f", permissions {', '.join(v.permissions)}"
        if v.projects:
            text += f", projects {', '.join(v.projects)}"
    if v.reason:
        text += f" ({v.reason})"
    return text


def revocation_phrase(r: Revocation) -> str:
    """``revoked at 2024-05-01T10:00:00Z via operator`` / ``failed (reason)``."""
    text = r.outcome.replace("_", " ")
    if r.at:
        text += f" at {r.at}"
    if r.via:
        text += f" via {r.via}"
    if r.reason:
        text += f" ({r.reason})"
    return text


def status_phrase(f: Finding) -> str:
    """A short status for tables: verification status plus revocation outcome, or ``not verified``."""
    parts = [f.verification.status if f.verification else "not verified"]
    if f.revocation:
        parts.append(f.revocation.outcome.replace("_", " "))
    return ", ".join(parts)


def epoch_date(value: int | None) -> str:
    """A UTC ``YYYY-MM-DD`` for an epoch time, ``never`` for None."""
    if value is None:
        return "never"
    from datetime import datetime, timezone
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return str(value)


def fix_advice(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """The fix, each piece of advice said once: ``(rule ids, advice)``, in order.

    Each distinct remediation of the findings' rules, with the rule ids that
    give it (``"a, b"``); the generic ``FIX_STEPS`` (rule ids ``""``) only when
    some finding's rule has no remediation of its own, since the rules' own
    advice already says to rotate the key and move it out of the code.
    """
    by_text: dict[str, set[str]] = {}
    generic = False
    for f in findings:
        if f.remediation:
            by_text.setdefault(f.remediation, set()).add(f.rule_id)
        else:
            generic = True
    advice = sorted(((", ".join(sorted(ids)), text) for text, ids in by_text.items()))
    return advice + ([("", step) for step in FIX_STEPS] if generic or not advice else [])


from keyguard.sanitize import clean  # noqa: E402,F401  (the one sanitizer; reports import it from here)


def secret_shown(f: Finding, show_secrets: bool) -> str:
    """The key as a report may show it: the full value only with ``show_secrets``."""
    return f.secret if show_secrets and f.secret else f.redacted


class SecretGuard:
    """Last line of defence: scrubs any full secret out of text a report is about to write.

    Snippets and messages are redacted upstream; this makes sure a slip there
    (or two keys on one line) still never reaches a report.
    """

    def __init__(self, report: ScanReport, show_secrets: bool = False):
        self.show_secrets = show_secrets
        self._all = sorted({f.secret for f in report.findings if f.secret}, key=len, reverse=True)
        self._by_line: dict[tuple[str, int], set[str]] = {}
        for f in report.findings:
            if f.secret:
                self._by_line.setdefault((f.path, f.line), set()).add(f.secret)

    def finding(self, f: Finding, text: str) -> str:
        """``text`` belonging to finding ``f`` with its secret (and its line-mates') redacted."""
        if self.show_secrets or not text:
            return text
        return scrub(text, sorted(self._by_line.get((f.path, f.line), ()), key=len, reverse=True))

    def any(self, text: str) -> str:
        """Free text (warnings, command line) with every known secret redacted."""
        if self.show_secrets or not text:
            return text
        from keyguard.redact import scrub_all
        return scrub_all(scrub(text, self._all))


def policy_line(policy: dict[str, str]) -> str:
    """``policy: config …; exclude …; …``: the policy a run applied (``keyguard.policy.describe``), in one line."""
    return "policy: " + "; ".join(f"{k} {v}" for k, v in policy.items())
