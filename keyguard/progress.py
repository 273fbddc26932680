"""A rich progress bar on stderr for long scans; silent when not a terminal.

Sources call the bar as ``progress(done, total)``; it starts on the first
call and stops when ``done >= total`` or when ``close()`` is called. The bar
names its unit (``objects``: the blobs, commits and tags a history scan reads,
the unit the scan's summary counts too) and labels its time estimate
(``eta``). ``close_all`` ends every bar still drawn; the CLI calls it on its
way out (Ctrl-C included), so the terminal gets its line and its cursor back.
"""

from __future__ import annotations

_ACTIVE: set["ProgressBar"] = set()


class ProgressBar:
    """Callable ``(done, total)`` that drives one rich progress task on stderr."""

    def __init__(self, description: str, unit: str = "objects"):
        self.description = description
        self.unit = unit
        self._progress = None
        self._task = None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TextColumn(self.unit + ", eta"),
                                      TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress.start()
            _ACTIVE.add(self)
            self._task = self._progress.add_task(self.description, total=total)
        self._progress.update(self._task, completed=done, total=total)
        if total and done >= total:
            self.close()

    def close(self) -> None:
        """Remove the bar from the terminal (its line is cleared and the cursor shown again)."""
        _ACTIVE.discard(self)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def close_all() -> None:
    """End every bar still on the terminal (an interrupted or failed scan)."""
    for bar in list(_ACTIVE):
        bar.close()
