"""Helpers for the source tests: the real detector, the git identity, and small accessors.

Loaded as a pytest plugin by conftest.py: source test modules use the ``detector``
fixture and mark themselves ``pytest.mark.usefixtures("git_identity")``.
"""

from __future__ import annotations

import os

import pytest

from conftest import GIT_ENV
from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules


def make_detector() -> Detector:
    """The real detector over the bundled rules."""
    return Detector(load_rules())


@pytest.fixture(scope="module")
def detector() -> Detector:
    """One real detector per test module."""
    return make_detector()


@pytest.fixture
def git_identity(monkeypatch, repo):
    """The sources run git themselves: give them the test identity and a private HOME."""
    for k in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(k)
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("HOME", str(repo.path.parent / "home"))


def secrets(located) -> list[str]:
    """The secret values of a list of located hits."""
    return [lh.hit.secret for lh in located]
