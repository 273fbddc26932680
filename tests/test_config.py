"""Config files: where they are read from, what they change, and one-line errors on bad input."""

from __future__ import annotations

import json

import pytest

from conftest import Repo
from keys import platform_key


def test_malformed_toml_is_one_line_error_naming_the_file(repo: Repo, keyguard):
    repo.write(".keyguard.toml", "exclude = [\n")
    r = keyguard("scan", cwd=repo.path)
    err = r.stderr.decode()
    assert r.returncode == 2
    assert ".keyguard.toml" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("body, key_name", [
    ('[tool.keyguard]\nexclude = "vendor/**"\nfail-on = "urgent"\n', "tool.keyguard.fail-on"),
    ('[tool.keyguard]\nallow = ["abc"]\n', "tool.keyguard.allow"),
    ('[tool.keyguard]\nmax-file-size = "lots"\n', "tool.keyguard.max-file-size"),
    ('[tool.keyguard]\nrules = ["missing-folder"]\n', "tool.keyguard.rules"),
    ('[tool.keyguard]\nexlude = ["x"]\n', "tool.keyguard.exlude"),
])
def test_bad_values_name_file_and_key(repo: Repo, keyguard, body, key_name):
    repo.write("pyproject.toml", body)
    r = keyguard("scan", cwd=repo.path)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "pyproject.toml" in err and key_name in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_exclude_and_allowed_fingerprint(repo: Repo, keyguard):
    vendored, allowed, real = (platform_key("flux_dev_") for _ in range(3))
    repo.write("vendor/lib/conf.py", f"KEY = '{vendored}'\n")
    repo.write("docs/example.md", f"use `{allowed}`\n")
    repo.write("app/settings.py", f"KEY = '{real}'\n")
    # learn the allowed key's fingerprint from a JSON report, as a user would
    r = keyguard("scan", "--format", "json", cwd=repo.path)
    doc = json.loads(r.stdout)
    fps = {f["path"]: f["fingerprint"] for f in doc["findings"]}
    assert set(fps) == {"vendor/lib/conf.py", "docs/example.md", "app/settings.py"}
    repo.write(".keyguard.toml", f'exclude = ["vendor/"]\nallow = ["{fps["docs/example.md"]}"]\n')
    r = keyguard("scan", "--format", "json", cwd=repo.path)
    doc = json.loads(r.stdout)
    assert [f["path"] for f in doc["findings"]] == ["app/settings.py"]
    assert r.returncode == 1


def test_inline_allow_marker_is_counted_not_reported(repo: Repo, keyguard):
    key = platform_key("flux_ci_")
    repo.write("tests/fixture.py", f"TOKEN = '{key}'  # keyguard:allow (revoked test key)\n")
    r = keyguard("scan", cwd=repo.path)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert "1 allowed" in r.stderr.decode()


def test_fail_on_threshold(repo: Repo, keyguard):
    repo.write(".env", f"FLUXLOOP_API_KEY={platform_key('flux_dev_')}\n")
    assert keyguard("scan", cwd=repo.path).returncode == 1
    assert keyguard("scan", "--fail-on", "critical", cwd=repo.path).returncode == 0
    r = keyguard("scan", "--fail-on", "whatever", cwd=repo.path)
    assert r.returncode == 2 and "whatever" in r.stderr.decode()
