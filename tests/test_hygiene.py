"""Hygiene: every verdict of the checks, thresholds from flags and config, and the keys command."""

from __future__ import annotations

import json
import time

import pytest

from keyguard.errors import ConfigError
from keyguard.fluxloop.hygiene import (HygienePolicy, check_key, check_keys, is_ci_key, is_read_only,
                                       policy_from_config)
from keyguard.model import KeyRecord, Severity

NOW = 1_750_000_000
DAY = 86400


def rec(**kw) -> KeyRecord:
    """A healthy key unless told otherwise: 10 days old, used yesterday, expires in 60 days."""
    base = dict(id="key_1", name="Dev key", key_hint="flux_dev_****...ab12", projects=("bot",),
                permissions=("read_scenarios", "upload_results"), created_at=NOW - 10 * DAY,
                expires_at=NOW + 60 * DAY, last_used=NOW - DAY, created_by="jane@example.com")
    base.update(kw)
    return KeyRecord(**base)


def verdicts(key: KeyRecord, policy: HygienePolicy = HygienePolicy()) -> dict[str, Severity]:
    return {f.check: f.severity for f in check_key(key, policy, NOW)}


def test_healthy_key_has_no_findings():
    assert verdicts(rec()) == {}


def test_never_used():
    assert verdicts(rec(last_used=None, created_at=NOW - 45 * DAY)) == {"never-used": Severity.MEDIUM}
    assert verdicts(rec(last_used=None, created_at=NOW - 5 * DAY)) == {}  # too new to judge
    f = check_key(rec(last_used=None, created_at=NOW - 45 * DAY), now=NOW)[0]
    assert f.message == "never used since it was created 45 days ago"


def test_unused_threshold():
    assert verdicts(rec(created_at=NOW - 80 * DAY, last_used=NOW - 91 * DAY)) == {"unused": Severity.MEDIUM}
    assert verdicts(rec(created_at=NOW - 80 * DAY, last_used=NOW - 89 * DAY)) == {}
    assert verdicts(rec(last_used=NOW - 31 * DAY), HygienePolicy(unused_days=30)) == {"unused": Severity.MEDIUM}


def test_never_expires_user_vs_service_account():
    assert verdicts(rec(expires_at=None)) == {"never-expires": Severity.MEDIUM}
    assert verdicts(rec(expires_at=None, type="service-account")) == {
        "service-account-never-expires": Severity.LOW}


def test_expires_soon():
    assert verdicts(rec(expires_at=NOW + 3 * DAY)) == {"expires-soon": Severity.LOW}
    assert verdicts(rec(expires_at=NOW + 20 * DAY)) == {}
    assert verdicts(rec(expires_at=NOW + 20 * DAY), HygienePolicy(expiring_days=30)) == {
        "expires-soon": Severity.LOW}
    assert check_key(rec(expires_at=NOW + 3600), now=NOW)[0].message.startswith("expires today")


def test_expired_but_not_revoked_is_its_only_finding():
    k = rec(expires_at=NOW - 7 * DAY, permissions=("*",), created_at=NOW - 400 * DAY, last_used=None)
    assert verdicts(k) == {"expired-not-revoked": Severity.LOW}
    assert check_key(k, now=NOW)[0].message == "expired 7 days ago but was never revoked"


def test_revoked_keys_are_only_listed_for_the_inventory():
    assert verdicts(rec(revoked=True, permissions=("*",), expires_at=None)) == {"revoked": Severity.INFO}


def test_rotation_overdue():
    assert verdicts(rec(created_at=NOW - 120 * DAY)) == {"rotation-overdue": Severity.MEDIUM}
    assert verdicts(rec(created_at=NOW - 120 * DAY), HygienePolicy(rotation_days=365)) == {}


def test_over_broad_all_permissions():
    assert verdicts(rec(permissions=("*",))) == {"over-broad": Severity.HIGH, "can-manage-keys": Severity.INFO}


def test_over_broad_all_projects_with_write():
    assert verdicts(rec(projects=("*",), permissions=("read_scenarios", "create_scenarios"))) == {
        "over-broad": Severity.MEDIUM}
    # read-only, but over every project: over-broad all the same, at a lower severity
    assert verdicts(rec(projects=("*",), permissions=("read_scenarios", "read_results"))) == {
        "over-broad": Severity.LOW}


@pytest.mark.parametrize("kw", [dict(name="CI/CD Pipeline"), dict(name="ci-bot"),
                                dict(description="used by GitHub CI"),
                                dict(name="deploy", key_hint="flux_ci_****...x2q9")])
def test_over_broad_manage_keys_on_ci_key(kw):
    k = rec(permissions=("read_scenarios", "manage_keys"), **kw)
    assert is_ci_key(k)
    assert verdicts(k) == {"over-broad": Severity.HIGH, "can-manage-keys": Severity.INFO}
    assert "CI key with manage_keys" in check_key(k, now=NOW)[0].message


