"""Text writer: what a developer reads in a terminal or in pre-commit's captured output."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios
import threading
from dataclasses import replace

import pytest

from keyguard.model import ScanReport
from keyguard.redact import redact
from keyguard.report import text
from keyguard.report.interface import ReportOptions
from test_report_samples import COMMIT, finding, render, rich_report

ESC = "\x1b["


def on_a_terminal(report: ScanReport, columns: int = 120, **options) -> str:
    """Write the report to a real pseudo-terminal and return what the terminal received."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the slave side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    with open(slave, "w", encoding="utf-8", closefd=True) as stream:
        text.write(report, stream, ReportOptions(**options))
    reader.join(timeout=10)
    os.close(master)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_plain_report_has_what_a_user_needs():
    report, secrets = rich_report("history")
    out = render(text, report)
    assert ESC not in out
    for key in secrets:
        assert key not in out
        assert redact(key) in out
    lines = out.splitlines()
    # grouped by file: each path is a line of its own, followed by its findings
    assert lines[0] == "app/settings.py"
    assert "old/config.yaml" in lines and "weird|name`x`.md" in lines
    head = next(line for line in lines if "fluxloop-prod-key" in line)
    assert "7:15" in head and "CRITICAL" in head
    assert "found base64-encoded" in out
    assert f"history: commit {COMMIT[:10]} by Test Author <author@example.com> on 2024-04-01" in out
    assert "removed since" in out
    assert 'verified: live: key "Prod deploy" (key_live1) in tenant acme, permissions ' \
           "read_scenarios, manage_keys" in out
    assert "verified: expired" in out
    assert "revocation: revoked at 2024-05-01T10:00:00Z via operator" in out
    # the fix: each rule's own remediation, once, and the word on history
    fix = out[out.index("How to fix"):out.index("warning:")]
    for f in report.findings:
        assert fix.count(f.remediation) == 1
    assert "history" in fix
    assert "warning: skipped big.bin: larger than 10 MB" in out
    assert lines[-1] == ("4 findings (1 critical, 3 high); 2 allowed, 1 baselined, 1 suppressed, "
                         "1 stale baseline entry; 2 unhealthy keys (1 high, 1 medium); 1 warning")


def test_show_secrets_prints_the_full_keys():
    report, secrets = rich_report("worktree")
    out = render(text, report, show_secrets=True)
    for key in secrets:
        assert key in out


def test_plain_output_does_not_depend_on_the_terminal_width(monkeypatch):
    report, _ = rich_report("history")
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render(text, report)
    monkeypatch.setenv("COLUMNS", "250")
    wide = render(text, report)
    assert narrow == wide
    assert all(line == line.rstrip() for line in narrow.splitlines())
    long_line = next(line for line in narrow.splitlines() if "Deleting the key from the file" in line)
    assert long_line.endswith("rotating it is the fix that counts.")  # not wrapped


def test_verbose_lists_suppressed_candidates_with_reasons():
    report, _ = rich_report("worktree")
    assert "documentation placeholder" not in render(text, report)
    out = render(text, report, verbose=True)
    assert "docs/setup.md:12  flux_dev_abc1…mno3  documentation placeholder" in out


