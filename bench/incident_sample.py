"""Write an incident report with every picture keyguard draws, for bench/mermaid_check.sh.

usage: python bench/incident_sample.py OUTDIR

A throw-away repository leaks a random key (committed by an author whose name
is full of Mermaid syntax), the project's FluxLoop test server knows the key
with 30 days of usage (an IPv6 last IP, a hostile location), and the real
``keyguard incident --yes`` writes OUTDIR/incident.md. ``keyguard audit``
writes OUTDIR/audit.md beside it.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from sarif_outputs import _env, git, keyguard, run  # noqa: E402  (same folder; also sets up tests/ imports)

from fluxloop_server import FluxLoopServer  # noqa: E402


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    today = date.today()
    by_day = {(today - timedelta(days=d)).isoformat(): (d * 37) % 200 for d in range(0, 30, 2)}
    with tempfile.TemporaryDirectory(prefix="keyguard-mermaid-") as tmp, FluxLoopServer() as srv:
        tmp = Path(tmp)
        (tmp / "home").mkdir()
        k = srv.add_key(prefix="flux_prod_", name='Prod: "deploy" ; %% end', usage={
            "total_requests": sum(by_day.values()), "by_day": by_day, "last_ip": "2001:db8::7",
            "last_location": 'Paris: "FR" ; #1 [x] {y} <b>', "last_user_agent": "curl/8"})
        repo = tmp / "repo"
        repo.mkdir()
        env = _env(tmp / "home", FLUXLOOP_API_ENDPOINT=srv.url)
        git(repo, env, "init", "-q", "-b", "main")
        (repo / "ci.env").write_text(f"FLUXLOOP_API_KEY={k.secret}\n")
        git(repo, env, "add", "-A")
        git(repo, env, "commit", "-q", "--author", 'Eve: "x" ; #evil %% ]] end <eve@example.com>', "-m", "ci")
        keyguard(repo, env, "audit", "--no-cache", "--no-hygiene", "--sarif", str(tmp / "a.sarif"), "--json",
                 str(tmp / "a.json"), "--markdown", str(out / "audit.md"))
        keyguard(repo, env, "incident", "--yes", "--output-dir", str(tmp / "incident"),
                 stdin=(k.secret + "\n").encode(), ok=(0,))
        (out / "incident.md").write_text((tmp / "incident" / "incident.md").read_text())
    print(f"wrote {out / 'incident.md'} and {out / 'audit.md'}")
    return 0


if __name__ == "__main__":
    run(main, __doc__)
