"""The incident report: ``incident.json``, ``incident.md`` and the short text summary on stdout (``keyguard incident``).

The writers get an ``Incident`` (no secret inside: only the redacted form and
the fingerprint). ``write_files`` writes both files atomically (temp file +
rename). ``remediation`` turns the facts into the numbered plan.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from keyguard.atomic import write_atomic

from keyguard.incident.facts import KIND_TITLES, Identification, Incident, Location, Occurrence, Timeline
from keyguard.incident.purge import WARNINGS
from keyguard.model import ALREADY_REVOKED, Revocation, is_off
from keyguard.report import charts
from keyguard.report.summary import plural

FORMAT_VERSION = 1
LOCAL_ONLY_KINDS = ("stash", "reflog", "unreachable", "loose-blob")


def needs_rewrite(o: Occurrence) -> bool:
    """Whether a history rewrite (and force-push) is needed for this place: a ref reaches it."""
    return o.kind in ("commit", "tree") or (o.kind in ("stash", "commit-message", "commit-identity", "tag-message", "note")
                                                    and bool(o.refs))


def fmt_epoch(ts: int | None, never: str = "never") -> str:
    """Epoch seconds as ``2024-04-15 10:00 UTC``."""
    if ts is None:
        return never
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def status_line(inc: Incident) -> str:
    """One sentence: is the key off, and what was done."""
    v = inc.identification.verification
    rev = inc.revocation
    if is_off(rev) and rev.at:
        done = f"revoked at {rev.at}" + (f" ({rev.reason})" if rev.reason else "")
        if v.status == "live" and rev.outcome == ALREADY_REVOKED and "earlier" in rev.reason:
            return f"RECORDED AS REVOKED ({done}) BUT THE API STILL SAYS LIVE: check it by hand now"
        return f"key {done}"
    if v.status == "live":
        why = f": {rev.reason}" if rev is not None and rev.reason else ""
        return f"KEY IS LIVE AND NOT REVOKED{why}"
    if v.status == "unknown":
        return f"key status unknown ({v.reason}): check and revoke it by hand"
    return f"key is {v.status} (not live)"


def revocation_text(inc: Incident) -> str:
    """One sentence on the revocation: done when, declined why, or why it was not attempted."""
    rev = inc.revocation
    v = inc.identification.verification
    if rev is not None:
        return (f"{rev.outcome}" + (f" at {rev.at}" if rev.at else "") + (f" via {rev.via}" if rev.via else "")
                + (f" ({rev.reason})" if rev.reason else ""))
    if v.status == "unknown":
        return "unknown: not attempted because the key's status is unknown; revoke it by hand in the FluxLoop console"
    if v.status == "live":
        return "not attempted"
    return f"not needed: the key is {v.status}"


def remediation(loc: Location, ident: Identification, rev: Revocation | None, tl: Timeline,
                has_history: bool) -> tuple[str, ...]:
    """The numbered remediation plan, most urgent first."""
    v = ident.verification
    steps = []
    off = is_off(rev)
    if off:
        steps.append(f"Revoked at {rev.at}. Confirm in the FluxLoop console that the key shows as revoked.")
    elif v.status == "live":
        steps.append("REVOKE THE KEY NOW: `keyguard incident --yes` (from stdin), or in the FluxLoop console.")
    elif v.status == "unknown":
        steps.append("Find out whether the key is live and revoke it: the API could not be asked "
                     f"({v.reason}). In the FluxLoop console, match the key hint and revoke it.")
    else:
        steps.append(f"The key is {v.status}; nothing to revoke. Make sure nothing still depends on it.")
    perms = ", ".join(v.permissions) or "the permissions it needs"
    projects = ", ".join(v.projects) or "the projects it needs"
    steps.append(f"Rotate: create a replacement key with only {perms} on {projects} and an expiry date; "
                 "put it in the secret store (CI secrets, environment), never in a file in git; update every "
                 "consumer" + (" (see the projects and user agents under Blast radius)." if ident.usage else "."))
    if ident.usage is not None:
        steps.append(f"Review the blast radius: {ident.usage.total_requests} requests in {plural(ident.usage.days, 'day')}; "
                     "look for unfamiliar IP addresses, locations, user agents and operations, and check the "
                     "data those operations touched.")
    else:
        steps.append(f"Review the key's usage for the last 30 days by hand ({ident.usage_error}).")
    if tl.still_present:
        where = sorted({o.path for o in loc.occurrences if o.kind in ("worktree", "index")})
        steps.append("Remove the key from the working tree and index: " + ", ".join(where[:10]) +
                     (" ..." if len(where) > 10 else "") + "; read it from the environment instead and add "
                     "the file to .gitignore if it holds local secrets.")
    if has_history:
        steps.append("Purge history with the plan below (on a fresh mirror clone, then force-push), and tell "
                     "everyone with a clone to re-clone.")
    kinds = {o.kind for o in loc.occurrences}
    if kinds & set(LOCAL_ONLY_KINDS):
        cmds = []
        if "stash" in kinds:
            names = sorted({r for o in loc.occurrences if o.kind == "stash" for r in o.refs})
            cmds.append(" ".join(f"`git stash drop {n}`" for n in reversed(names)))
        cmds.append("`git reflog expire --expire=now --all && git gc --prune=now`")
        steps.append("Clean this clone's local copies (stash, reflog, unreachable objects): " + "; then ".join(cmds)
                     + ". Other clones hold their own copies.")
    steps.append("Prevent a repeat: install keyguard's pre-commit hook (`keyguard scan --staged`) for everyone.")
    return tuple(steps)


# -- JSON ----------------------------------------------------------------------------------------

def _occ_json(o: Occurrence) -> dict:
    d = asdict(o)
    d["refs"] = list(o.refs)
    d["removed_in"] = list(o.removed_in)
    return d


def to_json(inc: Incident) -> str:
    """The JSON report (stable key order)."""
    v = inc.identification.verification
    u = inc.identification.usage
    doc = {
        "version": FORMAT_VERSION,
        "key": {"redacted": inc.redacted, "fingerprint": inc.fingerprint},
        "repository": inc.repository,
        "summary": status_line(inc),
        "handled": inc.exit_code == 0,
        "timeline": asdict(inc.timeline),
        "identification": {
            "status": v.status, "reason": v.reason, "key_id": v.key_id, "name": v.name,
            "owner": v.account, "tenant": v.tenant, "type": v.type, "permissions": list(v.permissions),
            "projects": list(v.projects), "expires_at": v.expires_at,
            "offline": inc.identification.offline,
        },
        "blast_radius": None if u is None else {
            "days": u.days, "total_requests": u.total_requests, "by_operation": dict(u.by_operation),
            "by_project": dict(u.by_project), "by_day": dict(u.by_day), "last_used": u.last_used,
            "last_ip": u.last_ip, "last_location": u.last_location, "last_user_agent": u.last_user_agent,
        },
        "blast_radius_error": inc.identification.usage_error,
        "revocation": None if inc.revocation is None else asdict(inc.revocation),
        "occurrences": [_occ_json(o) for o in inc.location.occurrences],
        "encodings_found": list(inc.location.encodings_found),
        "stats": dict(inc.location.stats),
        "remediation": list(inc.remediation),
        "purge": {
            "replacements_file": inc.replacements_file,
            "commands": list(inc.purge_commands),
            "warnings": list(WARNINGS),
            "result": None if inc.purge is None else {
                "mirror": inc.purge.mirror, "clean": inc.purge.clean, "refs": inc.purge.refs_rewritten,
                "remaining": [_occ_json(o) for o in inc.purge.remaining]},
        },
        "warnings": list(inc.warnings) + list(inc.location.warnings),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


# -- Markdown ------------------------------------------------------------------------------------

def _cell(text: object) -> str:
    """Repository or API text made inert in Markdown: the Markdown report's own escaping."""
    from keyguard.report.markdown import escape

    return escape(text) or " "


