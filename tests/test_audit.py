"""`keyguard audit` end to end: history + verify + hygiene + SARIF/JSON/Markdown, and its cache."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import jsonschema
import pytest

from conftest import OBJECT_FORMATS, SARIF_SCHEMA, Repo
from keys import platform_key

SCHEMA = json.loads(SARIF_SCHEMA.read_text())


def out_dir(repo: Repo) -> Path:
    """Reports go beside the repository, so commits in the tests do not pick them up."""
    d = repo.path.parent / "reports"
    d.mkdir(exist_ok=True)
    return d


def audit(keyguard, repo: Repo, env: dict, *args: str):
    d = out_dir(repo)
    r = keyguard("audit", "--sarif", str(d / "a.sarif"), "--json", str(d / "a.json"),
                 "--markdown", str(d / "a.md"), *args, cwd=repo.path, env=env)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def outputs(repo: Repo) -> tuple[dict, dict, str]:
    d = out_dir(repo)
    sarif = json.loads((d / "a.sarif").read_text())
    report = json.loads((d / "a.json").read_text())
    md = (d / "a.md").read_text()
    return sarif, report, md


def blobs_scanned(err: str) -> int:
    return int(re.search(r"\((\d+) blobs scanned\)", err).group(1))


def test_audit_end_to_end_against_the_test_server(fluxloop_server, keyguard, repo: Repo, tmp_path: Path):
    op = fluxloop_server.operator()
    live = fluxloop_server.add_key(prefix="flux_prod_", name="Prod deploy")
    fluxloop_server.add_key(prefix="flux_dev_", name="Everything", permissions=("*",), projects=("*",))
    dead = platform_key("flux_dev_")  # unknown to the API
    repo.write("deploy/.env", f"FLUXLOOP_API_KEY={live.secret}\n")
    repo.commit("add deploy env")
    repo.write("deploy/.env", "FLUXLOOP_API_KEY=${FLUXLOOP_API_KEY}\n")
    repo.commit("use the environment")
    repo.git("checkout", "-q", "-b", "experiment")
    repo.write("notes.md", f"old key {dead}\n")
    repo.commit("notes")
    repo.git("checkout", "-q", "main")
    summary = tmp_path / "step-summary.md"
    summary.write_text("# earlier step\n")
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret, GITHUB_STEP_SUMMARY=summary)

    code, out, err = audit(keyguard, repo, env)
    assert code == 3, err  # a live key was found and not revoked
    sarif, report, md = outputs(repo)
    jsonschema.Draft7Validator(SCHEMA).validate(sarif)
    by_path = {f["path"]: f for f in report["findings"]}
    assert set(by_path) == {"deploy/.env", "notes.md"}
    assert by_path["deploy/.env"]["verification"]["status"] == "live"
    assert by_path["deploy/.env"]["verification"]["key_id"] == live.id
    assert by_path["notes.md"]["verification"]["status"] == "invalid"
    assert by_path["deploy/.env"]["provenance"]["present_at_head"] is False
    checks = {h["check"] for h in report["hygiene"]}
    assert "over-broad" in checks
    results = [r for run in sarif["runs"] for r in run["results"]]
    assert any(r["ruleId"].startswith("hygiene/") for r in results)
    assert any(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "deploy/.env"
               for r in results if not r["ruleId"].startswith("hygiene/"))
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "deploy/.env" in text
    for blob in (out, err, json.dumps(sarif), json.dumps(report), md, text):
        for secret in (live.secret, dead, op.secret):
            assert secret not in blob


@pytest.mark.parametrize("repo", OBJECT_FORMATS, indirect=True)
def test_audit_is_incremental_and_marks_new_findings(keyguard, repo: Repo, tmp_path: Path):
    env = {"HOME": str(tmp_path)}
    old = platform_key("flux_ci_")
    for i in range(30):
        repo.write(f"src/mod{i}.py", f"VALUE = {i}\n")
    repo.write("ci.env", f"TOKEN={old}\n")
    repo.commit("initial")
    code, _, err = audit(keyguard, repo, env, "--no-verify", "--no-hygiene")
    assert code == 1 and blobs_scanned(err) >= 31
    _, report, _ = outputs(repo)
    assert [f["is_new"] for f in report["findings"]] == [True]  # the first audit: everything is new

    code, _, err = audit(keyguard, repo, env, "--no-verify", "--no-hygiene")
    assert code == 1  # the known finding is still reported: hits are never cached away
    assert blobs_scanned(err) <= 1
    _, report, _ = outputs(repo)
    assert [f["is_new"] for f in report["findings"]] == [False]

    new = platform_key("flux_ci_")
    repo.write("src/mod3.py", f"VALUE = 3\nTOKEN = '{new}'\n")
    repo.commit("one more")
    code, _, err = audit(keyguard, repo, env, "--no-verify", "--no-hygiene")
    assert blobs_scanned(err) <= 2  # the new blob (and the known dirty one), not the 30 others
    _, report, _ = outputs(repo)
    flags = {f["path"]: f["is_new"] for f in report["findings"]}
    assert flags == {"ci.env": False, "src/mod3.py": True}


def test_changed_rules_rescan_and_bad_caches_are_ignored(keyguard, repo: Repo, tmp_path: Path):
    env = {"HOME": str(tmp_path)}
    token = "ACME-" + secrets.token_hex(8)
    repo.write("a.txt", f"team secret: {token}\n")
    repo.commit("a")
    assert audit(keyguard, repo, env, "--no-verify", "--no-hygiene")[0] == 0
    rules = tmp_path / "team.toml"
    rules.write_text('''[[rule]]
id = "acme-internal-token"
description = "ACME internal token"
regex = '(?P<secret>ACME-[0-9a-f]{16})'
secret-group = "secret"
keywords = ["ACME-"]
min-entropy = 0.0
severity = "high"
remediation = "Rotate it."
examples = ["ACME-9f3a07c2e1d4b865"]
negatives = ["ACME-"]
''')
    code, out, err = audit(keyguard, repo, env, "--no-verify", "--no-hygiene", "--rules", str(rules))
    assert "rules changed" in out  # warnings are part of the text report on stdout
    assert code == 1, err  # the new rule saw the blob the cache called clean

    cache = repo.path / ".git" / "keyguard" / "objects.kgc"
    cache.write_bytes(cache.read_bytes()[:-7])  # truncated
    code, out, err = audit(keyguard, repo, env, "--no-verify", "--no-hygiene", "--rules", str(rules))
    assert code == 1 and "audit cache" in out and "ignored" in out and "Traceback" not in out + err

    other = tmp_path / "other"
    other.mkdir()
    o = Repo(other)
    o.git("init", "-q", "-b", "main")
    o.write("x", "y\n")
    o.git("add", "-A")
    o.git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", "x")
    code, out, err = audit(keyguard, o, env, "--no-verify", "--no-hygiene", "--cache", str(repo.path / ".git" / "keyguard"))
    assert "another repository" in out and code == 0


def test_audit_revoke_fires_once(fluxloop_server, keyguard, repo: Repo, tmp_path: Path):
    op = fluxloop_server.operator()
    live = fluxloop_server.add_key(prefix="flux_stg_")
    repo.write("a.env", f"K={live.secret}\n")
    repo.write("b.env", f"K={live.secret}\n")
    repo.commit("two copies")
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret)
    code, _, err = audit(keyguard, repo, env, "--revoke", "--yes", "--no-hygiene")
    assert code == 0, err  # the findings remain (at info: the key is off), nothing fails the audit
    assert live.revoked and len(fluxloop_server.calls("revoke")) == 1
    _, report, _ = outputs(repo)
    assert {f["revocation"]["outcome"] for f in report["findings"]} == {"revoked"}
    assert {f["severity"] for f in report["findings"]} == {"info"}
    assert report["summary"]["live"] == 0 and report["summary"]["revoked"] == 2
    at = report["findings"][0]["revocation"]["at"]
    code, _, _ = audit(keyguard, repo, env, "--revoke", "--yes", "--no-hygiene")
    assert code == 0
    assert len(fluxloop_server.calls("revoke")) == 1  # second audit: status revoked, no second call
    _, report, _ = outputs(repo)
    assert {f["verification"]["status"] for f in report["findings"]} == {"revoked"}
    # the ledger remembers when: the advice says so
    assert {f["remediation"] for f in report["findings"]} == {f"revoked at {at}; purging history is optional"}


def test_healthy_tenant_still_gets_its_hygiene_run(fluxloop_server, keyguard, repo: Repo, tmp_path: Path):
    """GitHub closes alerts only for categories that are uploaded again: an empty run must be there."""
    op = fluxloop_server.operator(expires_in_days=60, last_used_days_ago=1, created_days_ago=5)
    repo.write("a.txt", "nothing\n")
    repo.commit("a")
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret)
    code, _, err = audit(keyguard, repo, env, "--no-verify")
    sarif, report, _ = outputs(repo)
    # nothing unhealthy: only the inventory line saying who may manage keys
    assert [(h["check"], h["severity"]) for h in report["hygiene"]] == [("can-manage-keys", "info")]
    categories = [run["automationDetails"]["id"] for run in sarif["runs"]]
    assert categories == ["keyguard/audit/", "keyguard/hygiene/"]
    assert [r["level"] for r in sarif["runs"][1]["results"]] == ["note"]
    jsonschema.Draft7Validator(SCHEMA).validate(sarif)
    assert code == 0, err


def test_local_audit_prints_findings_and_its_reports_stay_out_of_later_scans(keyguard, repo: Repo,
                                                                              tmp_path: Path):
    env = {"HOME": str(tmp_path)}
    key = platform_key("flux_ci_")
    repo.write("ci.env", f"TOKEN={key}\n")
    repo.commit("ci")
    repo.write("ci.env", "TOKEN=${TOKEN}\n")
    repo.commit("from the environment")

    # default outputs: the findings on stdout, the files in the self-ignoring folder
    r = keyguard("audit", "--no-verify", "--no-hygiene", cwd=repo.path, env=env)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 1, err
    assert "ci.env" in out and key[:12] in out and "How to fix" in out
    folder = repo.path / "keyguard-audit"
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "audit.json", "audit.md", "audit.sarif"]
    assert "keyguard-audit/audit.sarif" in err
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""  # nothing to commit by mistake

    # reports written into the work tree where git does see them: recognised by their content
    keyguard("audit", "--no-verify", "--no-hygiene", "--sarif", "copy.sarif", "--json", "copy.json",
             "--markdown", "copy.md", "--verbose", cwd=repo.path, env=env)
    assert (repo.path / "copy.json").read_text().count(key[:12]) >= 1  # redacted keys are in there
    # a file that merely holds the same text is still read: its redacted keys are counted
    (repo.path / "notes.md").write_text("notes\n" + (repo.path / "copy.md").read_text())
    r = keyguard("scan", "--format", "json", cwd=repo.path, env=env)
    assert r.returncode == 0, r.stderr.decode()
    suppressed_in = {s["path"] for s in json.loads(r.stdout)["suppressed"]}
    assert "notes.md" in suppressed_in
    assert not suppressed_in & {"copy.sarif", "copy.json", "copy.md"}
    assert not any(p.startswith("keyguard-audit/") for p in suppressed_in)

    # a real key pasted into a report file is reported all the same
    with open(repo.path / "copy.md", "a", encoding="utf-8") as fh:
        fh.write(f"\nTOKEN={platform_key('flux_prod_')}\n")
    r = keyguard("scan", "--format", "json", cwd=repo.path, env=env)
    assert r.returncode == 1
    assert "copy.md" in {f["path"] for f in json.loads(r.stdout)["findings"]}


@pytest.mark.parametrize("reach", [["--no-include-unreachable"], []], ids=["memo", "unreachable-default"])
def test_a_re_run_locates_known_findings_again_and_follows_changed_refs(keyguard, repo: Repo, tmp_path: Path,
                                                                        reach):
    """Re-runs replay the attribution while nothing changed (the memo: refs only), and redo it when
    refs or HEAD move; with unreachable objects included (the default) every run walks, same answers."""
    env = {"HOME": str(tmp_path)}
    key = platform_key("flux_prod_")
    repo.write("app/settings.py", f"KEY = '{key}'\n")
    first = repo.commit("settings")

    def provenance() -> dict:
        code, _, err = audit(keyguard, repo, env, "--no-verify", "--no-hygiene", *reach)
        assert code == 1, err
        _, report, _ = outputs(repo)
        [finding] = report["findings"]
        assert finding["path"] == "app/settings.py"
        return finding["provenance"]

    walked = provenance()
    assert walked["commit"] == first and walked["present_at_head"] is True
    assert provenance() == walked  # nothing new: the same answer

    repo.git("tag", "release-1")  # a new ref containing the commit, nothing new to scan
    tagged = provenance()
    assert "tags/release-1" in tagged["refs"] and tagged["commit"] == first

    repo.write("app/settings.py", "KEY = os.environ['FLUXLOOP_API_KEY']\n")
    repo.commit("key from the environment")  # HEAD moves: the key is no longer there
    moved = provenance()
    assert moved["commit"] == first and moved["present_at_head"] is False
    assert provenance() == moved

    for f in (repo.path / ".git" / "keyguard").iterdir():
        assert key.encode() not in f.read_bytes()
