"""The project's own FluxLoop API: a real HTTP server on 127.0.0.1 that follows the contract.

docs/fluxloop-api.md (keyguard's account of the API it speaks) to the letter: ``GET /api/v1/auth/status``,
``GET /api/v1/tenant/{t}/api-keys/list`` (manage_keys; ``X-Next-Cursor`` pages,
``?limit`` default 100 max 500), ``POST .../api-keys/{id}/revoke`` (manage_keys
or the key itself; idempotent with ``already_revoked: true``), ``GET
.../api-keys/{id}/usage?days=N`` (manage_keys or the key itself), and the exact
error bodies (401 invalid_token, 403 insufficient_scope with required/provided,
404 not_found, 429 rate_limited with Retry-After).

State: tenants and keys with their full secret values, records and usage.
Faults on demand, per endpoint, for the next N calls: ``429`` (Retry-After),
``500``/``503``, ``drop`` (close the socket without a response), ``reset`` (TCP
reset), ``slow`` (sleep before answering; a long ``delay`` is a hung endpoint),
``trickle`` (status and headers at once, then the body one byte every ``delay``
seconds: no single read ever times out). ``page_size_cap`` forces tiny pages.
Every request is recorded (method, path, endpoint, the bearer's fingerprint,
the status) so tests can assert "revoke fired once". It also answers requests
sent to it as an HTTP proxy (absolute URI), recording ``proxied=True``.

Test modules get the ``fluxloop_server`` fixture through ``pytest_plugins`` in conftest.py
(the fixture) or directly: ``with FluxLoopServer() as srv: ...``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as _secrets
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

import keys as keygen
from keyguard.redact import fingerprint

DAY = 86400
ENDPOINTS = ("auth_status", "list", "revoke", "usage")


def invalid_token(description: str) -> dict:
    """The 401 body of the contract."""
    return {"error": "invalid_token", "error_description": description}


@dataclass
class ServerKey:
    """One key the server knows: its full value plus its record."""

    secret: str
    id: str
    tenant: str
    name: str = ""
    description: str = ""
    type: str = "user"
    projects: list = field(default_factory=list)
    permissions: list = field(default_factory=list)
    created_at: int | None = None
    expires_at: int | None = None
    last_used: int | None = None
    revoked: bool = False
    created_by: str = "owner@example.com"
    account: str = "owner@example.com"
    usage: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # the secret stays out of pytest's assertion output
        return f"ServerKey(id={self.id!r}, tenant={self.tenant!r}, name={self.name!r})"

    @property
    def key_hint(self) -> str:
        """``flux_ci_****...x2q9``: the literal prefix (up to the last ``_``) and the last four."""
        m = re.match(r"([a-z]+(?:_[a-z]+)*_)[A-Za-z0-9]+$", self.secret)
        return f"{m.group(1) if m else ''}****...{self.secret[-4:]}"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def record(self) -> dict:
        """The list endpoint's record (auth/status's ``key`` lacks description/created_by)."""
        return {"id": self.id, "name": self.name, "type": self.type, "key_hint": self.key_hint,
                "projects": list(self.projects), "permissions": list(self.permissions),
                "created_at": self.created_at, "expires_at": self.expires_at,
                "last_used": self.last_used, "revoked": self.revoked,
                "description": self.description, "created_by": self.created_by}

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "*" in self.permissions


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server saw."""

    method: str
    path: str
    query: str
    endpoint: str
    """``auth_status``, ``list``, ``revoke``, ``usage`` or ``other``."""
    bearer: str
    """``fingerprint()`` of the bearer token ("" when none) - never the token."""
    status: str
    """The HTTP status sent, or the fault: ``drop``, ``reset``, ``slow``."""
    proxied: bool = False
    authorization_seen: bool = False


@dataclass
class Fault:
    """One injected misbehaviour."""

    kind: str
    """``429``, ``500``, ``503``, ``drop``, ``reset``, ``slow``, ``trickle``."""
    retry_after: str | None = "1"
    delay: float = 1.0


