"""The operator credential: which FluxLoop token keyguard acts with, and where it came from.

Resolution order (first found wins), as in the FluxLoop docs (seeds 002, 003):
``--api-key`` flag, ``FLUXLOOP_API_KEY``, ``FLUXLOOP_TOKEN``, then a profile of
``~/.fluxloop/credentials`` (``--profile``, else ``FLUXLOOP_PROFILE``, else the
file's ``default_profile``, else ``default``). The file is read in three shapes:

- JSON with profiles: ``{"default_profile": .., "profiles": {NAME: {"access_token" |
  "api_key", "api_endpoint", "expires_at", ...}}}``
- flat JSON, one session (``{"access_token": .., "refresh_token": .., ...}``): profile ``default``
- YAML: ``profiles: NAME: api_key: ...`` (PyYAML, imported only for this shape)

The endpoint is ``--api-endpoint``, else ``FLUXLOOP_API_ENDPOINT``, else the chosen
profile's ``api_endpoint`` (read when the credential came from the profile, or the
profile was named explicitly), else ``https://api.fluxloop.ai``.

A missing, unreadable or malformed file is a one-line ``CredentialError`` naming
the file; a file readable by group or others gives a warning. The token itself
is never in a message or a ``repr``.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from keyguard.errors import CredentialError
from keyguard.redact import shown_value

DEFAULT_ENDPOINT = "https://api.fluxloop.ai"
TOKEN_FIELDS = ("access_token", "api_key")
"""Profile fields that hold the credential, in the order they are preferred."""


@dataclass(frozen=True)
class Credential:
    """The operator's token plus where it was read from (the token never shows in ``repr``)."""

    token: str = field(repr=False)
    """The full secret; send it only as a bearer, show it only through ``redact``."""
    source: str
    """Where it came from: ``--api-key``, ``env FLUXLOOP_API_KEY``, ``profile 'x' in ~/.fluxloop/credentials``."""
    profile: str | None = None
    """The profile name when it came from the credentials file."""
    expires_at: str = ""
    """The file's ``expires_at``/``expires`` for the token, as written (may be empty)."""


@dataclass(frozen=True)
class ApiSettings:
    """Everything needed to talk to the API: endpoint, operator credential and the warnings met."""

    endpoint: str
    """Base URL, without a trailing slash."""
    endpoint_source: str
    """Where the endpoint came from (``default``, ``env FLUXLOOP_API_ENDPOINT`` ...)."""
    credential: Credential | None
    """The operator credential, or None when none was found (or it could not be read)."""
    error: CredentialError | None = None
    """Why there is no credential (raised when an operator call needs one)."""
    warnings: tuple[str, ...] = ()
    """One-line warnings (file permissions, expired session token, plain http)."""


def credentials_path(home: Path | None = None) -> Path:
    """``~/.fluxloop/credentials`` for ``home`` (default: the user's home)."""
    return (home if home is not None else Path.home()) / ".fluxloop" / "credentials"


def display_path(path: Path, home: Path | None = None) -> str:
    """``path`` shown with ``~`` for the home directory."""
    home = home if home is not None else Path.home()
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class CredentialsFile:
    """A parsed credentials file: its profiles and its default profile."""

    path: Path
    shown: str
    """How the path is shown to the user (``~/.fluxloop/credentials``)."""
    profiles: Mapping[str, Mapping] = field(repr=False)
    default_profile: str | None = None
    shape: str = "json"
    """``json``, ``flat-json`` or ``yaml``."""


