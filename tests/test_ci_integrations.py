"""The CI integrations: the composite GitHub Action (action.yml) and the GitLab CI template.

The Action's ``run:`` steps are executed as the runner would (bash, inputs and
step outputs substituted into ``env:``, ``$GITHUB_OUTPUT``/``$GITHUB_PATH``/
``$GITHUB_STEP_SUMMARY`` files), skipping ``uses:`` steps; the install step
really pip-installs keyguard (offline, from this checkout) into a fresh venv.
The GitLab template's ``script:`` runs the real ``keyguard`` and its report is
checked against the fields GitLab's published schema requires.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import GIT_ENV, ROOT, Repo
from keys import platform_key

# The fields GitLab requires in a secret-detection report, transcribed (required lists, enums and
# patterns only) from gitlab-org/security-products/security-report-schemas,
# dist/secret-detection-report-format.json, version 15.2.1 (MIT). A minimal copy: the full schema
# also describes optional fields, which keyguard writes or leaves out as documented in
# keyguard/report/gitlab.py.
_TOOL = {"type": "object", "required": ["id", "name", "version", "vendor"],
         "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
                        "version": {"type": "string", "minLength": 1},
                        "vendor": {"type": "object", "required": ["name"],
                                   "properties": {"name": {"type": "string", "minLength": 1}}}}}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"}
GITLAB_SECRET_DETECTION_REQUIRED = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "scan", "vulnerabilities"],
    "properties": {
        "version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
        "scan": {"type": "object",
                 "required": ["analyzer", "scanner", "start_time", "end_time", "status", "type"],
                 "properties": {"analyzer": _TOOL, "scanner": _TOOL, "start_time": _TIME, "end_time": _TIME,
                                "type": {"enum": ["secret_detection"]}, "status": {"enum": ["success", "failure"]},
                                "messages": {"type": "array", "items": {
                                    "type": "object", "required": ["level", "value"],
                                    "properties": {"level": {"enum": ["info", "warn", "fatal"]},
                                                   "value": {"type": "string"}}}}}},
        "vulnerabilities": {"type": "array", "items": {
            "type": "object", "required": ["id", "identifiers", "location"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "name": {"type": "string", "maxLength": 255},
                "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
                "identifiers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "name", "value"],
                    "properties": {k: {"type": "string", "minLength": 1} for k in ("type", "name", "value")}}},
                "location": {"type": "object", "required": ["commit"], "properties": {
                    "file": {"type": "string"}, "start_line": {"type": "integer"}, "end_line": {"type": "integer"},
                    "commit": {"type": "object", "required": ["sha"],
                               "properties": {"sha": {"type": "string", "minLength": 1}}}}}}}},
    },
}


# ---------------------------------------------------------------- a tiny Actions runner

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _evaluate(expr: str, ctx: dict) -> str:
    """The few expression forms action.yml uses: a.b.c paths and `x || y`."""
    for alt in (a.strip() for a in expr.split("||")):
        value = ctx
        for part in alt.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        if value:
            return str(value)
    return ""


def run_action(inputs: dict[str, str], env: dict[str, str], tmp: Path, only: str | None = None,
               installed: str | None = None) -> tuple[dict, list[str], str]:
    """Run action.yml's ``run:`` steps; its outputs, the names of the skipped ``uses:`` steps, the summary.

    ``only``: run just the step with this id. ``installed``: the install step already ran
    (its ``$GITHUB_PATH`` line), so it is not run again.
    """
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    given = {k: inputs.get(k, spec.get("default", "")) for k, spec in action["inputs"].items()}
    ctx = {"inputs": given, "github": {"action_path": str(ROOT)}, "steps": {}}
    summary, path_file = tmp / "summary.md", tmp / "path.txt"
    summary.touch()
    path_file.write_text(f"{installed}\n" if installed else "")
    skipped = []
    for step in action["runs"]["steps"]:
        if (only and step.get("id") != only) or (installed and step.get("id") == "install"):
            continue
        if "uses" in step:
            with_ = {k: _EXPR.sub(lambda m: _evaluate(m.group(1), ctx), str(v))
                     for k, v in step.get("with", {}).items()}
            skipped.append((step["uses"], with_))
            continue
        assert step["shell"] == "bash"
        out_file = tmp / f"out-{len(ctx['steps'])}.txt"
        out_file.touch()
        extra_path = [p for p in path_file.read_text().splitlines() if p]
        e = {**env, "GITHUB_OUTPUT": str(out_file), "GITHUB_PATH": str(path_file),
             "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp)}
        e["PATH"] = os.pathsep.join([*reversed(extra_path), env["PATH"]])
        e.update({k: _EXPR.sub(lambda m: _evaluate(m.group(1), ctx), str(v))
                  for k, v in step.get("env", {}).items()})
        assert "${{" not in step["run"], "run: scripts take inputs through env only (no injection)"
        r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                           env=e, cwd=tmp, capture_output=True, timeout=600)
        outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
        ctx["steps"][step.get("id", f"step{len(ctx['steps'])}")] = {"outputs": outputs, "rc": r.returncode,
                                                                   "log": r.stdout.decode() + r.stderr.decode()}
        if r.returncode != 0:
            break
    return ctx["steps"], skipped, summary.read_text()


def _runner_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "FLUXLOOP_", "PYTHON"))}
    env.update(GIT_ENV, NO_COLOR="1", HOME=str(home),
               # offline install from this checkout: dependencies come from the test venv
               PYTHONPATH=sysconfig.get_paths()["purelib"],
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[dict, str]:
    """The Action's install step, run once: its record and the venv's bin folder."""
    work = tmp_path_factory.mktemp("action-install")
    steps, _, _ = run_action({"pip-args": "--no-deps --no-build-isolation --no-index"},
                             _runner_env(work / "home"), work, only="install")
    return steps["install"], str(work / "keyguard-venv" / "bin")


def test_the_action_installs_audits_reports_and_fails_on_a_leaked_key(repo: Repo, tmp_path: Path, installed):
    key = platform_key("flux_prod_")
    repo.write("settings.py", f'FLUXLOOP = "{key}"\n')
    repo.commit("settings")
    repo.write("settings.py", "FLUXLOOP = os.environ['FLUXLOOP_API_KEY']\n")
    repo.commit("read the key from the environment")
    install, venv_bin = installed
    assert install["rc"] == 0, install["log"]
    assert install["outputs"]["version"].startswith("keyguard ")
    assert Path(venv_bin, "keyguard").exists()
    work = tmp_path / "runner"
    work.mkdir()
    steps, skipped, summary = run_action(
        {"path": str(repo.path), "verify": "false", "fail-on": "high"}, _runner_env(tmp_path / "home"), work,
        installed=venv_bin)
    audit = steps["audit"]
    assert audit["rc"] == 0, audit["log"]  # the audit step records the code; the last step fails
    assert audit["outputs"]["exit-code"] == "1" and audit["outputs"]["findings"] == "1"
    sarif = json.loads(Path(audit["outputs"]["sarif"]).read_text())
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] \
        == "settings.py"
    assert [u for u, _ in skipped] == ["github/codeql-action/upload-sarif@v3"]
    assert skipped[0][1]["sarif_file"] == audit["outputs"]["sarif"]
    result = list(steps.values())[-1]
    assert result["rc"] == 1 and "::error::keyguard found 1 leaked" in result["log"]
    assert "settings.py" in summary  # the job summary got the Markdown report
    everything = summary + "".join(s["log"] for s in steps.values()) + json.dumps(sarif)
    assert key not in everything


def test_the_action_passes_a_clean_repository(repo: Repo, tmp_path: Path, installed):
    repo.write("README.md", "nothing to see\n")
    repo.commit("init")
    work = tmp_path / "runner"
    work.mkdir()
    steps, _, _ = run_action({"path": str(repo.path), "verify": "false", "upload-sarif": "false"},
                             _runner_env(tmp_path / "home"), work, installed=installed[1])
    assert [s["rc"] for s in steps.values()] == [0, 0]
    assert steps["audit"]["outputs"]["exit-code"] == "0"


# ---------------------------------------------------------------- GitLab

def run_gitlab_job(repo: Repo, tmp_path: Path, variables: dict[str, str]) -> subprocess.CompletedProcess:
    """The template job's ``script:`` with the given CI variables (``before_script``'s install skipped:
    keyguard is already on PATH here)."""
    template = yaml.safe_load((ROOT / "ci" / "gitlab" / "keyguard.gitlab-ci.yml").read_text())
    job = template["keyguard_secret_detection"]
    assert job["artifacts"]["reports"]["secret_detection"] == "gl-secret-detection-report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "FLUXLOOP_"))}
    env.update(GIT_ENV, NO_COLOR="1", **{k: str(v) for k, v in template["variables"].items()}, **variables)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    script = "\n".join(job["script"])
    return subprocess.run(["sh", "-e", "-c", script], cwd=repo.path, env=env, capture_output=True, timeout=300)


def test_gitlab_template_writes_a_report_with_every_required_field(repo: Repo, tmp_path: Path):
    repo.write("README.md", "base\n")
    base = repo.commit("base")
    key = platform_key("flux_dev_")
    repo.write("app/config.yml", f"fluxloop:\n  api_key: {key}\n")
    intro = repo.commit("config")
    r = run_gitlab_job(repo, tmp_path, {"CI_MERGE_REQUEST_DIFF_BASE_SHA": base})
    assert r.returncode == 1, r.stderr.decode()
    doc = json.loads((repo.path / "gl-secret-detection-report.json").read_text())
    (repo.path / "gl-secret-detection-report.json").unlink()
    jsonschema.Draft7Validator(GITLAB_SECRET_DETECTION_REQUIRED).validate(doc)
    assert doc["version"] == "15.2.1"
    [vuln] = doc["vulnerabilities"]
    assert vuln["location"]["file"] == "app/config.yml" and vuln["location"]["start_line"] == 2
    assert vuln["location"]["commit"]["sha"] == intro
    assert vuln["severity"] in ("High", "Critical", "Medium", "Low")
    assert key not in json.dumps(doc) + r.stdout.decode() + r.stderr.decode()

    # the same finding gets the same id next time (GitLab tracks vulnerabilities by it)
    again = run_gitlab_job(repo, tmp_path, {})
    doc2 = json.loads((repo.path / "gl-secret-detection-report.json").read_text())
    assert again.returncode == 1
    assert [v["id"] for v in doc2["vulnerabilities"]] == [vuln["id"]]


def test_gitlab_report_of_a_clean_scan_and_of_files_on_disk(repo: Repo, tmp_path: Path, keyguard):
    repo.write("README.md", "clean\n")
    repo.commit("init")
    r = run_gitlab_job(repo, tmp_path, {})
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads((repo.path / "gl-secret-detection-report.json").read_text())
    jsonschema.Draft7Validator(GITLAB_SECRET_DETECTION_REQUIRED).validate(doc)
    assert doc["vulnerabilities"] == []
    key = platform_key("flux_ci_")
    repo.write("ci.env", f"TOKEN={key}\n")  # not committed: a worktree scan has no commit
    out = keyguard("scan", "-f", "gitlab", cwd=repo.path)
    doc = json.loads(out.stdout)
    jsonschema.Draft7Validator(GITLAB_SECRET_DETECTION_REQUIRED).validate(doc)
    assert doc["vulnerabilities"][0]["location"]["commit"]["sha"] == "0000000"
    assert key not in out.stdout.decode() + out.stderr.decode()
