"""Failure paths through the real CLI (issue "Failure paths"): no key in any message, nothing done
without being reported, audits that fail when they cannot check, no hang in silence, signals.

Every case runs ``python -m keyguard`` against the project's FluxLoop test server and
asserts what a user would check: the exit code, the one-line message, that no full key
is anywhere (stdout, stderr, every report, ``--debug``), the server's journal (never a
second revoke) and that no half-written file is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import GIT_ENV, Repo
from keys import platform_key

EXIT_USAGE, EXIT_LIVE, EXIT_INCOMPLETE, EXIT_PARTIAL = 2, 3, 4, 5


# -- helpers ----------------------------------------------------------------------------------
def texts_of(folder: Path) -> str:
    """Every file under ``folder`` as text (reports, ledgers, caches), but the filter-repo replacement
    file, which holds the secret by design (mode 0600, the incident output says so)."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "replacements.txt":
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def no_temp_files(folder: Path) -> list[Path]:
    """Half-written files keyguard's atomic writer would leave behind (``.name-xxxx``)."""
    return [p for p in folder.rglob(".*-*") if p.is_file()] if folder.exists() else []


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def reports(tmp_path: Path) -> Path:
    d = tmp_path / "reports"
    d.mkdir(exist_ok=True)
    return d


def audit(keyguard, repo: Repo, env: dict, *args: str):
    d = reports(repo.path.parent)
    return keyguard("audit", "--sarif", str(d / "a.sarif"), "--json", str(d / "a.json"),
                    "--markdown", str(d / "a.md"), *args, cwd=repo.path, env=env)


def audit_outputs(repo: Repo) -> tuple[dict, dict, str]:
    d = reports(repo.path.parent)
    return (json.loads((d / "a.sarif").read_text()), json.loads((d / "a.json").read_text()),
            (d / "a.md").read_text())


def leaked_repo(repo: Repo, secret: str) -> None:
    repo.write("deploy/.env", f"FLUXLOOP_API_KEY={secret}\n")
    repo.commit("add deploy env")


# -- 1. a full key printed ---------------------------------------------------------------------
def test_a_key_where_the_endpoint_belongs_is_never_quoted(fluxloop_server, keyguard, tmp_path):
    key = platform_key("flux_prod_")
    for extra, env in ((["--api-endpoint", key], {}), ([], {"FLUXLOOP_API_ENDPOINT": key})):
        for debug in ([], ["--debug"]):
            r = keyguard("whoami", *extra, *debug, cwd=tmp_path,
                         env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=platform_key(), **env))
            err = r.stderr.decode()
            assert r.returncode == EXIT_USAGE, err
            assert key not in err + r.stdout.decode()
            assert "must be an http(s) URL" in err and key[-4:] in err  # redacted, not dropped
            if not debug:
                one_line(err)


@pytest.mark.parametrize("tag", ["!!python/name:", "!!int ", "!!timestamp ", "!!binary "])
def test_a_yaml_tag_on_the_credential_is_one_line_without_the_key(fluxloop_server, keyguard, tmp_path, tag):
    key = platform_key("flux_prod_")
    cred = tmp_path / ".fluxloop" / "credentials"
    cred.parent.mkdir()
    cred.write_text(f"profiles:\n  default:\n    api_key: {tag}{key}\n")
    cred.chmod(0o600)
    for debug in ([], ["--debug"]):
        r = keyguard("whoami", *debug, cwd=tmp_path, env=fluxloop_server.env(tmp_path))
        err = r.stderr.decode()
        assert r.returncode == EXIT_USAGE, err
        assert key not in err + r.stdout.decode()
        assert "~/.fluxloop/credentials" in err
        if not debug:
            one_line(err)
    assert fluxloop_server.calls() == []


VALUE_OPTIONS = [  # (command line with KEY standing for the key, what the command needs)
    ["scan", "--api-endpoint", "KEY", "--verify"], ["scan", "--profile", "KEY", "--verify"],
    ["scan", "--fail-on", "KEY"], ["scan", "--config", "KEY"], ["scan", "--baseline", "KEY"],
    ["scan", "--rules", "KEY"], ["scan", "--repo", "KEY"], ["scan", "--history", "--since", "KEY"],
    ["scan", "--history", "KEY"], ["scan", "-f", "KEY"], ["scan", "--api-timeout", "KEY"],
    ["scan", "--api-retries", "KEY"], ["scan", "--api-deadline", "KEY"], ["scan", "KEY"],
    ["scan", "--output", "KEY/x.json"],
    ["audit", "--fail-on-hygiene", "KEY"], ["audit", "--cache", "KEY/c"], ["audit", "--sarif", "KEY/a.sarif"],
    ["audit", "--profile", "KEY"], ["audit", "--api-key", "KEY"],
    ["keys", "--tenant", "KEY"], ["keys", "--fail-on", "KEY"], ["keys", "show", "KEY"],
    ["keys", "--unused-days", "KEY"], ["whoami", "--profile", "KEY"], ["whoami", "--api-key", "KEY"],
    ["incident", "--offline", "--output-dir", "KEY/out"], ["incident", "--repo", "KEY"],
    ["revoke", "--api-endpoint", "KEY", "--yes"], ["KEY"],
]


