"""Rule packs: the bundled ones pass their self-test; bad team rules fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

import keys
from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import bundled_rule_files, load_rules
from keyguard.detect.selftest import run_selftest
from keyguard.errors import RuleError
from keyguard.model import Severity

BUNDLED = load_rules()


def test_bundled_packs_ship_one_rule_per_key_kind():
    ids = {r.id for r in BUNDLED}
    assert {p.name for p in bundled_rule_files()} >= {"platform.toml", "api.toml", "jwt.toml"}
    prefixes = {r.prefix for r in BUNDLED if r.prefix}
    assert prefixes == {"flux_dev_", "flux_ci_", "flux_stg_", "flux_prod_",
                        "flx_api_", "flx_sa_", "flx_", "flx_refresh_"}
    assert any(r.kind == "jwt" for r in BUNDLED)
    assert len(ids) == len(BUNDLED)
    prod = next(r for r in BUNDLED if r.prefix == "flux_prod_")
    assert prod.severity is Severity.CRITICAL
    assert all(r.examples and r.negatives for r in BUNDLED), "every bundled rule carries a self-test"


@pytest.mark.parametrize("rule", BUNDLED, ids=lambda r: r.id)
def test_bundled_rule_self_test(rule):
    result = next(r for r in run_selftest(BUNDLED) if r.rule.id == rule.id)
    assert result.passed, result.failures


def test_one_finding_per_key_most_specific_rule():
    d = Detector(BUNDLED)
    for prefix, rule_id in (("flx_api_", "fluxloop-api-key"), ("flx_sa_", "fluxloop-service-account-key"),
                            ("flx_refresh_", "fluxloop-refresh-token"), ("flx_", "fluxloop-access-token")):
        key = keys.api_key(prefix)
        hits = d.scan(f"token = '{key}'\n".encode())
        assert [(h.rule.id, h.secret) for h in hits] == [(rule_id, key)]


def write(tmp_path: Path, text: str, name: str = "team.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = '''
[[rule]]
id = "acme-token"
description = "ACME internal token"
regex = \'\'\'(?P<secret>acme_[a-z0-9]{20,40})(?![a-z0-9])\'\'\'
keywords = ["acme_"]
prefix = "acme_"
min-entropy = 3.0
severity = "medium"
remediation = "Rotate it."
'''


def test_team_rule_file_and_folder(tmp_path):
    path = write(tmp_path, GOOD)
    rules = load_rules([path])
    assert [r.id for r in rules[-1:]] == ["acme-token"]
    assert rules[-1].source_file == str(path)
    folder_rules = load_rules([tmp_path])
    assert folder_rules[-1].id == "acme-token"
    token = "acme_" + keys._body(keys.LOWER_DIGITS, 30)
    hits = Detector(rules).scan(f"x = {token}\n".encode())
    assert [(h.rule.id, h.secret, h.suppressed) for h in hits] == [("acme-token", token, None)]


@pytest.mark.parametrize("text, message", [
    ("[[rule]\nid = 1", "not valid TOML"),
    (GOOD.replace('severity = "medium"\n', ""), "missing field 'severity'"),
    (GOOD + 'colour = "red"\n', "unknown field 'colour'"),
    (GOOD.replace('"medium"', '"urgent"'), "unknown severity 'urgent'"),
    (GOOD + GOOD, "duplicate id"),
    (GOOD.replace("(?P<secret>", "(?P<secret>("), "regex does not compile"),
    (GOOD.replace("(?P<secret>", "(?P<key>"), "no secret group"),
    (GOOD.replace("[a-z0-9]{20,40}", "(?:[a-z0-9]+)+"), "nests quantifiers"),
    (GOOD.replace('keywords = ["acme_"]', "keywords = []"), "'keywords' must be a non-empty list"),
    ('title = "x"\n' + GOOD, "unknown top-level key 'title'"),
])
def test_bad_rule_file_is_one_line_naming_file_and_rule(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as err:
        load_rules([path])
    msg = str(err.value)
    assert msg.startswith(f"{path}:") and message in msg and "\n" not in msg
    if "TOML" not in message and "top-level" not in message:
        assert "rule 'acme-token'" in msg


def test_team_rule_reusing_a_bundled_id_is_refused(tmp_path):
    path = write(tmp_path, GOOD.replace("acme-token", "fluxloop-prod-key"))
    with pytest.raises(RuleError, match=r"duplicate id \(already defined in rules/platform.toml\)"):
        load_rules([path])


def test_missing_rule_path(tmp_path):
    with pytest.raises(RuleError, match="no such rule file or folder"):
        load_rules([tmp_path / "nope.toml"])


# ---- the command line -----------------------------------------------------------

def test_cli_rules_list_and_test(keyguard, tmp_path):
    listed = keyguard("rules", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout.decode()
    for rule in BUNDLED:
        assert rule.id in out and rule.source_file in out
    tested = keyguard("rules", "test", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    out = tested.stdout.decode()
    assert out.count("PASS") == len(BUNDLED) and "FAIL" not in out
    # the examples are literal keys: none may be echoed
    for rule in BUNDLED:
        for example in rule.examples:
            for hit in Detector(BUNDLED).scan(example.encode()):
                assert hit.secret not in out


def test_cli_rules_test_fails_on_a_bad_team_rule_without_echoing_it(keyguard, tmp_path):
    token = "acme_" + keys._body(keys.LOWER_DIGITS, 30)
    placeholder = "acme_" + "abc123" * 5
    team = GOOD + f'examples = ["k = {placeholder}"]\nnegatives = ["k = {token}"]\n'
    path = write(tmp_path, team)
    r = keyguard("rules", "test", "--rules", str(path), cwd=tmp_path)
    out = r.stdout.decode()
    assert r.returncode == 1
    assert "FAIL  acme-token" in out
    assert "example 1 not reported (suppressed as placeholder:" in out
    assert "negative 1 reported" in out
    assert token not in out and placeholder not in out


def test_cli_rules_bad_file_is_one_line_exit_2(keyguard, tmp_path):
    path = write(tmp_path, GOOD.replace("(?P<secret>", "(?P<secret>("))
    r = keyguard("rules", "list", "--rules", str(path), cwd=tmp_path)
    err = r.stderr.decode().strip()
    assert r.returncode == 2
    assert err.startswith("keyguard: ") and "rule 'acme-token': regex does not compile" in err
    assert len(err.splitlines()) == 1


def test_cli_rules_reads_team_rules_from_config(keyguard, tmp_path):
    write(tmp_path, GOOD, "acme.toml")
    (tmp_path / ".keyguard.toml").write_text('rules = ["acme.toml"]\n', encoding="utf-8")
    r = keyguard("rules", "list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "acme-token" in r.stdout.decode()
