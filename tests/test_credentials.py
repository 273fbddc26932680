"""The operator credential: resolution order, both file shapes, profiles, warnings, bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import keys
from keyguard.errors import CredentialError
from keyguard.fluxloop.credentials import DEFAULT_ENDPOINT, resolve


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / ".fluxloop").mkdir(parents=True)
    return h


def write_creds(home: Path, content: str | dict, mode: int = 0o600) -> Path:
    p = home / ".fluxloop" / "credentials"
    p.write_text(json.dumps(content) if isinstance(content, dict) else content)
    os.chmod(p, mode)
    return p


def profiles_file(home: Path, default_profile: str | None = None, **profiles) -> dict[str, str]:
    """A JSON profiles file; returns {profile: token}."""
    tokens = {name: keys.api_key("flx_") for name in profiles}
    body = {"profiles": {name: {"access_token": tokens[name], **extra} for name, extra in profiles.items()}}
    if default_profile:
        body["default_profile"] = default_profile
    write_creds(home, body)
    return tokens


def test_flag_wins_over_env_and_file(home):
    flag, env_key = keys.platform_key(), keys.platform_key()
    profiles_file(home, default={})
    s = resolve(api_key=flag, env={"FLUXLOOP_API_KEY": env_key, "FLUXLOOP_TOKEN": "x" * 20}, home=home)
    assert s.credential.token == flag
    assert s.credential.source == "--api-key"


def test_env_api_key_before_token_before_file(home):
    a, t = keys.platform_key(), keys.api_key("flx_")
    profiles_file(home, default={})
    s = resolve(env={"FLUXLOOP_API_KEY": a, "FLUXLOOP_TOKEN": t}, home=home)
    assert (s.credential.token, s.credential.source) == (a, "env FLUXLOOP_API_KEY")
    s = resolve(env={"FLUXLOOP_TOKEN": t}, home=home)
    assert (s.credential.token, s.credential.source) == (t, "env FLUXLOOP_TOKEN")


def test_profile_selection_order(home):
    tokens = profiles_file(home, default_profile="production", default={}, production={}, staging={})
    # the file's default_profile
    s = resolve(env={}, home=home)
    assert s.credential.token == tokens["production"]
    assert s.credential.source == "profile 'production' in ~/.fluxloop/credentials"
    # FLUXLOOP_PROFILE beats default_profile
    s = resolve(env={"FLUXLOOP_PROFILE": "staging"}, home=home)
    assert s.credential.token == tokens["staging"]
    # --profile beats FLUXLOOP_PROFILE
    s = resolve(profile="default", env={"FLUXLOOP_PROFILE": "staging"}, home=home)
    assert s.credential.token == tokens["default"]


def test_profile_named_default_when_no_default_profile(home):
    tokens = profiles_file(home, default={}, other={})
    assert resolve(env={}, home=home).credential.token == tokens["default"]


def test_flat_json_file_of_seed_002(home):
    token = keys.api_key("flx_")
    write_creds(home, {"access_token": token, "refresh_token": keys.api_key("flx_refresh_"),
                       "expires_at": "2099-11-02T10:00:00Z", "user_email": "user@example.com"})
    s = resolve(env={}, home=home)
    assert s.credential.token == token
    assert s.credential.source == "profile 'default' in ~/.fluxloop/credentials"
    assert s.warnings == ()


def test_yaml_file_of_seed_003(home):
    dev, prod = keys.platform_key("flux_dev_"), keys.platform_key("flux_prod_")
    write_creds(home, f"""profiles:
  default:
    api_key: {dev}
    account: john@example.com
    expires: "2099-04-15"

  production:
    api_key: {prod}
    account: john@example.com
    expires: "2099-06-01"