def _code(text: object) -> str:
    from keyguard.report.markdown import code

    return code(text)


def _where(o: Occurrence) -> str:
    if o.kind == "tag-message":
        return f"tag object {o.object_id[:12]}"
    if o.commit:
        return o.commit[:12]
    if o.object_id:
        return f"object {o.object_id[:12]}"
    return "on disk" if o.kind == "worktree" else ""


def _with_blank(block: list[str]) -> list[str]:
    return block + [""] if block else []


def to_markdown(inc: Incident) -> str:
    """The Markdown report."""
    v = inc.identification.verification
    u = inc.identification.usage
    tl = inc.timeline
    out = [f"# Incident: leaked FluxLoop key `{inc.redacted}`", "",
           f"**{status_line(inc)}**", "",
           f"- Fingerprint: `{inc.fingerprint}`",
           f"- Repository: {_code(inc.repository)}",
           f"- Report made: {tl.reported_at}", ""]

    out += ["## Timeline", "", "| event | when | details |", "|---|---|---|"]
    out.append(f"| first committed | {_cell(tl.first_committed or 'not in history')} | "
               f"{_cell((tl.first_commit[:12] + ' by ' + tl.first_author) if tl.first_commit else '')} |")
    out.append(f"| last seen in history | {_cell(tl.last_seen or '-')} | {_cell(tl.last_commit[:12])} |")
    out.append(f"| still in the working tree or index | {'yes' if tl.still_present else 'no'} | |")
    # with usage from the API, no last use means never used (as the blast radius says); without it, unknown
    known = inc.identification.usage is not None
    out.append(f"| last used (API) | {_cell(fmt_epoch(tl.last_used, 'never' if known else 'unknown'))} | |")
    out.append(f"| revoked | {_cell(tl.revoked_at or 'not revoked')} | "
               f"{_cell(inc.revocation.via if inc.revocation else '')} |")
    out.append("")
    out += _with_blank(charts.incident_timeline(tl, inc.location.occurrences, u))

    occ = inc.location.occurrences
    out += [f"## Where it is ({len(occ)} place{'s' if len(occ) != 1 else ''}{inc.location.where_searched})", ""]
    if occ:
        out += ["| kind | commit / object | path | line | author | date | branches and tags | notes |",
                "|---|---|---|---|---|---|---|---|"]
        for o in occ:
            notes = "; ".join(x for x in (
                o.note, f"encoded: {o.encoding}" if o.encoding else "",
                f"{o.count} times" if o.count > 1 else "",
                ("removed in " + ", ".join(c[:12] for c in o.removed_in)) if o.removed_in else "") if x)
            out.append("| " + " | ".join(_cell(x) for x in (
                KIND_TITLES.get(o.kind, o.kind), _where(o), o.path, o.line or "", o.author, o.date,
                ", ".join(o.refs), notes)) + " |")
    else:
        out.append("Not found anywhere in this repository (objects, refs, reflogs, stashes, working tree).")
    st = inc.location
    out += ["", f"Searched {st.stat('objects')} objects ({st.stat('object_bytes')} bytes) and "
                f"{st.stat('worktree_files')} files on disk; forms searched: as is and base64.", ""]

    out += ["## Identification (FluxLoop API)", ""]
    out.append(f"- Status: **{v.status}**" + (f" ({_cell(v.reason)})" if v.reason else ""))
    if v.key_id or v.name:
        out += [f"- Key id: {_code(v.key_id)}", f"- Name: {_cell(v.name)}", f"- Owner: {_cell(v.account)}",
                f"- Tenant: {_cell(v.tenant)}", f"- Type: {_cell(v.type)}",
                f"- Permissions: {_cell(', '.join(v.permissions) or 'none')}",
                f"- Projects: {_cell(', '.join(v.projects) or 'none')}",
                f"- Expires: {_cell(fmt_epoch(v.expires_at))}"]
    out.append("")

    out += ["## Blast radius (last 30 days)", ""]
    if u is None:
        out += [f"Unknown: {_cell(inc.identification.usage_error)}", ""]
    else:
        out += [f"- Requests: **{u.total_requests}** in {plural(u.days, 'day')}",
                f"- Last used: {fmt_epoch(u.last_used)} from {_cell(u.last_ip or '?')} "
                f"({_cell(u.last_location or '?')}), user agent {_cell(u.last_user_agent or '?')}", ""]
        out += _with_blank(charts.calls_per_day(u))
        for title, rows in (("operation", u.by_operation), ("project", u.by_project), ("day", u.by_day)):
            if rows:
                out += [f"| {title} | requests |", "|---|---|"]
                out += [f"| {_cell(k)} | {n} |" for k, n in sorted(rows, key=lambda r: (-r[1], r[0]))[:30]]
                out.append("")

    out += ["## Revocation", ""]
    rev = inc.revocation
    if rev is None:
        out.append(revocation_text(inc))
    else:
        out.append(f"- Outcome: **{rev.outcome}**" + (f" at {rev.at}" if rev.at else "") +
                   (f" via {rev.via}" if rev.via else ""))
        if rev.reason:
            out.append(f"- Note: {_cell(rev.reason)}")
    out.append("")

    out += ["## Remediation plan", ""]
    out += [f"{i}. {step}" for i, step in enumerate(inc.remediation, 1)]
    out.append("")

    out += ["## Purge plan", ""]
    if inc.replacements_file:
        out += [f"The replacement file `{inc.replacements_file}` holds the secret (mode 0600). "
                "Keep it private and delete it when done.", ""]
    out += ["```sh"] + list(inc.purge_commands) + ["```", "", "Warnings:", ""]
    out += [f"- {w}" for w in WARNINGS]
    if inc.purge is not None:
        p = inc.purge
        out += ["", f"`--purge` rewrote a mirror clone at `{p.mirror}` ({p.refs_rewritten} refs): "
                    + ("**the re-scan found the key nowhere in it**." if p.clean else
                       f"**the re-scan still found the key in {len(p.remaining)} places**.")]
    warns = list(inc.warnings) + list(inc.location.warnings)
    if warns:
        out += ["", "## Warnings", ""] + [f"- {_cell(w)}" for w in warns]
    return "\n".join(out) + "\n"


