"""SARIF writer: validates against the 2.1.0 schema and follows GitHub code scanning's conventions."""

from __future__ import annotations

import json

import jsonschema
import pytest

from conftest import SARIF_SCHEMA

import keys
from keyguard.model import Provenance, ScanReport, Severity
from keyguard.redact import redact
from keyguard.report import sarif
from keyguard.report.interface import ReportOptions
from keyguard.report.linehash import line_hashes
from test_report_samples import COMMIT, finding, render, rich_report

SCHEMA = json.loads(SARIF_SCHEMA.read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def sarif_of(report: ScanReport, **options) -> tuple[dict, str]:
    text = render(sarif, report, **options)
    return json.loads(text), text


def assert_valid(doc: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def variants():
    """Every shape of report the CLI can hand the SARIF writer."""
    out = {}
    for kind in ("staged", "worktree", "history", "stdin", "audit"):
        out[kind] = rich_report(kind)[0]
    only_hygiene, _ = rich_report("hygiene")
    only_hygiene.findings = []
    out["hygiene"] = only_hygiene
    out["empty"] = ScanReport(kind="staged")
    out["no-root-no-line"] = ScanReport(kind="stdin", findings=[
        finding(path="<stdin>", line=0, column=0, snippet="")])
    return out


@pytest.mark.parametrize("name", list(variants()))
def test_every_variant_validates_against_the_sarif_schema(name):
    doc, text = sarif_of(variants()[name])
    assert_valid(doc)
    assert doc["version"] == "2.1.0"


def test_no_secret_in_sarif_even_with_show_secrets():
    report, secrets = rich_report("history")
    for show in (False, True):
        _, text = sarif_of(report, show_secrets=show)
        for key in secrets:
            assert key not in text
            assert redact(key) in text


def test_driver_and_one_rule_per_rule_id():
    report, _ = rich_report("worktree")
    report.findings.append(finding(path="second.py"))  # a second fluxloop-prod-key finding
    doc, _ = sarif_of(report)
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "keyguard" and driver["version"] and driver["informationUri"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert sorted(rule_ids) == sorted({f.rule_id for f in report.findings})
    by_id = {r["id"]: r for r in driver["rules"]}
    prod = by_id["fluxloop-prod-key"]
    assert prod["properties"]["security-severity"] == Severity.CRITICAL.security_severity
    assert prod["properties"]["tags"] == ["security", "secret"]
    assert prod["defaultConfiguration"]["level"] == "error"
    assert prod["shortDescription"]["text"] == "FluxLoop production platform key"
    remediation = report.findings[0].remediation
    assert remediation in prod["help"]["text"]
    assert ".fluxloop/.env" in prod["help"]["markdown"] and ".gitignore" in prod["help"]["markdown"]
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_results_locations_regions_and_properties():
    report, _ = rich_report("history")
    report.findings.append(finding(path="src\\win\\app.py", line=5, column=4))
    doc, _ = sarif_of(report)
    results = {r["properties"]["fingerprint"]: r for r in doc["runs"][0]["results"]}
    for f in report.findings:
        r = results[f.fingerprint]
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert "\\" not in loc["artifactLocation"]["uri"]
        assert loc["region"] == {"startLine": f.line, "startColumn": f.column,
                                 "endColumn": f.end_column, "snippet": {"text": f.redacted}}
        assert r["level"] == f.severity.sarif_level
        assert f.redacted in r["message"]["text"] and f.rule_id in r["message"]["text"]
        assert r["partialFingerprints"]["keyguardSecretFingerprint/v1"] == f.fingerprint
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results.values()}
    assert {"app/settings.py", "old/config.yaml", "src/win/app.py"} <= uris
    assert "weird%7Cname%60x%60.md" in uris  # percent-encoded, still one path
    hist = results[report.findings[1].fingerprint]
    assert COMMIT[:10] in hist["message"]["text"]
    assert hist["properties"]["commit"] == COMMIT
    assert hist["properties"]["presentAtHead"] is False
    assert hist["properties"]["author"] == "Test Author <author@example.com>"
    live = results[report.findings[0].fingerprint]
    assert live["properties"]["verification"] == "live"
    assert live["properties"]["revocation"] == "revoked"
    encoded = results[report.findings[2].fingerprint]
    assert encoded["properties"]["encoding"] == "base64"


def test_history_and_tree_findings_use_the_same_uri_spelling():
    key = keys.platform_key("flux_dev_")
    tree = finding(key, path="./conf/app.env", source="worktree")
    hist = finding(key, path="conf/app.env", source="history", provenance=Provenance(commit=COMMIT))
    docs = [sarif_of(ScanReport(kind=k, findings=[f]))[0] for k, f in (("worktree", tree),
                                                                        ("history", hist))]
    locs = [d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
            for d in docs]
    assert locs[0] == locs[1] == {"uri": "conf/app.env", "uriBaseId": "%SRCROOT%"}


def _line_hash(report: ScanReport, fingerprint: str) -> str:
    doc, _ = sarif_of(report)
    [r] = [r for r in doc["runs"][0]["results"] if r["properties"]["fingerprint"] == fingerprint]
    return r["partialFingerprints"]["primaryLocationLineHash"]


def test_line_hash_is_stable_across_runs_and_moved_lines():
    key = keys.platform_key("flux_prod_")
    at_3 = finding(key, line=3)
    at_90 = finding(key, line=90, column=1)
    first = _line_hash(ScanReport(kind="worktree", findings=[at_3]), at_3.fingerprint)
    again = _line_hash(ScanReport(kind="worktree", findings=[at_3]), at_3.fingerprint)
    moved = _line_hash(ScanReport(kind="worktree", findings=[at_90]), at_90.fingerprint)
    assert first == again == moved
    assert first.endswith(":1") and len(first.split(":")[0]) <= 16
    other = finding(keys.platform_key("flux_prod_"), line=3, snippet=at_3.snippet)
    assert _line_hash(ScanReport(kind="worktree", findings=[other]), other.fingerprint) != first


def test_line_hash_numbers_repeats_within_a_file():
    key = keys.platform_key("flux_prod_")
    a, b = finding(key, line=3), finding(key, line=30)
    c = finding(key, line=3, path="other.py")
    doc, _ = sarif_of(ScanReport(kind="worktree", findings=[a, b, c]))
    by_path: dict[str, list[str]] = {}
    for r in doc["runs"][0]["results"]:
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        by_path.setdefault(uri, []).append(r["partialFingerprints"]["primaryLocationLineHash"])
    base = by_path["config/settings.py"][0].split(":")[0]
    assert by_path["config/settings.py"] == [f"{base}:1", f"{base}:2"]
    assert by_path["other.py"] == [f"{base}:1"]


def test_line_hash_algorithm_matches_codeql_action_vectors():
    # Expected values published in github/codeql-action's src/fingerprints.test.ts.
    assert line_hashes("") == {1: "c129715d7a2bc9a3:1"}
    assert line_hashes(" a\nb\n  \t\tc\n d") == {
        1: "271789c17abda88f:1", 2: "54703d4cd895b18:1", 3: "180aee12dab6264:1",
        4: "a23a3dc5e078b07b:1"}
    crlf = line_hashes(" hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n")
    assert crlf == line_hashes(" hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r")
    assert crlf[1] == "e9496ae3ebfced30:1" and crlf[7] == "c129715d7a2bc9a3:1"
    lorem = line_hashes("Lorem ipsum dolor sit amet.\n" * 10)
    assert [lorem[i] for i in (1, 6, 7)] == ["a7f2ff13bc495cf2:1", "a7f2ff13bc495cf2:6",
                                              "a7f2ff1481e87703:1"]


def test_one_automation_id_per_kind_and_a_separate_hygiene_run():
    ids = {}
    for kind in ("staged", "worktree", "history", "stdin"):
        doc, _ = sarif_of(rich_report(kind)[0])
        ids[kind] = [run["automationDetails"]["id"] for run in doc["runs"]]
    assert ids["staged"] == ["keyguard/staged/", "keyguard/hygiene/"]
    assert len({tuple(v)[0] for v in ids.values()}) == 4
    only_hygiene, _ = rich_report("hygiene")
    only_hygiene.findings = []
    doc, _ = sarif_of(only_hygiene)
    assert [run["automationDetails"]["id"] for run in doc["runs"]] == ["keyguard/hygiene/"]


def test_hygiene_results_name_the_key_with_a_logical_location():
    report, _ = rich_report("hygiene")
    report.findings = []
    doc, _ = sarif_of(report)
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"hygiene/never-expires", "hygiene/over-broad"}
    first = run["results"][0]  # worst first: the high over-broad finding
    assert first["ruleId"] == "hygiene/over-broad" and first["level"] == "error"
    [location] = first["locations"]
    assert location["logicalLocations"] == [
        {"kind": "resource", "name": "key_x|y", "fullyQualifiedName": "acme/key_x|y"}]
    # GitHub rejects results without a physical location, and its ingestion rules (SARIF2017)
    # want a region in each: a synthetic one, line 1 of the key's anchor
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "fluxloop-keys/acme/key_x%7Cy", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1}}
    assert first["properties"]["owner"] == "ops@example.com"


