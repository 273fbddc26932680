"""The HTTP client against the project's own server: status mapping, retries, faults, paging, proxies."""

from __future__ import annotations

import time

import pytest

import keys
from fluxloop_server import FluxLoopServer
from keyguard.errors import ApiError, CredentialError
from keyguard.fluxloop.client import (FluxLoopClient, InsufficientScope, NotFound,
                                      RetryPolicy, TokenRejected)
from keyguard.fluxloop.credentials import Credential


def make_client(srv, token: str | None = None, source: str = "env FLUXLOOP_API_KEY", *,
                endpoint: str | None = None, **policy) -> FluxLoopClient:
    """A client with tiny timeouts whose sleeps are recorded instead of slept."""
    policy.setdefault("timeout", 2.0)
    policy.setdefault("backoff", 0.01)
    sleeps: list[float] = []
    c = FluxLoopClient(endpoint or srv.url, Credential(token, source) if token else None,
                       policy=RetryPolicy(**policy), sleep=sleeps.append)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


# -- status mapping --------------------------------------------------------------------------

def test_live_key_has_its_record(fluxloop_server):
    k = fluxloop_server.add_key(prefix="flux_ci_", name="CI/CD Pipeline", tenant="acme",
                                permissions=["read_scenarios", "upload_results"], projects=["bot"])
    v = make_client(fluxloop_server).auth_status(k.secret)
    assert v.status == "live"
    assert (v.key_id, v.name, v.tenant, v.type) == (k.id, "CI/CD Pipeline", "acme", "user")
    assert v.permissions == ("read_scenarios", "upload_results")
    assert v.projects == ("bot",)
    assert v.expires_at == k.expires_at


@pytest.mark.parametrize("state, status", [("unknown", "invalid"), ("expired", "expired"),
                                           ("revoked", "revoked")])
def test_401_descriptions_map_to_statuses(fluxloop_server, state, status):
    if state == "unknown":
        secret = keys.platform_key()
    else:
        secret = fluxloop_server.add_key(expires_in_days=-1 if state == "expired" else 30,
                                         revoked=state == "revoked").secret
    v = make_client(fluxloop_server).auth_status(secret)
    assert v.status == status
    assert v.reason == {"invalid": "Invalid API key", "expired": "API key has expired",
                        "revoked": "API key has been revoked"}[status]


@pytest.mark.parametrize("kind", ["500", "503", "drop", "reset", "429"])
def test_persistent_fault_is_unknown_never_invalid(fluxloop_server, kind):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", kind, count=10, retry_after="0")
    c = make_client(fluxloop_server, max_attempts=3)
    v = c.auth_status(k.secret)
    assert v.status == "unknown"
    assert "gave up after 3 attempts" in v.reason
    assert len(fluxloop_server.calls("auth_status", key=k)) == 3  # bounded
    assert k.secret not in v.reason


def test_slow_response_times_out_and_is_unknown(fluxloop_server):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "slow", count=2, delay=0.8)
    c = make_client(fluxloop_server, timeout=0.2, max_attempts=2)
    v = c.auth_status(k.secret)
    assert v.status == "unknown"
    assert "timed out after 0.2s" in v.reason


@pytest.mark.parametrize("kind", ["500", "503", "drop", "reset", "slow"])
def test_transient_fault_is_retried_then_live(fluxloop_server, kind):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", kind, count=2, delay=0.6)
    c = make_client(fluxloop_server, timeout=0.2, max_attempts=4)
    assert c.auth_status(k.secret).status == "live"
    statuses = [r.status for r in fluxloop_server.calls("auth_status", key=k)]
    assert len(statuses) == 3 and statuses[-1] == "200"
    assert len(c.sleeps) == 2


def test_backoff_grows_exponentially_and_is_capped(fluxloop_server):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "500", count=6)
    c = make_client(fluxloop_server, max_attempts=6, backoff=1.0, max_backoff=4.0, max_total_wait=100)
    assert c.auth_status(k.secret).status == "unknown"
    s = c.sleeps
    assert len(s) == 5
    # jitter keeps each delay within [half, full] of 1, 2, 4, 4, 4
    for got, full in zip(s, [1, 2, 4, 4, 4]):
        assert full / 2 <= got <= full