# -- text (stdout) -------------------------------------------------------------------------------

def to_text(inc: Incident, verbose: bool = False) -> str:
    """The short summary printed on stdout (``verbose``: also what was searched)."""
    v = inc.identification.verification
    tl = inc.timeline
    lines = [f"keyguard incident: {inc.redacted} ({inc.fingerprint})", f"  {status_line(inc)}"]
    occ = inc.location.occurrences
    lines.append(f"  found in {len(occ)} place{'s' if len(occ) != 1 else ''}{inc.location.where_searched}:")
    for o in occ[:50]:
        where = ", ".join(x for x in (_where(o), o.path, f"line {o.line}" if o.line else "") if x)
        refs = f" [{', '.join(o.refs)}]" if o.refs else ""
        extra = f" ({o.note})" if o.note else ""
        lines.append(f"    {KIND_TITLES.get(o.kind, o.kind)}: {where}{refs}{extra}")
    if len(occ) > 50:
        lines.append(f"    ... and {len(occ) - 50} more (see the report)")
    if verbose:
        st = inc.location
        lines.append(f"  searched {st.stat('objects')} objects ({st.stat('object_bytes')} bytes), "
                     f"{st.stat('worktree_files')} files on disk ({st.stat('worktree_bytes')} bytes), "
                     f"{st.stat('commits_touching')} commits touching the value")
    if tl.first_committed:
        lines.append(f"  first committed {tl.first_committed} by {tl.first_author} ({tl.first_commit[:12]})")
    lines.append(f"  API: {v.status}" + (f", id {v.key_id} '{v.name}' of {v.account}" if v.key_id else "")
                 + (f" ({v.reason})" if v.status == "unknown" and v.reason else ""))
    lines.append(f"  revocation: {revocation_text(inc)}")
    u = inc.identification.usage
    lines.append(f"  blast radius: {u.total_requests} requests in {plural(u.days, 'day')}" if u is not None
                 else f"  blast radius: unknown ({inc.identification.usage_error})")
    if charts.calls_per_day_line(u):
        lines.append(f"    {charts.calls_per_day_line(u)}")
    if inc.output_dir:
        lines.append(f"  report: {Path(inc.output_dir) / 'incident.md'} (and incident.json)")
    if inc.replacements_file:
        lines.append(f"  !! {inc.replacements_file} HOLDS THE SECRET (mode 0600): keep it private, delete it after "
                     "the purge")
    if inc.purge_commands:
        lines.append("  purge plan (run on a fresh mirror clone, never on your working repository):")
        lines += [f"    {c}" for c in inc.purge_commands]
        lines.append("  warnings:")
        lines += [f"    - {w}" for w in WARNINGS]
    if inc.purge is not None:
        p = inc.purge
        lines.append(f"  purge: mirror {p.mirror} rewritten; re-scan: " +
                     ("the key is gone" if p.clean else f"STILL FOUND in {len(p.remaining)} places"))
    for w in list(inc.warnings) + list(inc.location.warnings):
        lines.append(f"  warning: {w}")
    return "\n".join(lines) + "\n"


def write_files(out_dir: Path, inc: Incident, scrub_secret: str) -> None:
    """Write ``incident.json`` and ``incident.md`` into ``out_dir`` atomically (secret scrubbed as a last guard)."""
    from keyguard.redact import scrub

    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, text in (("incident.json", to_json(inc)), ("incident.md", to_markdown(inc))):
        text = scrub(text, [scrub_secret])
        write_atomic(out_dir / name, text)
