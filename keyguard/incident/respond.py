"""One incident from a known secret to the written report: the steps, in order.

locate it everywhere; identify it through the API (``client`` None: offline or
unusable); revoke it if live (``confirm`` asks, unless ``yes``; recorded in the
ledger, never sent twice); write the replacement file, the purge plan and,
with ``purge``, rewrite a fresh mirror clone; write ``incident.md`` and
``incident.json``. The caller has checked the output directory can be written
before calling. When a step fails after the key was revoked, ``PartlyDone``
says what was done (key id, revoked at) and that the ledger has it.
Nothing here reads the terminal or prints: ``say`` gets progress lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from keyguard.errors import KeyguardError, PartlyDone
from keyguard.git import repo as grepo
from keyguard.git.run import run as run_git
from keyguard.incident import identify, purge, timeline
from keyguard.incident.facts import Identification, Incident
from keyguard.incident.ledger import Ledger
from keyguard.incident.locate import locate
from keyguard.incident.revoke import recorded, revoke_if_live
from keyguard.model import DECLINED, REVOKED, Revocation, is_off
from keyguard.redact import fingerprint as fingerprint_of
from keyguard.redact import redact

EXIT_HANDLED = 0
EXIT_NOT_HANDLED = 1
NOT_LIVE = ("invalid", "expired", "revoked")


@dataclass(frozen=True)
class Request:
    """What the user asked for."""

    root: Path
    git_dir: Path
    out_dir: Path
    no_revoke: bool = False
    yes: bool = False
    purge: bool = False


def respond(secret: str, req: Request, *, client, writer, ident: Identification | None = None,
            confirm: Callable[[str], bool] | None = None,
            say: Callable[[str], None] = lambda _text: None) -> Incident:
    """Handle the incident of ``secret``; the ``Incident`` written to ``req.out_dir``.

    ``client``: a ``FluxLoopClient`` (None: no API); ``ident``: the identification
    when the API could not be used at all (``identify.offline``/``unavailable``);
    ``confirm(question)``: asks the user (None: no terminal to ask on); ``writer``: the
    incident report writer (``keyguard.report.incident``: ``needs_rewrite``, ``remediation``,
    ``write_files``), handed in by the command.
    """
    fp = fingerprint_of(secret)
    location = locate(req.root, secret)
    if client is not None:
        ident = identify.identify(client, secret)
    assert ident is not None

    ledger = Ledger(req.git_dir / "keyguard" / "revocations.json")
    v = ident.verification
    if client is None or req.no_revoke:
        revocation = recorded(ledger, fp)
        if revocation is None and req.no_revoke and v.status == "live":
            revocation = Revocation(DECLINED, reason="--no-revoke")
    else:
        question = (f"Revoke the live key {redact(secret)} (id {v.key_id}, '{v.name}', tenant {v.tenant}) "
                    f"now? [y/N] ")
        revocation = revoke_if_live(client, secret, fp, ident, ledger, yes=req.yes,
                                    confirm=None if confirm is None else (lambda: confirm(question)))
    try:
        return _finish(secret, fp, req, location, ident, revocation, say, writer)
    except (OSError, KeyguardError) as exc:
        if revocation is not None and revocation.outcome == REVOKED:
            why = getattr(exc, "strerror", None) or str(exc)
            raise PartlyDone(f"key {v.key_id} ({redact(secret)}) was revoked at {revocation.at} via "
                             f"{revocation.via} (recorded in {ledger.path}), then the incident failed: {why}"
                             ) from None
        raise


def exit_code(ident: Identification, revocation: Revocation | None, purged) -> int:
    """0 handled (off, or not live) and the purge (if any) left nothing; else 1."""
    v = ident.verification
    off = is_off(revocation)
    anomaly = off and v.status == "live" and revocation is not None and "earlier" in revocation.reason
    handled = (off and not anomaly) or v.status in NOT_LIVE
    return EXIT_HANDLED if handled and (purged is None or purged.clean) else EXIT_NOT_HANDLED


def _is_ancestor(root: Path, a: str, b: str) -> bool:
    """Whether commit ``a`` comes before ``b`` in history (``git merge-base --is-ancestor``)."""
    return run_git(["merge-base", "--is-ancestor", a, b], root, check=False).returncode == 0


def _finish(secret, fp, req: Request, location, ident, revocation, say, report) -> Incident:
    """The purge plan (and ``--purge``), then the report files."""
    warnings: list[str] = []
    has_history = any(report.needs_rewrite(o) for o in location.occurrences)
    repl_path = req.out_dir / "replacements.txt"
    cmds: tuple[str, ...] = ()
    remote = ""
    if has_history:
        req.out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        purge.write_replacements(repl_path, purge.replacement_lines(secret, location))
        remote = grepo.remote_url(req.root)
        cmds = tuple(purge.commands(req.root, remote, repl_path, fp))
    purged = None
    if req.purge:
        if has_history:
            say("rewriting a fresh mirror clone with git filter-repo (your repository is not touched)...")
            purged = purge.run_purge(req.root, secret, repl_path, req.out_dir / "mirror.git")
        else:
            warnings.append("--purge: the key is in no commit, tag or object; nothing to rewrite")
    tl = timeline.build(location, ident, revocation,
                        is_ancestor=lambda a, b: _is_ancestor(req.root, a, b))
    inc = Incident(
        redacted=redact(secret), fingerprint=fp, repository=str(req.root), location=location,
        identification=ident, revocation=revocation, timeline=tl, output_dir=str(req.out_dir),
        replacements_file=str(repl_path) if has_history else "", purge_commands=cmds, remote_url=remote,
        purge=purged, remediation=report.remediation(location, ident, revocation, tl, has_history),
        warnings=tuple(warnings), exit_code=exit_code(ident, revocation, purged))
    report.write_files(req.out_dir, inc, secret)
    return inc