class FluxLoopState:
    """Tenants, keys, faults and the request log; every method is thread-safe."""

    def __init__(self):
        self.lock = threading.RLock()
        self.organizations: dict[str, list] = {}
        self.keys: list[ServerKey] = []
        self.faults: dict[str, deque] = defaultdict(deque)
        self.requests: list[RecordedRequest] = []
        self.page_size_cap: int | None = None
        self.latency: float = 0.0
        """Seconds every answer is delayed (a far-away API), 0 by default."""
        self.in_flight = 0
        self.max_in_flight = 0
        """Most requests handled at the same time (to check bounded concurrency)."""

    # -- setup ---------------------------------------------------------------------------
    def add_tenant(self, name: str, organizations=(("Acme Inc", "owner"),)) -> None:
        with self.lock:
            self.organizations[name] = [{"name": n, "role": r} for n, r in organizations]

    def add_key(self, *, tenant: str = "acme", secret: str | None = None, prefix: str = "flux_dev_",
                name: str = "Test Key", description: str = "", type: str = "user",
                projects=("customer-support-bot",), permissions=("read_scenarios",),
                created_days_ago: float = 10, expires_in_days: float | None = 80,
                last_used_days_ago: float | None = 1, revoked: bool = False,
                created_by: str = "owner@example.com", account: str | None = None,
                usage: dict | None = None, key_id: str | None = None) -> ServerKey:
        """A new key with a random secret (``prefix``) and times relative to now."""
        now = int(time.time())
        if secret is None:
            secret = (keygen.platform_key(prefix) if prefix.startswith("flux_") else keygen.api_key(prefix))
        k = ServerKey(
            secret=secret, id=key_id or "key_" + _secrets.token_hex(6), tenant=tenant, name=name,
            description=description, type=type, projects=list(projects), permissions=list(permissions),
            created_at=now - int(created_days_ago * DAY),
            expires_at=None if expires_in_days is None else now + int(expires_in_days * DAY),
            last_used=None if last_used_days_ago is None else now - int(last_used_days_ago * DAY),
            revoked=revoked, created_by=created_by, account=account or created_by,
            usage=usage if usage is not None else {})
        with self.lock:
            self.organizations.setdefault(tenant, [{"name": tenant.title() + " Inc", "role": "owner"}])
            self.keys.append(k)
        return k

    def operator(self, tenant: str = "acme", **kw) -> ServerKey:
        """A key that may manage the tenant's keys."""
        kw.setdefault("name", "Key admin")
        kw.setdefault("permissions", ("read_scenarios", "manage_keys"))
        return self.add_key(tenant=tenant, **kw)

    def inject(self, endpoint: str, kind: str, count: int = 1, *, retry_after: str | None = "1",
               delay: float = 1.0) -> None:
        """The next ``count`` calls to ``endpoint`` (or ``*``) misbehave as ``kind``."""
        assert endpoint in ENDPOINTS + ("*",), endpoint
        assert kind in ("429", "500", "503", "drop", "reset", "slow", "trickle"), kind
        with self.lock:
            for _ in range(count):
                self.faults[endpoint].append(Fault(kind, retry_after, delay))

    # -- queries -------------------------------------------------------------------------
    def by_secret(self, token: str) -> ServerKey | None:
        with self.lock:
            return next((k for k in self.keys if k.secret == token), None)

    def by_id(self, key_id: str) -> ServerKey | None:
        with self.lock:
            return next((k for k in self.keys if k.id == key_id), None)

    def calls(self, endpoint: str | None = None, *, key: str | ServerKey | None = None,
              method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, filtered by endpoint, bearer key (value or ServerKey) and method."""
        fp = None
        if key is not None:
            fp = fingerprint(key.secret if isinstance(key, ServerKey) else key)
        with self.lock:
            return [r for r in self.requests
                    if (endpoint is None or r.endpoint == endpoint)
                    and (fp is None or r.bearer == fp)
                    and (method is None or r.method == method)]

    def take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for q in (self.faults[endpoint], self.faults["*"]):
                if q:
                    return q.popleft()
        return None

    def record(self, req: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(req)


def _route(path: str) -> tuple[str, dict]:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts == ["api", "v1", "auth", "status"]:
        return "auth_status", {}
    if len(parts) == 6 and parts[:3] == ["api", "v1", "tenant"] and parts[4:] == ["api-keys", "list"]:
        return "list", {"tenant": parts[3]}
    if len(parts) == 7 and parts[:3] == ["api", "v1", "tenant"] and parts[4] == "api-keys":
        if parts[6] == "revoke":
            return "revoke", {"tenant": parts[3], "id": parts[5]}
        if parts[6] == "usage":
            return "usage", {"tenant": parts[3], "id": parts[5]}
    return "other", {}


def read_request(h: BaseHTTPRequestHandler):
    """``(parts, endpoint, params, token, auth)`` of the request ``h`` is handling (its body read)."""
    parts = urlsplit(h.path)
    n = int(h.headers.get("Content-Length") or 0)
    if n:
        h.rfile.read(n)
    endpoint, params = _route(parts.path)
    auth = h.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else ""
    return parts, endpoint, params, token, auth


def client_env(url: str, home, **extra) -> dict:
    """Environment for a ``keyguard`` subprocess talking to the server at ``url`` (no proxy, a temp HOME)."""
    e = {"FLUXLOOP_API_ENDPOINT": url, "HOME": str(home), "NO_PROXY": "127.0.0.1,localhost",
         "no_proxy": "127.0.0.1,localhost", "FLUXLOOP_PROFILE": "", "HTTP_PROXY": "", "http_proxy": "",
         "HTTPS_PROXY": "", "https_proxy": ""}
    e.update({k: str(v) for k, v in extra.items()})
    return e


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, num = text.partition(":")
        return int(num) if tag == "offset" and int(num) >= 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "FluxLoopTest/1.0"
    state: FluxLoopState  # set on the subclass made per server

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, status: int, body, headers: dict | None = None, trickle: float = 0.0) -> None:
        """Send the answer; with ``trickle``, the body one byte every ``trickle`` seconds (padded to
        take a long time) after status and headers went out at once."""
        data = json.dumps(body).encode() + (b" " * 200 if trickle else b"")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if not trickle:
                self.wfile.write(data)
                return
            self.wfile.flush()
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(trickle)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a slow-response test): nothing to do

    def _handle(self, method: str) -> None:
        st = self.state
        with st.lock:
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            self._handle_counted(method)
        finally:
            with st.lock:
                st.in_flight -= 1

    def _handle_counted(self, method: str) -> None:
        st = self.state
        proxied = self.path.startswith("http://") or self.path.startswith("https://")
        parts, endpoint, params, token, auth = read_request(self)
        rec = dict(method=method, path=parts.path, query=parts.query, endpoint=endpoint,
                   bearer=fingerprint(token) if token else "", proxied=proxied,
                   authorization_seen=bool(auth))
        if st.latency:
            time.sleep(st.latency)
        fault = st.take_fault(endpoint) if endpoint in ENDPOINTS else None
        if fault is not None:
            if fault.kind == "slow":  # recorded now: the client may be gone when the answer is sent
                st.record(RecordedRequest(status="slow", **rec))
                time.sleep(fault.delay)
                status, body, headers = self._dispatch(method, endpoint, params, token, parse_qs(parts.query))
                self._send(status, body, headers)
                return
            elif fault.kind == "trickle":
                st.record(RecordedRequest(status="trickle", **rec))
                status, body, headers = self._dispatch(method, endpoint, params, token, parse_qs(parts.query))
                self._send(status, body, headers, trickle=fault.delay)
                return
            elif fault.kind in ("drop", "reset"):
                st.record(RecordedRequest(status=fault.kind, **rec))
                if fault.kind == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                try:
                    self.connection.close()
                except OSError:
                    pass
                return
            else:
                status = int(fault.kind)
                st.record(RecordedRequest(status=str(status), **rec))
                if status == 429:
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    self._send(429, {"error": "rate_limited", "error_description": "Rate limit exceeded"}, headers)
                else:
                    headers = {"Retry-After": fault.retry_after} if status == 503 and fault.retry_after else {}
                    self._send(status, {"error": "server_error", "error_description": "Internal error"}, headers)
                return
        status, body, headers = self._dispatch(method, endpoint, params, token, parse_qs(parts.query))
        st.record(RecordedRequest(status=str(status), **rec))
        self._send(status, body, headers)

    # -- the API ---------------------------------------------------------------------------
    def _authenticate(self, token: str):
        """(key, None) or (None, 401 body)."""
        if not token:
            return None, invalid_token("Missing bearer token")
        k = self.state.by_secret(token)
        if k is None:
            return None, invalid_token("Invalid API key")
        if k.revoked:
            return None, invalid_token("API key has been revoked")
        if k.expired(time.time()):
            return None, invalid_token("API key has expired")
        return k, None

    @staticmethod
    def _scope(bearer: ServerKey, required: str = "manage_keys"):
        return 403, {"error": "insufficient_scope",
                     "error_description": "API key does not have required permissions",
                     "required": [required], "provided": list(bearer.permissions)}, {}

    def _dispatch(self, method, endpoint, params, token, query):
        st = self.state
        want = {"auth_status": "GET", "list": "GET", "usage": "GET", "revoke": "POST"}
        if endpoint == "other":
            return 404, {"error": "not_found", "error_description": "No such endpoint"}, {}
        if method != want[endpoint]:
            return 405, {"error": "method_not_allowed", "error_description": f"Use {want[endpoint]}"}, {}
        bearer, err = self._authenticate(token)
        if err is not None:
            return 401, err, {}
        if endpoint == "auth_status":
            key = bearer.record()
            del key["description"], key["created_by"]
            with st.lock:
                orgs = list(st.organizations.get(bearer.tenant, []))
            return 200, {"account": bearer.account, "tenant": bearer.tenant, "organizations": orgs,
                         "key": key}, {}

        tenant = params["tenant"]
        manager = bearer.tenant == tenant and bearer.can("manage_keys")
        if endpoint == "list":
            if not manager:
                return self._scope(bearer)
            try:
                limit = int(query.get("limit", ["100"])[0])
            except ValueError:
                limit = 0
            if limit < 1:
                return 400, {"error": "invalid_request",
                             "error_description": "limit must be an integer between 1 and 500"}, {}
            limit = min(limit, 500)
            if st.page_size_cap:
                limit = min(limit, st.page_size_cap)
            offset = 0
            if "cursor" in query:
                offset = _decode_cursor(query["cursor"][0])
                if offset is None:
                    return 400, {"error": "invalid_request", "error_description": "Invalid cursor"}, {}
            with st.lock:
                mine = [k for k in st.keys if k.tenant == tenant]
                page = [k.record() for k in mine[offset:offset + limit]]
            headers = {"X-Next-Cursor": _encode_cursor(offset + limit)} if offset + limit < len(mine) else {}
            return 200, page, headers

        target = st.by_id(params["id"])
        itself = target is not None and target is bearer and bearer.tenant == tenant
        if not (manager or itself):
            return self._scope(bearer)
        if target is None or target.tenant != tenant:
            return 404, {"error": "not_found", "error_description": "API key not found"}, {}
        if endpoint == "revoke":
            with st.lock:
                if target.revoked:
                    return 200, {"success": True, "message": "API key was already revoked",
                                 "already_revoked": True}, {}
                target.revoked = True
            return 200, {"success": True, "message": "API key revoked successfully"}, {}
        # usage
        try:
            days = int(query.get("days", ["30"])[0])
        except ValueError:
            days = 0
        if not 1 <= days <= 365:
            return 400, {"error": "invalid_request", "error_description": "days must be 1 to 365"}, {}
        u = dict(target.usage)
        since = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%d")
        by_day = {d: n for d, n in (u.get("by_day") or {}).items() if d >= since}
        body = {"total_requests": u.get("total_requests", sum(by_day.values())),
                "by_operation": u.get("by_operation", {}), "by_project": u.get("by_project", {}),
                "by_day": by_day, "last_used": target.last_used, "last_ip": u.get("last_ip", ""),
                "last_location": u.get("last_location", ""), "last_user_agent": u.get("last_user_agent", "")}
        return 200, body, {}


class FluxLoopServer:
    """The server on 127.0.0.1 (ephemeral port) in a background thread; ``url`` is its base URL."""

    def __init__(self, state: FluxLoopState | None = None):
        self.state = state or FluxLoopState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True, name="fluxloop-test-server")

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FluxLoopServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FluxLoopServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # conveniences delegating to the state
    def __getattr__(self, name):
        return getattr(self.state, name)

    def env(self, home, **extra) -> dict:
        """Environment for a ``keyguard`` subprocess talking to this server (no proxy, a temp HOME)."""
        return client_env(self.url, home, **extra)


CLEARED_ENV = ("FLUXLOOP_API_KEY", "FLUXLOOP_TOKEN", "FLUXLOOP_PROFILE", "FLUXLOOP_API_ENDPOINT",
               "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def fluxloop_server(monkeypatch):
    """A fresh ``FluxLoopServer`` (empty state) running for one test.

    The test's environment loses every FLUXLOOP_* and proxy variable and gets
    ``NO_PROXY=127.0.0.1,localhost``, so nothing reaches beyond 127.0.0.1.
    """
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FluxLoopServer() as srv:
        yield srv
