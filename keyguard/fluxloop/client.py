"""The FluxLoop HTTP client: the four endpoints of the key-management API, with bounded retries.

Plain ``urllib.request``: an overall limit on every request and a deadline on
the run (``keyguard.fluxloop.deadline``), HTTPS certificate checks on (the
default SSL context, which reads ``SSL_CERT_FILE``/``SSL_CERT_DIR``; a
``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` file is trusted too), proxies from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``
(urllib's ``ProxyHandler`` reads them), and redirects *not* followed, because
urllib would resend the ``Authorization`` header to wherever a redirect points.

Retries (``RetryPolicy``): 5xx, connection resets/drops and timeouts back off
exponentially; 429 waits ``Retry-After`` (capped). Every loop is bounded by a
number of attempts and a total wait. When the answer could not be learned the
client raises ``ApiUnavailable`` (callers turn it into status ``unknown``,
never ``invalid``). Secrets travel only in the ``Authorization`` header; any
text from the server is scrubbed of the bearer before it reaches a message.
Nothing here prints: waits past two seconds are told to ``notify``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import os
import random
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import quote, urlencode

from keyguard import __version__
from keyguard.errors import ApiError, CredentialError
from keyguard.fluxloop import records
from keyguard.fluxloop.credentials import ApiSettings, Credential
from keyguard.fluxloop.deadline import NOTICE_AFTER, Deadline, Notify, RequestTimeout, bounded_call
from keyguard.model import KeyRecord, Verification
from keyguard.redact import scrub
from keyguard.sanitize import clean

log = logging.getLogger("keyguard.fluxloop")

MAX_BODY = 16 * 1024 * 1024
"""Largest response body read (bytes); more is an error, not a memory blow-up."""
MAX_PAGES = 1_000
"""Bound on list pages followed per list (500 keys each at most: far beyond any tenant)."""
MAX_RUN_BYTES = 128 * 1024 * 1024
"""Response bytes read per run (one client) at most: a cursor that never ends stops here."""
MAX_RUN_KEYS = 100_000
"""Key records accepted per run at most."""

STATUS_BY_DESCRIPTION = {
    "Invalid API key": "invalid",
    "API key has expired": "expired",
    "API key has been revoked": "revoked",
}
"""``401 invalid_token`` descriptions of auth/status and the key status each means."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for the API and how often to try again."""

    timeout: float = 10.0
    """Seconds one request may take in all (connect, headers and body), not per read."""
    max_attempts: int = 4
    """Attempts per call, the first one included."""
    backoff: float = 0.5
    """First back-off delay in seconds; doubles each retry (with jitter)."""
    max_backoff: float = 8.0
    """Cap on one back-off delay."""
    max_retry_after: float = 30.0
    """Cap on a 429/503 ``Retry-After`` wait."""
    max_total_wait: float = 60.0
    """Cap on the sum of all waits of one call; past it the call gives up."""


class ApiHTTPError(ApiError):
    """The API answered with an error status (4xx, or a redirect it should not give)."""

    def __init__(self, message: str, status: int, error: str = "", description: str = "",
                 required: tuple[str, ...] = (), provided: tuple[str, ...] = ()):
        super().__init__(message)
        self.status = status
        self.error = error
        self.description = description
        self.required = required
        self.provided = provided


class InsufficientScope(ApiHTTPError):
    """403 ``insufficient_scope``: the token lacks a permission (``required``)."""


class NotFound(ApiHTTPError):
    """404 ``not_found``."""


class TokenRejected(ApiHTTPError):
    """401 ``invalid_token`` for a found key used as the bearer (invalid, expired or revoked)."""


