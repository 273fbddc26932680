"""Markdown writer: a CI step summary whose tables survive hostile file names."""

from __future__ import annotations

from html.parser import HTMLParser

from markdown_it import MarkdownIt  # ships with rich

import keys
from keyguard.model import ScanReport
from keyguard.redact import redact
from keyguard.report import markdown
from test_report_samples import COMMIT, finding, render, rich_report

MD = MarkdownIt("commonmark").enable("table")


class Tables(HTMLParser):
    """Collects the cell texts of every rendered table, and every tag name seen."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parsed(report: ScanReport, **options) -> tuple[str, Tables]:
    text = render(markdown, report, **options)
    return text, Tables(MD.render(text))


def test_headline_findings_table_and_fix():
    report, secrets = rich_report("history")
    text, html = parsed(report)
    assert text.splitlines()[0] == ("## keyguard history: 4 findings (1 critical, 3 high), "
                                    "2 unhealthy keys (1 high, 1 medium)")
    findings, hygiene = html.tables
    assert findings[0] == ["Location", "Rule", "Severity", "Key", "Commit", "Status"]
    rows = findings[1:]
    assert len(rows) == 4 and all(len(row) == 6 for row in rows)
    assert rows[0] == ["app/settings.py:7", "fluxloop-prod-key", "critical",
                       redact(secrets[0]), "", "live, revoked (new)"]
    hist = next(row for row in rows if row[0] == "old/config.yaml:2")
    assert hist[4] == COMMIT[:10] and hist[5] == "expired"
    # the pipe and backticks in the file name stay inside one cell, unchanged
    assert ["weird|name`x`.md:1", "fluxloop-ci-key", "high", redact(secrets[3]), "",
            "not verified"] in rows
    assert "### How to fix" in text
    fix = text[text.index("### How to fix"):]
    for f in report.findings:  # each rule's own advice, once (escaped for Markdown)
        assert fix.count(markdown.escape(f.remediation)) == 1
    assert "- skipped big.bin: larger than 10 MB" in text


def test_hygiene_table_cells():
    report, _ = rich_report("hygiene")
    report.findings = []
    text, html = parsed(report)
    assert text.splitlines()[0] == "## keyguard hygiene: 2 unhealthy keys (1 high, 1 medium)"
    [table] = html.tables
    assert table[0] == ["Check", "Severity", "Key id", "Name", "Hint", "Owner", "Expires", "Message"]
    assert table[1] == ["over-broad", "high", "key_x|y", "Bad | name `x`", "flux_ci_****...x2q9",
                        "ops@example.com", "never", "Bad | name `x` fails the over-broad check"]
    assert "How to fix" not in text


def test_no_secret_even_with_show_secrets():
    report, secrets = rich_report("worktree")
    for show in (False, True):
        text = render(markdown, report, show_secrets=show)
        for key in secrets:
            assert key not in text


def test_hostile_names_cannot_inject_html_or_break_rows():
    key = keys.platform_key("flux_prod_")
    evil = finding(key, path="<img src=x onerror=alert(1)>|`*_[x](y)\nnext.py", line=2)
    report = ScanReport(kind="worktree", findings=[evil], warnings=["<script>alert(1)</script>"])
    _, html = parsed(report)
    assert not {"img", "script", "a", "strong"} & html.tags  # (em: the italic summary line)
    [table] = html.tables
    assert len(table) == 2 and len(table[1]) == 6
    assert table[1][0] == "<img src=x onerror=alert(1)>|`*_[x](y) next.py:2"


def test_verbose_adds_suppressed_candidates():
    report, _ = rich_report("worktree")
    assert "documentation placeholder" not in render(markdown, report)
    _, html = parsed(report, verbose=True)
    assert ["docs/setup.md:12", "flux_dev_abc1…mno3", "documentation placeholder"] in html.tables[-1]


def test_big_tables_are_capped(monkeypatch):
    monkeypatch.setattr(markdown, "MAX_ROWS", 5)
    report = ScanReport(kind="history", findings=[finding(line=i + 1) for i in range(8)])
    text, html = parsed(report)
    assert len(html.tables[0]) == 1 + 5
    assert "…and 3 more (see the JSON or SARIF report)" in text


def test_clean_scan():
    text = render(markdown, ScanReport(kind="staged"))
    assert text.splitlines()[0] == "## keyguard staged: 0 findings"
    assert "|" not in text


def test_audit_summary_counts_findings_by_severity_and_status():
    report, _ = rich_report("audit")
    text, html = parsed(report)
    overview = html.tables[0]
    assert text.index("### Findings by severity and status") < text.index("### Findings\n")
    header, rows = overview[0], overview[1:]
    assert header[0] == "Severity" and header[-1] == "Total"
    assert [row[0] for row in rows] == ["critical", "high"]
    cells = {(row[0], status): n for row in rows for status, n in zip(header[1:-1], row[1:-1]) if n}
    assert cells == {("critical", "live, revoked"): "1", ("high", "expired"): "1", ("high", "not verified"): "2"}
    assert sum(int(row[-1]) for row in rows) == len(report.findings)
    # other kinds of report keep the findings table first
    text, html = parsed(rich_report("history")[0])
    assert "by severity and status" not in text
