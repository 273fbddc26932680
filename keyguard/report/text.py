"""The human report: findings grouped by file, what was learned about each key, the fix.

On a terminal it is rendered with rich: coloured (unless ``NO_COLOR`` or
``options.color`` says otherwise) and tables fit the window. Anywhere else
(pre-commit captures the output, CI logs, files) it is plain: no colour, ASCII
table borders, no line wrapped at a guessed width and no trailing blanks; the
key hygiene report (``keyguard keys``) is then one tab-separated row per key
(``HYGIENE_ROW``).

The report is first built as ``_Styled`` lines (text spans with rich style
names). A plain report without tables (every ``scan`` into a pipe or a file:
the pre-commit hook refusing a commit) is joined from those spans without
loading rich, ~40 ms of the hook's run; its text is what rich writes (tests
compare the two), and a line rich could wrap or a tab rich would expand sends
the report through rich after all.
"""

from __future__ import annotations

import io
import os

from keyguard.model import Finding, ScanReport, Severity
from keyguard.report.summary import (HISTORY_FIX, SecretGuard, by_file, clean,
                                     epoch_date, fix_advice, ordered_hygiene, provenance_phrase,
                                     revocation_phrase, secret_shown, summary_line,
                                     verification_phrase)

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:  # pragma: no cover
    from typing import TextIO
    from rich.console import Console
    from rich.text import Text
    from keyguard.report.interface import ReportOptions

FACT_INDENT = 6
"""Indent of the facts under a finding's headline (wrapped lines keep it)."""
PLAIN_WIDTH = 1000
"""Width given to rich when not on a terminal: wide enough that nothing is wrapped."""

STYLES = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
STATUS_STYLES = {"live": "bold red", "expired": "yellow", "revoked": "green", "invalid": "green",
                 "unknown": "magenta"}


class _Styled:
    """One line of the report as spans of (text, rich style); the first span's style covers the line."""

    __slots__ = ("spans",)

    def __init__(self, text: str = "", style: str = ""):
        self.spans = [(text, style)]

    def append(self, text: str, style: str = "") -> "_Styled":
        self.spans.append((text, style))
        return self

    @property
    def plain(self) -> str:
        return "".join(t for t, _ in self.spans)

    def rich(self) -> "Text":
        from rich.text import Text

        (first, style), *rest = self.spans
        text = Text(first, style=style)
        for t, st in rest:
            text.append(t, style=st)
        return text


def _t(value: object, style: str = "") -> _Styled:
    return _Styled(clean(value), style)


def _rt(value: object, style: str = "") -> "Text":
    return _t(value, style).rich()


class _RichOut:
    """Lines to a rich ``Console``."""

    def __init__(self, console: "Console"):
        self.console = console
        self.is_terminal = console.is_terminal

    def line(self, text: _Styled | None = None) -> None:
        if text is None:
            self.console.print()
        else:
            self.console.print(text.rich())

    def indented(self, text: _Styled, indent: int, hanging: int = 0) -> None:
        """``text`` indented by ``indent``; lines a terminal wraps keep it (plus ``hanging`` after the first)."""
        from rich.padding import Padding

        rich_text = text.rich()
        if not hanging:
            self.console.print(Padding(rich_text, (0, 0, 0, indent), expand=False))
            return
        from rich.table import Table

        grid = Table.grid(padding=0)
        grid.add_column(width=indent + hanging, no_wrap=True)
        grid.add_column()
        head = rich_text.plain[:hanging]
        grid.add_row(_t(" " * indent + head).rich(), rich_text[hanging:])
        self.console.print(grid)