@pytest.mark.parametrize("argv", VALUE_OPTIONS, ids=lambda a: "-".join(x for x in a if x != "KEY"))
def test_a_key_fed_through_any_option_never_echoes(fluxloop_server, keyguard, repo: Repo, tmp_path, argv):
    key = platform_key("flux_prod_")
    op = fluxloop_server.operator()
    leaked = fluxloop_server.add_key()
    leaked_repo(repo, leaked.secret)
    args = [a.replace("KEY", key) for a in argv]
    stdin = (leaked.secret + "\n").encode()
    r = keyguard(*args, *(["--debug"] if argv[0] != "KEY" else []), cwd=repo.path, input=stdin,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    everything = r.stdout.decode() + r.stderr.decode() + texts_of(repo.path.parent / "reports")
    assert key not in everything
    assert leaked.secret not in everything and op.secret not in everything


@pytest.mark.parametrize("field", ['fail-on = "KEY"', 'baseline = "KEY"', 'rules = ["KEY"]',
                                   'exclude = "KEY"', 'KEY = 1', '[hygiene]\nunused-days = "KEY"'])
def test_a_key_in_a_config_field_never_echoes(fluxloop_server, keyguard, repo: Repo, tmp_path, field):
    key = platform_key("flux_ci_")
    repo.write(".keyguard.toml", field.replace("KEY", key) + "\n")
    for cmd in (["scan", "--debug"], ["audit", "--no-verify", "--no-hygiene", "--debug"]):
        r = keyguard(*cmd, cwd=repo.path, env=fluxloop_server.env(tmp_path))
        assert key not in r.stdout.decode() + r.stderr.decode()
        assert "internal error" not in r.stderr.decode()


@pytest.mark.parametrize("var", ["FLUXLOOP_PROFILE", "FLUXLOOP_API_ENDPOINT", "GITHUB_STEP_SUMMARY",
                                 "REQUESTS_CA_BUNDLE", "FLUXLOOP_API_KEY"])
def test_a_key_in_an_environment_variable_never_echoes(fluxloop_server, keyguard, repo: Repo, tmp_path, var):
    key = platform_key("flux_stg_")
    leaked_repo(repo, platform_key("flux_dev_"))
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=fluxloop_server.operator().secret)
    env[var] = key
    r = audit(keyguard, repo, env, "--debug")
    assert key not in r.stdout.decode() + r.stderr.decode() + texts_of(reports(tmp_path))


# -- 2. acting, then failing in silence ------------------------------------------------------
def test_incident_checks_its_output_dir_before_revoking(fluxloop_server, keyguard, repo: Repo, tmp_path):
    live = fluxloop_server.add_key()
    fluxloop_server.operator()
    leaked_repo(repo, live.secret)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    r = keyguard("incident", "--yes", "--output-dir", str(blocker / "out"), cwd=repo.path,
                 input=live.secret.encode(), env=fluxloop_server.env(tmp_path))
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_USAGE and "--output-dir" in line and "cannot create it" in line
    assert no_temp_files(tmp_path) == []
    assert live.secret not in r.stdout.decode() + r.stderr.decode()
    assert not live.revoked and fluxloop_server.calls("revoke") == []  # nothing was done


def keyguard_with_file_size_limit(args, cwd: Path, env: dict, limit: int, input: bytes | None = None):
    """Run keyguard where no file may grow past ``limit`` bytes (a disk filling up mid-run)."""
    import resource

    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    e.pop("FLUXLOOP_API_KEY", None)
    e |= {"NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"} | env
    return subprocess.run([sys.executable, "-m", "keyguard", *args], cwd=cwd, env=e, input=input,
                          capture_output=True, timeout=120, preexec_fn=limit_files)