def test_429_waits_retry_after_and_gives_up_past_the_cap(fluxloop_server):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "429", count=1, retry_after="7")
    c = make_client(fluxloop_server, max_retry_after=30, max_total_wait=100)
    assert c.auth_status(k.secret).status == "live"
    assert c.sleeps == [7.0]
    # asked to wait longer than the cap: no wait at all, the answer is unknown
    fluxloop_server.inject("auth_status", "429", count=1, retry_after="3600")
    v = c.auth_status(k.secret)
    assert v.status == "unknown" and "asking to wait 3600s" in v.reason
    assert c.sleeps == [7.0]


def test_total_wait_is_bounded(fluxloop_server):
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "429", count=5, retry_after="20")
    c = make_client(fluxloop_server, max_attempts=10, max_total_wait=45)
    v = c.auth_status(k.secret)
    assert v.status == "unknown"
    assert sum(c.sleeps) <= 45
    assert c.sleeps == [20.0, 20.0]
    assert "HTTP 429" in v.reason


def test_real_sleep_for_retry_after(fluxloop_server):
    """Without an injected sleep the client really waits Retry-After seconds."""
    k = fluxloop_server.add_key()
    fluxloop_server.inject("auth_status", "429", count=1, retry_after="1")
    c = FluxLoopClient(fluxloop_server.url, policy=RetryPolicy(timeout=2))
    start = time.monotonic()
    assert c.auth_status(k.secret).status == "live"
    assert time.monotonic() - start >= 0.9  # it did wait (no upper bound: the machine may be slow)


def test_unreachable_server_is_unknown(fluxloop_server):
    srv = FluxLoopServer().start()
    url = srv.url
    srv.stop()  # nothing listens there any more
    c = make_client(fluxloop_server, endpoint=url, max_attempts=2)
    v = c.auth_status(keys.platform_key())
    assert v.status == "unknown"
    assert "connection refused" in v.reason


# -- operator calls ---------------------------------------------------------------------------

def test_whoami_401_names_where_the_credential_came_from(fluxloop_server):
    expired = fluxloop_server.operator(expires_in_days=-2)
    c = make_client(fluxloop_server, expired.secret, source="profile 'ci' in ~/.fluxloop/credentials")
    with pytest.raises(CredentialError) as e:
        c.whoami()
    msg = str(e.value)
    assert msg == ("the FluxLoop API rejected the operator credential from profile 'ci' in "
                   "~/.fluxloop/credentials (API key has expired); fix or replace it")
    assert expired.secret not in msg


def test_operator_call_without_credential(fluxloop_server):
    c = make_client(fluxloop_server)
    with pytest.raises(CredentialError, match="no FluxLoop operator credential"):
        c.whoami()


def test_list_needs_manage_keys_and_says_so(fluxloop_server):
    reader = fluxloop_server.add_key(permissions=["read_scenarios", "upload_results"])
    c = make_client(fluxloop_server, reader.secret)
    with pytest.raises(InsufficientScope) as e:
        c.list_keys("acme")
    assert str(e.value) == ("list the keys of tenant 'acme': the operator credential from env "
                            "FLUXLOOP_API_KEY lacks the manage_keys permission (it has: read_scenarios, "
                            "upload_results)")
    assert e.value.required == ("manage_keys",)


def test_other_tenant_is_forbidden(fluxloop_server):
    op = fluxloop_server.operator(tenant="acme")
    fluxloop_server.add_key(tenant="globex")
    with pytest.raises(InsufficientScope):
        make_client(fluxloop_server, op.secret).list_keys("globex")


def test_list_follows_cursor_pages(fluxloop_server):
    op = fluxloop_server.operator()
    made = [fluxloop_server.add_key(name=f"k{i}") for i in range(11)]
    fluxloop_server.state.page_size_cap = 3
    got = make_client(fluxloop_server, op.secret).list_keys("acme")
    assert [r.id for r in got] == [op.id] + [k.id for k in made]
    lists = fluxloop_server.calls("list")
    assert len(lists) == 4  # 12 keys, 3 a page
    assert "cursor=" not in lists[0].query
    assert all("cursor=" in r.query for r in lists[1:])


