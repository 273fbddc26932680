"""Small pieces the bench scripts share: the argument parser, a temp work folder, a medians line."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Iterator


def parser(doc: str, runs: int = 3) -> argparse.ArgumentParser:
    """An argument parser showing the script's docstring, with ``--runs``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=runs, help=f"timed runs (default {runs}); medians are printed")
    return ap


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temp folder removed at the end, whatever happens."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def median_line(label: str, times: list[float]) -> str:
    """``label median X s [each run]``."""
    return f"{label} median {statistics.median(times):.2f} s  {['%.2f' % t for t in times]}"