def test_hygiene_findings_render_as_a_table_on_a_terminal_and_rows_elsewhere(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    report, _ = rich_report("hygiene")
    report.findings = []
    rows = [line.split("\t") for line in render(text, report).splitlines()]
    assert [(r[0], r[1], r[2]) for r in rows] == [("key_x|y", "high", "over-broad"),
                                                  ("key_abc123", "medium", "never-expires")]
    out = on_a_terminal(report, columns=250, color=False).replace("\r", "")
    lines = [line.rstrip() for line in out.splitlines()]
    header = next(line for line in lines if "check" in line and "owner" in line)
    for column in ("severity", "key id", "name", "hint", "owner", "message"):
        assert column in header
    row = next(line for line in lines if "never-expires" in line)
    for cell in ("medium", "key_abc123", "CI/CD Pipeline", "flux_ci_****...x2q9",
                 "ops@example.com", "fails the never-expires check"):
        assert cell in row
    assert "No FluxLoop keys found" not in out and "How to fix" not in out
    assert lines[-1] == "2 unhealthy keys (1 high, 1 medium); 1 warning"


def test_a_clean_scan_says_so():
    out = render(text, ScanReport(kind="staged", allowed=1))
    assert out.splitlines()[0] == "No FluxLoop keys found."
    assert out.splitlines()[-1] == ("0 findings; 1 allowed, 0 baselined, 0 suppressed, "
                                    "0 stale baseline entries")


def test_terminal_gets_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    report, secrets = rich_report("worktree")
    out = on_a_terminal(report)
    assert ESC in out
    assert "fluxloop-prod-key" in out
    for key in secrets:
        assert key not in out


@pytest.mark.parametrize("how", ["NO_COLOR", "color=False"])
def test_no_colour_on_a_terminal_when_asked(monkeypatch, how):
    monkeypatch.delenv("NO_COLOR", raising=False)
    if how == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
        out = on_a_terminal(rich_report("worktree")[0])
    else:
        out = on_a_terminal(rich_report("worktree")[0], color=False)
    assert "fluxloop-prod-key" in out
    assert "\x1b[1m" not in out and "\x1b[31m" not in out and "\x1b[0m" not in out


def test_color_true_forces_colour_into_a_pipe():
    out = io.StringIO()
    text.write(rich_report("worktree")[0], out, ReportOptions(color=True))
    assert ESC in out.getvalue()


def test_hygiene_on_a_narrow_terminal_is_a_list_not_a_mangled_table(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    report, _ = rich_report("hygiene")
    report.findings = []
    wide = on_a_terminal(report, columns=200, color=False)
    assert any("key_abc123" in line and "ops@example.com" in line and "fails the never-expires"
               in line for line in wide.splitlines())  # a table row
    narrow = on_a_terminal(report, columns=60, color=False)
    lines = narrow.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert any(line.strip() == "CI/CD Pipeline fails the never-expires check" for line in lines)
    assert any("owner ops@example.com" in line for line in lines)


def test_control_characters_in_file_names_cannot_drive_the_terminal():
    evil = finding(path="evil\x1b[2J\x1b]0;owned\x07\nnext.py",
                   snippet="x = 1 \x1b[31m", details=(("kid", "\x1b[5m"),))
    report = ScanReport(kind="worktree", findings=[evil], warnings=["bad \x1b[31m warning"])
    out = render(text, report)
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines()[0] == "evil\\x1b[2J\\x1b]0;owned\\x07\\x0anext.py"


def test_the_fix_is_said_once():
    same = "Rotate it and keep it in FLUXLOOP_API_KEY."
    report = ScanReport(kind="worktree", findings=[
        finding(rule_id="rule-a", remediation=same), finding(rule_id="rule-b", remediation=same, line=2),
        finding(rule_id="rule-a", remediation=same, line=3)])
    fix = render(text, report).split("How to fix\n")[1]
    assert fix.count(same) == 1 and "  1. rule-a, rule-b: " + same in fix
    assert "Add .fluxloop/.env" not in fix  # the generic steps would say it all again
    # a rule without advice of its own gets the generic steps, once
    report.findings.append(finding(rule_id="team-rule", remediation="", line=4))
    fix = render(text, report).split("How to fix\n")[1]
    assert fix.count(same) == 1 and fix.count("Add .fluxloop/.env") == 1


def test_wrapped_lines_keep_their_indent(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    long_about = "a description " * 12
    from dataclasses import replace
    report = ScanReport(kind="worktree", findings=[replace(finding(remediation="word " * 40),
                                                           description=long_about.strip())])
    out = on_a_terminal(report, columns=60, color=False)
    lines = [line.rstrip() for line in out.replace("\r", "").splitlines()]
    about = [i for i, line in enumerate(lines) if line.strip().startswith("a description")]
    assert about and all(len(line) <= 60 for line in lines)
    body = [line for line in lines[about[0]:] if line.strip()][:3]
    assert all(line.startswith(" " * text.FACT_INDENT + "a description") or
               line.startswith(" " * text.FACT_INDENT + "description") for line in body[:2]), body
    fix = lines[lines.index("How to fix") + 1:]
    assert fix[0].startswith("  1. ") and fix[1].startswith("     word")  # under the text, not the number


@pytest.mark.parametrize("kind", ["worktree", "history", "staged"])
@pytest.mark.parametrize("options", [{}, {"verbose": True}, {"show_secrets": True}])
def test_plain_report_without_rich_is_what_rich_writes(kind, options):
    """Into a pipe or file a scan report is joined without loading rich; it must read the same."""
    report, _ = rich_report(kind)
    report.hygiene = []
    report.policy = {"config": ".keyguard.toml", "exclude": "none"}
    report.warnings.append("a path with\ttab and " + "é" * 300)  # lines rich would treat its own way
    for r in (report, rich_report(kind)[0]):
        r.hygiene = []
        via_rich = io.StringIO()
        text._write_rich(r, via_rich, ReportOptions(**options), tty=False)
        assert render(text, r, **options) == via_rich.getvalue()
    report.warnings.pop()
    report.findings[0] = replace(report.findings[0], snippet="x" * 600)  # long enough for rich to wrap
    via_rich = io.StringIO()
    text._write_rich(report, via_rich, ReportOptions(**options), tty=False)
    assert render(text, report, **options) == via_rich.getvalue()
