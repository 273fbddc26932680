"""`keyguard scan` as a user drives it: modes, exit codes, errors, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import GIT_ENV, ROOT, Repo
from keys import api_key, platform_key


def test_history_scan_in_a_bare_mirror(repo: Repo, keyguard, tmp_path):
    key = platform_key("flux_prod_")
    repo.write("old.env", f"K={key}\n")
    repo.commit("leak")
    (repo.path / "old.env").unlink()
    repo.commit("remove")
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(mirror)], check=True)
    r = keyguard("scan", "--history", "--format", "json", cwd=mirror)
    assert r.returncode == 1, r.stderr.decode()
    doc = json.loads(r.stdout)
    assert [f["path"] for f in doc["findings"]] == ["old.env"]
    assert doc["findings"][0]["provenance"]["present_at_head"] is False
    assert key not in r.stdout.decode()


def test_show_secrets_is_the_only_way_to_see_a_key(repo: Repo, keyguard):
    key = api_key("flx_sa_")
    repo.write("svc.json", json.dumps({"token": key}))
    plain = keyguard("scan", cwd=repo.path)
    assert plain.returncode == 1 and key not in (plain.stdout + plain.stderr).decode()
    shown = keyguard("scan", "--show-secrets", "--format", "json", cwd=repo.path)
    assert key in shown.stdout.decode()


def test_usage_errors_are_one_line(repo: Repo, keyguard, tmp_path):
    for args in (["scan", "--since", "HEAD"], ["scan", "no/such/file"], ["scan", "--staged", "--history"],
                 ["scan", "--format", "xml"], ["scan", "--dry-run"]):
        r = keyguard(*args, cwd=repo.path)
        err = r.stderr.decode()
        assert r.returncode == 2, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)
    outside = tmp_path / "plain"
    outside.mkdir()
    r = keyguard("scan", "--staged", cwd=outside)
    assert r.returncode == 2 and "not inside a git repository" in r.stderr.decode()


def test_output_file_and_exit_codes(repo: Repo, keyguard, tmp_path):
    repo.write("clean.txt", "nothing here\n")
    r = keyguard("scan", cwd=repo.path)
    assert r.returncode == 0 and r.stdout == b""
    key = platform_key("flux_dev_")
    repo.write("app/config.yaml", f"fluxloop:\n  api_key: {key}\n")
    out = tmp_path / "report.sarif"
    r = keyguard("scan", "--format", "sarif", "--output", str(out), cwd=repo.path)
    assert r.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert key not in out.read_text()
    # an output path that cannot be written is a one-line error and leaves no temp file behind
    r = keyguard("scan", "--format", "json", "--output", str(tmp_path / "missing" / "r.json"), cwd=repo.path)
    assert r.returncode == 2 and "Traceback" not in r.stderr.decode()
    assert "cannot write" in r.stderr.decode() and "No such file or directory" in r.stderr.decode()


def test_output_to_a_fifo_writes_into_it_and_leaves_it_a_fifo(repo: Repo, keyguard, tmp_path):
    """``-o /dev/null`` or a named pipe: written through, never replaced by a regular file."""
    import os
    import stat
    import threading

    repo.write("app/config.yaml", f"api_key: {platform_key('flux_dev_')}\n")
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = keyguard("scan", "--format", "json", "--output", str(fifo), cwd=repo.path)
    reader.join(timeout=60)
    assert r.returncode == 1, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["findings"][0]["path"] == "app/config.yaml"
    assert not any(p.name.startswith(".report.fifo-") for p in tmp_path.iterdir())


def test_stdin(keyguard, tmp_path):
    key = platform_key("flux_ci_")
    r = keyguard("scan", "--stdin", cwd=tmp_path, input=f"export FLUXLOOP_API_KEY={key}\n".encode())
    assert r.returncode == 1 and b"<stdin>" in r.stdout and key.encode() not in r.stdout
    r = keyguard("scan", "--stdin", cwd=tmp_path, input=b"export FLUXLOOP_API_KEY=flux_dev_abc123def456ghi789jkl012mno34\n")
    assert r.returncode == 0


def test_a_refused_commit_loads_no_rich_typing_dataclasses_argparse_or_subprocess(tmp_path):
    """Into a pipe (pre-commit captures the hook's output) the report is plain text joined
    without rich: the hook's refusal costs no more imports than its pass."""
    repo = tmp_path / "r"
    repo.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env["HOME"] = str(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    key = platform_key()
    (repo / "app.env").write_text(f"K={key}\n")
    subprocess.run(["git", "add", "app.env"], cwd=repo, env=env, check=True)
    code = ("import sys\n"
            "from keyguard.cli import main\n"
            "rc = main(['scan', '--staged'])\n"
            "loaded = sorted(m for m in ('rich', 'typing', 'dataclasses', 'argparse', 'subprocess') if m in sys.modules)\n"
            "print('LOADED', loaded, file=sys.stderr)\n"
            "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=repo, env={**env, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "app.env" in r.stdout and "CRITICAL" in r.stdout and key not in r.stdout
    assert "LOADED []" in r.stderr


@pytest.mark.parametrize("argv", [["scan", "--staged"], ["scan", "--staged", "a.py", "dir/b c.txt", ""]])
def test_the_hook_command_line_parses_as_argparse_would(argv):
    """``scan --staged FILE...`` skips argparse (keyguard.cli._hook_args): same namespace."""
    from keyguard import cli

    fast = cli._hook_args(list(argv))
    assert fast is not None
    assert vars(fast) == vars(cli.build_parser("scan").parse_args(argv))


@pytest.mark.parametrize("argv", [["scan", "--staged", "-q"], ["scan", "--staged", "--", "-x"],
                                  ["scan", "--history"], ["scan"], ["--staged", "scan"]])
def test_other_command_lines_go_through_argparse(argv):
    from keyguard import cli

    assert cli._hook_args(list(argv)) is None
