"""whoami and revoke through the real command line against the project's own server."""

from __future__ import annotations

import json

import keys
from keyguard.redact import fingerprint, redact


def run(keyguard, srv, tmp_path, *args, input: bytes | None = None, **env):
    r = keyguard(*args, cwd=tmp_path, input=input, env=srv.env(tmp_path, **env))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def no_secret(texts, *secrets):
    blob = "".join(texts)
    for s in secrets:
        assert s not in blob


# -- whoami -----------------------------------------------------------------------------------

def test_whoami_shows_identity_not_credential(fluxloop_server, keyguard, tmp_path):
    fluxloop_server.add_tenant("acme", [("Acme Inc", "owner"), ("Personal", "member")])
    op = fluxloop_server.add_key(name="CI/CD Pipeline", prefix="flux_ci_", account="john@example.com",
                                 permissions=["read_scenarios", "upload_results"], projects=["*"],
                                 expires_in_days=None)
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "whoami", FLUXLOOP_API_KEY=op.secret)
    assert code == 0, err
    assert "credential:    env FLUXLOOP_API_KEY" in out
    assert "account:       john@example.com" in out
    assert "tenant:        acme" in out
    assert "organizations: Acme Inc (owner), Personal (member)" in out
    assert f"key:           CI/CD Pipeline ({op.id}, {op.key_hint}, user)" in out
    assert "permissions:   read_scenarios, upload_results" in out
    assert "projects:      All Projects" in out
    assert "expires:       never" in out
    assert "manage keys:   no" in out
    no_secret([out, err], op.secret)


def test_whoami_json(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "whoami", "--json", FLUXLOOP_API_KEY=op.secret)
    data = json.loads(out)
    assert data["credential_source"] == "env FLUXLOOP_API_KEY"
    assert data["key"]["id"] == op.id and "manage_keys" in data["key"]["permissions"]
    no_secret([out, err], op.secret)


def test_whoami_without_credential(fluxloop_server, keyguard, tmp_path):
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "whoami")
    assert code == 2
    assert err.startswith("keyguard: no FluxLoop credential: pass --api-key, set FLUXLOOP_API_KEY")
    assert fluxloop_server.calls() == []


def test_whoami_revoked_operator_names_source(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator(revoked=True)
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "whoami", FLUXLOOP_TOKEN=op.secret)
    assert code == 2
    assert err == ("keyguard: the FluxLoop API rejected the operator credential from env FLUXLOOP_TOKEN "
                   "(API key has been revoked); fix or replace it\n")


def test_whoami_api_down_is_one_line(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    fluxloop_server.inject("auth_status", "503", count=5, retry_after="0")
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "whoami", "--api-retries", "2",
                         FLUXLOOP_API_KEY=op.secret)
    assert code == 2
    assert err.startswith("keyguard: GET /api/v1/auth/status: HTTP 503 (gave up after 2 attempts")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert len(fluxloop_server.calls("auth_status")) == 2


# -- revoke -----------------------------------------------------------------------------------

def test_revoke_from_stdin_with_operator(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key(name="Leaked")
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes",
                         input=(k.secret + "\n").encode(), FLUXLOOP_API_KEY=op.secret)
    assert code == 0, err
    assert out.startswith(f"revoked {redact(k.secret)}: key {k.id} 'Leaked' of tenant acme")
    assert "via operator" in out
    assert k.revoked
    assert [c.bearer for c in fluxloop_server.calls("revoke")] == [fingerprint(op.secret)]
    no_secret([out, err], k.secret, op.secret)


def test_revoke_argument_self_when_no_operator(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key()
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes", k.secret)
    assert code == 0, err
    assert "via self" in out and k.revoked
    assert [c.bearer for c in fluxloop_server.calls("revoke")] == [fingerprint(k.secret)]
    no_secret([out, err], k.secret)


def test_revoke_twice_is_fine_and_sends_one_revoke(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    for _ in range(2):
        code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes", "-",
                             input=k.secret.encode(), FLUXLOOP_API_KEY=op.secret)
        assert code == 0, err
    assert out == f"keyguard: {redact(k.secret)} is already revoked\n"
    assert len(fluxloop_server.calls("revoke")) == 1


def test_revoke_dry_run(fluxloop_server, keyguard, tmp_path):
    reader = fluxloop_server.add_key(permissions=["read_scenarios"])
    k = fluxloop_server.add_key()
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--dry-run", input=k.secret.encode(),
                         FLUXLOOP_API_KEY=reader.secret)
    assert code == 0, err
    assert out.startswith(f"would revoke {redact(k.secret)}")
    assert "the key itself (operator credential lacks manage_keys)" in out
    assert fluxloop_server.calls("revoke") == [] and not k.revoked


def test_revoke_needs_yes_without_a_terminal(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key()
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", input=k.secret.encode())
    assert code == 2
    assert "no terminal to ask on (pass --yes)" in err
    assert not k.revoked


def test_revoke_invalid_and_expired_keys_exit_1(fluxloop_server, keyguard, tmp_path):
    bogus = keys.platform_key()
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes", input=bogus.encode())
    assert code == 1
    assert err == (f"keyguard: {redact(bogus)} is not a known FluxLoop key (the API says: Invalid API key); "
                   "nothing to revoke\n")
    old = fluxloop_server.add_key(expires_in_days=-1)
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes", input=old.secret.encode())
    assert code == 1 and "has expired" in err
    no_secret([out, err], bogus, old.secret)


def test_revoke_api_down_exit_1(fluxloop_server, keyguard, tmp_path):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "drop", count=3)
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes", "--api-retries", "2",
                         input=k.secret.encode())
    assert code == 1
    assert "could not learn whether" in err and "connection closed without a response" in err
    assert not k.revoked


def test_revoke_empty_stdin_is_usage_error(fluxloop_server, keyguard, tmp_path):
    code, out, err = run(keyguard, fluxloop_server, tmp_path, "revoke", "--yes", input=b"\n\n")
    assert code == 2 and "no key given" in err


def _run_on_terminal(srv, tmp_path, args, answer: bytes, **env):
    """Run keyguard with a pseudo-terminal as stdin; type ``answer`` once the question is asked."""
    import os
    import subprocess
    import sys
    import time

    from conftest import GIT_ENV

    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(GIT_ENV)
    e.update(srv.env(tmp_path, **env))
    master, slave = os.openpty()
    p = subprocess.Popen([sys.executable, "-m", "keyguard", *args], cwd=tmp_path, env=e, stdin=slave,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not srv.calls("auth_status"):
            time.sleep(0.02)
        time.sleep(0.3)  # the question follows the identification
        os.write(master, answer)
        out, err = p.communicate(timeout=20)
    finally:
        os.close(master)
    return p.returncode, out.decode(), err.decode()


def test_revoke_asks_on_a_terminal(fluxloop_server, tmp_path):
    k = fluxloop_server.add_key(name="Leaked")
    code, out, err = _run_on_terminal(fluxloop_server, tmp_path, ["revoke", k.secret], b"y\n")
    assert code == 0, err
    assert f"Revoke {redact(k.secret)}: key {k.id} 'Leaked'" in err
    assert "revoked" in out and k.revoked


def test_revoke_declined_on_a_terminal(fluxloop_server, tmp_path):
    k = fluxloop_server.add_key()
    code, out, err = _run_on_terminal(fluxloop_server, tmp_path, ["revoke", k.secret], b"n\n")
    assert code == 1
    assert "not revoked" in err
    assert fluxloop_server.calls("revoke") == [] and not k.revoked
