"""A real non-editable install (as pre-commit and users do it) ships the rule packs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GIT_ENV, ROOT, Repo
from keys import platform_key


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """keyguard pip-installed (non-editable, no deps) into a target folder."""
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    if all(importlib.util.find_spec(m) is not None for m in ("setuptools", "wheel")):
        cmd.append("--no-build-isolation")
    r = subprocess.run([*cmd, str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return target


def _run(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env["PYTHONPATH"] = str(target)
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "keyguard", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_installed_package_has_the_rule_packs(installed: Path, tmp_path: Path):
    toml_files = sorted(p.name for p in (installed / "keyguard" / "rules").glob("*.toml"))
    shipped = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert shipped and toml_files == shipped
    r = _run(installed, tmp_path, "rules", "list")
    assert r.returncode == 0, r.stderr
    assert "fluxloop" in r.stdout.lower()
    # and it is really the installed copy that ran, not the checkout
    r = _run(installed, tmp_path, "--version")
    assert r.returncode == 0
    probe = subprocess.run([sys.executable, "-c", "import keyguard; print(keyguard.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(installed)}, cwd=tmp_path,
                           capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(installed))


def test_installed_package_finds_a_staged_key(installed: Path, repo: Repo):
    key = platform_key("flux_prod_")
    repo.write(".env", f"FLUXLOOP_API_KEY={key}\n")
    repo.git("add", ".env")
    r = _run(installed, repo.path, "scan", "--staged")
    assert r.returncode == 1, r.stdout + r.stderr
    assert ".env" in r.stdout
    assert key not in r.stdout + r.stderr


def test_every_subpackage_is_installed(installed: Path):
    """pyproject lists packages by hand (rules/ is mapped in): none may be forgotten."""
    in_checkout = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "keyguard").rglob("__init__.py")}
    in_install = {p.parent.relative_to(installed).as_posix()
                  for p in (installed / "keyguard").rglob("__init__.py")}
    assert in_checkout <= in_install, sorted(in_checkout - in_install)
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "keyguard").rglob("*.py")}
    installed_modules = {p.relative_to(installed).as_posix() for p in (installed / "keyguard").rglob("*.py")}
    assert modules <= installed_modules, sorted(modules - installed_modules)