def test_list_limit_parameter(fluxloop_server):
    op = fluxloop_server.operator()
    for i in range(4):
        fluxloop_server.add_key(name=f"k{i}")
    got = make_client(fluxloop_server, op.secret).list_keys("acme", limit=2)
    assert len(got) == 5
    assert [r.query.split("&")[0] for r in fluxloop_server.calls("list")] == ["limit=2"] * 3


def test_list_page_retried_after_a_fault(fluxloop_server):
    op = fluxloop_server.operator()
    for i in range(5):
        fluxloop_server.add_key(name=f"k{i}")
    fluxloop_server.state.page_size_cap = 2
    fluxloop_server.inject("list", "503", count=1, retry_after="0")
    fluxloop_server.inject("list", "drop", count=1)
    got = make_client(fluxloop_server, op.secret).list_keys("acme")
    assert len(got) == 6 and len({r.id for r in got}) == 6


def test_list_records_have_documented_fields(fluxloop_server):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key(name="Backup Key", description="for emergencies", type="service-account",
                                projects=["*"], permissions=["*"], expires_in_days=None,
                                last_used_days_ago=None, created_by="jane@example.com")
    rec = {r.id: r for r in make_client(fluxloop_server, op.secret).list_keys("acme")}[k.id]
    assert (rec.name, rec.description, rec.type, rec.created_by) == (
        "Backup Key", "for emergencies", "service-account", "jane@example.com")
    assert rec.projects == ("*",) and rec.permissions == ("*",)
    assert rec.expires_at is None and rec.last_used is None and rec.revoked is False
    assert rec.key_hint.endswith(k.secret[-4:]) and k.secret not in rec.key_hint


def test_revoke_with_operator_then_idempotent(fluxloop_server):
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    c = make_client(fluxloop_server, op.secret)
    assert c.revoke("acme", k.id) is False
    assert c.revoke("acme", k.id) is True  # already_revoked: true
    assert k.revoked
    assert c.auth_status(k.secret).status == "revoked"


def test_self_revocation_and_its_401_afterwards(fluxloop_server):
    k = fluxloop_server.add_key(permissions=["read_scenarios"])
    c = make_client(fluxloop_server)
    assert c.revoke("acme", k.id, token=k.secret) is False
    with pytest.raises(TokenRejected) as e:
        c.revoke("acme", k.id, token=k.secret)
    assert e.value.description == "API key has been revoked"


def test_revoke_someone_elses_key_without_manage_keys(fluxloop_server):
    k = fluxloop_server.add_key()
    other = fluxloop_server.add_key(permissions=["read_scenarios", "upload_results"])
    with pytest.raises(InsufficientScope):
        make_client(fluxloop_server).revoke("acme", other.id, token=k.secret)
    assert not other.revoked


def test_revoke_unknown_id_is_not_found(fluxloop_server):
    op = fluxloop_server.operator()
    with pytest.raises(NotFound, match="revoke key_nope: not found"):
        make_client(fluxloop_server, op.secret).revoke("acme", "key_nope")


def test_revoke_retried_through_a_dropped_connection(fluxloop_server):
    """Revocation is idempotent, so a revoke whose answer was lost is simply sent again."""
    op = fluxloop_server.operator()
    k = fluxloop_server.add_key()
    fluxloop_server.inject("revoke", "503", count=1, retry_after="0")
    assert make_client(fluxloop_server, op.secret).revoke("acme", k.id) is False
    assert [r.status for r in fluxloop_server.calls("revoke")] == ["503", "200"]