class _PlainOut:
    """Lines as plain strings, without rich; ``fits`` is False once a line is one rich would
    render differently (a tab, or long enough that rich could wrap it)."""

    is_terminal = False

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.fits = True

    def line(self, text: _Styled | None = None) -> None:
        self._add("" if text is None else text.plain)

    def indented(self, text: _Styled, indent: int, hanging: int = 0) -> None:
        self._add(" " * indent + text.plain)

    def _add(self, line: str) -> None:
        if "\t" in line or 2 * len(line) >= PLAIN_WIDTH:  # a character is at most two cells wide
            self.fits = False
        self.lines.append(line.rstrip())


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:
    """Write ``report`` for a human: coloured on a terminal, plain elsewhere."""
    tty = _isatty(stream)
    if not tty and not options.color and report.kind != "hygiene" and not report.hygiene:
        out = _PlainOut()
        _render(out, report, options)
        if out.fits:
            stream.write("".join(line + "\n" for line in out.lines))
            return
    _write_rich(report, stream, options, tty)


def _write_rich(report: ScanReport, stream: TextIO, options: ReportOptions, tty: bool) -> None:
    """``write`` through rich (the terminal, colour forced, tables, lines too long for ``_PlainOut``)."""
    if tty:
        console = _console(stream, tty, options)
        _render(_RichOut(console), report, options)
        return
    buffer = io.StringIO()
    console = _console(buffer, tty, options)
    _render(_RichOut(console), report, options)
    stream.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _terminal_width(stream: TextIO) -> int | None:
    """Columns of the terminal ``stream`` writes to (rich only asks stdin/stdout); None if unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


def _console(file: TextIO, tty: bool, options: ReportOptions) -> "Console":
    from rich.console import Console

    color = options.color
    if color is None:
        color = tty and not os.environ.get("NO_COLOR")
    return Console(
        file=file,
        force_terminal=True if (tty or color) else False,
        color_system=("auto" if tty else "standard") if color else None,
        no_color=not color,
        width=_terminal_width(file) if tty else PLAIN_WIDTH,
        highlight=False, markup=False, emoji=False, soft_wrap=not tty,
        legacy_windows=False if not tty else None,
    )


def _render(out: _RichOut | _PlainOut, report: ScanReport, options: ReportOptions) -> None:
    if report.kind == "hygiene" and not out.is_terminal and not report.findings:
        _hygiene_rows(out.console, report)
        return
    guard = SecretGuard(report, options.show_secrets)
    if report.findings:
        for path, findings in by_file(report.findings):
            out.line(_t(path, style="bold underline"))
            for f in findings:
                _finding(out, f, guard, options)
            out.line()
        _fix(out, report)
    elif report.kind != "hygiene":
        out.line(_t("No FluxLoop keys found.", style="bold green"))
        out.line()
    if options.verbose and report.suppressed:
        out.line(_t("Suppressed candidates", style="bold"))
        for path, redacted, line, reason in sorted(report.suppressed):
            out.line(_t(f"  {path}:{line}  {redacted}  {reason}"))
        out.line()
    if report.hygiene:
        _hygiene(out.console, report)
    elif report.kind == "hygiene":
        out.line(_t("All keys look healthy.", style="bold green"))
        out.line()
    for warning in report.warnings:
        out.line(_t(f"warning: {guard.any(warning)}", style="yellow"))
    out.line(_t(summary_line(report), style="bold"))
    if report.policy:
        from keyguard.report.summary import policy_line
        out.line(_t(policy_line(report.policy), style="dim"))


def _finding(out: _RichOut | _PlainOut, f: Finding, guard: SecretGuard, options: ReportOptions) -> None:
    head = _t("  ")
    head.append(f"{f.line}:{f.column}", style="bold")
    head.append("  ")
    head.append(f" {f.severity.value.upper()} ", style=STYLES[f.severity])
    head.append(f"  {clean(f.rule_id)}  ")
    head.append(clean(secret_shown(f, options.show_secrets)), style="bold")
    out.line(head)
    about = f.description or f.rule_id
    if f.encoding:
        about += f" (found {f.encoding}-encoded)"
    if f.is_new:
        about += " (new)"
    lines = [_t(about)]
    if f.snippet:
        snippet = f.snippet if options.show_secrets else guard.finding(f, f.snippet)
        lines.append(_t(f"> {snippet.strip()}", style="dim"))
    if f.provenance:
        lines.append(_t(f"history: {provenance_phrase(f.provenance)}"))
    if f.verification:
        line = _t("verified: ")
        line.append(clean(verification_phrase(f.verification)),
                    style=STATUS_STYLES.get(f.verification.status, ""))
        lines.append(line)
    if f.revocation:
        lines.append(_t(f"revocation: {revocation_phrase(f.revocation)}"))
    for key, value in f.details:
        lines.append(_t(f"{key}: {guard.finding(f, value)}", style="dim"))
    for line in lines:
        out.indented(line, FACT_INDENT)


def _fix(out: _RichOut | _PlainOut, report: ScanReport) -> None:
    out.line(_t("How to fix", style="bold"))
    for n, (rule_ids, text) in enumerate(fix_advice(report.findings), 1):
        out.indented(_t(f"{n}. {rule_ids}: {text}" if rule_ids else f"{n}. {text}"), 2, len(f"{n}. "))
    if any(f.provenance for f in report.findings):
        out.indented(_t(HISTORY_FIX), 2)
    out.line()


HYGIENE_ROW = ("key id", "severity", "checks", "name", "hint", "owner", "expires", "messages")
"""The tab-separated fields of ``keyguard keys`` written to a pipe or a file, one key per line."""


def _hygiene_rows(console: "Console", report: ScanReport) -> None:
    """``keyguard keys`` into a pipe or file: one tab-separated row per key, nothing else on stdout.

    The fields are ``HYGIENE_ROW``: the worst severity of the key's checks, the
    checks and messages joined (``,`` and ``; ``). Warnings go to stderr.
    """
    import sys

    per_key: dict[str, list] = {}
    for h in ordered_hygiene(report.hygiene):  # worst first, so a key's first check is its worst
        per_key.setdefault(h.key.id, []).append(h)
    for items in per_key.values():
        k = items[0].key
        fields = (k.id, items[0].severity.value, ",".join(h.check for h in items), k.name, k.key_hint,
                  k.created_by, epoch_date(k.expires_at), "; ".join(h.message for h in items if h.message))
        # straight to the file: rich would expand the tabs
        console.file.write("\t".join(" ".join(clean(x).split()) or "-" for x in fields) + "\n")
    for warning in report.warnings:
        print(f"keyguard: warning: {clean(warning)}", file=sys.stderr)


def _hygiene(console: "Console", report: ScanReport) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title="Key hygiene", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAVY if console.is_terminal else box.ASCII2,
                  show_lines=False, expand=False)
    for name in ("check", "severity", "key id", "name", "hint", "owner", "expires"):
        table.add_column(name, no_wrap=name in ("check", "severity", "key id", "expires"))
    table.add_column("message")
    items = ordered_hygiene(report.hygiene)
    for h in items:
        k = h.key
        table.add_row(_rt(h.check), _rt(h.severity.value, style=STYLES[h.severity]), _rt(k.id),
                      _rt(k.name), _rt(k.key_hint), _rt(k.created_by), _rt(epoch_date(k.expires_at)),
                      _rt(h.message))
    natural = console.measure(table, options=console.options.update_width(PLAIN_WIDTH)).maximum
    if natural <= console.width:
        console.print(table)
        console.print()
        return
    # A terminal too narrow for the table: one short block per key instead of a mangled grid.
    console.print(_rt("Key hygiene", style="bold"))
    for h in items:
        k = h.key
        head = _t("  ")
        head.append(f" {h.severity.value.upper()} ", style=STYLES[h.severity])
        head.append(clean(f"  {h.check}  {k.id}"))
        if k.name:
            head.append(clean(f'  "{k.name}"'))
        console.print(head.rich())
        facts = [f"hint {k.key_hint}" if k.key_hint else "", f"owner {k.created_by}" if k.created_by
                 else "", f"expires {epoch_date(k.expires_at)}"]
        console.print(_rt("      " + ", ".join(x for x in facts if x)))
        console.print(_rt("      " + h.message))
    console.print()