def load_credentials_file(path: Path, shown: str | None = None) -> CredentialsFile:
    """Read and parse a credentials file; CredentialError (naming the file) when it cannot be used."""
    shown = shown or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CredentialError(f"{shown}: credentials file not found") from None
    except IsADirectoryError:
        raise CredentialError(f"{shown}: is a directory, not a credentials file") from None
    except OSError as exc:
        raise CredentialError(f"{shown}: cannot read credentials file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialError(f"{shown}: malformed credentials file (not UTF-8 text)") from None
    if not text.strip():
        raise CredentialError(f"{shown}: malformed credentials file (empty)")

    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # The message and position only: never the text around it (it may hold a token).
            raise CredentialError(f"{shown}: malformed credentials file (invalid JSON at line "
                                  f"{exc.lineno} column {exc.colno}: {exc.msg})") from None
        shape = "json"
    else:
        import yaml  # lazily: only this shape of the file needs it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "not valid YAML"
            if isinstance(exc, yaml.constructor.ConstructorError):
                problem = "a tag keyguard does not read (write the value as plain text)"
            raise CredentialError(f"{shown}: malformed credentials file (invalid YAML{where}: "
                                  f"{shown_value(problem)})") from None
        except (ValueError, TypeError, OverflowError, AttributeError):  # !!int, !!timestamp ... on other text
            raise CredentialError(f"{shown}: malformed credentials file (a value does not match its YAML tag, "
                                  f"such as !!int or !!timestamp: write it as plain text)") from None
        shape = "yaml"

    if not isinstance(data, dict):
        raise CredentialError(f"{shown}: malformed credentials file (expected a mapping with 'profiles' "
                              f"or an access_token/api_key)")
    if "profiles" in data:
        profiles = data["profiles"]
        if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
            raise CredentialError(f"{shown}: malformed credentials file ('profiles' must map names to tables)")
        default = data.get("default_profile")
        if default is not None and not isinstance(default, str):
            raise CredentialError(f"{shown}: malformed credentials file ('default_profile' must be a name)")
        return CredentialsFile(path, shown, {str(k): v for k, v in profiles.items()}, default, shape)
    if any(f in data for f in TOKEN_FIELDS):
        return CredentialsFile(path, shown, {"default": data}, None, "flat-json" if shape == "json" else shape)
    raise CredentialError(f"{shown}: malformed credentials file (no 'profiles' and no access_token/api_key)")


def permission_warning(path: Path, shown: str) -> str | None:
    """A warning when the file is readable by group or others (POSIX only), else None."""
    if os.name != "posix":
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
        return (f"{shown} is accessible by {who} (mode {mode:04o}); "
                f"run `chmod 600 {shown}` to keep the credential private")
    return None


def _token_of(profile: Mapping, name: str, cf: CredentialsFile) -> str:
    for f in TOKEN_FIELDS:
        value = profile.get(f)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise CredentialError(f"{cf.shown}: profile '{name}' has an empty or non-text {f}")
        return value.strip()
    raise CredentialError(f"{cf.shown}: profile '{name}' has no access_token or api_key")


def _expiry_warning(value, name: str, cf: CredentialsFile, now: float) -> str | None:
    """Warn when a profile's token says it has expired (ISO date/time or epoch seconds)."""
    when: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        when = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        when = dt.timestamp()
    elif hasattr(value, "year"):  # YAML turns an unquoted date into a date object
        when = datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if when is not None and when < now:
        return (f"the token of profile '{name}' in {cf.shown} says it expired "
                f"({datetime.fromtimestamp(when, timezone.utc):%Y-%m-%d}); log in again if the API rejects it")
    return None


def _check_endpoint(url: str, where: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CredentialError(f"{where}: API endpoint must be an http(s) URL, got {shown_value(url.strip())!r}")
    if parts.username or parts.password:
        raise CredentialError(f"{where}: API endpoint must not carry a user name or password")
    return url.strip().rstrip("/")


def resolve(*, api_key: str | None = None, profile: str | None = None, api_endpoint: str | None = None,
            env: Mapping[str, str] | None = None, home: Path | None = None,
            now: float | None = None) -> ApiSettings:
    """Find the operator credential and the endpoint; never raises for a missing credential.

    A credential that cannot be had (no source at all, or a bad credentials file) is
    returned as ``ApiSettings.error``; an endpoint that is not an http(s) URL raises.
    """
    env = os.environ if env is None else env
    now = time.time() if now is None else now
    warnings: list[str] = []
    credential: Credential | None = None
    error: CredentialError | None = None
    profile_endpoint: str | None = None
    explicit_profile = profile or env.get("FLUXLOOP_PROFILE") or None
    path = credentials_path(home)
    shown = display_path(path, home)

    def from_profile(required: bool) -> Credential | None:
        nonlocal profile_endpoint
        if not required and not path.exists():
            return None
        cf = load_credentials_file(path, shown)
        w = permission_warning(path, shown)
        if w:
            warnings.append(w)
        name = explicit_profile or cf.default_profile or "default"
        if name not in cf.profiles:
            have = ", ".join(sorted(cf.profiles)) or "none"
            raise CredentialError(f"{shown}: no profile '{name}' (profiles: {have})")
        prof = cf.profiles[name]
        ep = prof.get("api_endpoint")
        if ep is not None:
            if not isinstance(ep, str):
                raise CredentialError(f"{shown}: profile '{name}': api_endpoint must be a URL")
            profile_endpoint = _check_endpoint(ep, f"{shown} profile '{name}'")
        token = _token_of(prof, name, cf) if required else None
        expiry = prof.get("expires_at", prof.get("expires"))
        if required:
            w = _expiry_warning(expiry, name, cf, now)
            if w:
                warnings.append(w)
            return Credential(token=token, source=f"profile '{name}' in {shown}", profile=name,
                              expires_at="" if expiry is None else str(expiry))
        return None

    if api_key is not None:
        if not api_key.strip():
            raise CredentialError("--api-key: empty value")
        credential = Credential(token=api_key.strip(), source="--api-key")
    else:
        for var in ("FLUXLOOP_API_KEY", "FLUXLOOP_TOKEN"):
            value = env.get(var, "").strip()
            if value:
                credential = Credential(token=value, source=f"env {var}")
                break
    try:
        if credential is None:
            if path.exists() or explicit_profile:
                credential = from_profile(required=True)
            else:
                error = CredentialError(
                    "no FluxLoop credential: pass --api-key, set FLUXLOOP_API_KEY or FLUXLOOP_TOKEN, "
                    f"or log in with `fluxloop auth login` ({shown})")
    except CredentialError as exc:
        error = exc
    if credential is not None and explicit_profile and not api_endpoint and not env.get("FLUXLOOP_API_ENDPOINT"):
        try:
            from_profile(required=False)  # only for the named profile's api_endpoint
        except CredentialError as exc:
            warnings.append(f"{exc} (profile ignored: the credential came from {credential.source})")

    if api_endpoint:
        endpoint, ep_source = _check_endpoint(api_endpoint, "--api-endpoint"), "--api-endpoint"
    elif env.get("FLUXLOOP_API_ENDPOINT", "").strip():
        endpoint = _check_endpoint(env["FLUXLOOP_API_ENDPOINT"], "FLUXLOOP_API_ENDPOINT")
        ep_source = "env FLUXLOOP_API_ENDPOINT"
    elif profile_endpoint:
        endpoint, ep_source = profile_endpoint, f"profile in {shown}"
    else:
        endpoint, ep_source = DEFAULT_ENDPOINT, "default"
    host = urlsplit(endpoint).hostname or ""
    if endpoint.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        warnings.append(f"API endpoint {endpoint} is plain http: credentials would travel unencrypted")
    return ApiSettings(endpoint=endpoint, endpoint_source=ep_source, credential=credential,
                       error=error, warnings=tuple(warnings))

