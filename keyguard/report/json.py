"""The JSON report: a stable, documented schema (docs/json-format.md) for scripts.

One object: tool and version, kind of run, summary counts, findings (every
field of ``Finding`` but the secret, which is written only with
``show_secrets``), hygiene findings, suppressed candidates, warnings and
stats. Findings are ordered worst first, then by path and position. Field
names never change within ``schema`` version 1; new fields may be added.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from keyguard import __version__
from keyguard.model import (Finding, HygieneFinding, KeyRecord, Provenance, Revocation, ScanReport,
                            Verification, is_off)
from keyguard.report.interface import ReportOptions
from keyguard.report.summary import SecretGuard, ordered, ordered_hygiene, severity_counts

SCHEMA = "keyguard-report/1"
"""Value of the top-level ``schema`` field; bumped only on an incompatible change."""


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:
    """Write ``report`` as one JSON document (UTF-8, two-space indent, trailing newline)."""
    # one write (json.dump would call stream.write for every token, ~75 per finding)
    stream.write(json.dumps(to_dict(report, options), indent=2, ensure_ascii=False) + "\n")


def to_dict(report: ScanReport, options: ReportOptions = ReportOptions()) -> dict[str, Any]:
    """The report as plain JSON-ready data (what ``write`` serialises)."""
    guard = SecretGuard(report, options.show_secrets)
    findings = ordered(report.findings)
    return {
        "schema": SCHEMA,
        "tool": {"name": "keyguard", "version": __version__},
        "kind": report.kind,
        "command": guard.any(report.command),
        "root": report.root,
        "summary": _summary(report),
        "findings": [_finding(f, guard, options.show_secrets) for f in findings],
        "hygiene": [_hygiene(h) for h in ordered_hygiene(report.hygiene)],
        "suppressed": [{"path": p, "redacted": r, "line": line, "reason": why}
                       for p, r, line, why in report.suppressed],
        "warnings": [guard.any(w) for w in report.warnings],
        "incomplete": [{"step": step, "reason": guard.any(why)} for step, why in report.incomplete],
        "stats": dict(sorted(report.stats.items())),
        "policy": dict(report.policy),
    }


def _summary(report: ScanReport) -> dict[str, Any]:
    findings = report.findings
    return {
        "findings": len(findings),
        "by_severity": {s.value: n for s, n in severity_counts(findings).items()},
        "new": sum(1 for f in findings if f.is_new),
        "live": sum(1 for f in findings if f.verification and f.verification.status == "live"
                    and not is_off(f.revocation)),
        "revoked": sum(1 for f in findings if is_off(f.revocation)),
        "allowed": report.allowed,
        "baselined": report.baselined,
        "suppressed": len(report.suppressed),
        "stale_baseline": report.stale_baseline,
        "hygiene": len(report.hygiene),
        "hygiene_by_severity": {s.value: n for s, n in severity_counts(report.hygiene).items()},
        "warnings": len(report.warnings),
        "complete": not report.incomplete,
    }


def _finding(f: Finding, guard: SecretGuard, show_secrets: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule_id": f.rule_id,
        "description": f.description,
        "severity": f.severity.value,
        "redacted": f.redacted,
    }
    if show_secrets:
        out["secret"] = f.secret
    out.update({
        "fingerprint": f.fingerprint,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_column": f.end_column,
        "snippet": guard.finding(f, f.snippet),
        "encoding": f.encoding,
        "source": f.source,
        "remediation": f.remediation,
        "details": {k: guard.finding(f, v) for k, v in f.details},
        "provenance": _provenance(f.provenance),
        "verification": _verification(f.verification),
        "revocation": _revocation(f.revocation),
        "is_new": f.is_new,
        "partial": f.partial,
    })
    return out


def _provenance(p: Provenance | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"commit": p.commit, "author": p.author, "date": p.date, "kind": p.kind, "blob": p.blob,
            "refs": list(p.refs), "present_at_head": p.present_at_head}


def _verification(v: Verification | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"status": v.status, "key_id": v.key_id, "name": v.name, "tenant": v.tenant,
            "account": v.account, "type": v.type, "permissions": list(v.permissions),
            "projects": list(v.projects), "expires_at": v.expires_at, "reason": v.reason}


def _revocation(r: Revocation | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"outcome": r.outcome, "at": r.at, "via": r.via, "reason": r.reason}


def _key(k: KeyRecord) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "description": k.description, "type": k.type,
            "key_hint": k.key_hint, "projects": list(k.projects), "permissions": list(k.permissions),
            "created_at": k.created_at, "expires_at": k.expires_at, "last_used": k.last_used,
            "revoked": k.revoked, "created_by": k.created_by}


def _hygiene(h: HygieneFinding) -> dict[str, Any]:
    return {"check": h.check, "severity": h.severity.value, "message": h.message, "key": _key(h.key)}