def test_every_result_has_an_artifact_uri_as_github_requires():
    for name, report in variants().items():
        doc, _ = sarif_of(report)
        for run in doc["runs"]:
            for result in run["results"]:
                assert result["locations"], name
                assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], name
                assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1, name


def test_warnings_become_tool_execution_notifications():
    report, _ = rich_report("worktree")
    doc, _ = sarif_of(report)
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert texts == ["skipped big.bin: larger than 10 MB"]


def test_26000_findings_are_truncated_to_githubs_limits_keeping_the_worst():
    severities = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    findings = [finding(keys.platform_key("flux_dev_"), path=f"src/mod{i % 500}.py", line=i + 1,
                        severity=severities[i % 4]) for i in range(26_000)]
    report = ScanReport(kind="history", findings=findings)
    text = sarif.dumps(report, ReportOptions())
    doc = json.loads(text)
    results = doc["runs"][0]["results"]
    assert len(text.encode("utf-8")) <= sarif.MAX_BYTES
    assert 0 < len(results) <= sarif.MAX_RESULTS
    kept = [r["properties"]["severity"] for r in results]
    assert kept.count("critical") == 6_500  # every critical one survived
    ranks = [Severity(s).rank for s in kept]
    assert ranks == sorted(ranks, reverse=True)
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("truncated" in n["message"]["text"] and "26000" in n["message"]["text"] for n in notes)
    assert any("truncated" in w for w in report.warnings)  # for the CLI's stderr
    assert report.stats["sarif_dropped_results"] == 26_000 - len(results)
    assert_valid(doc)


def test_size_limit_cuts_least_severe_first():
    findings = [finding(keys.platform_key("flux_dev_"), line=i + 1,
                        severity=Severity.CRITICAL if i < 5 else Severity.LOW) for i in range(60)]
    report = ScanReport(kind="worktree", findings=findings)
    text = sarif.dumps(report, ReportOptions(), max_bytes=30_000)
    assert len(text.encode("utf-8")) <= 30_000
    results = json.loads(text)["runs"][0]["results"]
    assert 5 <= len(results) < 60
    assert [r["properties"]["severity"] for r in results[:5]] == ["critical"] * 5
    again = json.loads(sarif.dumps(report, ReportOptions(), max_bytes=30_000))  # written twice
    notes = again["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert sum("truncated" in n["message"]["text"] for n in notes) == 1
    assert sum("truncated" in w for w in report.warnings) == 1
