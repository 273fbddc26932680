"""Write every SARIF document keyguard produces into one folder, for bench/sarif_check.sh.

usage: python bench/sarif_outputs.py OUTDIR

Builds a throw-away repository with random keys of every kind (platform, API,
session, JWT, base64 in a Kubernetes Secret, a key only in history, one in a
stash), starts the project's FluxLoop test server (tests/fluxloop_server.py) on
127.0.0.1 with keys that are live, revoked and unhealthy, and runs the real
``keyguard`` command line (``python -m keyguard``, the interpreter running this
script) for each SARIF it writes:

  scan-worktree, scan-staged, scan-history (verified), scan-stdin, scan-clean,
  scan-revoke (history, --revoke --yes), audit (history + verify + hygiene),
  audit-clean (an empty hygiene run), keys (the hygiene report).

``keyguard incident`` writes no SARIF (Markdown and JSON only). Prints one line
per file written; exits 1 if a command failed in an unexpected way.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import keys  # noqa: E402  (tests/keys.py: random keys made at run time)
from fluxloop_server import FluxLoopServer  # noqa: E402

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
                "GIT_CONFIG_NOSYSTEM": "1"}


def _env(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "FLUXLOOP_")) and k.lower() not in ("http_proxy", "https_proxy")}
    env.update(GIT_IDENTITY, HOME=str(home), NO_COLOR="1", NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def git(repo: Path, env: dict, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def keyguard(cwd: Path, env: dict, *args: str, stdin: bytes | None = None, ok=(0, 1, 3)) -> None:
    r = subprocess.run([sys.executable, "-m", "keyguard", *args], cwd=cwd, env=env, input=stdin,
                       capture_output=True, timeout=600)
    if r.returncode not in ok:
        sys.stderr.write(f"keyguard {' '.join(args)}: exit {r.returncode}\n{r.stderr.decode()[-2000:]}\n")
        raise SystemExit(1)


def build_repo(repo: Path, env: dict, live: str, revoked: str) -> None:
    """A repository whose work tree, index, history and stash hold keys of every kind."""
    git(repo, env, "init", "-q", "-b", "main")
    (repo / "deploy").mkdir()
    (repo / "deploy" / ".env").write_text(f"FLUXLOOP_API_KEY={live}\n")
    (repo / "README.md").write_text("# demo\nuse ${FLUXLOOP_API_KEY}\n")
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "deploy env")
    (repo / "deploy" / ".env").write_text("FLUXLOOP_API_KEY=${FLUXLOOP_API_KEY}\n")  # gone at HEAD
    secret = base64.b64encode(keys.platform_key("flux_stg_").encode()).decode()
    (repo / "k8s.yaml").write_text(f"apiVersion: v1\nkind: Secret\ndata:\n  FLUXLOOP_API_KEY: {secret}\n")
    (repo / "notes.md").write_text(f"old: {revoked}\njwt: {keys.jwt_key()}\n")
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "k8s and notes")
    (repo / "session.json").write_text('{"access_token": "%s", "refresh_token": "%s"}\n'
                                       % (keys.api_key("flx_"), keys.api_key("flx_refresh_")))
    git(repo, env, "add", "session.json")  # staged only
    (repo / "wip.py").write_text(f"KEY = '{keys.api_key('flx_sa_')}'\n")
    git(repo, env, "stash", "push", "-q", "--include-untracked", "--", "wip.py")
    (repo / "src.py").write_text(f"TOKEN = '{keys.api_key('flx_api_')}'  # a path with a line\n")


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="keyguard-sarif-") as tmp, FluxLoopServer() as srv:
        tmp = Path(tmp)
        home = tmp / "home"
        home.mkdir()
        op = srv.operator()
        live = srv.add_key(prefix="flux_prod_", name="Prod deploy", usage={"total_requests": 3})
        gone = srv.add_key(prefix="flux_dev_", name="Old dev key", revoked=True)
        srv.add_key(prefix="flux_ci_", name="CI/CD Pipeline", permissions=("*",), projects=("*",),
                    expires_in_days=None, last_used_days_ago=None, created_days_ago=200)
        srv.add_key(prefix="flux_dev_", name="Soon", expires_in_days=3, last_used_days_ago=120)
        srv.add_key(prefix="flx_sa_", name="robot", type="service-account", expires_in_days=None)
        repo = tmp / "repo"
        repo.mkdir()
        env = _env(home, FLUXLOOP_API_ENDPOINT=srv.url)
        build_repo(repo, env, live.secret, gone.secret)
        op_env = {**env, "FLUXLOOP_API_KEY": op.secret}

        runs = [
            ("scan-worktree", env, ["scan", "--verify"], None),
            ("scan-staged", env, ["scan", "--staged"], None),
            ("scan-history", env, ["scan", "--history", "--verify"], None),
            ("scan-stdin", env, ["scan", "--stdin"], f"key={keys.any_key()}\n".encode()),
        ]
        for name, e, args, stdin in runs:
            keyguard(repo, e, *args, "--format", "sarif", "--output", str(out / f"{name}.sarif"), stdin=stdin)
        clean = tmp / "clean"
        clean.mkdir()
        git(clean, env, "init", "-q", "-b", "main")
        (clean / "a.txt").write_text("nothing here\n")
        keyguard(clean, env, "scan", "--format", "sarif", "--output", str(out / "scan-clean.sarif"))
        keyguard(repo, op_env, "audit", "--sarif", str(out / "audit.sarif"), "--json", str(tmp / "a.json"),
                 "--markdown", str(tmp / "a.md"), "--no-cache")
        keyguard(repo, op_env, "keys", "--format", "sarif", "--output", str(out / "keys.sarif"))
        keyguard(repo, op_env, "scan", "--history", "--revoke", "--yes", "--format", "sarif",
                 "--output", str(out / "scan-revoke.sarif"))
        # a healthy tenant and a clean repository: the audit's empty runs
        healthy = FluxLoopServer()
        with healthy:
            hop = healthy.operator(expires_in_days=30)
            henv = _env(home, FLUXLOOP_API_ENDPOINT=healthy.url, FLUXLOOP_API_KEY=hop.secret)
            keyguard(clean, henv, "audit", "--sarif", str(out / "audit-clean.sarif"), "--json",
                     str(tmp / "c.json"), "--markdown", str(tmp / "c.md"), "--no-cache")
    for p in sorted(out.glob("*.sarif")):
        print(f"wrote {p.name}")
    return 0


def run(main_of_outdir, doc: str) -> None:
    """``script OUTDIR``: run ``main_of_outdir(Path(OUTDIR))``, or print the usage line of ``doc``."""
    if len(sys.argv) != 2:
        sys.exit(doc.split("\n\n")[1])
    sys.exit(main_of_outdir(Path(sys.argv[1])))


if __name__ == "__main__":
    run(main, __doc__)