@pytest.mark.parametrize("kw", [dict(name="Specific decision key"), dict(name="circleci-ish", key_hint=""),
                                dict(key_hint="flux_dev_****...ci12")])
def test_not_a_ci_key(kw):
    k = rec(permissions=("read_scenarios", "manage_keys"), **kw)
    assert not is_ci_key(k)
    assert verdicts(k) == {"can-manage-keys": Severity.INFO}  # listed: who can revoke keys


def test_read_only_permissions():
    assert all(is_read_only(p) for p in ("read", "read_scenarios", "api:read"))
    assert not any(is_read_only(p) for p in ("write", "read-write", "upload_results", "manage_keys", "admin:all"))


def test_several_verdicts_worst_first():
    keys = [rec(id="key_a", name="a", expires_at=None),
            rec(id="key_b", name="b", permissions=("*",), created_at=NOW - 200 * DAY),
            rec(id="key_c", name="c")]
    got = [(f.key.id, f.check, f.severity) for f in check_keys(keys, now=NOW)]
    assert got == [("key_b", "over-broad", Severity.HIGH), ("key_a", "never-expires", Severity.MEDIUM),
                   ("key_b", "rotation-overdue", Severity.MEDIUM), ("key_b", "can-manage-keys", Severity.INFO)]


def test_policy_from_config_and_flags():
    p = policy_from_config({"unused-days": 30, "expiring_days": 7, "fail-on": "medium"},
                           {"unused_days": 60, "rotation_days": None})
    assert p == HygienePolicy(unused_days=60, expiring_days=7)


@pytest.mark.parametrize("table, msg", [({"unused-dayz": 3}, "unknown key 'unused-dayz'"),
                                        ({"unused-days": "soon"}, "'unused-days' must be a whole number"),
                                        ({"rotation-days": -1}, "must be a whole number"),
                                        ({"expiring-days": True}, "must be a whole number")])
def test_bad_config_is_config_error(table, msg):
    with pytest.raises(ConfigError, match=msg):
        policy_from_config(table)


# -- the keys command -------------------------------------------------------------------------

def seed_tenant(srv):
    """One key per verdict, plus healthy and revoked ones; returns (operator, {name: key})."""
    op = srv.operator(name="Key admin", permissions=["read_scenarios", "manage_keys"])
    ks = {
        "healthy": srv.add_key(name="healthy"),
        "never-used": srv.add_key(name="never used", last_used_days_ago=None, created_days_ago=40),
        "unused": srv.add_key(name="unused", last_used_days_ago=100, created_days_ago=50),
        "never-expires": srv.add_key(name="forever", expires_in_days=None),
        "sa": srv.add_key(name="svc", type="service-account", expires_in_days=None),
        "expires-soon": srv.add_key(name="soon", expires_in_days=3),
        "expired": srv.add_key(name="expired", expires_in_days=-2),
        "rotation": srv.add_key(name="old", created_days_ago=150),
        "star": srv.add_key(name="god mode", permissions=["*"]),
        "ci": srv.add_key(prefix="flux_ci_", name="deployer", permissions=["manage_keys"]),
        "revoked": srv.add_key(name="gone", revoked=True, permissions=["*"]),
    }
    return op, ks