class ApiUnavailable(ApiError):
    """No answer could be learned (network, timeouts, 5xx or 429 after every retry)."""


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: object
    """Parsed JSON, or None when the body was empty or not JSON."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Do not follow redirects: urllib would carry the Authorization header to the new place."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib API
        return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class FluxLoopClient:
    """Calls the FluxLoop API at ``endpoint``; the operator credential is optional until needed."""

    def __init__(self, endpoint: str, credential: Credential | None = None, *,
                 credential_error: CredentialError | None = None, policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, deadline: Deadline | None = None,
                 notify: Notify | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self.credential_error = credential_error
        self.policy = policy
        self.deadline = deadline or Deadline(None)
        """The run's deadline: every request, retry and back-off of this client draws from it."""
        self.notify = notify
        """Told (one line) what is being waited for once a wait passes ``NOTICE_AFTER`` seconds."""
        self._sleep = sleep
        self._ssl = tls_context()
        self._bearers: set[str] = set()
        """Every token sent as a bearer in this run: scrubbed from all API text."""
        self.budget = RunBudget()

    @classmethod
    def from_settings(cls, settings: ApiSettings, policy: RetryPolicy = RetryPolicy(), **kw) -> "FluxLoopClient":
        """A client for resolved ``ApiSettings`` (see ``credentials.resolve``)."""
        return cls(settings.endpoint, settings.credential, credential_error=settings.error, policy=policy, **kw)

    def __repr__(self) -> str:
        src = self.credential.source if self.credential else "none"
        return f"FluxLoopClient(endpoint={self.endpoint!r}, credential from {src})"

    # -- the operator credential ------------------------------------------------------------
    @property
    def operator(self) -> Credential:
        """The operator credential; CredentialError (why there is none) when there is none."""
        if self.credential is None:
            raise self.credential_error or CredentialError("no FluxLoop operator credential")
        return self.credential

    # -- transport --------------------------------------------------------------------------
    def _open(self, method: str, url: str, token: str, timeout: float) -> _Response:
        """One HTTP exchange; raises OSError-family errors for transport failures."""
        req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Accept", "application/json")
        req.add_header("User-Agent", f"keyguard/{__version__}")
        if method == "POST":
            req.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self._ssl), _NoRedirect())
        try:
            resp = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as exc:  # an error status is still an answer
            resp = exc
        with resp:
            raw = _read_body(resp, min(MAX_BODY, self.budget.bytes_left) + 1, timeout,
                             f"{method} {_path_of(url)}")
            status = resp.status if hasattr(resp, "status") and resp.status else resp.code
            headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
        self.budget.bytes_left -= len(raw)
        if self.budget.bytes_left < 0:
            raise ApiError(f"{method} {_path_of(url)}: the API sent more than "
                           f"{MAX_RUN_BYTES // (1024 * 1024)} MB in this run; stopped")
        if len(raw) > MAX_BODY:
            raise ApiError(f"{method} {_path_of(url)}: response larger than {MAX_BODY // (1024 * 1024)} MB")
        body = None
        if raw.strip():
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):  # JSON nested 200,000 deep
                body = None
        return _Response(status, headers, body)

    def _known(self) -> tuple[str, ...]:
        """The secrets API text is scrubbed of: every bearer of the run, the operator's too."""
        extra = (self.credential.token,) if self.credential is not None else ()
        return tuple(self._bearers) + extra

    def _call(self, method: str, path: str, token: str, query: Mapping[str, object] | None = None) -> _Response:
        """``method path`` with bounded retries; the last answer, or ApiUnavailable."""
        url = self.endpoint + path + (("?" + urlencode(query)) if query else "")
        self._bearers.add(token)
        p = self.policy
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            delay: float | None = None
            left = self.deadline.remaining()
            if left <= 0:
                raise ApiUnavailable(f"{method} {path}: the run's API deadline ({self.deadline.seconds:g}s, "
                                     f"--api-deadline) has passed")
            limit = min(p.timeout, left)
            try:
                resp = bounded_call(lambda: self._open(method, url, token, limit), limit,
                                    notify=self.notify, what=f"the FluxLoop API ({method} {path})")
            except RequestTimeout as exc:
                what = str(exc)
            except urllib.error.URLError as exc:  # wraps connect-time failures
                reason = exc.reason
                if isinstance(reason, ssl.SSLError):
                    raise ApiError(f"{method} {path}: TLS failure talking to {self.endpoint} "
                                   f"({type(reason).__name__}: {getattr(reason, 'reason', '') or reason})") from None
                if isinstance(reason, socket.gaierror):
                    raise ApiUnavailable(f"{method} {path}: cannot resolve the host of {self.endpoint}") from None
                if isinstance(reason, ValueError) or not isinstance(reason, (OSError, TimeoutError)):
                    raise ApiError(f"{method} {path}: cannot reach {self.endpoint} ({reason})") from None
                what = _describe_oserror(reason)
            except (TimeoutError, socket.timeout):
                what = f"timed out after {limit:g}s"
            except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionError) as exc:
                what = _describe_oserror(exc)
            except (http.client.HTTPException, OSError) as exc:
                what = f"connection failed ({type(exc).__name__})"
            else:
                if resp.status == 429 or resp.status >= 500:
                    what = f"HTTP {resp.status}"
                    if resp.status in (429, 503):
                        ra = _retry_after(resp.headers.get("retry-after"))
                        if ra is not None and ra > p.max_retry_after:
                            raise ApiUnavailable(f"{method} {path}: HTTP {resp.status} asking to wait "
                                                 f"{_seconds(ra)}, more than the {p.max_retry_after:g}s "
                                                 f"keyguard waits; gave up")
                        if ra is not None:
                            delay = ra
                else:
                    return resp
            if delay is None:
                base = min(p.max_backoff, p.backoff * (2 ** (attempt - 1)))
                delay = base * (0.5 + random.random() / 2)
            if attempt >= p.max_attempts or waited + delay > p.max_total_wait \
                    or delay >= self.deadline.remaining():
                raise ApiUnavailable(f"{method} {path}: {what} (gave up after {attempt} attempt"
                                     f"{'s' if attempt != 1 else ''}, {waited:.1f}s waited)")
            log.debug("%s %s: %s; retry %d in %.2fs", method, path, what, attempt, delay)
            if delay >= NOTICE_AFTER and self.notify is not None:
                self.notify(f"waiting {delay:.0f}s before retrying {method} {path} ({what})")
            self._sleep(delay)
            waited += delay

    def _api_text(self, value, token: str) -> str:
        """Text from the API made safe to show: one inert line, every known secret redacted."""
        return scrub(clean(str(value or "")), (token,) + self._known())

    def _error(self, resp: _Response, what: str, token: str, who: str) -> ApiHTTPError:
        """The right ApiHTTPError for an error answer; server text scrubbed of ``token``."""
        body = resp.body if isinstance(resp.body, dict) else {}
        err = self._api_text(body.get("error"), token)[:100]
        desc = self._api_text(body.get("error_description") or body.get("message"), token)[:300]
        required = tuple(str(x) for x in body.get("required") or () if isinstance(x, str))
        provided = tuple(str(x) for x in body.get("provided") or () if isinstance(x, str))
        if resp.status == 403:
            need = ", ".join(required) or "a permission it does not have"
            has = ", ".join(provided) or "none listed"
            return InsufficientScope(f"{what}: {who} lacks the {need} permission (it has: {has})",
                                     403, err, desc, required, provided)
        if resp.status == 404:
            return NotFound(f"{what}: not found" + (f" ({desc})" if desc else ""), 404, err, desc)
        if 300 <= resp.status < 400:
            return ApiHTTPError(f"{what}: the API answered with a redirect (HTTP {resp.status}); keyguard does "
                                f"not send credentials on redirects: set the endpoint to the final URL",
                                resp.status, err, desc)
        text = f"{err}: {desc}" if err and desc else (err or desc or "no details")
        return ApiHTTPError(f"{what}: HTTP {resp.status} ({text})", resp.status, err, desc)

    def _operator_call(self, method: str, path: str, what: str, query=None) -> _Response:
        """A call with the operator credential: 401 stops with a message naming its source."""
        cred = self.operator
        resp = self._call(method, path, cred.token, query)
        if resp.status == 401:
            body = resp.body if isinstance(resp.body, dict) else {}
            desc = self._api_text(body.get("error_description") or "rejected", cred.token)[:200]
            raise CredentialError(f"the FluxLoop API rejected the operator credential from {cred.source} "
                                  f"({desc}); fix or replace it")
        if resp.status != 200:
            raise self._error(resp, what, cred.token, f"the operator credential from {cred.source}")
        return resp

    def _key_call(self, method: str, path: str, what: str, token: str, query=None) -> _Response:
        """A call with a found key as the bearer: 401 is ``TokenRejected`` (the key's state)."""
        resp = self._call(method, path, token, query)
        if resp.status == 401:
            body = resp.body if isinstance(resp.body, dict) else {}
            desc = self._api_text(body.get("error_description"), token)[:200]
            raise TokenRejected(f"{what}: the key was rejected ({desc or 'invalid_token'})", 401,
                                str(body.get("error") or ""), desc)
        if resp.status != 200:
            raise self._error(resp, what, token, "the key itself")
        return resp

    # -- endpoints --------------------------------------------------------------------------
    def auth_status(self, token: str) -> Verification:
        """Is ``token`` live? 200 -> live (with its record), 401 -> invalid/expired/revoked, else unknown."""
        try:
            resp = self._call("GET", "/api/v1/auth/status", token)
        except ApiError as exc:  # ApiUnavailable, TLS failure, oversized body: nothing learned
            return Verification(status="unknown", reason=str(exc))
        if resp.status == 200:
            try:
                ident = records.scrubbed(records.identity(resp.body), self._known())
            except ApiError as exc:  # a 200 without a readable identity says nothing for sure
                return Verification(status="unknown", reason=f"GET /api/v1/auth/status: {exc}")
            k = ident.key
            return Verification(status="live", key_id=k.id, name=k.name, tenant=ident.tenant,
                                account=ident.account, type=k.type, permissions=k.permissions,
                                projects=k.projects, expires_at=k.expires_at, key_hint=k.key_hint)
        body = resp.body if isinstance(resp.body, dict) else {}
        desc = str(body.get("error_description") or "")
        if resp.status == 401 and body.get("error") == "invalid_token" and desc in STATUS_BY_DESCRIPTION:
            return Verification(status=STATUS_BY_DESCRIPTION[desc], reason=desc)
        shown = self._api_text(f"{body.get('error') or ''} {desc}".strip(), token)[:200]
        return Verification(status="unknown", reason=f"GET /api/v1/auth/status: HTTP {resp.status}"
                                                     + (f" ({shown})" if shown else ""))

    def identify(self, token: str) -> records.Identity:
        """The identity of ``token`` (a found key); TokenRejected/ApiUnavailable when it has none."""
        resp = self._key_call("GET", "/api/v1/auth/status", "auth/status", token)
        return records.scrubbed(records.identity(resp.body), self._known())

    def whoami(self) -> records.Identity:
        """The identity of the operator credential (401 -> CredentialError naming its source)."""
        resp = self._operator_call("GET", "/api/v1/auth/status", "auth/status")
        return records.scrubbed(records.identity(resp.body), self._known())

    def list_keys(self, tenant: str, *, limit: int | None = None) -> list[KeyRecord]:
        """Every key of ``tenant`` (needs manage_keys), following ``X-Next-Cursor`` pages."""
        path = f"/api/v1/tenant/{quote(tenant, safe='')}/api-keys/list"
        out: list[KeyRecord] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            query: dict[str, object] = {}
            if limit is not None:
                query["limit"] = limit
            if cursor is not None:
                query["cursor"] = cursor
            resp = self._operator_call("GET", path, f"list the keys of tenant '{tenant}'", query or None)
            if not isinstance(resp.body, list):
                raise ApiError(f"unexpected API response for the key list of '{tenant}': expected a JSON array")
            self.budget.take_keys(len(resp.body), tenant)
            out.extend(records.scrubbed(records.key_record(d, "a key of the list"), self._known())
                       for d in resp.body)
            cursor = resp.headers.get("x-next-cursor") or None
            if cursor is None:
                return out
            if cursor in seen:
                raise ApiError(f"the key list of '{tenant}' repeats a page cursor; stopped after {len(out)} keys")
            seen.add(cursor)
        raise ApiError(f"the key list of '{tenant}' has more than {MAX_PAGES} pages; stopped")

    def revoke(self, tenant: str, key_id: str, *, token: str | None = None) -> bool:
        """Revoke ``key_id``: with the operator credential, or (``token``) the key revoking itself.

        Returns True when the key was already revoked. Raises InsufficientScope,
        NotFound, TokenRejected (self only), ApiUnavailable.
        """
        path = f"/api/v1/tenant/{quote(tenant, safe='')}/api-keys/{quote(key_id, safe='')}/revoke"
        what = f"revoke {key_id}"
        resp = (self._key_call("POST", path, what, token) if token is not None
                else self._operator_call("POST", path, what))
        body = resp.body if isinstance(resp.body, dict) else {}
        if body.get("success") is not True:
            raise ApiError(f"{what}: the API did not confirm the revocation")
        return body.get("already_revoked") is True

    def usage(self, tenant: str, key_id: str, *, days: int = 30, token: str | None = None) -> records.KeyUsage:
        """Usage of ``key_id`` over ``days`` (operator with manage_keys, or the key itself)."""
        path = f"/api/v1/tenant/{quote(tenant, safe='')}/api-keys/{quote(key_id, safe='')}/usage"
        what = f"usage of {key_id}"
        q = {"days": days}
        resp = (self._key_call("GET", path, what, token, q) if token is not None
                else self._operator_call("GET", path, what, q))
        return records.scrubbed(records.key_usage(resp.body), self._known())


