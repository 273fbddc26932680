"""A structural checker for the Mermaid subset keyguard emits: ``timeline`` and ``xychart-beta``.

Not a renderer: it checks each block line by line against the grammar of the
statements keyguard writes (the Mermaid docs' ``timeline`` and ``xychart-beta``
syntax), so a label that would end a statement early (``:``, ``;``, a quote, a
bracket, ``%%``) or a malformed axis fails. ``blocks(markdown)`` finds the
fenced ``mermaid`` blocks; ``parse(block)`` returns ``(diagram type, data)`` or
raises ``MermaidError`` naming the offending line.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"^```mermaid\n(.*?)^```$", re.S | re.M)
_FREE = r"[^:;#%\"\[\]{}<>`\n]+"  # label text that cannot end or open a statement
_TITLE = re.compile(rf"^ +title ({_FREE})$")
_PERIOD = re.compile(rf"^ +(\d{{4}}-\d{{2}}-\d{{2}}) : ({_FREE})$")
_MORE = re.compile(rf"^ +: ({_FREE})$")
_QUOTED = r'"([^"\n]*)"'
_XY_TITLE = re.compile(rf"^ +title {_QUOTED}$")
_X_AXIS = re.compile(r"^ +x-axis \[(.*)\]$")
_Y_AXIS = re.compile(rf"^ +y-axis {_QUOTED} (-?\d+(?:\.\d+)?) --> (-?\d+(?:\.\d+)?)$")
_BAR = re.compile(r"^ +bar \[([-\d., ]*)\]$")


class MermaidError(AssertionError):
    """A line outside the grammar."""


def blocks(markdown: str) -> list[str]:
    """The bodies of the fenced ``mermaid`` blocks of ``markdown``."""
    return FENCE.findall(markdown)


def parse(block: str) -> tuple[str, dict]:
    """``("timeline", {...})`` or ``("xychart-beta", {...})``; MermaidError otherwise."""
    lines = block.rstrip("\n").split("\n")
    if lines[0] == "timeline":
        return "timeline", _timeline(lines[1:])
    if lines[0] == "xychart-beta":
        return "xychart-beta", _xychart(lines[1:])
    raise MermaidError(f"unknown diagram type: {lines[0]!r}")


def _timeline(lines: list[str]) -> dict:
    out: dict = {"title": None, "periods": []}
    for n, line in enumerate(lines, 2):
        if (m := _TITLE.match(line)) and out["title"] is None and not out["periods"]:
            out["title"] = m.group(1).strip()
        elif m := _PERIOD.match(line):
            out["periods"].append((m.group(1), [m.group(2).strip()]))
        elif (m := _MORE.match(line)) and out["periods"]:
            out["periods"][-1][1].append(m.group(1).strip())
        else:
            raise MermaidError(f"timeline line {n}: {line!r}")
    if not out["periods"]:
        raise MermaidError("timeline without periods")
    days = [p for p, _ in out["periods"]]
    if days != sorted(days) or len(set(days)) != len(days):
        raise MermaidError(f"timeline periods out of order or repeated: {days}")
    return out


def _xychart(lines: list[str]) -> dict:
    out: dict = {}
    for n, line in enumerate(lines, 2):
        if (m := _XY_TITLE.match(line)) and "title" not in out:
            out["title"] = m.group(1)
        elif (m := _X_AXIS.match(line)) and "x" not in out:
            items = [s.strip() for s in m.group(1).split(",")]
            labels = [re.fullmatch(_QUOTED, s) for s in items]
            if not all(labels):
                raise MermaidError(f"xychart line {n}: x-axis labels must be quoted: {line!r}")
            out["x"] = [lab.group(1) for lab in labels]
        elif (m := _Y_AXIS.match(line)) and "y" not in out:
            out["y"] = (m.group(1), float(m.group(2)), float(m.group(3)))
        elif (m := _BAR.match(line)) and "bar" not in out:
            out["bar"] = [float(v) for v in m.group(1).split(",")]
        else:
            raise MermaidError(f"xychart line {n}: {line!r}")
    if "bar" not in out or "x" not in out or len(out["bar"]) != len(out["x"]):
        raise MermaidError("xychart needs an x-axis and a bar series of the same length")
    if "y" in out and not all(out["y"][1] <= v <= out["y"][2] for v in out["bar"]):
        raise MermaidError("a bar lies outside the y-axis range")
    return out
