"""The parsed-rule cache: used when current, ignored when stale or corrupt, never wrong."""

from __future__ import annotations

import os
import time

import pytest

from keyguard.detect import rulepack
from keyguard.errors import RuleError

RULE = '''[[rule]]
id = "acme-token"
description = "ACME token"
regex = '(?P<secret>ACME-[0-9a-f]{{16}})'
keywords = ["ACME-"]
severity = "{severity}"
remediation = "Rotate it."
'''


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("KEYGUARD_NO_CACHE", raising=False)
    return home / "keyguard"


def test_cache_is_written_used_and_invalidated_by_an_edit(tmp_path, cache_home):
    team = tmp_path / "team.toml"
    team.write_text(RULE.format(severity="high"))
    assert [r.severity.value for r in rulepack.load_rule_file(team)] == ["high"]
    cached = list(cache_home.glob("rules-*-team.marshal"))
    assert len(cached) == 1
    # the cache is what is read now: prove it by swapping in a different parse for the same stamp
    import marshal
    stamp, doc = marshal.loads(cached[0].read_bytes())
    doc["rule"][0]["severity"] = "low"
    cached[0].write_bytes(marshal.dumps((stamp, doc)))
    assert [r.severity.value for r in rulepack.load_rule_file(team)] == ["low"]
    # an edit of the file (new size and mtime) makes the cache stale: the file wins again
    time.sleep(0.01)
    team.write_text(RULE.format(severity="critical"))
    assert [r.severity.value for r in rulepack.load_rule_file(team)] == ["critical"]


def test_corrupt_cache_is_ignored_and_errors_still_name_the_file(tmp_path, cache_home):
    team = tmp_path / "team.toml"
    team.write_text(RULE.format(severity="medium"))
    rulepack.load_rule_file(team)
    for f in cache_home.glob("rules-*-team.marshal"):
        f.write_bytes(b"\x00garbage")
    assert [r.severity.value for r in rulepack.load_rule_file(team)] == ["medium"]
    team.write_text(RULE.format(severity="urgent"))
    with pytest.raises(RuleError, match="team.toml: rule 'acme-token'"):
        rulepack.load_rule_file(team)
    team.write_text("[[rule]\n")
    with pytest.raises(RuleError, match="team.toml: not valid TOML"):
        rulepack.load_rule_file(team)


def test_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert rulepack.load_rules()  # bundled rules load without a cache
    monkeypatch.setenv("KEYGUARD_NO_CACHE", "1")
    assert rulepack.load_rules()
    assert not os.path.isdir(blocked)
