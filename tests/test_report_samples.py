"""Sample scan reports built from the model's dataclasses, shared by the report writer tests.

Keys are random (tests/keys.py); each sample returns the report and the full
secrets in it, so tests can grep every format's output for them. The tests in
this file check the facts all writers share (keyguard.report.summary).
"""

from __future__ import annotations

import io

import keys
from keyguard.model import (Finding, HygieneFinding, KeyRecord, Provenance, Revocation, ScanReport,
                            Severity, Verification)
from keyguard.redact import fingerprint, redact
from keyguard.report import summary
from keyguard.report.interface import ReportOptions

COMMIT = "3f1c0a9b7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f01"

RULES = {
    "flux_prod_": ("fluxloop-prod-key", "FluxLoop production platform key", Severity.CRITICAL),
    "flux_dev_": ("fluxloop-dev-key", "FluxLoop development platform key", Severity.HIGH),
    "flux_ci_": ("fluxloop-ci-key", "FluxLoop CI platform key", Severity.HIGH),
    "flx_api_": ("fluxloop-api-key", "FluxLoop API key", Severity.HIGH),
}


def finding(secret: str | None = None, *, path: str = "config/settings.py", line: int = 3,
            column: int = 12, severity: Severity | None = None, rule_id: str | None = None,
            **extra) -> Finding:
    """A realistic finding for ``secret`` (a fresh random production key by default)."""
    secret = secret or keys.platform_key("flux_prod_")
    prefix = next((p for p in RULES if secret.startswith(p)), "flux_prod_")
    rid, description, default = RULES[prefix]
    shown = redact(secret)
    return Finding(
        rule_id=rule_id or rid, description=description, severity=severity or default,
        secret=secret, redacted=shown, fingerprint=fingerprint(secret), path=path, line=line,
        column=column, end_column=column + len(secret),
        snippet=extra.pop("snippet", f'    API_KEY = "{shown}"'),
        remediation=extra.pop("remediation", f"Remove the {description.lower()} and rotate it."),
        **extra)


def hygiene(check: str = "never-expires", severity: Severity = Severity.MEDIUM,
            key_id: str = "key_abc123", name: str = "CI/CD Pipeline", **key_fields) -> HygieneFinding:
    """A hygiene finding about one key record."""
    record = KeyRecord(id=key_id, name=name, key_hint=key_fields.pop("key_hint", "flux_ci_****...x2q9"),
                       created_by=key_fields.pop("created_by", "ops@example.com"),
                       permissions=key_fields.pop("permissions", ("read_scenarios", "manage_keys")),
                       **key_fields)
    return HygieneFinding(check=check, severity=severity,
                          message=f"{name} fails the {check} check", key=record)


def rich_report(kind: str = "worktree") -> tuple[ScanReport, list[str]]:
    """A report exercising every field: live + revoked, history, encoded, odd path, hygiene."""
    k_live = keys.platform_key("flux_prod_")
    k_hist = keys.platform_key("flux_dev_")
    k_b64 = keys.api_key("flx_api_")
    k_odd = keys.platform_key("flux_ci_")
    findings = [
        finding(k_live, path="app/settings.py", line=7, column=15, is_new=True,
                verification=Verification(status="live", key_id="key_live1", name="Prod deploy",
                                          tenant="acme", permissions=("read_scenarios", "manage_keys")),
                revocation=Revocation(outcome="revoked", at="2024-05-01T10:00:00Z", via="operator")),
        finding(k_hist, path="old/config.yaml", line=2, column=9, source="history",
                provenance=Provenance(commit=COMMIT, author="Test Author <author@example.com>",
                                      date="2024-04-01T09:30:00+00:00", present_at_head=False),
                verification=Verification(status="expired", key_id="key_old9")),
        finding(k_b64, path="deploy/values.json", line=40, column=3, encoding="base64",
                snippet='  "token": "<base64 text>"',
                details=(("kid", "api-key-1"), ("scopes", "api:read api:write"))),
        finding(k_odd, path="weird|name`x`.md", line=1, column=1,
                snippet=f"key: {redact(k_odd)} | `quoted`"),
    ]
    report = ScanReport(
        kind=kind, findings=findings,
        hygiene=[hygiene(), hygiene("over-broad", Severity.HIGH, "key_x|y", "Bad | name `x`")],
        suppressed=[("docs/setup.md", "flux_dev_abc1…mno3", 12, "documentation placeholder")],
        allowed=2, baselined=1, stale_baseline=1,
        warnings=["skipped big.bin: larger than 10 MB"],
        stats={"files": 12, "bytes": 3456}, root="/tmp/example-repo", tenant="acme",
        command="keyguard scan --all")
    return report, [k_live, k_hist, k_b64, k_odd]


def render(module, report: ScanReport, **options) -> str:
    """Run one writer module into a string."""
    out = io.StringIO()
    module.write(report, out, ReportOptions(**options))
    return out.getvalue()


# ---------------------------------------------------------------- the shared facts


def test_order_puts_worst_first_then_path_and_line():
    low = finding(path="a.py", severity=Severity.LOW)
    crit_b = finding(path="b.py", line=9, severity=Severity.CRITICAL)
    crit_a2 = finding(path="a.py", line=5, severity=Severity.CRITICAL)
    crit_a1 = finding(path="a.py", line=2, severity=Severity.CRITICAL)
    assert summary.ordered([low, crit_b, crit_a2, crit_a1]) == [crit_a1, crit_a2, crit_b, low]


def test_by_file_groups_and_sorts_files_by_their_worst_finding():
    a_low = finding(path="a.py", line=1, severity=Severity.LOW)
    b_high = finding(path="b.py", line=4, severity=Severity.HIGH)
    b_low = finding(path="b.py", line=2, severity=Severity.LOW)
    groups = summary.by_file([a_low, b_high, b_low])
    assert [path for path, _ in groups] == ["b.py", "a.py"]
    assert groups[0][1] == [b_low, b_high]  # within a file: by position


def test_summary_line_counts_by_severity_and_tallies():
    report, _ = rich_report()
    line = summary.summary_line(report)
    assert line.startswith("4 findings (1 critical, 3 high); 2 allowed, 1 baselined, 1 suppressed, "
                           "1 stale baseline entry")
    assert "2 unhealthy keys (1 high, 1 medium)" in line
    assert line.endswith("1 warning")


def test_provenance_and_status_phrases():
    report, _ = rich_report()
    hist = report.findings[1]
    assert summary.provenance_phrase(hist.provenance) == (
        "commit 3f1c0a9b7d by Test Author <author@example.com> on 2024-04-01T09:30:00+00:00, "
        "removed since")
    live = report.findings[0]
    assert summary.verification_phrase(live.verification) == (
        'live: key "Prod deploy" (key_live1) in tenant acme, permissions read_scenarios, manage_keys')
    assert summary.status_phrase(live) == "live, revoked"
    assert summary.status_phrase(report.findings[2]) == "not verified"


def test_secret_guard_scrubs_a_leaked_secret_from_snippets_and_warnings():
    key = keys.platform_key("flux_prod_")
    leaky = finding(key, snippet=f'API_KEY = "{key}"')
    report = ScanReport(kind="worktree", findings=[leaky])
    guard = summary.SecretGuard(report)
    assert key not in guard.finding(leaky, leaky.snippet)
    assert redact(key) in guard.finding(leaky, leaky.snippet)
    assert key not in guard.any(f"could not verify {key}")
    assert key in summary.SecretGuard(report, show_secrets=True).finding(leaky, leaky.snippet)
