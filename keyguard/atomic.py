"""Atomic file writes: a temp file in the same folder, renamed over the target when complete.

Every file keyguard writes (reports, the baseline, caches, incident files)
goes through here, so an interrupted run never leaves a half-written file in
place of a good one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(path: str | Path, *, binary: bool = False, mode: int | None = None) -> Iterator[IO]:
    """Open a temp file beside ``path``; on a clean exit it replaces ``path``, else it is removed.

    ``mode``: the file's permissions (default: as a new file would get under the umask;
    pass 0o600 for files holding secrets, which are then never readable by others, not
    even for a moment).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)  # created 0600
    try:
        with (os.fdopen(fd, "wb") if binary else
              os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as fh:
            yield fh
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, binary=isinstance(data, bytes), mode=mode) as fh:
        fh.write(data)
