"""Mermaid diagrams and terminal bars (keyguard.report.charts), checked by structure, not pixels."""

from __future__ import annotations

from datetime import date

import pytest

from keyguard.report import charts
from mermaid_check import MermaidError, blocks, parse

HOSTILE = ['Eve: "x" ; #evil %% ]] end', "2001:db8::1", "a\nb\rc", "<script>`x`</script>", "{{ x }} | y",
           "x" * 300]


def test_the_checker_rejects_what_would_break_a_diagram():
    with pytest.raises(MermaidError):
        parse("timeline\n    2024-01-02 : one : two\n")  # a second ':' starts another event
    with pytest.raises(MermaidError):
        parse('xychart-beta\n    x-axis ["a", "b"]\n    bar [1]\n')  # lengths differ
    with pytest.raises(MermaidError):
        parse("flowchart LR\n    a --> b\n")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_labels_stay_inside_their_statement(text):
    events = [(date(2024, 1, 2), text), (date(2024, 1, 1), "first " + text), (date(2024, 1, 2), "again")]
    kind, data = parse("\n".join(charts.timeline(text, events)))
    assert kind == "timeline"
    assert [p for p, _ in data["periods"]] == ["2024-01-01", "2024-01-02"]
    assert len(data["periods"][1][1]) == 2
    assert all(len(e) <= charts.MAX_LABEL for _, evs in data["periods"] for e in evs)
    kind, data = parse("\n".join(charts.bar_chart(text, [text, "b"], [3, 0], text)))
    assert kind == "xychart-beta" and data["bar"] == [3, 0] and data["y"][2] == 3


def test_daily_series_fills_the_window_and_drops_what_is_not_a_day():
    series = charts.daily_series([("2024-01-03", 5), ("2024-01-01", 2), ("not a day", 9), ("2024-01-03x", 1)],
                                 days=5)
    assert [(d.isoformat(), n) for d, n in series] == [
        ("2023-12-30", 0), ("2023-12-31", 0), ("2024-01-01", 2), ("2024-01-02", 0), ("2024-01-03", 5)]
    assert charts.daily_series([], days=30) == []


def test_sparkline_scales_to_the_largest_and_never_hides_a_call():
    assert charts.sparkline([0, 1, 100, 50]) == " ▁█▄"  # 50/100 of 8 steps: 4
    assert charts.sparkline([0, 0]) == "  "


def test_blocks_finds_every_fenced_mermaid_block():
    md = "x\n```mermaid\ntimeline\n    2024-01-01 : a\n```\n\n```sh\nls\n```\n```mermaid\nxychart-beta\n```\n"
    assert [b.split("\n")[0] for b in blocks(md)] == ["timeline", "xychart-beta"]
