"""``keyguard incident`` against the project's own FluxLoop server: identify, blast radius, revoke once."""

from __future__ import annotations

import json
import socket
import time

import pytest

import keys
from keyguard.redact import fingerprint

USAGE = {"total_requests": 1234, "by_operation": {"pull_scenarios": 567, "upload_results": 432},
         "by_project": {"customer-support-bot": 987}, "last_ip": "192.0.2.7",
         "last_location": "San Francisco, CA", "last_user_agent": "fluxloop-cli/1.2.3"}


@pytest.fixture
def leaked(repo, fluxloop_server):
    """A live key of tenant acme committed on main; returns (repo, server key)."""
    k = fluxloop_server.add_key(name="CI/CD Pipeline", prefix="flux_ci_", account="john@example.com",
                                permissions=["read_scenarios", "upload_results"],
                                projects=["customer-support-bot"], expires_in_days=30,
                                usage=dict(USAGE, by_day={time.strftime("%Y-%m-%d"): 245}))
    repo.write("ci/config.yml", f"env:\n  FLUXLOOP_API_KEY: {k.secret}\n")
    repo.commit("ci config")
    return repo, k


def _run(keyguard, srv, repo, tmp_path, secret, *args, out_name="out", **env):
    out = tmp_path / out_name
    r = keyguard("incident", "--output-dir", str(out), "--api-retries", "1", *args, cwd=repo.path,
                 input=(secret + "\n").encode(), env=srv.env(tmp_path, **env))
    doc = json.loads((out / "incident.json").read_text()) if (out / "incident.json").exists() else None
    for text in (r.stdout, r.stderr):
        assert secret.encode() not in text
    if doc is not None:
        assert secret not in (out / "incident.json").read_text()
        assert secret not in (out / "incident.md").read_text()
    return r, doc, out


