"""GitLab's secret-detection report (``gl-secret-detection-report.json``), schema 15.2.1.

The format GitLab reads from a job's ``artifacts:reports:secret_detection``
to show findings in merge requests and the vulnerability report:
``dist/secret-detection-report-format.json`` of
gitlab-org/security-products/security-report-schemas, version ``SCHEMA_VERSION``.

What the schema requires, and where it comes from here:

- top level: ``version``, ``scan``, ``vulnerabilities``;
- ``scan``: ``analyzer`` and ``scanner`` (each ``id``, ``name``, ``version``,
  ``vendor.name``), ``type`` = ``secret_detection``, ``start_time`` and
  ``end_time`` (``YYYY-MM-DDTHH:MM:SS``, UTC, no zone), ``status``
  (``success``; warnings become ``scan.messages`` at level ``warn``);
- each vulnerability: ``id`` (a UUID derived from the finding's fingerprint,
  path, line and commit, so it is stable across runs), ``identifiers`` (one:
  the keyguard rule id), ``location`` with ``file``, ``start_line`` and
  ``commit.sha`` (the introducing commit for history findings, ``0000000``
  for files on disk, as GitLab's own analyzer does).

``severity`` maps keyguard's levels onto GitLab's (Critical, High, Medium, Low,
Info). ``raw_source_code_extract`` is never written: it would be the key. The
redacted key and the fingerprint go into ``details``.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from typing import Any, TextIO

from keyguard import __version__
from keyguard.model import Finding, ScanReport
from keyguard.report.interface import ReportOptions
from keyguard.report.summary import SecretGuard, ordered

SCHEMA_VERSION = "15.2.1"
NO_COMMIT = "0000000"
_NAMESPACE = uuid.UUID("6f1c3b1e-5a7d-4c39-9a57-3c1f0b8e2d41")
_SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"}
_TOOL = {"id": "keyguard", "name": "keyguard", "version": __version__, "vendor": {"name": "keyguard"}}


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:
    """Write ``report`` as a GitLab secret-detection report (never with secrets)."""
    # one write (json.dump would call stream.write for every token, ~75 per finding)
    stream.write(json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n")


def to_dict(report: ScanReport, now: _dt.datetime | None = None) -> dict[str, Any]:
    """The report as GitLab's JSON document."""
    guard = SecretGuard(report, show_secrets=False)
    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    scan: dict[str, Any] = {
        "analyzer": _TOOL,
        "scanner": {**_TOOL, "url": "https://github.com/fluxloop/keyguard"},
        "type": "secret_detection",
        "start_time": stamp,
        "end_time": stamp,
        "status": "success",
    }
    if report.warnings:
        scan["messages"] = [{"level": "warn", "value": guard.any(w)} for w in report.warnings]
    return {
        "version": SCHEMA_VERSION,
        "scan": scan,
        "vulnerabilities": [_vulnerability(f, guard) for f in ordered(report.findings)],
    }


def _vulnerability(f: Finding, guard: SecretGuard) -> dict[str, Any]:
    prov = f.provenance
    commit: dict[str, Any] = {"sha": prov.commit if prov and prov.commit else NO_COMMIT}
    if prov and prov.author:
        commit["author"] = prov.author
    if prov and prov.date:
        commit["date"] = prov.date
    ident = "|".join((f.fingerprint, f.path, str(f.line), commit["sha"]))
    details = {
        "redacted_key": {"type": "text", "name": "Key (redacted)", "value": f.redacted},
        "fingerprint": {"type": "text", "name": "keyguard fingerprint", "value": f.fingerprint},
    }
    if f.verification:
        details["status"] = {"type": "text", "name": "Status", "value": f.verification.status}
    return {
        "id": str(uuid.uuid5(_NAMESPACE, ident)),
        "name": f.description[:255] or f.rule_id,
        "description": guard.finding(f, f"{f.description} at {f.path}:{f.line}: {f.snippet}")[:1_000_000],
        "severity": _SEVERITY.get(f.severity.value, "Unknown"),
        "solution": f.remediation or "Rotate the key, then move it out of the code.",
        "identifiers": [{"type": "keyguard_rule_id", "name": f"keyguard rule {f.rule_id}", "value": f.rule_id}],
        "location": {"file": f.path, "start_line": max(f.line, 1), "end_line": max(f.line, 1),
                     "commit": commit},
        "details": details,
    }
