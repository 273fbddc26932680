"""Regexes compiled on first use, so the pre-commit path pays only for those it runs.

A clean commit runs no rule regex at all (the needle prefilter says no), yet
compiling the rules' and the detector's patterns cost ~7 ms of every
``keyguard scan --staged``. ``LazyRegex`` holds the pattern and compiles it
(with ``re``'s own cache) the first time a match method is called. Patterns
reach it already validated (``rulepack`` compiles every pattern of a rule file
it has not seen before).
"""

from __future__ import annotations

import re


class LazyRegex:
    """A ``re.Pattern`` stand-in: ``finditer``/``search``/``match``/``fullmatch``/``sub`` compile once."""

    __slots__ = ("pattern", "flags", "_compiled")

    def __init__(self, pattern, flags: int = 0):
        self.pattern = pattern
        self.flags = flags
        self._compiled = None

    def compiled(self) -> re.Pattern:
        """The compiled pattern."""
        c = self._compiled
        if c is None:
            c = self._compiled = re.compile(self.pattern, self.flags)
        return c

    def finditer(self, *args):
        return self.compiled().finditer(*args)

    def search(self, *args):
        return self.compiled().search(*args)

    def match(self, *args):
        return self.compiled().match(*args)

    def fullmatch(self, *args):
        return self.compiled().fullmatch(*args)

    def findall(self, *args):
        return self.compiled().findall(*args)

    def sub(self, *args):
        return self.compiled().sub(*args)

    @property
    def groups(self) -> int:
        return self.compiled().groups

    @property
    def groupindex(self):
        return self.compiled().groupindex

    def __getstate__(self):
        return (self.pattern, self.flags)

    def __setstate__(self, state):
        self.pattern, self.flags = state
        self._compiled = None

    def __eq__(self, other):
        return isinstance(other, LazyRegex) and (self.pattern, self.flags) == (other.pattern, other.flags)

    def __hash__(self):
        return hash((self.pattern, self.flags))

    def __repr__(self):
        return f"LazyRegex({self.pattern!r})"