class RunBudget:
    """What one run may still take from the API: bytes and key records (issue 14, point 5)."""

    def __init__(self, bytes_left: int = MAX_RUN_BYTES, keys_left: int = MAX_RUN_KEYS):
        self.bytes_left = bytes_left
        self.keys_left = keys_left

    def take_keys(self, n: int, tenant: str) -> None:
        self.keys_left -= n
        if self.keys_left < 0:
            raise ApiError(f"the key list of '{clean(tenant)}' holds more than {MAX_RUN_KEYS} keys; stopped")


def _read_body(resp, limit: int, seconds: float, what: str) -> bytes:
    """Up to ``limit`` bytes of ``resp``, read in pieces; ApiUnavailable after ``seconds``.

    A server trickling one byte every few seconds never trips the per-read socket
    timeout. ``bounded_call`` already gives the caller up after the request's
    limit; this same limit here (monotonic clock) makes the abandoned reader
    thread stop too instead of trickling on in the background.
    """
    deadline = time.monotonic() + seconds
    parts: list[bytes] = []
    got = 0
    read = getattr(resp, "read1", None) or resp.read
    while got < limit:
        if time.monotonic() > deadline:
            raise ApiUnavailable(f"{what}: the answer took more than {seconds:g}s; gave up")
        piece = read(min(64 * 1024, limit - got))
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value < 1e9 else "forever"


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit
    return urlsplit(url).path


def _describe_oserror(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed mid-response"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return f"connection failed ({type(exc).__name__})"



def tls_context() -> ssl.SSLContext:
    """The default context (``SSL_CERT_FILE``/``SSL_CERT_DIR``), also trusting a ``REQUESTS_CA_BUNDLE``
    or ``CURL_CA_BUNDLE`` file, as other tools on a corporate network do; a bad file is a one-line error."""
    ctx = ssl.create_default_context()  # certificate and host name checks on
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        path = os.environ.get(var, "").strip()
        if not path:
            continue
        try:
            if os.path.isdir(path):
                ctx.load_verify_locations(capath=path)
            else:
                ctx.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            from keyguard.redact import shown_value
            raise ApiError(f"{var}={shown_value(path)}: cannot load CA certificates from it "
                           f"({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    return ctx
