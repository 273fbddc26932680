"""``keyguard report merge``: per-repository JSON reports -> one organisation report.

Reads the JSON reports an organisation audit (``keyguard audit --repos``) or
single audits wrote, in any number of files and folders (every ``*.json`` in a
folder), and writes:

- one SARIF log: a single run (category ``keyguard/org-audit/``) whose results
  point at ``<repository>/<path>``; GitHub's limits (20 runs per file, 25,000
  results per run, 10 MB per file) are applied by the SARIF writer, which keeps
  the most severe results and says what it dropped;
- one JSON document (schema ``keyguard-org-report/1``): a summary, one entry per
  repository (status, error, counts, fetch and scan stats) and every finding
  with its ``repository``, exactly as the per-repository reports hold it;
- a Markdown summary: the repositories table, then the findings (appended to
  ``$GITHUB_STEP_SUMMARY`` when set).

A report read back holds no secret (the JSON reports never do), so the merged
reports cannot hold one either. A file that is not a keyguard JSON report is a
one-line ``UsageError`` naming it. The same repository found twice (two
shards of different nights) keeps the report read last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keyguard import __version__
from keyguard.errors import UsageError
from keyguard.model import Finding, Provenance, Revocation, ScanReport, Severity, Verification
from keyguard.report.json import SCHEMA as REPORT_SCHEMA

ORG_SCHEMA = "keyguard-org-report/1"
FAILED = ("unreachable", "failed", "empty")


def load_reports(inputs: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """``[(repository name, report)]`` from files and folders, one per repository."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(q for q in p.glob("*.json") if q.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"{item}: no such file or folder")
    by_name: dict[str, dict[str, Any]] = {}
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            raise UsageError(f"{f}: not a readable JSON report") from None
        if not isinstance(doc, dict) or doc.get("schema") != REPORT_SCHEMA:
            if isinstance(doc, dict) and doc.get("schema") == ORG_SCHEMA:
                continue  # an earlier merge output in the same folder
            raise UsageError(f"{f}: not a keyguard JSON report (schema {REPORT_SCHEMA})")
        repo = doc.get("repository") if isinstance(doc.get("repository"), dict) else {}
        name = str(repo.get("name") or doc.get("root") or f.stem)
        by_name[name] = doc
    if not by_name:
        raise UsageError("no keyguard JSON reports found in " + ", ".join(inputs))
    return sorted(by_name.items())


def finding_from_dict(d: dict[str, Any], path: str | None = None) -> Finding:
    """A ``Finding`` back from its JSON form (no secret: the JSON never holds one)."""
    prov = d.get("provenance")
    ver = d.get("verification")
    rev = d.get("revocation")
    return Finding(
        rule_id=d["rule_id"], description=d.get("description", ""), severity=Severity.parse(d["severity"]),
        secret="", redacted=d.get("redacted", ""), fingerprint=d.get("fingerprint", ""),
        path=path if path is not None else d.get("path", ""), line=int(d.get("line") or 0),
        column=int(d.get("column") or 0), end_column=int(d.get("end_column") or 0),
        snippet=d.get("snippet", ""), encoding=d.get("encoding", ""), remediation=d.get("remediation", ""),
        source=d.get("source", "history"),
        provenance=Provenance(commit=prov.get("commit", ""), author=prov.get("author", ""),
                              date=prov.get("date", ""), kind=prov.get("kind", "blob"),
                              blob=prov.get("blob", ""), refs=tuple(prov.get("refs") or ()),
                              present_at_head=prov.get("present_at_head")) if prov else None,
        details=tuple((k, str(v)) for k, v in (d.get("details") or {}).items()),
        verification=Verification(status=ver.get("status", "unknown"), key_id=ver.get("key_id", ""),
                                  name=ver.get("name", ""), tenant=ver.get("tenant", ""),
                                  account=ver.get("account", ""), type=ver.get("type", ""),
                                  permissions=tuple(ver.get("permissions") or ()),
                                  projects=tuple(ver.get("projects") or ()),
                                  expires_at=ver.get("expires_at"), reason=ver.get("reason", ""))
        if ver else None,
        revocation=Revocation(outcome=rev.get("outcome", ""), at=rev.get("at", ""), via=rev.get("via", ""),
                              reason=rev.get("reason", "")) if rev else None,
        is_new=d.get("is_new"),
    )


def repo_status(doc: dict[str, Any]) -> str:
    """``clean``, ``findings``, ``live`` or one of the failed statuses."""
    status = (doc.get("repository") or {}).get("status")
    if status in FAILED:
        return status
    summary = doc.get("summary", {})
    if summary.get("live"):
        return "live"
    return "findings" if summary.get("findings") else "clean"


def merge(reports: list[tuple[str, dict[str, Any]]]) -> tuple[ScanReport, dict[str, Any]]:
    """The organisation ``ScanReport`` (paths ``<repository>/<path>``) and the org JSON document."""
    merged = ScanReport(kind="org-audit")
    repos, findings = [], []
    for name, doc in reports:
        repo = doc.get("repository") or {}
        status = repo_status(doc)
        summary = doc.get("summary", {})
        repos.append({"name": name, "status": status, "error": repo.get("error", ""),
                      "findings": len(doc.get("findings", [])), "live": summary.get("live", 0),
                      "new": summary.get("new", 0), "fetch": repo.get("fetch", {}),
                      "stats": doc.get("stats", {})})
        if status in FAILED:
            merged.warnings.append(f"{name}: not audited ({status}): {repo.get('error', '')}")
        prefix = name.strip("/")
        for f in doc.get("findings", []):
            merged.findings.append(finding_from_dict(f, f"{prefix}/{f.get('path', '')}"))
            findings.append({"repository": name, **f})
        for key, value in doc.get("stats", {}).items():
            if isinstance(value, int):
                merged.stats[key] = merged.stats.get(key, 0) + value
    by_sev: dict[str, int] = {}
    for f in merged.findings:
        by_sev[f.severity.value] = by_sev.get(f.severity.value, 0) + 1
    org = {
        "schema": ORG_SCHEMA,
        "tool": {"name": "keyguard", "version": __version__},
        "summary": {"repositories": len(repos),
                    "audited": sum(1 for r in repos if r["status"] not in FAILED),
                    "failed": sum(1 for r in repos if r["status"] in FAILED),
                    "with_findings": sum(1 for r in repos if r["findings"]),
                    "findings": len(findings), "by_severity": by_sev,
                    "live": sum(r["live"] for r in repos), "new": sum(r["new"] for r in repos)},
        "repositories": repos,
        "findings": findings,
        "warnings": merged.warnings,
    }
    return merged, org


def markdown(merged: ScanReport, org: dict[str, Any]) -> str:
    """The organisation summary: the repositories table, then the usual findings report."""
    from keyguard.report.markdown import _table, code, escape, render

    s = org["summary"]
    out = [f"## keyguard organisation audit: {s['repositories']} repositories, "
           f"{s['findings']} findings, {s['failed']} not audited", ""]
    rows = [[code(r["name"]), escape(r["status"]), str(r["findings"]), str(r["live"]), str(r["new"]),
             escape(r["error"])] for r in sorted(org["repositories"], key=_worst_first)]
    out += _table(["Repository", "Status", "Findings", "Live", "New", "Error"], rows)
    return "\n".join(out) + "\n" + render(merged)


_ORDER = {"live": 0, "findings": 1, "unreachable": 2, "failed": 2, "empty": 3, "clean": 4}


def _worst_first(repo: dict[str, Any]) -> tuple:
    return _ORDER.get(repo["status"], 5), -repo["findings"], repo["name"]