def test_incident_that_fails_after_revoking_says_what_was_done(fluxloop_server, keyguard, repo: Repo, tmp_path):
    live = fluxloop_server.add_key()
    fluxloop_server.operator()
    leaked_repo(repo, live.secret)
    out = tmp_path / "out"
    # the ledger entry fits, the incident report does not: the disk "fills up" after the revoke
    r = keyguard_with_file_size_limit(["incident", "--yes", "--output-dir", str(out)], repo.path,
                                      fluxloop_server.env(tmp_path), 1024, input=live.secret.encode())
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_PARTIAL, line
    assert live.id in line and "was revoked at" in line and "then the incident failed" in line
    assert live.revoked and len(fluxloop_server.calls("revoke")) == 1
    ledger = json.loads((repo.path / ".git" / "keyguard" / "revocations.json").read_text())
    assert [e["key_id"] for e in ledger["keys"].values()] == [live.id]  # the ledger records it
    assert live.secret not in r.stdout.decode() + r.stderr.decode() + texts_of(out)
    assert no_temp_files(out) == [] and not (out / "incident.json").exists()
    # the next run sends no second revoke, and has the time of the first
    r = keyguard("incident", "--yes", "--output-dir", str(tmp_path / "out2"), cwd=repo.path,
                 input=live.secret.encode(), env=fluxloop_server.env(tmp_path))
    assert r.returncode == 0, r.stderr.decode()
    assert len(fluxloop_server.calls("revoke")) == 1


def test_audit_that_fails_after_revoking_says_what_was_done(fluxloop_server, keyguard, repo: Repo, tmp_path):
    op = fluxloop_server.operator()
    live = fluxloop_server.add_key()
    leaked_repo(repo, live.secret)
    d = reports(tmp_path)
    r = keyguard_with_file_size_limit(
        ["audit", "--sarif", str(d / "a.sarif"), "--json", str(d / "a.json"), "--markdown", str(d / "a.md"),
         "--revoke", "--yes", "--no-hygiene", "--no-cache"], repo.path,
        fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret), 1024)
    err = r.stderr.decode()
    assert r.returncode == EXIT_PARTIAL, err
    last = err.strip().splitlines()[-1]
    assert "already done: revoked" in last and live.id in last and "cannot write" in last
    assert len(fluxloop_server.calls("revoke")) == 1
    ledger = json.loads((repo.path / ".git" / "keyguard" / "revocations.json").read_text())
    assert [e["key_id"] for e in ledger["keys"].values()] == [live.id]
    assert no_temp_files(d) == []
    assert live.secret not in err + texts_of(d)


def test_scan_revoke_that_cannot_write_its_report_says_what_was_done(fluxloop_server, repo: Repo, tmp_path):
    op = fluxloop_server.operator()
    live = fluxloop_server.add_key()
    leaked_repo(repo, live.secret)
    out = tmp_path / "scan.json"
    r = keyguard_with_file_size_limit(["scan", "--revoke", "--yes", "-f", "json", "-o", str(out)], repo.path,
                                      fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret), 1024)
    err = r.stderr.decode()
    assert r.returncode == EXIT_PARTIAL, err
    assert "already done: revoked" in err.splitlines()[-1] and live.id in err.splitlines()[-1]
    assert len(fluxloop_server.calls("revoke")) == 1 and not out.exists() and no_temp_files(tmp_path) == []
    assert live.secret not in err + r.stdout.decode()


def test_audit_checks_every_output_before_acting(fluxloop_server, keyguard, repo: Repo, tmp_path):
    op = fluxloop_server.operator()
    live = fluxloop_server.add_key()
    leaked_repo(repo, live.secret)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = keyguard("audit", "--sarif", str(blocker / "a.sarif"), "--revoke", "--yes", cwd=repo.path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_USAGE and "--sarif" in line
    assert fluxloop_server.calls() == [] and not live.revoked


# -- 3. audits that stay green when they cannot check -------------------------------------------
@pytest.mark.parametrize("operator", ["expired", "revoked", "invalid", "no-manage-keys"])
def test_audit_that_cannot_do_hygiene_fails_with_its_own_code(fluxloop_server, keyguard, repo: Repo, tmp_path,
                                                              operator):
    if operator == "invalid":
        token = platform_key("flux_prod_")
    elif operator == "no-manage-keys":
        token = fluxloop_server.add_key(permissions=("read_scenarios",)).secret
    else:
        token = fluxloop_server.operator(expires_in_days=-1 if operator == "expired" else 30,
                                         revoked=operator == "revoked").secret
    repo.write("README.md", "clean\n")
    repo.commit("clean")
    r = audit(keyguard, repo, fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=token))
    err = r.stderr.decode()
    assert r.returncode == EXIT_INCOMPLETE, err
    assert "audit incomplete: hygiene not done" in err and token not in err
    sarif, report, md = audit_outputs(repo)
    inv = sarif["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert any(n["level"] == "error" and "hygiene not done" in n["message"]["text"]
               for n in inv["toolExecutionNotifications"])
    assert report["incomplete"][0]["step"] == "hygiene" and report["summary"]["complete"] is False
    assert "### Steps not done" in md and "hygiene" in md
    assert token not in texts_of(reports(tmp_path))
    assert {c.endpoint for c in fluxloop_server.calls()} <= {"auth_status", "list"}


