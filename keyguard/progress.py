"""A rich progress bar on stderr for long scans; silent when not a terminal.

Sources call the bar as ``progress(done, total)``; it starts on the first
call and stops when ``done >= total`` or when ``close()`` is called.
"""

from __future__ import annotations


class ProgressBar:
    """Callable ``(done, total)`` that drives one rich progress task on stderr."""

    def __init__(self, description: str):
        self.description = description
        self._progress = None
        self._task = None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total)
        self._progress.update(self._task, completed=done, total=total)
        if total and done >= total:
            self.close()

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