def test_live_key_is_identified_revoked_and_recorded(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    r, doc, out = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes")
    assert r.returncode == 0, r.stderr
    ident = doc["identification"]
    assert ident["status"] == "live"
    assert (ident["key_id"], ident["name"], ident["owner"], ident["tenant"]) == \
        (k.id, "CI/CD Pipeline", "john@example.com", "acme")
    assert ident["permissions"] == ["read_scenarios", "upload_results"]
    assert ident["projects"] == ["customer-support-bot"]
    assert ident["expires_at"] == k.expires_at
    br = doc["blast_radius"]
    assert br["total_requests"] == 1234 and br["by_operation"]["pull_scenarios"] == 567
    assert br["last_ip"] == "192.0.2.7" and br["days"] == 30
    usage_calls = fluxloop_server.calls("usage")
    assert len(usage_calls) == 1 and "days=30" in usage_calls[0].query
    # revoked once, by the key itself (no operator credential), and the time recorded
    assert k.revoked
    assert len(fluxloop_server.calls("revoke")) == 1
    rev = doc["revocation"]
    assert rev["outcome"] == "revoked" and rev["via"] == "self" and rev["at"]
    assert doc["timeline"]["revoked_at"] == rev["at"]
    md = (out / "incident.md").read_text()
    assert "1234" in md and "pull\\_scenarios" in md and rev["at"] in md  # Markdown-escaped
    assert b"revoked at" in r.stdout


def test_second_run_never_revokes_twice(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    r1, doc1, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes", out_name="one")
    assert r1.returncode == 0
    r2, doc2, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes", out_name="two")
    assert r2.returncode == 0, r2.stderr
    assert len(fluxloop_server.calls("revoke")) == 1
    assert doc2["identification"]["status"] == "revoked"
    assert doc2["revocation"]["at"] == doc1["revocation"]["at"]
    assert "earlier keyguard incident" in doc2["revocation"]["reason"]
    ledger = json.loads((repo.path / ".git" / "keyguard" / "revocations.json").read_text())
    assert ledger["keys"][fingerprint(k.secret)]["key_id"] == k.id
    assert k.secret not in json.dumps(ledger)


def test_recorded_revocation_but_still_live_is_flagged(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes", out_name="one")
    k.revoked = False  # the service lost the revocation
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes", out_name="two")
    assert r.returncode == 1
    assert len(fluxloop_server.calls("revoke")) == 1
    assert "STILL SAYS LIVE" in doc["summary"]


def test_live_key_without_terminal_or_yes_is_not_revoked(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret)
    assert r.returncode == 1
    assert not k.revoked and fluxloop_server.calls("revoke") == []
    assert doc["revocation"]["outcome"] == "declined"
    assert "--yes" in doc["revocation"]["reason"]
    assert b"LIVE AND NOT REVOKED" in r.stdout


def test_no_revoke_identifies_only(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--no-revoke")
    assert r.returncode == 1
    assert doc["identification"]["status"] == "live"
    assert fluxloop_server.calls("revoke") == []
    assert doc["blast_radius"]["total_requests"] == 1234


def test_operator_credential_revokes_and_reads_usage(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    op = fluxloop_server.operator("acme")
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes", FLUXLOOP_API_KEY=op.secret)
    assert r.returncode == 0, r.stderr
    assert doc["revocation"]["via"] == "operator"
    assert [c.bearer for c in fluxloop_server.calls("revoke")] == [fingerprint(op.secret)]
    assert [c.bearer for c in fluxloop_server.calls("usage")] == [fingerprint(op.secret)]
    assert op.secret.encode() not in r.stdout + r.stderr


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown-to-api"])
def test_key_not_live_is_handled_without_revoking(repo, fluxloop_server, keyguard, tmp_path, state):
    if state == "unknown-to-api":
        secret = keys.platform_key()
    else:
        k = fluxloop_server.add_key(revoked=state == "revoked", expires_in_days=-1 if state == "expired" else 30)
        secret = k.secret
    repo.write("a.env", f"K={secret}\n")
    repo.commit("a")
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, secret, "--yes")
    assert r.returncode == 0, r.stderr
    want = {"revoked": "revoked", "expired": "expired", "unknown-to-api": "invalid"}[state]
    assert doc["identification"]["status"] == want
    assert fluxloop_server.calls("revoke") == []
    assert doc["revocation"] is None


def test_api_unreachable_says_unknown(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes",
                     FLUXLOOP_API_ENDPOINT=f"http://127.0.0.1:{port}")
    assert r.returncode == 1
    assert doc["identification"]["status"] == "unknown"
    assert "connection refused" in doc["identification"]["reason"]
    assert doc["revocation"] is None and not k.revoked
    assert "by hand" in doc["summary"]
    assert any(o["path"] == "ci/config.yml" for o in doc["occurrences"])  # locating needs no network


def test_offline_makes_no_call(leaked, fluxloop_server, keyguard, tmp_path):
    repo, k = leaked
    r, doc, _ = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--offline", "--yes")
    assert r.returncode == 1
    assert fluxloop_server.calls() == []
    assert doc["identification"]["status"] == "unknown" and doc["identification"]["offline"] is True


def _pty_session(argv, cwd, env, answers, timeout=60.0) -> tuple[int, bytes]:
    """Run ``argv`` on a real pseudo-terminal, answering each prompt (bytes -> reply) in turn."""
    import os
    import pty
    import select
    import subprocess

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            start_new_session=True)
    os.close(slave)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                seen += data
            if pending and pending[0][0] in seen:
                prompt, reply = pending.pop(0)
                seen = seen.replace(prompt, prompt + b"<answered>", 1)
                os.write(master, reply)
            if proc.poll() is not None and not r:
                break
        return proc.wait(timeout=10), seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_terminal_prompts_for_key_and_confirmation(leaked, fluxloop_server, tmp_path):
    """On a terminal: the key is read without echo, and revoking asks first; 'y' revokes."""
    import os
    import sys
    from conftest import GIT_ENV
    repo, k = leaked
    env = {kk: v for kk, v in os.environ.items() if not kk.startswith("GIT_")}
    env.update(GIT_ENV, NO_COLOR="1")
    env.update(fluxloop_server.env(tmp_path))
    out = tmp_path / "out"
    code, seen = _pty_session([sys.executable, "-m", "keyguard", "incident", "--output-dir", str(out)],
                              repo.path, env, [(b"Leaked key (not echoed): ", k.secret.encode() + b"\n"),
                                               (b"[y/N] ", b"y\n")])
    assert code == 0, seen.decode(errors="replace")
    assert k.secret.encode() not in seen
    assert b"Revoke the live key" in seen and k.id.encode() in seen
    assert k.revoked and len(fluxloop_server.calls("revoke")) == 1


def test_terminal_answer_no_keeps_key(leaked, fluxloop_server, tmp_path):
    import os
    import sys
    from conftest import GIT_ENV
    repo, k = leaked
    env = {kk: v for kk, v in os.environ.items() if not kk.startswith("GIT_")}
    env.update(GIT_ENV, NO_COLOR="1")
    env.update(fluxloop_server.env(tmp_path))
    code, seen = _pty_session([sys.executable, "-m", "keyguard", "incident", "--output-dir", str(tmp_path / "o")],
                              repo.path, env, [(b"Leaked key (not echoed): ", k.secret.encode() + b"\n"),
                                               (b"[y/N] ", b"n\n")])
    assert code == 1
    assert not k.revoked and fluxloop_server.calls("revoke") == []
    assert b"not confirmed" in seen


def test_incident_markdown_draws_its_timeline_and_calls_per_day_as_mermaid(repo, fluxloop_server, keyguard,
                                                                          tmp_path):
    from datetime import date, timedelta

    from mermaid_check import blocks, parse

    today = date.today()
    by_day = {(today - timedelta(days=d)).isoformat(): n for d, n in ((0, 245), (1, 12), (5, 3))}
    by_day["next tuesday: 7"] = 1000  # not a day: never drawn
    k = fluxloop_server.add_key(prefix="flux_prod_", name="Prod", usage=dict(
        USAGE, by_day=by_day, last_ip="2001:db8::7", last_location='Paris: "FR" ; %% ]] end'))
    repo.write("ci/config.yml", f"env:\n  FLUXLOOP_API_KEY: {k.secret}\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--author", 'Eve: "x" ; #evil %% ]] <eve@example.com>', "-m", "ci config")
    r, doc, out = _run(keyguard, fluxloop_server, repo, tmp_path, k.secret, "--yes")
    assert r.returncode == 0, r.stderr
    md = (out / "incident.md").read_text()
    parsed = dict(parse(b) for b in blocks(md))
    assert set(parsed) == {"timeline", "xychart-beta"}
    events = [e for _, evs in parsed["timeline"]["periods"] for e in evs]
    assert any(e.startswith("first committed") and "Eve" in e for e in events)
    assert any(e.startswith("first API use") for e in events)
    assert any(e.startswith("last API use") and "2001꞉db8꞉꞉7" in e for e in events)
    assert "revoked" in events and "in main" in events
    chart = parsed["xychart-beta"]
    assert len(chart["bar"]) == 30 and sum(chart["bar"]) == 245 + 12 + 3 and chart["bar"][-1] == 245
    assert chart["x"][-1] == today.strftime("%m-%d")
    # the terminal gets the same days as one compact row of bars
    line = next(x for x in r.stdout.decode().splitlines() if "calls per day" in x)
    assert line.strip().endswith("(max 245)") and "█" in line
