"""JSON writer: the documented schema, no secret unless asked, atomic file output, no rich import."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import keys
from keyguard import __version__
from keyguard.model import Finding, HygieneFinding, KeyRecord, ScanReport
from keyguard.redact import redact
from keyguard.report import json as json_report
from keyguard.report.interface import ReportOptions, write_report
from test_report_samples import COMMIT, finding, render, rich_report

DOC = (Path(__file__).resolve().parent.parent / "docs" / "json-format.md").read_text()


def as_json(report: ScanReport, **options) -> tuple[dict, str]:
    text = render(json_report, report, **options)
    return json.loads(text), text


def test_top_level_and_summary():
    report, _ = rich_report("history")
    doc, text = as_json(report)
    assert text.endswith("\n")
    assert doc["schema"] == "keyguard-report/1"
    assert doc["tool"] == {"name": "keyguard", "version": __version__}
    assert doc["kind"] == "history"
    assert doc["summary"] == {
        "findings": 4, "by_severity": {"critical": 1, "high": 3, "medium": 0, "low": 0, "info": 0},
        "new": 1, "live": 0, "revoked": 1, "allowed": 2, "baselined": 1, "suppressed": 1,
        "stale_baseline": 1, "hygiene": 2,
        "hygiene_by_severity": {"critical": 0, "high": 1, "medium": 1, "low": 0, "info": 0},
        "warnings": 1, "complete": True}  # the live key was revoked in the run: counted as revoked
    assert doc["warnings"] == ["skipped big.bin: larger than 10 MB"]
    assert doc["stats"] == {"bytes": 3456, "files": 12}
    assert doc["suppressed"] == [{"path": "docs/setup.md", "redacted": "flux_dev_abc1…mno3",
                                  "line": 12, "reason": "documentation placeholder"}]


def test_findings_carry_every_field_but_the_secret():
    report, secrets = rich_report("history")
    doc, text = as_json(report)
    for key in secrets:
        assert key not in text
    fields = {f.name for f in dataclasses.fields(Finding)} - {"secret"}
    by_fp = {f["fingerprint"]: f for f in doc["findings"]}
    for f in report.findings:
        out = by_fp[f.fingerprint]
        assert set(out) == fields
        assert (out["path"], out["line"], out["column"], out["end_column"]) == (
            f.path, f.line, f.column, f.end_column)
        assert out["redacted"] == redact(f.secret)
        assert out["severity"] == f.severity.value
    hist = by_fp[report.findings[1].fingerprint]
    assert hist["provenance"]["commit"] == COMMIT and hist["provenance"]["present_at_head"] is False
    assert hist["verification"]["status"] == "expired"
    live = by_fp[report.findings[0].fingerprint]
    assert live["verification"]["permissions"] == ["read_scenarios", "manage_keys"]
    assert live["revocation"]["outcome"] == "revoked" and live["is_new"] is True
    assert by_fp[report.findings[2].fingerprint]["details"] == {"kid": "api-key-1",
                                                                 "scopes": "api:read api:write"}
    assert [f["severity"] for f in doc["findings"]] == ["critical", "high", "high", "high"]


def test_show_secrets_writes_the_full_key():
    report, secrets = rich_report("worktree")
    doc, _ = as_json(report, show_secrets=True)
    assert sorted(f["secret"] for f in doc["findings"]) == sorted(secrets)


def test_a_secret_slipping_into_a_snippet_or_warning_is_scrubbed():
    key = keys.api_key("flx_api_")
    report = ScanReport(kind="stdin", findings=[finding(key, snippet=f"token={key}")],
                        warnings=[f"could not verify {key}: timeout"])
    _, text = as_json(report)
    assert key not in text
    assert redact(key) in text


def test_hygiene_entries_hold_the_key_record():
    report, _ = rich_report("hygiene")
    doc, _ = as_json(report)
    first = doc["hygiene"][0]
    assert first["check"] == "over-broad" and first["severity"] == "high"
    assert set(first["key"]) == {f.name for f in dataclasses.fields(KeyRecord)}
    assert set(first) == {f.name for f in dataclasses.fields(HygieneFinding)}
    assert first["key"]["created_by"] == "ops@example.com"
    assert first["key"]["expires_at"] is None


def test_every_field_written_is_documented():
    report, _ = rich_report("history")
    doc, _ = as_json(report, show_secrets=True)
    documented = set(re.findall(r"`([a-z_]+)`", DOC))
    written = set(doc) | set(doc["summary"]) | set(doc["findings"][0]) \
        | set(doc["findings"][0]["provenance"] or {}) | set(doc["findings"][0]["verification"] or {})
    written |= {k for f in doc["findings"] for part in ("provenance", "verification", "revocation")
                for k in (f[part] or {})}
    written |= set(doc["hygiene"][0]) | set(doc["hygiene"][0]["key"])
    assert written - documented == set()


def test_write_report_to_a_file_is_atomic_and_parses(tmp_path):
    report, secrets = rich_report("worktree")
    out = tmp_path / "report.json"
    out.write_text("previous good report\n")
    write_report(report, "json", str(out), ReportOptions())
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["findings"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name != "report.json"]  # no temp file left


def test_json_format_never_imports_rich(tmp_path):
    code = (
        "import sys, io\n"
        "from keyguard.model import ScanReport\n"
        "from keyguard.report.interface import write_report\n"
        "write_report(ScanReport(kind='staged'), 'json', sys.argv[1])\n"
        "write_report(ScanReport(kind='staged'), 'sarif', sys.argv[1])\n"
        "write_report(ScanReport(kind='staged'), 'markdown', sys.argv[1])\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")],
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