def test_audit_without_any_credential_only_warns(fluxloop_server, keyguard, repo: Repo, tmp_path):
    repo.write("README.md", "clean\n")
    repo.commit("clean")
    r = audit(keyguard, repo, fluxloop_server.env(tmp_path))
    assert r.returncode == 0, r.stderr.decode()
    assert "key hygiene skipped: no operator credential" in r.stdout.decode()  # the text report's warnings


def test_audit_that_cannot_verify_is_incomplete(fluxloop_server, keyguard, repo: Repo, tmp_path):
    leaked_repo(repo, fluxloop_server.add_key().secret)
    fluxloop_server.inject("auth_status", "500", count=10)
    r = audit(keyguard, repo, fluxloop_server.env(tmp_path), "--no-hygiene", "--api-retries", "2",
              "--fail-on", "critical")
    assert r.returncode == EXIT_INCOMPLETE, r.stderr.decode()
    _, report, _ = audit_outputs(repo)
    assert report["incomplete"][0]["step"] == "verify"
    assert len(fluxloop_server.calls("auth_status")) == 2


# -- 4. findings that never go away ---------------------------------------------------------------
def test_a_revoked_key_stays_a_finding_that_does_not_fail(fluxloop_server, keyguard, repo: Repo, tmp_path):
    key = fluxloop_server.add_key()
    leaked_repo(repo, key.secret)
    env = fluxloop_server.env(tmp_path)
    r = audit(keyguard, repo, env, "--no-hygiene")
    assert r.returncode == EXIT_LIVE, r.stderr.decode()
    sarif1, report1, _ = audit_outputs(repo)
    assert [f["is_new"] for f in report1["findings"]] == [True] and report1["summary"]["new"] == 1
    key.revoked = True  # revoked by hand in the console
    r = audit(keyguard, repo, env, "--no-hygiene")
    assert r.returncode == 0, r.stderr.decode()
    sarif2, report2, _ = audit_outputs(repo)
    (f,) = report2["findings"]
    assert f["severity"] == "info" and f["is_new"] is False
    assert f["remediation"].endswith("purging history is optional") and "revoked" in f["remediation"]
    fp = [r["partialFingerprints"] for s in (sarif1, sarif2) for r in s["runs"][0]["results"]]
    assert fp[0] == fp[1]  # the same alert changes state: no new alert
    assert sarif2["runs"][0]["results"][0]["level"] == "note"


def test_an_expired_key_stays_a_finding_at_info(fluxloop_server, keyguard, repo: Repo, tmp_path):
    key = fluxloop_server.add_key(expires_in_days=-3)
    leaked_repo(repo, key.secret)
    r = audit(keyguard, repo, fluxloop_server.env(tmp_path), "--no-hygiene")
    assert r.returncode == 0, r.stderr.decode()
    _, report, _ = audit_outputs(repo)
    assert [(f["severity"], f["verification"]["status"]) for f in report["findings"]] == [("info", "expired")]


# -- 5. tenant findings do not fail every repository ------------------------------------------------
def test_hygiene_findings_fail_only_with_their_own_option(fluxloop_server, keyguard, repo: Repo, tmp_path):
    op = fluxloop_server.operator()
    fluxloop_server.add_key(name="Everything", permissions=("*",), projects=("*",))  # high
    repo.write("README.md", "clean\n")
    repo.commit("clean")
    env = fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret)
    r = audit(keyguard, repo, env)
    assert r.returncode == 0, r.stderr.decode()
    _, report, _ = audit_outputs(repo)
    assert any(h["severity"] == "high" for h in report["hygiene"])
    assert audit(keyguard, repo, env, "--fail-on-hygiene", "high").returncode == 1
    assert audit(keyguard, repo, env, "--fail-on-hygiene", "critical").returncode == 0


