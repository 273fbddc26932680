"""The break-glass push option and its log.

``git push -o keyguard-allow="<reason>"`` lets a refused push through when the
server names a log file (``--allow-log FILE``); without one the option is
refused. git hands push options to the hook as ``GIT_PUSH_OPTION_COUNT`` and
``GIT_PUSH_OPTION_<n>`` (only when the repository sets
``receive.advertisePushOptions``).

Each use appends one JSON line: when (UTC), who (``GL_USERNAME``,
``GITHUB_USER``, ``REMOTE_USER`` or ``USER``, the first set; ``REMOTE_ADDR`` when the
server sets it), the repository,
the ref updates, the fingerprints and locations of the keys let through, and
the reason. The reason is the pusher's free text: any key-shaped value in it is
redacted, control characters are dropped, and it is cut at 500 characters. The
line is written with one ``write`` on a file opened for appending (no other
writer can interleave with it) and flushed to disk before the push goes on; if
it cannot be written the push is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re

OPTION = "keyguard-allow"
USER_VARS = ("GL_USERNAME", "GITHUB_USER", "REMOTE_USER", "USER")
MAX_REASON = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def requested_reason(environ=os.environ) -> str | None:
    """The reason given with ``-o keyguard-allow=<reason>`` (``""`` when empty), or None."""
    try:
        count = int(environ.get("GIT_PUSH_OPTION_COUNT", "0"))
    except ValueError:
        return None
    for i in range(min(count, 100)):
        name, sep, value = environ.get(f"GIT_PUSH_OPTION_{i}", "").partition("=")
        if name == OPTION:
            return value.strip() if sep else ""
    return None


def who(environ=os.environ) -> str:
    """The pushing user as the git server names them."""
    for var in USER_VARS:
        if environ.get(var):
            return f"{environ[var]} ({var})"
    return "unknown"


def clean_reason(reason: str, detector) -> str:
    """The reason with key-shaped values redacted, one line, at most ``MAX_REASON`` characters."""
    from keyguard.redact import scrub

    text = _CONTROL.sub(" ", reason[:4 * MAX_REASON])  # scanned beyond the cut: a key near it is whole
    text = scrub(text, sorted({h.secret for h in detector.scan(text.encode())}, key=len, reverse=True))
    return text[:MAX_REASON]


def log_use(path: str, *, reason: str, repository: str, updates, findings, environ=os.environ,
            unchecked: bool = False) -> dict:
    """Append one break-glass record to ``path``; ``OSError`` if it cannot be written."""
    record = {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "user": who(environ),
        "from": environ.get("REMOTE_ADDR", ""),
        "repository": repository,
        "refs": [{"ref": u.ref, "old": u.old, "new": u.new} for u in updates],
        "fingerprints": sorted({f.fingerprint for f in findings}),
        "findings": [{"fingerprint": f.fingerprint, "rule": f.rule_id, "path": f.path, "line": f.line,
                      "commit": f.provenance.commit if f.provenance else "", "key": f.redacted}
                     for f in findings],
        "unchecked": unchecked,
        "reason": reason,
    }
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        if os.write(fd, line) != len(line):
            raise OSError(f"{path}: short write")
        os.fsync(fd)
    finally:
        os.close(fd)
    return record