def test_usage_by_operator_and_by_the_key_itself(fluxloop_server):
    op = fluxloop_server.operator()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    k = fluxloop_server.add_key(usage={"total_requests": 1234, "by_operation": {"pull_scenarios": 567},
                                       "by_project": {"bot": 987}, "by_day": {today: 245, "2001-01-01": 9},
                                       "last_ip": "192.168.1.100", "last_location": "San Francisco, CA",
                                       "last_user_agent": "fluxloop-cli/1.2.3"})
    u = make_client(fluxloop_server, op.secret).usage("acme", k.id, days=30)
    assert u.total_requests == 1234
    assert dict(u.by_operation) == {"pull_scenarios": 567}
    assert dict(u.by_day) == {today: 245}  # the window is honoured
    assert (u.last_ip, u.last_location, u.last_user_agent) == ("192.168.1.100", "San Francisco, CA",
                                                               "fluxloop-cli/1.2.3")
    assert make_client(fluxloop_server).usage("acme", k.id, token=k.secret).total_requests == 1234
    assert "days=30" in fluxloop_server.calls("usage")[0].query


def test_usage_of_another_key_needs_manage_keys(fluxloop_server):
    k = fluxloop_server.add_key()
    other = fluxloop_server.add_key()
    with pytest.raises(InsufficientScope):
        make_client(fluxloop_server).usage("acme", other.id, token=k.secret)


# -- transport hygiene ------------------------------------------------------------------------

def test_http_proxy_is_honoured(fluxloop_server, monkeypatch):
    """With HTTP_PROXY set, requests go to the proxy (here the test server acting as one)."""
    k = fluxloop_server.add_key()
    monkeypatch.setenv("HTTP_PROXY", fluxloop_server.url)
    monkeypatch.setenv("http_proxy", fluxloop_server.url)
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setenv("no_proxy", "localhost")
    c = make_client(fluxloop_server, endpoint="http://api.fluxloop.invalid")
    assert c.auth_status(k.secret).status == "live"
    assert fluxloop_server.calls("auth_status")[0].proxied


def test_no_proxy_is_honoured(fluxloop_server, monkeypatch):
    k = fluxloop_server.add_key()
    dead = FluxLoopServer().start()
    dead_url = dead.url
    dead.stop()
    monkeypatch.setenv("HTTP_PROXY", dead_url)
    monkeypatch.setenv("http_proxy", dead_url)
    # NO_PROXY=127.0.0.1 is set by the fixture: the dead proxy is bypassed
    assert make_client(fluxloop_server).auth_status(k.secret).status == "live"
    assert not fluxloop_server.calls("auth_status")[0].proxied


def test_redirects_are_not_followed(fluxloop_server):
    """urllib would carry the Authorization header to a redirect target: keyguard refuses."""
    import http.server
    import threading

    target = fluxloop_server.url

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        op = fluxloop_server.operator()
        c = make_client(fluxloop_server, op.secret, endpoint=f"http://127.0.0.1:{srv.server_address[1]}")
        with pytest.raises(ApiError, match="redirect"):
            c.whoami()
        assert fluxloop_server.calls() == []  # the credential never reached the redirect target
    finally:
        srv.shutdown()
        srv.server_close()


def test_https_certificates_are_verified(fluxloop_server):
    """An https endpoint that does not speak TLS properly fails closed, never falls back."""
    c = make_client(fluxloop_server, keys.platform_key(), endpoint=fluxloop_server.url.replace("http", "https"),
                    max_attempts=1)
    with pytest.raises(ApiError):
        c.whoami()
    assert c._ssl.verify_mode.name == "CERT_REQUIRED" and c._ssl.check_hostname


def test_server_text_is_scrubbed_of_the_bearer(fluxloop_server):
    """Even a server that echoes the token back cannot make keyguard print it."""
    import http.server
    import json
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            token = self.headers["Authorization"][7:]
            body = json.dumps({"error": "weird", "error_description": f"bad token {token}"}).encode()
            self.send_response(418)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        secret = keys.platform_key()
        c = make_client(fluxloop_server, secret, endpoint=f"http://127.0.0.1:{srv.server_address[1]}")
        with pytest.raises(ApiError) as e:
            c.whoami()
        assert secret not in str(e.value) and "HTTP 418" in str(e.value)
        v = c.auth_status(secret)
        assert v.status == "unknown" and secret not in v.reason
    finally:
        srv.shutdown()
        srv.server_close()


def test_client_repr_hides_the_credential(fluxloop_server):
    secret = keys.platform_key()
    c = make_client(fluxloop_server, secret)
    assert secret not in repr(c) and "env FLUXLOOP_API_KEY" in repr(c)