# -- 6. hygiene inventory gaps ------------------------------------------------------------------
def test_hygiene_inventory_lists_broad_read_keys_managers_and_revoked_keys(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator(expires_in_days=60)
    reader = fluxloop_server.add_key(name="Reader", projects=("*",), permissions=("read_scenarios",))
    gone = fluxloop_server.add_key(name="Old", revoked=True)
    soon = fluxloop_server.add_key(name="Soon", expires_in_days=1.5)
    r = keyguard("keys", "-f", "json", "--fail-on", "none", cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    assert r.returncode == 0, r.stderr.decode()
    found = {(h["key"]["id"], h["check"]): h for h in json.loads(r.stdout)["hygiene"]}
    assert found[(reader.id, "over-broad")]["severity"] == "low"
    assert found[(op.id, "can-manage-keys")]["severity"] == "info"
    assert found[(gone.id, "revoked")]["severity"] == "info"
    assert found[(soon.id, "expires-soon")]["message"].startswith("expires in 1 day:")


# -- 7. hangs ----------------------------------------------------------------------------------------
def test_a_hung_endpoint_is_given_up_on_with_a_waiting_line(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    fluxloop_server.inject("auth_status", "slow", delay=60)
    r = keyguard("whoami", "--api-timeout", "3", "--api-retries", "1", cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    err = r.stderr.decode()
    assert r.returncode == EXIT_USAGE, err
    assert "waiting for the FluxLoop API (GET /api/v1/auth/status" in err
    assert "timed out after 3s" in err.splitlines()[-1]
    assert len(fluxloop_server.calls("auth_status")) == 1


def test_a_trickling_answer_is_bounded_per_request_not_per_read(fluxloop_server, keyguard, tmp_path):
    op = fluxloop_server.operator()
    fluxloop_server.inject("auth_status", "trickle", delay=0.3)  # each read well under the timeout
    r = keyguard("whoami", "--api-timeout", "1.5", "--api-retries", "1", "--quiet", cwd=tmp_path,
                 env=fluxloop_server.env(tmp_path, FLUXLOOP_API_KEY=op.secret))
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_USAGE and "timed out after 1.5s" in line


def test_the_run_deadline_stops_retries(fluxloop_server, keyguard, repo: Repo, tmp_path):
    leaked_repo(repo, fluxloop_server.add_key().secret)
    fluxloop_server.inject("auth_status", "slow", count=20, delay=60)
    r = audit(keyguard, repo, fluxloop_server.env(tmp_path), "--no-hygiene", "--api-timeout", "1",
              "--api-retries", "20", "--api-deadline", "2.5")
    err = r.stderr.decode()
    assert r.returncode == EXIT_INCOMPLETE, err
    assert len(fluxloop_server.calls("auth_status")) <= 3  # 20 attempts allowed, the deadline stopped them


# -- 8. signals --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_repo(tmp_path_factory) -> Path:
    """A repository with ~90 MB of key-like text in history: big enough for parallel readers."""
    path = tmp_path_factory.mktemp("big") / "repo"
    path.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True, env=env)
    line = ("x = 'flux_prod_" + "a" * 8 + "'  # flx_api_ near miss " + "0123456789" * 4 + "\n").encode()
    for i in range(6):
        (path / f"data{i}.txt").write_bytes(str(i).encode() + line * (15_000_000 // len(line)))
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "big"], cwd=path, check=True, env=env)
    for p in path.glob("data*.txt"):
        p.unlink()
    return path


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _processes_in(folder: Path) -> list[str]:
    """Processes whose working directory is ``folder`` (keyguard's workers and its git children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) == folder:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_every_child_and_leaves_no_report(big_repo: Path, tmp_path, sig, code):
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV | {"NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "keyguard", "scan", "--history", "-f", "json",
                             "-o", str(out / "report.json")], cwd=big_repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # wait (by state, not by time) until the reader processes run
        while proc.poll() is None and sum(1 for c in _children(proc.pid) if b"python" in _cmdline(c)) < 2:
            time.sleep(0.01)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err.decode()
    assert err.decode().strip().splitlines()[-1] in ("keyguard: terminated", "keyguard: interrupted")
    assert _processes_in(big_repo) == []  # no worker, no git left running
    assert list(out.iterdir()) == []  # no report, no temp file


# -- 9. "internal error" where one line belongs -------------------------------------------------------
def test_an_unwritable_step_summary_warns_and_keeps_the_result(fluxloop_server, keyguard, repo: Repo, tmp_path):
    leaked_repo(repo, platform_key("flux_dev_"))
    summary = tmp_path / "summary-is-a-folder"
    summary.mkdir()
    r = audit(keyguard, repo, fluxloop_server.env(tmp_path, GITHUB_STEP_SUMMARY=summary), "--no-verify",
              "--no-hygiene")
    err = r.stderr.decode()
    assert r.returncode == 1, err  # the findings decide, as without the summary
    assert "step summary not written" in r.stdout.decode() and "internal error" not in err
    _, report, _ = audit_outputs(repo)
    assert report["summary"]["findings"] == 1


def test_a_baseline_that_is_not_utf8_is_named(keyguard, repo: Repo):
    repo.write("README.md", "x\n")
    repo.commit("x")
    (repo.path / ".keyguard-baseline.json").write_bytes(b"\xff\xfe{bad")
    r = keyguard("scan", cwd=repo.path)
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_USAGE and ".keyguard-baseline.json" in line and "UTF-8" in line


def test_git_missing_from_path(keyguard, repo: Repo, tmp_path):
    key = platform_key("flux_ci_")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    r = keyguard("incident", "--offline", cwd=repo.path, input=key.encode(), env={"PATH": str(empty)})
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_USAGE and "git is not installed" in line
    # --stdin needs no git at all
    r = keyguard("scan", "--stdin", cwd=repo.path, input=f"k={key}\n".encode(), env={"PATH": str(empty)})
    assert r.returncode == 1, r.stderr.decode()
    assert key not in r.stdout.decode() and key[:12] + "\u2026" in r.stdout.decode()


# -- 10. smaller -------------------------------------------------------------------------------------
def test_show_secrets_with_sarif_says_it_has_no_effect(keyguard, repo: Repo):
    key = platform_key("flux_ci_")
    r = keyguard("scan", "--stdin", "--show-secrets", "-f", "sarif", cwd=repo.path, input=f"k={key}\n".encode())
    assert "--show-secrets has no effect with -f sarif" in r.stderr.decode()
    assert key not in r.stdout.decode()


def test_exclude_everything_warns(keyguard, repo: Repo):
    repo.write(".keyguard.toml", 'exclude = ["*"]\n')
    repo.write("a.env", f"K={platform_key('flux_ci_')}\n")
    r = keyguard("scan", cwd=repo.path)
    assert r.returncode == 0
    assert "matches every path: nothing can be reported" in r.stderr.decode()


def test_argparse_errors_say_keyguard_once(keyguard, tmp_path):
    for argv in (["--bogus"], ["scan", "--bogus"], ["scan", "-f", "nope"]):
        r = keyguard(*argv, cwd=tmp_path)
        line = one_line(r.stderr.decode())
        assert r.returncode == EXIT_USAGE and line.count("keyguard") == 1, line


def test_a_bad_requests_ca_bundle_is_one_line(fluxloop_server, keyguard, tmp_path):
    r = keyguard("whoami", cwd=tmp_path, env=fluxloop_server.env(
        tmp_path, FLUXLOOP_API_KEY=platform_key(), REQUESTS_CA_BUNDLE=tmp_path / "missing.pem"))
    line = one_line(r.stderr.decode())
    assert r.returncode == EXIT_USAGE and "REQUESTS_CA_BUNDLE" in line and "cannot load" in line
    assert fluxloop_server.calls() == []


def test_first_committed_follows_history_when_commits_share_a_second(keyguard, repo: Repo, tmp_path):
    key = platform_key("flux_dev_")
    same = {"GIT_AUTHOR_DATE": "2024-03-01T10:00:00+00:00", "GIT_COMMITTER_DATE": "2024-03-01T10:00:00+00:00"}
    ids = []
    for i in range(4):  # four commits in the same second, each adding the key somewhere
        repo.write(f"f{3 - i}.env", f"K={key}\n")  # names in the reverse order of history
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV | same
        subprocess.run(["git", "add", "-A"], cwd=repo.path, check=True, env=env)
        subprocess.run(["git", "commit", "-q", "-m", f"c{i}"], cwd=repo.path, check=True, env=env)
        ids.append(repo.git("rev-parse", "HEAD").strip())
    out = tmp_path / "out"
    r = keyguard("incident", "--offline", "--output-dir", str(out), cwd=repo.path, input=key.encode())
    assert r.returncode == 1, r.stderr.decode()
    assert json.loads((out / "incident.json").read_text())["timeline"]["first_commit"] == ids[0]
