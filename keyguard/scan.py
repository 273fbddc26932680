"""Runs a source through the detector and turns hits into the run's findings.

This is where per-run policy lives: path excludes, the inline
``keyguard:allow`` marker, allowed fingerprints from the config, the baseline,
redacted snippets, de-duplication. Sources find, this module decides what is
reported; it never prints.
"""

from __future__ import annotations

import fnmatch

from keyguard.model import Finding, ScanReport, identity
from keyguard.redact import fingerprint, redact

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Iterable
    from keyguard.baseline import Baseline
    from keyguard.sources.interface import LocatedHit, Source

ALLOW_MARKER = "keyguard:allow"
SNIPPET_WIDTH = 160


def path_excluded(path: str, patterns: Iterable[str]) -> bool:
    """Whether the repo-relative ``path`` matches one of the exclude globs.

    ``dir/`` and ``dir/**`` exclude a whole folder; a pattern without ``/``
    matches the file name in any folder (``*.min.js``).
    """
    name = path.rsplit("/", 1)[-1]
    for pat in patterns:
        p = pat.strip().lstrip("./") if pat.startswith("./") else pat.strip()
        if p.endswith("/"):
            p += "**"
        if "/" not in p.rstrip("*"):
            if fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(path, p):
                return True
            continue
        if fnmatch.fnmatchcase(path, p):
            return True
        if p.endswith("/**") and (path == p[:-3] or path.startswith(p[:-2])):
            return True
    return False


def make_snippet(line_text: str, secrets: Iterable[str], column: int) -> str:
    """The line with every secret of ``secrets`` redacted, trimmed around ``column``.

    ``secrets`` should be the secrets found on that line (``collect`` passes those),
    so the work per finding does not grow with the number of findings.
    """
    text = line_text.rstrip("\r\n")
    for s in sorted(set(secrets), key=len, reverse=True):
        if s and s in text:
            text = text.replace(s, redact(s))
    if len(text) > SNIPPET_WIDTH:
        start = max(0, min(column - 1 - SNIPPET_WIDTH // 3, len(text) - SNIPPET_WIDTH))
        text = ("…" if start else "") + text[start:start + SNIPPET_WIDTH] + "…"
    return text.strip()


class ScanPolicy:
    """What a run reports: excludes, allowed fingerprints, baseline."""

    def __init__(self, exclude: Iterable[str] = (), allow: Iterable[str] = (),
                 baseline: "Baseline | None" = None):
        self.exclude = tuple(exclude)
        self.allow = frozenset(allow)
        self.baseline = baseline


def collect(source: "Source", detector, policy: ScanPolicy, kind: str | None = None) -> ScanReport:
    """Run ``source`` through ``detector`` and build the report of what to show."""
    from keyguard.detect.detector import LIMIT

    report = ScanReport(kind=kind or source.kind)
    located: list[LocatedHit] = []
    for lh in source.located_hits(detector):
        hit = lh.hit
        if policy.exclude and path_excluded(lh.path, policy.exclude):
            continue
        if hit.suppressed and hit.suppressed.startswith(LIMIT):
            where = lh.path + (f" ({lh.provenance.commit[:12]})" if lh.provenance else "")
            report.warnings.append(f"{where}: {hit.suppressed[len(LIMIT):].strip()}")
            continue
        if hit.suppressed:
            report.suppressed.append((lh.path, redact(hit.secret), hit.line, hit.suppressed))
            continue
        if ALLOW_MARKER in hit.line_text:
            report.allowed += 1
            continue
        located.append(lh)
    # The secrets on each line, for its snippet (a line's other keys are hits on that line).
    on_line: dict[tuple, set[str]] = {}
    for lh in located:
        where = (lh.path, lh.hit.line, lh.provenance.commit if lh.provenance else "")
        on_line.setdefault(where, set()).add(lh.hit.secret)
    seen: set[tuple] = set()
    for lh in located:
        hit = lh.hit
        value = identity(hit.secret, hit.partial)  # a fragment is never fingerprinted as a whole key
        fp = fingerprint(value)
        if fp in policy.allow:
            report.allowed += 1
            continue
        if policy.baseline is not None and policy.baseline.contains(value):
            report.baselined += 1
            continue
        prov = lh.provenance
        key = (lh.path, hit.line, hit.column, fp, prov.commit if prov else "", hit.encoding)
        if key in seen:
            continue
        seen.add(key)
        rule = hit.rule
        if hit.encoding:
            snippet = f"({hit.encoding}-encoded key, not shown)"
        else:
            snippet = make_snippet(hit.line_text, on_line[(lh.path, hit.line, prov.commit if prov else "")],
                                   hit.column)
        report.findings.append(Finding(
            rule_id=rule.id, description=rule.description,
            severity=hit.severity or rule.severity,
            secret=hit.secret, redacted=redact(hit.secret), fingerprint=fp,
            path=lh.path, line=hit.line, column=hit.column, end_column=hit.end_column,
            snippet=snippet, encoding=hit.encoding, remediation=rule.remediation,
            source=source.kind, provenance=prov, details=hit.details, partial=hit.partial,
        ))
    if policy.baseline is not None:
        report.stale_baseline = policy.baseline.stale
    report.findings.sort(key=lambda f: (f.path, f.line, f.column,
                                        f.provenance.date if f.provenance else ""))
    report.warnings.extend(source.warnings)
    if excludes_everything(policy.exclude):
        report.warnings.append(f"exclude {list(policy.exclude)} matches every path: nothing can be reported "
                               f"(exclude folders or file patterns, not '*')")
    report.stats.update(source.stats)
    return report


_PROBES = ("a", "a.py", "src/app/settings.py", ".env", "deploy/prod/.env.local")


def excludes_everything(patterns: Iterable[str]) -> bool:
    """Whether the exclude globs match any path at all (``*``, ``**``): then the scan can report nothing."""
    return bool(patterns) and all(path_excluded(p, patterns) for p in _PROBES)
