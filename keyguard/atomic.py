"""Atomic file writes: a temp file in the same folder, renamed over the target when complete.

Every file keyguard writes (reports, the baseline, caches, incident files)
goes through here, so an interrupted run never leaves a half-written file in
place of a good one. A target that is not a regular file (``/dev/null``,
``/dev/stdout``, a FIFO) is written to directly: it has nothing to lose.
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
    if _special(target):
        # /dev/null, /dev/stdout, a FIFO: nothing to replace (renaming over it would swap the
        # device for a regular file, for every program on the machine when run as root)
        with open(target, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": "\n"})) as fh:
            yield fh
        return
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


def _special(target: Path) -> bool:
    """Whether ``target`` exists and is not a regular file (a device, a FIFO, a socket)."""
    import stat
    try:
        return not stat.S_ISREG(os.stat(target).st_mode) and not stat.S_ISDIR(os.stat(target).st_mode)
    except OSError:
        return False


def write_atomic(path: str | Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, binary=isinstance(data, bytes), mode=mode) as fh:
        fh.write(data)
