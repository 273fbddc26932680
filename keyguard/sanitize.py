"""The one sanitizer for text that reaches a human: file names, authors, API fields, messages.

Everything keyguard shows may come from someone hostile: a file name or commit
author in a scanned repository, a key's name or an ``error_description`` from an
endpoint. ``clean`` makes such text one inert line: C0 and C1 control characters
(ESC, so no CSI/OSC sequence: screen clear, OSC 52 clipboard write, OSC 8 link),
DEL, newlines and bidirectional overrides (a name that reads backwards) are shown
as ``\\xNN`` / ``\\uNNNN``. ``clean_lines`` does the same for a block keyguard
built itself, keeping its own newlines. Markdown escaping (``report.markdown``)
is done on top of ``clean``.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _show(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(value: object) -> str:
    """``value`` as one inert line: control and bidi-override characters shown escaped."""
    return _UNSAFE.sub(_show, str(value))


def clean_lines(text: str) -> str:
    """A multi-line block with every line ``clean`` (its own line breaks kept)."""
    return "\n".join(clean(line) for line in str(text).split("\n"))
