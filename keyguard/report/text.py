"""The human report: findings grouped by file, what was learned about each key, the fix.

Rendered with rich, imported inside ``write`` so other formats never load it.
On a terminal it is coloured (unless ``NO_COLOR`` or ``options.color`` says
otherwise) and tables fit the window. Anywhere else (pre-commit captures the
output, CI logs, files) it is plain: no colour, ASCII table borders, no line
wrapped at a guessed width and no trailing blanks; the key hygiene report
(``keyguard keys``) is then one tab-separated row per key (``HYGIENE_ROW``).
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, TextIO

from keyguard.model import Finding, ScanReport, Severity
from keyguard.report.interface import ReportOptions
from keyguard.report.summary import (HISTORY_FIX, SecretGuard, by_file, clean,
                                     epoch_date, fix_advice, ordered_hygiene, provenance_phrase,
                                     revocation_phrase, secret_shown, summary_line,
                                     verification_phrase)

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.text import Text

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


def _t(value: object, style: str = "") -> "Text":
    from rich.text import Text

    return Text(clean(value), style=style)


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:
    """Write ``report`` for a human: coloured on a terminal, plain elsewhere."""
    tty = _isatty(stream)
    if tty:
        console = _console(stream, tty, options)
        _render(console, report, options)
        return
    buffer = io.StringIO()
    console = _console(buffer, tty, options)
    _render(console, report, options)
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


def _render(console: "Console", report: ScanReport, options: ReportOptions) -> None:
    if report.kind == "hygiene" and not console.is_terminal and not report.findings:
        _hygiene_rows(console, report)
        return
    guard = SecretGuard(report, options.show_secrets)
    if report.findings:
        for path, findings in by_file(report.findings):
            console.print(_t(path, style="bold underline"))
            for f in findings:
                _finding(console, f, guard, options)
            console.print()
        _fix(console, report)
    elif report.kind != "hygiene":
        console.print(_t("No FluxLoop keys found.", style="bold green"))
        console.print()
    if options.verbose and report.suppressed:
        console.print(_t("Suppressed candidates", style="bold"))
        for path, redacted, line, reason in sorted(report.suppressed):
            console.print(_t(f"  {path}:{line}  {redacted}  {reason}"))
        console.print()
    if report.hygiene:
        _hygiene(console, report)
    elif report.kind == "hygiene":
        console.print(_t("All keys look healthy.", style="bold green"))
        console.print()
    for warning in report.warnings:
        console.print(_t(f"warning: {guard.any(warning)}", style="yellow"))
    console.print(_t(summary_line(report), style="bold"))
    if report.policy:
        from keyguard.report.summary import policy_line
        console.print(_t(policy_line(report.policy), style="dim"))


def _finding(console: "Console", f: Finding, guard: SecretGuard, options: ReportOptions) -> None:
    head = [("  ", ""), (f"{f.line}:{f.column}", "bold"), ("  ", ""),
            (f" {f.severity.value.upper()} ", STYLES[f.severity]), (f"  {clean(f.rule_id)}  ", ""),
            (clean(secret_shown(f, options.show_secrets)), "bold")]
    about = f.description or f.rule_id
    if f.encoding:
        about += f" (found {f.encoding}-encoded)"
    if f.is_new:
        about += " (new)"
    lines = [[(clean(about), "")]]
    if f.snippet:
        snippet = f.snippet if options.show_secrets else guard.finding(f, f.snippet)
        lines.append([(clean(f"> {snippet.strip()}"), "dim")])
    if f.provenance:
        lines.append([(clean(f"history: {provenance_phrase(f.provenance)}"), "")])
    if f.verification:
        lines.append([("verified: ", ""), (clean(verification_phrase(f.verification)),
                                          STATUS_STYLES.get(f.verification.status, ""))])
    if f.revocation:
        lines.append([(clean(f"revocation: {revocation_phrase(f.revocation)}"), "")])
    for key, value in f.details:
        lines.append([(clean(f"{key}: {guard.finding(f, value)}"), "dim")])
    plain = ["".join(text for text, _ in line) for line in [head] + lines]
    if _as_is(console, plain):
        # Plain output: no style, no wrap, no crop, so rich would print the text unchanged; written
        # straight, a finding costs a few microseconds (through rich, a print per line and Padding,
        # ~0.3 ms: most of the time of a report with 10,000 findings).
        console.file.write("\n".join([plain[0]] + [" " * FACT_INDENT + p for p in plain[1:]]) + "\n")
        return
    console.print(_styled(head))
    for line in lines:
        _print_indented(console, _styled(line), FACT_INDENT)


def _styled(pieces: "list[tuple[str, str]]") -> "Text":
    """One line of ``(text, style)`` pieces (already ``clean``) as a rich Text."""
    from rich.text import Text

    line = Text()
    for text, style in pieces:
        line.append(text, style=style or None)
    return line


def _as_is(console: "Console", plain: "list[str]") -> bool:
    """Whether a finding's lines (headline, then facts to indent) print exactly as written.

    True off a terminal (no colour, soft wrap: nothing wrapped or cropped), for facts that
    fit ``PLAIN_WIDTH`` once indented (Padding crops longer ones) and no tab anywhere (rich
    expands tabs, by columns).
    """
    if console.is_terminal or not console.soft_wrap:
        return False
    from rich.cells import cell_len

    return all("\t" not in p for p in plain) and \
        all(cell_len(p) <= PLAIN_WIDTH - FACT_INDENT for p in plain[1:])


def _print_indented(console: "Console", text: "Text", indent: int, hanging: int = 0) -> None:
    """``text`` indented by ``indent``; lines a terminal wraps keep it (plus ``hanging`` after the first)."""
    from rich.padding import Padding

    if not hanging:
        console.print(Padding(text, (0, 0, 0, indent), expand=False))
        return
    from rich.table import Table

    grid = Table.grid(padding=0)
    grid.add_column(width=indent + hanging, no_wrap=True)
    grid.add_column()
    head = text.plain[:hanging]
    grid.add_row(_t(" " * indent + head), text[hanging:])
    console.print(grid)


def _fix(console: "Console", report: ScanReport) -> None:
    console.print(_t("How to fix", style="bold"))
    for n, (rule_ids, text) in enumerate(fix_advice(report.findings), 1):
        _print_indented(console, _t(f"{n}. {rule_ids}: {text}" if rule_ids else f"{n}. {text}"), 2,
                        len(f"{n}. "))
    if any(f.provenance for f in report.findings):
        _print_indented(console, _t(HISTORY_FIX), 2)
    console.print()


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
        table.add_row(_t(h.check), _t(h.severity.value, style=STYLES[h.severity]), _t(k.id),
                      _t(k.name), _t(k.key_hint), _t(k.created_by), _t(epoch_date(k.expires_at)),
                      _t(h.message))
    natural = console.measure(table, options=console.options.update_width(PLAIN_WIDTH)).maximum
    if natural <= console.width:
        console.print(table)
        console.print()
        return
    # A terminal too narrow for the table: one short block per key instead of a mangled grid.
    console.print(_t("Key hygiene", style="bold"))
    for h in items:
        k = h.key
        head = _t("  ")
        head.append(f" {h.severity.value.upper()} ", style=STYLES[h.severity])
        head.append(clean(f"  {h.check}  {k.id}"))
        if k.name:
            head.append(clean(f'  "{k.name}"'))
        console.print(head)
        facts = [f"hint {k.key_hint}" if k.key_hint else "", f"owner {k.created_by}" if k.created_by
                 else "", f"expires {epoch_date(k.expires_at)}"]
        console.print(_t("      " + ", ".join(x for x in facts if x)))
        console.print(_t("      " + h.message))
    console.print()
