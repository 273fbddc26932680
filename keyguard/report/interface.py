"""The contract of report writers and the choice of format.

A writer turns a ``ScanReport`` into text on a stream. Formats are an enum
mapped to modules, so adding a format is adding a module and a member.
``write_report`` writes to stdout or, with ``output``, to a file atomically
(temp file + rename: a half-written report never replaces a good one).
"""

from __future__ import annotations

import enum
import importlib
import sys

from keyguard.model import ScanReport
from keyguard.record import record

TYPE_CHECKING = False  # typing is not imported on the pre-commit path (a refused commit writes a report)
if TYPE_CHECKING:
    from typing import TextIO


class Format(str, enum.Enum):
    """Output formats; each value names the module ``keyguard.report.<value>``."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    GITLAB = "gitlab"


@record
class ReportOptions:
    """How to write a report."""

    show_secrets: bool = False
    """Write full secret values (only when the user asked with --show-secrets)."""
    verbose: bool = False
    """Also list suppressed candidates with their reasons."""
    color: bool | None = None
    """Force colour on/off; None lets rich decide (terminal, NO_COLOR)."""


def write_report(report: ScanReport, fmt: Format | str, output: str | None = None,
                 options: ReportOptions = ReportOptions()) -> None:
    """Write ``report`` in ``fmt`` to stdout, or atomically to the file ``output``."""
    fmt = Format(fmt)
    writer = importlib.import_module(f"keyguard.report.{fmt.value}")
    if output is None or output == "-":
        writer.write(report, sys.stdout, options)
        sys.stdout.flush()
        return
    from keyguard.atomic import atomic_open
    try:
        with atomic_open(output) as stream:
            writer.write(report, stream, options)
    except OSError as exc:
        from keyguard.errors import UsageError
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:  # pragma: no cover
    """Signature every writer module implements (this one is documentation only)."""
    raise NotImplementedError
