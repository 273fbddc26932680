"""``keyguard scan --verify/--revoke``: the API steps (keyguard.commands.common.verify_and_revoke) end to end."""

from __future__ import annotations

import json

from keyguard.redact import fingerprint


def scan(keyguard, srv, tmp_path, data: str, *args, **env):
    r = keyguard("scan", "--stdin", *args, cwd=tmp_path, input=data.encode(), env=srv.env(tmp_path, **env))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_verify_asks_once_per_key_and_exits_3_when_live(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key(prefix="flux_prod_", name="Prod")
    data = f"FLUXLOOP_API_KEY={k.secret}\nbackup={k.secret}\nagain: {k.secret}\n"
    code, out, err = scan(keyguard, fluxloop_server, tmp_path, data, "--verify", "-f", "json")
    assert code == 3, err
    report = json.loads(out)
    assert [f["verification"]["status"] for f in report["findings"]] == ["live"] * 3
    assert {f["verification"]["key_id"] for f in report["findings"]} == {k.id}
    assert len(fluxloop_server.calls("auth_status")) == 1
    assert k.secret not in out + err


def test_verify_with_api_down_is_unknown_not_clean(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key(prefix="flux_dev_")
    fluxloop_server.inject("auth_status", "500", count=10)
    code, out, err = scan(keyguard, fluxloop_server, tmp_path, f"key={k.secret}\n", "--verify", "-f", "json",
                          "--api-retries", "2")
    report = json.loads(out)
    assert report["findings"][0]["verification"]["status"] == "unknown"
    assert code == 1  # a finding, not verified live, not hidden
    assert len(fluxloop_server.calls("auth_status")) == 2


def test_revoke_yes_revokes_once_with_the_operator(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key(prefix="flux_ci_")
    data = f"a={k.secret}\nb={k.secret}\n"
    code, out, err = scan(keyguard, fluxloop_server, tmp_path, data, "--revoke", "--yes", "-f", "json",
                          FLUXLOOP_API_KEY=op.secret)
    report = json.loads(out)
    assert [f["revocation"]["outcome"] for f in report["findings"]] == ["revoked", "revoked"]
    assert [f["revocation"]["via"] for f in report["findings"]] == ["operator", "operator"]
    assert code != 3  # nothing live is left
    assert [c.bearer for c in fluxloop_server.calls("revoke")] == [fingerprint(op.secret)]
    assert k.revoked
    assert "keyguard: revoked via operator:" in err
    assert k.secret not in out + err and op.secret not in out + err


def test_revoke_without_terminal_or_yes_declines(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key(prefix="flux_ci_")
    code, out, err = scan(keyguard, fluxloop_server, tmp_path, f"a={k.secret}\n", "--revoke")
    assert code == 3
    assert "not revoking: no terminal to confirm on (pass --yes)" in err
    assert fluxloop_server.calls("revoke") == [] and not k.revoked


def test_revoke_dry_run(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key(prefix="flux_ci_")
    code, out, err = scan(keyguard, fluxloop_server, tmp_path, f"a={k.secret}\n", "--revoke", "--dry-run",
                          "-f", "json")
    assert json.loads(out)["findings"][0]["revocation"]["outcome"] == "would_revoke"
    assert fluxloop_server.calls("revoke") == [] and not k.revoked


def test_a_partial_key_is_never_sent_revoked_or_fingerprinted_as_a_key(fluxloop_server, keyguard, tmp_path):
    """A fragment of a concatenation (``"flux_prod_ab12..." + rest``) is reported, but it is no key: even
    when the API would take the fragment itself for a live key, it is never sent and never revoked."""
    op = fluxloop_server.operator()
    whole = fluxloop_server.add_key(prefix="flux_prod_")
    fragment = fluxloop_server.add_key(secret=whole.secret[:24])
    data = f"API_KEY = '{fragment.secret}' + os.environ['REST']\nOTHER = '{whole.secret}'\n"
    code, out, err = scan(keyguard, fluxloop_server, tmp_path, data, "--revoke", "--yes", "-f", "json",
                          FLUXLOOP_API_KEY=op.secret)
    findings = json.loads(out)["findings"]
    assert [(f["line"], f["partial"]) for f in findings] == [(1, True), (2, False)]
    part, full = findings
    assert part["verification"] is None and part["revocation"] is None
    assert full["revocation"]["outcome"] == "revoked"  # the whole key on the next line went the whole way
    assert fragment.secret not in out + err
    sent = {c.bearer for c in fluxloop_server.requests}
    assert fingerprint(fragment.secret) not in sent and fingerprint(whole.secret) in sent
    assert not fragment.revoked and whole.revoked
    assert part["fingerprint"] not in (fingerprint(fragment.secret), fingerprint(whole.secret))


def test_a_baselined_partial_key_does_not_hide_a_whole_key_of_the_same_value(keyguard, tmp_path):
    import subprocess

    import keys

    key = keys.platform_key("flux_prod_", n=14)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.py").write_text(f"K = '{key}' + rest\n")
    r = keyguard("baseline", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    r = keyguard("scan", "-f", "json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["summary"]["baselined"] == 1
    (tmp_path / "b.env").write_text(f"FLUXLOOP_API_KEY={key}\n")  # the same value, now a whole (assigned) key
    r = keyguard("scan", "-f", "json", cwd=tmp_path)
    assert [f["path"] for f in json.loads(r.stdout)["findings"]] == ["b.env"]