""")
    assert resolve(env={}, home=home).credential.token == dev
    s = resolve(profile="production", env={}, home=home)
    assert s.credential.token == prod and s.credential.profile == "production"


def test_endpoint_precedence(home):
    profiles_file(home, default_profile="staging", staging={"api_endpoint": "https://api-staging.fluxloop.ai"})
    assert resolve(env={}, home=home).endpoint == "https://api-staging.fluxloop.ai"
    s = resolve(env={"FLUXLOOP_API_ENDPOINT": "http://127.0.0.1:9/"}, home=home)
    assert (s.endpoint, s.endpoint_source) == ("http://127.0.0.1:9", "env FLUXLOOP_API_ENDPOINT")
    s = resolve(api_endpoint="https://flag.example", env={"FLUXLOOP_API_ENDPOINT": "http://127.0.0.1:9"},
                home=home)
    assert s.endpoint == "https://flag.example"
    # credential from the environment, no profile named: the file's endpoint is not used
    s = resolve(env={"FLUXLOOP_API_KEY": keys.platform_key()}, home=home)
    assert s.endpoint == DEFAULT_ENDPOINT
    # ... unless the profile is named explicitly
    s = resolve(profile="staging", env={"FLUXLOOP_API_KEY": keys.platform_key()}, home=home)
    assert s.endpoint == "https://api-staging.fluxloop.ai"


@pytest.mark.parametrize("endpoint", ["file:///etc/passwd", "ftp://example.com", "api.fluxloop.ai",
                                      "https://user:pw@api.fluxloop.ai"])
def test_endpoint_must_be_http_url(home, endpoint):
    with pytest.raises(CredentialError, match="endpoint"):
        resolve(env={"FLUXLOOP_API_ENDPOINT": endpoint}, home=home)


def test_plain_http_to_remote_host_warns(home):
    s = resolve(api_key=keys.platform_key(), api_endpoint="http://api.example.com", env={}, home=home)
    assert any("plain http" in w for w in s.warnings)
    s = resolve(api_key=keys.platform_key(), api_endpoint="http://127.0.0.1:8080", env={}, home=home)
    assert not s.warnings


def test_world_readable_file_warns(home):
    profiles_file(home, default={})
    os.chmod(home / ".fluxloop" / "credentials", 0o644)
    s = resolve(env={}, home=home)
    assert s.credential is not None
    assert len(s.warnings) == 1
    assert "~/.fluxloop/credentials is accessible by group and others (mode 0644)" in s.warnings[0]
    assert "chmod 600" in s.warnings[0]
    os.chmod(home / ".fluxloop" / "credentials", 0o600)
    assert resolve(env={}, home=home).warnings == ()


def test_expired_session_token_warns(home):
    write_creds(home, {"access_token": keys.api_key("flx_"), "expires_at": "2020-01-01T00:00:00Z"})
    s = resolve(env={}, home=home)
    assert any("expired (2020-01-01)" in w for w in s.warnings)


@pytest.mark.parametrize("content, expected", [
    ('{"profiles": {"default": {"access_token": ', "invalid JSON at line 1"),
    ("profiles:\n  default:\n    api_key: [unclosed\n", "invalid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ('{"profiles": ["a"]}', "'profiles' must map names to tables"),
    ('{"user_email": "x@example.com"}', "no 'profiles' and no access_token/api_key"),
    ('{"profiles": {"default": {"account": "x"}}}', "profile 'default' has no access_token or api_key"),
    ('{"profiles": {"staging": {"access_token": "flx_abc"}}}', "no profile 'default' (profiles: staging)"),
    ("", "empty"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_malformed_file_is_one_line_error_naming_it(home, content, expected):
    p = home / ".fluxloop" / "credentials"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.chmod(p, 0o600)
    s = resolve(env={}, home=home)
    assert s.credential is None
    msg = str(s.error)
    assert "\n" not in msg
    assert msg.startswith("~/.fluxloop/credentials: ")
    assert expected in msg


def test_malformed_file_never_echoes_the_token(home):
    token = keys.api_key("flx_")
    p = write_creds(home, '{"profiles": {"default": {"access_token": "' + token + '", }}}')
    s = resolve(env={}, home=home)
    assert "invalid JSON" in str(s.error)
    assert token not in str(s.error)
    assert p.exists()


def test_unreadable_file(home):
    p = write_creds(home, {"access_token": "flx_x"})
    os.chmod(p, 0)
    if os.access(p, os.R_OK):  # root reads anything
        pytest.skip("running as root")
    s = resolve(env={}, home=home)
    assert "cannot read credentials file" in str(s.error)


def test_no_credential_anywhere(home):
    s = resolve(env={}, home=home)
    assert s.credential is None
    assert "no FluxLoop credential" in str(s.error)
    assert "FLUXLOOP_API_KEY" in str(s.error)


def test_named_profile_without_file(home):
    s = resolve(profile="staging", env={}, home=home)
    assert str(s.error) == "~/.fluxloop/credentials: credentials file not found"


def test_env_credential_survives_a_broken_file(home):
    write_creds(home, "{broken")
    key = keys.platform_key()
    s = resolve(profile="staging", env={"FLUXLOOP_API_KEY": key}, home=home)
    assert s.credential.token == key
    assert any("profile ignored" in w for w in s.warnings)


def test_repr_hides_token(home):
    key = keys.platform_key()
    s = resolve(api_key=key, env={}, home=home)
    assert key not in repr(s)
    assert key not in repr(s.credential)


# -- the same order through the real command line ------------------------------------------

def test_whoami_names_each_source_never_the_credential(fluxloop_server, keyguard, tmp_path, home):
    op = fluxloop_server.operator()
    other = fluxloop_server.operator(name="Staging admin")
    env = fluxloop_server.env(home)
    write_creds(home, {"default_profile": "main", "profiles": {
        "main": {"access_token": op.secret}, "staging": {"api_key": other.secret}}}, mode=0o640)

    r = keyguard("whoami", cwd=tmp_path, env=env)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err
    assert "credential:    profile 'main' in ~/.fluxloop/credentials" in out
    assert f"key:           Key admin ({op.id}" in out
    assert "accessible by group (mode 0640)" in err

    r = keyguard("whoami", "--profile", "staging", cwd=tmp_path, env=env)
    assert "profile 'staging' in ~/.fluxloop/credentials" in r.stdout.decode()
    assert "Staging admin" in r.stdout.decode()

    r = keyguard("whoami", cwd=tmp_path, env={**env, "FLUXLOOP_TOKEN": other.secret})
    assert "credential:    env FLUXLOOP_TOKEN" in r.stdout.decode()

    r = keyguard("whoami", "--api-key", op.secret, cwd=tmp_path, env={**env, "FLUXLOOP_API_KEY": other.secret})
    assert "credential:    --api-key" in r.stdout.decode()
    for secret in (op.secret, other.secret):
        assert secret not in r.stdout.decode() + r.stderr.decode()


def test_whoami_with_malformed_file_exits_2_with_one_line(fluxloop_server, keyguard, tmp_path, home):
    write_creds(home, "profiles: [\n")
    r = keyguard("whoami", cwd=tmp_path, env=fluxloop_server.env(home))
    err = r.stderr.decode()
    assert r.returncode == 2
    assert err.count("\n") == 1
    assert err.startswith("keyguard: ~/.fluxloop/credentials: malformed credentials file (invalid YAML")
    assert "Traceback" not in err


def test_credentials_path_is_a_directory(home):
    (home / ".fluxloop" / "credentials").mkdir()
    s = resolve(env={}, home=home)
    assert str(s.error) == "~/.fluxloop/credentials: is a directory, not a credentials file"
