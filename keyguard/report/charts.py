"""Pictures in reports: Mermaid diagrams for Markdown, and compact bar charts for the terminal.

GitHub and GitLab render fenced ``mermaid`` blocks. keyguard emits two kinds:
``timeline`` (dated events) and ``xychart-beta`` (a bar chart). Every label
goes through ``label``: text from outside keyguard (author names, ref names,
an IP, an API's day keys) is cut to a safe character set, so it can neither
end a statement nor open markup, and is shortened. Day keys that are not
``YYYY-MM-DD`` dates are dropped. No function here ever receives a secret; the
incident writer still scrubs its key from the finished text as a last guard.

The terminal gets ``sparkline``: one row of block characters, one per day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Iterable, Sequence

MAX_LABEL = 60
"""Longest label (characters) a diagram gets; longer text is cut with an ellipsis."""
_UNSAFE = re.compile(r"[^\w .,/@()+=\-'~…꞉]", re.UNICODE)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
BLOCKS = " ▁▂▃▄▅▆▇█"
"""Bar heights of ``sparkline``, empty to full."""


def label(text: object, limit: int = MAX_LABEL) -> str:
    """``text`` as a safe Mermaid label: one line, no ``:`` ``;`` ``#`` ``"`` quotes, brackets or markup."""
    s = " ".join(str(text).split())
    s = s.replace(":", "꞉")  # U+A789 looks like a colon (times, IPv6) but separates nothing
    s = _UNSAFE.sub(" ", s)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def day(value: str) -> date | None:
    """``YYYY-MM-DD`` (the start of an ISO timestamp) as a date, or None when it is not one."""
    head = str(value)[:10]
    if not _DAY.match(head):
        return None
    try:
        return date.fromisoformat(head)
    except ValueError:
        return None


def fence(lines: Iterable[str]) -> list[str]:
    """A fenced ``mermaid`` block around ``lines``."""
    return ["```mermaid", *lines, "```"]


def timeline(title: str, events: Iterable[tuple[date, str]]) -> list[str]:
    """A Mermaid ``timeline``: one period per day (in order), its events after ``:``."""
    by_day: dict[date, list[str]] = {}
    for d, text in sorted(events, key=lambda e: e[0]):
        by_day.setdefault(d, []).append(label(text))
    lines = ["timeline", f"    title {label(title)}"]
    for d, texts in by_day.items():
        lines.append(f"    {d.isoformat()} : {texts[0]}")
        lines += [f"               : {t}" for t in texts[1:]]
    return lines


def bar_chart(title: str, x_labels: Sequence[str], values: Sequence[int], y_title: str) -> list[str]:
    """A Mermaid ``xychart-beta`` bar chart (labels quoted, values whole numbers)."""
    top = max([*values, 1])
    xs = ", ".join(f'"{label(x, 20)}"' for x in x_labels)
    return ["xychart-beta", f'    title "{label(title)}"', f"    x-axis [{xs}]",
            f'    y-axis "{label(y_title)}" 0 --> {top}', f"    bar [{', '.join(str(int(v)) for v in values)}]"]


def daily_series(by_day: Iterable[tuple[str, int]], days: int, end: date | None = None
                 ) -> list[tuple[date, int]]:
    """Counts per day for the ``days`` days ending at ``end`` (default: the last day with calls), zeros filled.

    Keys that are not dates are ignored; counts below zero count as zero.
    """
    counts: dict[date, int] = {}
    for key, n in by_day:
        d = day(key) if _DAY.match(str(key)) else None  # the whole key a day, not just its start
        if d is not None:
            counts[d] = counts.get(d, 0) + max(0, int(n))
    if not counts:
        return []
    last = end or max(counts)
    first = last - timedelta(days=max(1, days) - 1)
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
            for i in range((last - first).days + 1)]


def sparkline(values: Sequence[int]) -> str:
    """One block character per value, scaled to the largest (any non-zero value shows at least ``▁``)."""
    top = max(values, default=0)
    if top <= 0:
        return BLOCKS[0] * len(values)
    steps = len(BLOCKS) - 1
    return "".join(BLOCKS[0] if v <= 0 else BLOCKS[max(1, round(v * steps / top))] for v in values)


# -- the incident report's pictures -------------------------------------------------------------

def incident_events(tl, occurrences, usage) -> list[tuple[date, str]]:
    """The dated events of an incident: first leak, later commits and where they went, API use, revoke.

    ``tl`` is the incident's ``Timeline``, ``occurrences`` its places, ``usage``
    its ``KeyUsage`` or None. Git records no push dates: the refs that hold the
    key (remote-tracking ones such as ``origin/main`` show a push) are listed
    on the day of the latest commit holding it.
    """
    from datetime import datetime, timezone

    events: list[tuple[date, str]] = []
    first, last = day(tl.first_committed), day(tl.last_seen)
    if first:
        who = f" by {tl.first_author.split('<')[0].strip()}" if tl.first_author else ""
        events.append((first, f"first committed {tl.first_commit[:12]}{who}"))
    refs = sorted({r for o in occurrences for r in o.refs})
    if last and (last != first or tl.last_commit != tl.first_commit):
        events.append((last, f"last commit holding it {tl.last_commit[:12]}"))
    if refs and (last or first):
        shown = ", ".join(refs[:4]) + (f" and {len(refs) - 4} more" if len(refs) > 4 else "")
        events.append((last or first, f"in {shown}"))
    if usage is not None:
        series = [(d, n) for d, n in daily_series(usage.by_day, usage.days) if n > 0]
        if series:
            events.append((series[0][0], f"first API use in the {usage.days}-day window ({series[0][1]} calls)"))
        if usage.last_used is not None:
            where = ", ".join(x for x in (usage.last_ip, usage.last_location) if x) or "unknown place"
            when = datetime.fromtimestamp(usage.last_used, timezone.utc).date()
            events.append((when, f"last API use, from {where}"))
    revoked = day(tl.revoked_at)
    if revoked:
        events.append((revoked, "revoked"))
    reported = day(tl.reported_at)
    if reported:
        events.append((reported, "incident report"))
    return events


def incident_timeline(tl, occurrences, usage) -> list[str]:
    """The incident's timeline as a fenced Mermaid ``timeline`` (no lines when nothing is dated)."""
    events = incident_events(tl, occurrences, usage)
    if len(events) < 2:  # the report's own date alone is no timeline
        return []
    return fence(timeline("Leak timeline (UTC days)", events))


def calls_per_day(usage) -> list[str]:
    """The blast radius's calls per day as a fenced Mermaid bar chart (no lines when there are none)."""
    series = daily_series(usage.by_day, usage.days) if usage is not None else []
    if not any(n for _, n in series):
        return []
    return fence(bar_chart(f"API calls per day, last {usage.days} days", [d.strftime("%m-%d") for d, _ in series],
                           [n for _, n in series], "calls"))


def calls_per_day_line(usage) -> str:
    """``calls per day 01-02..01-31 ▁▁▃█▂ (max 245)`` for the terminal, or "" without daily counts."""
    series = daily_series(usage.by_day, usage.days) if usage is not None else []
    if not any(n for _, n in series):
        return ""
    values = [n for _, n in series]
    return (f"calls per day {series[0][0].strftime('%m-%d')}..{series[-1][0].strftime('%m-%d')} "
            f"{sparkline(values)} (max {max(values)})")
