"""verify_findings and revoke_findings against the project's own server: dedup, mapping, never twice."""

from __future__ import annotations

import pytest

import keys
from keyguard.fluxloop.client import FluxLoopClient, RetryPolicy
from keyguard.fluxloop.credentials import Credential
from keyguard.fluxloop.revoke import revoke_findings
from keyguard.fluxloop.verify import verify_findings
from keyguard.model import Finding, Severity
from keyguard.redact import fingerprint, redact


def finding(secret: str, path: str = "app.env", line: int = 1, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(rule_id="fluxloop-key", description="FluxLoop key", severity=severity, secret=secret,
                   redacted=redact(secret), fingerprint=fingerprint(secret), path=path, line=line,
                   column=1, end_column=len(secret) + 1)


def client(srv, operator=None, **policy) -> FluxLoopClient:
    policy.setdefault("timeout", 2.0)
    policy.setdefault("backoff", 0.001)
    return FluxLoopClient(srv.url, Credential(operator.secret, "env FLUXLOOP_API_KEY") if operator else None,
                          policy=RetryPolicy(**policy), sleep=lambda s: None)


# -- verify ------------------------------------------------------------------------------------

def test_each_distinct_key_is_asked_once(fluxloop_server):
    a = fluxloop_server.add_key(name="A")
    b = fluxloop_server.add_key(name="B")
    fs = [finding(a.secret, f"f{i}.env") for i in range(25)] + [finding(b.secret, "b.env")] * 3
    out = verify_findings(fs, client(fluxloop_server), max_workers=4)
    assert len(out) == 28
    assert len(fluxloop_server.calls("auth_status", key=a)) == 1
    assert len(fluxloop_server.calls("auth_status", key=b)) == 1
    assert len(fluxloop_server.calls("auth_status")) == 2
    assert [f.path for f in out] == [f.path for f in fs]  # order kept
    assert {f.verification.name for f in out} == {"A", "B"}


def test_statuses_and_severity(fluxloop_server):
    live = fluxloop_server.add_key()
    expired = fluxloop_server.add_key(expires_in_days=-5)
    revoked = fluxloop_server.add_key(revoked=True)
    unknown = keys.platform_key()
    fs = [finding(s, severity=Severity.HIGH) for s in (live.secret, expired.secret, revoked.secret, unknown)]
    out = verify_findings(fs, client(fluxloop_server))
    assert [f.verification.status for f in out] == ["live", "expired", "revoked", "invalid"]
    assert [f.severity for f in out] == [Severity.CRITICAL, Severity.HIGH, Severity.HIGH, Severity.HIGH]
    assert out[0].verification.key_id == live.id


def test_api_down_gives_unknown_and_keeps_severity(fluxloop_server):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "503", count=10, retry_after="0")
    out = verify_findings([finding(k.secret, severity=Severity.MEDIUM)], client(fluxloop_server, max_attempts=2))
    assert out[0].verification.status == "unknown"
    assert "HTTP 503" in out[0].verification.reason
    assert out[0].severity == Severity.MEDIUM


def test_many_keys_bounded_pool(fluxloop_server):
    made = [fluxloop_server.add_key() for _ in range(20)]
    out = verify_findings([finding(k.secret) for k in made], client(fluxloop_server), max_workers=3)
    assert all(f.verification.status == "live" for f in out)
    assert len(fluxloop_server.calls("auth_status")) == 20


# -- revoke ------------------------------------------------------------------------------------

def revoke_calls(srv):
    return srv.calls("revoke", method="POST")


def test_operator_with_manage_keys_revokes_each_key_once(fluxloop_server):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    fs = verify_findings([finding(k.secret, "a.env"), finding(k.secret, "b.env"), finding(k.secret, "c.py")],
                         client(fluxloop_server, op))
    out = revoke_findings(fs, client(fluxloop_server, op))
    assert len(revoke_calls(fluxloop_server)) == 1
    assert revoke_calls(fluxloop_server)[0].bearer == fingerprint(op.secret)
    assert {(f.revocation.outcome, f.revocation.via) for f in out} == {("revoked", "operator")}
    assert len({f.revocation for f in out}) == 1 and out[0].revocation.at.endswith("Z")
    assert k.revoked

    # a second pass over the same findings sends nothing
    again = revoke_findings(out, client(fluxloop_server, op))
    assert len(revoke_calls(fluxloop_server)) == 1
    assert [f.revocation for f in again] == [f.revocation for f in out]


def test_without_operator_the_key_revokes_itself(fluxloop_server):
    k = fluxloop_server.add_key(permissions=["read_scenarios"])
    out = revoke_findings([finding(k.secret)], client(fluxloop_server))  # unverified: verified first
    r = out[0].revocation
    assert (r.outcome, r.via) == ("revoked", "self")
    assert "operator credential not used" in r.reason
    assert revoke_calls(fluxloop_server)[0].bearer == fingerprint(k.secret)
    assert k.revoked


def test_operator_without_manage_keys_falls_back_to_self(fluxloop_server):
    reader = fluxloop_server.add_key(name="reader", permissions=["read_scenarios"])
    k = fluxloop_server.add_key()
    out = revoke_findings([finding(k.secret)], client(fluxloop_server, reader))
    assert (out[0].revocation.outcome, out[0].revocation.via) == ("revoked", "self")
    assert out[0].revocation.reason == "operator credential lacks manage_keys"
    assert [c.bearer for c in revoke_calls(fluxloop_server)] == [fingerprint(k.secret)]


