"""The report of ``keyguard keys show KEY_ID``: one key's record, hygiene findings and usage.

``KeyDetail`` holds what the command gathered; ``to_text`` is the human view,
``write_json`` the JSON object (``--json``). No secret is ever in a key record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TextIO

from keyguard.fluxloop.records import KeyUsage, fmt_time
from keyguard.model import HygieneFinding, KeyRecord
from keyguard.report.summary import plural


@dataclass(frozen=True)
class KeyDetail:
    """One key, as ``keys show`` found it."""

    tenant: str
    record: KeyRecord
    findings: tuple[HygieneFinding, ...]
    usage: KeyUsage | None
    days: int
    """The usage window asked for."""
    notes: tuple[str, ...] = ()
    """What could not be had, and why (usage not permitted, record from auth/status)."""


def to_dict(d: KeyDetail) -> dict:
    """The JSON-ready object."""
    out = {"tenant": d.tenant, "key": asdict(d.record),
           "hygiene": [{"check": h.check, "severity": h.severity.value, "message": h.message}
                       for h in d.findings],
           "usage": None if d.usage is None else asdict(d.usage), "days": d.days, "notes": list(d.notes)}
    if d.usage is not None:
        for k in ("by_operation", "by_project", "by_day"):
            out["usage"][k] = dict(getattr(d.usage, k))
    return out


def write_json(d: KeyDetail, stream: TextIO) -> None:
    """``to_dict`` as indented JSON and a newline."""
    json.dump(to_dict(d), stream, indent=2)
    stream.write("\n")


def to_text(d: KeyDetail) -> str:
    """The human view: record, hygiene, usage by operation, project and day, notes."""
    r = d.record
    lines = [f"Key {r.id}: {r.name or '(unnamed)'}",
             f"  tenant:      {d.tenant}",
             f"  hint:        {r.key_hint or '-'}",
             f"  type:        {r.type}",
             f"  owner:       {r.created_by or '-'}"]
    if r.description:
        lines.append(f"  description: {r.description}")
    lines += [f"  projects:    {'All Projects' if '*' in r.projects else ', '.join(r.projects) or 'none'}",
              f"  permissions: {'all (*)' if '*' in r.permissions else ', '.join(r.permissions) or 'none'}",
              f"  created:     {fmt_time(r.created_at, 'unknown')}",
              f"  expires:     {fmt_time(r.expires_at)}",
              f"  last used:   {fmt_time(r.last_used)}",
              f"  revoked:     {'yes' if r.revoked else 'no'}"]
    lines.append("Hygiene:" if d.findings else "Hygiene: no findings")
    lines += [f"  [{h.severity.value}] {h.check}: {h.message}" for h in d.findings]
    usage = d.usage
    if usage is not None:
        total = usage.total_requests
        lines.append(f"Usage (last {plural(d.days, 'day')}): {total} requests")
        for title, pairs in (("by operation", usage.by_operation), ("by project", usage.by_project)):
            if pairs:
                lines.append(f"  {title}:")
                for name, n in sorted(pairs, key=lambda p: -p[1]):
                    pct = f" ({100 * n / total:.0f}%)" if total else ""
                    lines.append(f"    {name}: {n}{pct}")
        if usage.by_day:
            lines.append("  by day:")
            lines += [f"    {day}: {n}" for day, n in sorted(usage.by_day)]
        lines += [f"  last used:   {fmt_time(usage.last_used)}",
                  f"  last IP:     {usage.last_ip or '-'}",
                  f"  location:    {usage.last_location or '-'}",
                  f"  user agent:  {usage.last_user_agent or '-'}"]
    lines += [f"note: {n}" for n in d.notes]
    from keyguard.sanitize import clean
    return "\n".join(clean(line) for line in lines) + "\n"