def test_keys_json_report_has_every_verdict(fluxloop_server, keyguard, tmp_path):
    op, ks = seed_tenant(fluxloop_server)
    fluxloop_server.state.page_size_cap = 4  # 12 keys -> 3 pages
    out = tmp_path / "hygiene.json"
    r = keyguard("keys", "--format", "json", "--output", str(out), cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    assert r.returncode == 1, r.stderr.decode()  # over-broad keys are high
    data = json.loads(out.read_text())
    got = {(h["key"]["id"], h["check"], h["severity"]) for h in data["hygiene"]}
    assert got == {
        (ks["never-used"].id, "never-used", "medium"),
        (ks["unused"].id, "unused", "medium"),
        (ks["never-expires"].id, "never-expires", "medium"),
        (ks["sa"].id, "service-account-never-expires", "low"),
        (ks["expires-soon"].id, "expires-soon", "low"),
        (ks["expired"].id, "expired-not-revoked", "low"),
        (ks["rotation"].id, "rotation-overdue", "medium"),
        (ks["star"].id, "over-broad", "high"),
        (ks["ci"].id, "over-broad", "high"),
        (op.id, "can-manage-keys", "info"), (ks["star"].id, "can-manage-keys", "info"),
        (ks["ci"].id, "can-manage-keys", "info"), (ks["revoked"].id, "revoked", "info"),
    }
    assert len(fluxloop_server.calls("list")) == 3
    text = out.read_text() + r.stdout.decode() + r.stderr.decode()
    for k in [op, *ks.values()]:
        assert k.secret not in text


def test_keys_text_report_names_key_id_name_hint_owner(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key(name="Backup Key", expires_in_days=None, created_by="bob@example.com")
    r = keyguard("hygiene", cwd=tmp_path, env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()  # medium only: below the default --fail-on high
    for part in (k.id, "Backup Key", k.key_hint, "bob@example.com", "never-expires"):
        assert part in out
    assert k.secret not in out and op.secret not in out


@pytest.mark.parametrize("fail_on, code", [("medium", 1), ("high", 0), ("none", 0), ("low", 1)])
def test_keys_fail_on(fluxloop_server, keyguard, tmp_path, fail_on, code):
    op = fluxloop_server.operator()
    fluxloop_server.add_key(name="forever", expires_in_days=None)
    r = keyguard("keys", "--fail-on", fail_on, "-f", "json", cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    assert r.returncode == code, r.stderr.decode()


def test_keys_bad_fail_on_is_usage_error(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    r = keyguard("keys", "--fail-on", "dire", cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    assert r.returncode == 2
    assert "--fail-on: unknown severity 'dire'" in r.stderr.decode()
    assert fluxloop_server.calls() == []  # checked before any request


def test_keys_thresholds_from_flags_and_config(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key(name="quiet", last_used_days_ago=40, created_days_ago=45)
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret)

    def checks(*extra):
        r = keyguard("keys", "-f", "json", *extra, cwd=tmp_path, env=env)
        assert r.returncode in (0, 1), r.stderr.decode()
        return {h["check"] for h in json.loads(r.stdout)["hygiene"] if h["key"]["id"] == k.id}

    assert checks() == set()
    assert checks("--unused-days", "30") == {"unused"}
    (tmp_path / ".keyguard.toml").write_text("[hygiene]\nunused-days = 30\nfail-on = \"medium\"\n")
    assert checks() == {"unused"}
    r = keyguard("keys", "-f", "json", cwd=tmp_path, env=env)
    assert r.returncode == 1  # fail-on medium from the config
    assert checks("--unused-days", "60") == set()  # the flag beats the config


def test_keys_bad_config_is_one_line(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    (tmp_path / ".keyguard.toml").write_text("[hygiene]\nunused-dayz = 30\n")
    r = keyguard("keys", cwd=tmp_path, env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    assert r.returncode == 2
    assert "unknown key 'unused-dayz'" in r.stderr.decode()
    assert r.stderr.decode().count("\n") == 1


def test_keys_without_manage_keys_names_the_missing_permission(fluxloop_server, keyguard, tmp_path):
    reader = fluxloop_server.add_key(permissions=["read_scenarios"])
    r = keyguard("keys", cwd=tmp_path, env=fluxloop_server.env(tmp_path, FLUXLOOP_TOKEN=reader.secret))
    err = r.stderr.decode()
    assert r.returncode == 2
    assert ("the operator credential from env FLUXLOOP_TOKEN lacks the manage_keys permission "
            "(it has: read_scenarios)") in err
    assert reader.secret not in err


def test_keys_with_rejected_operator(fluxloop_server, keyguard, tmp_path):
    r = keyguard("keys", "--api-key", "flux_dev_" + "0a" * 16, cwd=tmp_path, env=fluxloop_server.env(tmp_path))
    assert r.returncode == 2
    warning, error = r.stderr.decode().splitlines()
    assert warning.startswith("keyguard: warning: --api-key was given on the command line")  # visible in ps
    assert error == ("keyguard: the FluxLoop API rejected the operator credential from --api-key "
                     "(Invalid API key); fix or replace it")


def test_keys_sarif_and_markdown_outputs_hold_no_secret(fluxloop_server, keyguard, tmp_path):
    op, ks = seed_tenant(fluxloop_server)
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret)
    for fmt in ("sarif", "markdown", "text"):
        out = tmp_path / f"report.{fmt}"
        r = keyguard("keys", "-f", fmt, "-o", str(out), cwd=tmp_path, env=env)
        assert r.returncode == 1, (fmt, r.stderr.decode())
        text = out.read_text() + r.stdout.decode() + r.stderr.decode()
        assert ks["star"].id in text
        for k in [op, *ks.values()]:
            assert k.secret not in text


def test_keys_show_record_and_usage(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    k = fluxloop_server.add_key(name="Production Deployment", prefix="flux_prod_", projects=["a", "b"],
                                usage={"total_requests": 1234,
                                       "by_operation": {"pull_scenarios": 567, "upload_results": 432},
                                       "by_project": {"a": 987, "b": 247}, "by_day": {today: 245},
                                       "last_ip": "192.168.1.100", "last_location": "San Francisco, CA",
                                       "last_user_agent": "fluxloop-cli/1.2.3"})
    r = keyguard("keys", "show", k.id, cwd=tmp_path, env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    for part in (f"Key {k.id}: Production Deployment", k.key_hint, "Usage (last 30 days): 1234 requests",
                 "pull_scenarios: 567 (46%)", "a: 987 (80%)", f"{today}: 245", "last IP:     192.168.1.100",
                 "location:    San Francisco, CA", "user agent:  fluxloop-cli/1.2.3"):
        assert part in out
    assert k.secret not in out
    assert "days=30" in fluxloop_server.calls("usage")[0].query

    r = keyguard("keys", "show", k.id, "--days", "7", "--json", cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    data = json.loads(r.stdout)
    assert data["usage"]["by_operation"] == {"pull_scenarios": 567, "upload_results": 432}
    assert data["key"]["id"] == k.id and data["days"] == 7


def test_keys_show_own_key_without_manage_keys(fluxloop_server, keyguard, tmp_path):
    """Without manage_keys the list is refused, but a key may look at itself: go on with that."""
    me = fluxloop_server.add_key(name="mine", permissions=["read_scenarios"], usage={"total_requests": 5})
    r = keyguard("keys", "show", me.id, cwd=tmp_path, env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=me.secret))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    assert "Usage (last 30 days): 5 requests" in out
    assert "note: record from auth/status" in out and "manage_keys" in out


def test_keys_show_unknown_id(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    r = keyguard("keys", "show", "key_nope", cwd=tmp_path, env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    assert r.returncode == 2
    assert r.stderr.decode() == "keyguard: no key 'key_nope' in tenant 'acme'\n"


def test_every_hygiene_check_has_its_own_sarif_rule_text():
    """The SARIF writer describes each check the hygiene report produces (no generic fallback)."""
    import time as _time

    from keyguard.fluxloop.hygiene import check_keys
    from keyguard.model import KeyRecord
    from keyguard.report.sarif import HYGIENE_CHECKS

    now = int(_time.time())
    day = 86400
    records = [
        KeyRecord(id="k1", name="old admin", permissions=("*",), projects=("*",), created_at=now - 400 * day),
        KeyRecord(id="k2", name="bot", type="service-account", created_at=now - 5 * day, last_used=now),
        KeyRecord(id="k3", name="soon", created_at=now - 5 * day, expires_at=now + 3 * day, last_used=now),
        KeyRecord(id="k4", name="gone", created_at=now - 50 * day, expires_at=now - day, last_used=now - 200 * day),
        KeyRecord(id="k5", name="CI deploy", permissions=("manage_keys",), created_at=now - 5 * day,
                  expires_at=now + 60 * day, last_used=now),
    ]
    produced = {h.check for h in check_keys(records)}
    assert len(produced) >= 7, produced
    assert produced <= set(HYGIENE_CHECKS), sorted(produced - set(HYGIENE_CHECKS))


def test_keys_into_a_pipe_are_plain_rows_one_key_per_line(fluxloop_server, keyguard, tmp_path):
    from conftest import run_keyguard_on_tty
    from keyguard.report.text import HYGIENE_ROW

    op, ks = seed_tenant(fluxloop_server)
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret)
    ks["star"].name = "god\tmode\nsecond line"  # a name cannot split a row or a field
    r = keyguard("keys", cwd=tmp_path, env=env)
    out = r.stdout.decode()
    assert r.returncode == 1, r.stderr.decode()
    rows = [line.split("\t") for line in out.splitlines()]
    # every key with a finding; the revoked key and the key admin at info (the inventory lists them)
    unhealthy = {k.id for name, k in ks.items() if name != "healthy"} | {op.id}
    assert [row[0] for row in rows] and {row[0] for row in rows} == unhealthy  # one line per key
    assert len(rows) == len(unhealthy) and all(len(row) == len(HYGIENE_ROW) for row in rows)
    star = next(row for row in rows if row[0] == ks["star"].id)
    # the tab becomes a space; the newline is shown escaped, as the text report shows control characters
    assert star[1:4] == ["high", "over-broad,can-manage-keys", "god mode\\x0asecond line"] and star[4] == ks["star"].key_hint
    assert "\x1b" not in out and "+--" not in out and "Key hygiene" not in out
    assert max(len(line) for line in out.splitlines()) < 230

    # on a terminal, the same command draws the table
    _, _, seen = run_keyguard_on_tty(["keys"], tmp_path, tty="stdout", env={**env, "NO_COLOR": "1",
                                                                           "COLUMNS": "250"})
    shown = seen.decode("utf-8", "replace")
    assert "Key hygiene" in shown and ks["star"].id in shown and "\t" not in shown
    for k in [op, *ks.values()]:
        assert k.secret not in out + shown