def test_operator_of_another_tenant_is_not_used(fluxloop_server):
    op = fluxloop_server.operator(tenant="globex")
    k = fluxloop_server.add_key(tenant="acme")
    out = revoke_findings([finding(k.secret)], client(fluxloop_server, op))
    assert out[0].revocation.via == "self"
    assert "tenant 'globex', not 'acme'" in out[0].revocation.reason


def test_rejected_operator_credential_does_not_stop_revocation(fluxloop_server):
    gone = fluxloop_server.operator(revoked=True)
    k = fluxloop_server.add_key()
    out = revoke_findings([finding(k.secret)], client(fluxloop_server, gone))
    assert (out[0].revocation.outcome, out[0].revocation.via) == ("revoked", "self")
    assert "rejected the operator credential from env FLUXLOOP_API_KEY" in out[0].revocation.reason
    assert gone.secret not in out[0].revocation.reason


def test_already_revoked_on_the_server(fluxloop_server):
    """Revoked by someone else between verify and revoke: the server says already_revoked."""
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    fs = verify_findings([finding(k.secret)], client(fluxloop_server, op))
    k.revoked = True
    out = revoke_findings(fs, client(fluxloop_server, op))
    assert out[0].revocation.outcome == "already_revoked"


def test_already_revoked_when_revoking_itself(fluxloop_server):
    k = fluxloop_server.add_key()
    fs = verify_findings([finding(k.secret)], client(fluxloop_server))
    k.revoked = True
    out = revoke_findings(fs, client(fluxloop_server))
    assert (out[0].revocation.outcome, out[0].revocation.via) == ("already_revoked", "self")


def test_only_live_keys_are_revoked(fluxloop_server):
    op = fluxloop_server.operator()
    live = fluxloop_server.add_key()
    expired = fluxloop_server.add_key(expires_in_days=-1)
    bogus = keys.platform_key()
    out = revoke_findings([finding(s) for s in (live.secret, expired.secret, bogus)], client(fluxloop_server, op))
    assert [f.revocation.outcome if f.revocation else None for f in out] == ["revoked", None, None]
    assert len(revoke_calls(fluxloop_server)) == 1


def test_dry_run_sends_no_revoke(fluxloop_server):
    op = fluxloop_server.operator()
    a, b = fluxloop_server.add_key(), fluxloop_server.add_key()
    asked = []
    out = revoke_findings([finding(a.secret), finding(b.secret)], client(fluxloop_server, op),
                          confirm=lambda ks: asked.append(ks) or True, dry_run=True)
    assert [(f.revocation.outcome, f.revocation.via) for f in out] == [("would_revoke", "operator")] * 2
    assert revoke_calls(fluxloop_server) == [] and not a.revoked and not b.revoked
    assert asked == []


def test_confirm_is_asked_once_with_one_finding_per_key(fluxloop_server):
    op = fluxloop_server.operator()
    a, b = fluxloop_server.add_key(), fluxloop_server.add_key()
    asked = []
    fs = [finding(a.secret, "1"), finding(a.secret, "2"), finding(b.secret, "3")]
    out = revoke_findings(fs, client(fluxloop_server, op), confirm=lambda ks: asked.append(ks) or True)
    assert len(asked) == 1
    assert sorted(f.secret for f in asked[0]) == sorted([a.secret, b.secret])
    assert all(f.revocation.outcome == "revoked" for f in out)
    assert len(revoke_calls(fluxloop_server)) == 2


def test_declined_sends_nothing(fluxloop_server):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    out = revoke_findings([finding(k.secret)], client(fluxloop_server, op), confirm=lambda ks: False)
    assert out[0].revocation.outcome == "declined"
    assert revoke_calls(fluxloop_server) == [] and not k.revoked


def test_revoke_whose_answer_was_lost_is_retried_safely(fluxloop_server):
    """The first revoke is done by the server but its answer is lost (slow > timeout): the retry is
    idempotent and the outcome is still a revoked key."""
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    fs = verify_findings([finding(k.secret)], client(fluxloop_server, op))
    fluxloop_server.inject("revoke", "slow", count=1, delay=0.5)
    out = revoke_findings(fs, client(fluxloop_server, op, timeout=0.2))
    assert out[0].revocation.outcome in ("revoked", "already_revoked")
    assert k.revoked


def test_revoke_fails_cleanly_when_the_api_is_down(fluxloop_server):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    fs = verify_findings([finding(k.secret)], client(fluxloop_server, op))
    fluxloop_server.inject("revoke", "500", count=10)
    out = revoke_findings(fs, client(fluxloop_server, op, max_attempts=3))
    r = out[0].revocation
    assert r.outcome == "failed" and "HTTP 500" in r.reason
    assert len(revoke_calls(fluxloop_server)) == 3  # bounded retries, no fallback storm
    assert not k.revoked


@pytest.mark.parametrize("workers", [1, 8])
def test_no_secret_in_any_recorded_text(fluxloop_server, workers):
    op = fluxloop_server.operator()
    made = [fluxloop_server.add_key() for _ in range(3)]
    fs = verify_findings([finding(k.secret) for k in made], client(fluxloop_server, op), max_workers=workers)
    out = revoke_findings(fs, client(fluxloop_server, op))
    text = repr(out)
    for k in made + [op]:
        assert k.secret not in text


def test_verification_runs_concurrently_but_bounded(fluxloop_server):
    made = [fluxloop_server.add_key() for _ in range(12)]
    fluxloop_server.state.latency = 0.1
    out = verify_findings([finding(k.secret) for k in made], client(fluxloop_server), max_workers=4)
    assert all(f.verification.status == "live" for f in out)
    assert 2 <= fluxloop_server.state.max_in_flight <= 4
