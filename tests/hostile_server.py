"""A hostile FluxLoop endpoint for tests: a real HTTP server on 127.0.0.1 with scripted answers.

Where ``fluxloop_server.py`` follows the contract (with faults), this one says
whatever a test scripts, per endpoint (``auth_status``, ``list``, ``revoke``,
``usage``): a function ``(token, query) -> Answer``. An ``Answer`` is a status,
headers and raw body bytes, optionally trickled (``trickle`` seconds between
bytes). Every request is recorded (endpoint, bearer fingerprint, method) so a
test can assert that no revoke was sent.

    with HostileServer() as srv:
        srv.script["auth_status"] = lambda token, q: Answer.json(200, {...})
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from fluxloop_server import client_env, read_request
from keyguard.redact import fingerprint


@dataclass
class Answer:
    """One scripted HTTP answer."""

    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    trickle: float = 0.0
    """Seconds between body bytes (0: send at once)."""

    @classmethod
    def json(cls, status: int, doc, **headers) -> "Answer":
        return cls(status, json.dumps(doc).encode(), dict(headers))


@dataclass(frozen=True)
class Seen:
    method: str
    endpoint: str
    bearer: str
    """``fingerprint()`` of the bearer, never the token."""
    query: str


class HostileServer:
    """The scripted server in a background thread; ``url`` is its base URL."""

    def __init__(self):
        self.script: dict = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer._handle(self, "GET")

            def do_POST(self):
                outer._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, endpoint: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.endpoint == endpoint]

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts, endpoint, _, token, _ = read_request(h)
        with self.lock:
            self.seen.append(Seen(method, endpoint, fingerprint(token) if token else "", parts.query))
        fn = self.script.get(endpoint)
        ans = fn(token, parse_qs(parts.query)) if fn else Answer.json(404, {"error": "not_found"})
        try:
            h.send_response(ans.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(ans.body)))
            for k, v in ans.headers.items():
                h.send_header(k, v)
            h.end_headers()
            if ans.trickle:
                for i in range(len(ans.body)):
                    h.wfile.write(ans.body[i:i + 1])
                    h.wfile.flush()
                    time.sleep(ans.trickle)
            else:
                h.wfile.write(ans.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def env(self, home, **extra) -> dict:
        return client_env(self.url, home, **extra)

    def __enter__(self) -> "HostileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def record(key_id: str, hint: str, name: str = "CI key", **extra) -> dict:
    """An auth/status ``key`` record (a list element with ``description``/``created_by`` added)."""
    now = int(time.time())
    rec = {"id": key_id, "name": name, "type": "user", "key_hint": hint, "projects": ["p"],
           "permissions": ["read_scenarios"], "created_at": now - 86400, "expires_at": now + 86400 * 30,
           "last_used": now - 3600, "revoked": False}
    rec.update(extra)
    return rec


def status_body(key: dict, account: str = "owner@example.com", tenant: str = "acme") -> dict:
    return {"account": account, "tenant": tenant, "organizations": [{"name": "Acme", "role": "owner"}],
            "key": key}


def hint_of(secret: str) -> str:
    """The contract's hint: literal prefix up to the last ``_`` of the prefix, ``****...``, last four."""
    import re

    m = re.match(r"([a-z]+(?:_[a-z]+)*_)[A-Za-z0-9]+$", secret)
    return f"{m.group(1) if m else ''}****...{secret[-4:]}"
