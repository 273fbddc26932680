"""The incident's timeline: first committed (and by whom), last seen, last used, revoked at.

Dates come from the occurrences (author dates of commits, tagger dates of
tags), the API's usage (last used) and the revocation; comparing is done on
parsed datetimes, so commits made in different time zones order correctly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from keyguard.incident.facts import Identification, Location, Timeline
from keyguard.model import Revocation, is_off


def now_iso() -> str:
    """The current time, ISO 8601 UTC to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(date: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def build(location: Location, ident: Identification, revocation: Revocation | None,
          reported_at: str | None = None, is_ancestor: Callable[[str, str], bool] | None = None) -> Timeline:
    """The timeline of one incident.

    Commits made within the same second are put in history order with
    ``is_ancestor(a, b)`` (is commit ``a`` an ancestor of ``b``), not by id.
    """
    dated = [(d, o) for o in location.occurrences if o.date for d in [_parse(o.date)] if d is not None]
    first = min(dated, key=lambda x: x[0], default=None)
    if first is not None and is_ancestor is not None:
        tied = [x for x in dated if x[0] == first[0] and x[1].commit]
        for cand in tied:  # the one no other tied commit comes before
            if not any(o.commit != cand[1].commit and is_ancestor(o.commit, cand[1].commit) for _, o in tied):
                first = cand
                break
    last = max(dated, key=lambda x: x[0], default=None)
    usage = ident.usage
    return Timeline(
        first_committed=first[1].date if first else "",
        first_commit=(first[1].commit or first[1].object_id) if first else "",
        first_author=first[1].author if first else "",
        last_seen=last[1].date if last else "",
        last_commit=(last[1].commit or last[1].object_id) if last else "",
        still_present=any(o.kind in ("worktree", "index") for o in location.occurrences),
        last_used=usage.last_used if usage else None,
        revoked_at=revocation.at if is_off(revocation) else "",
        reported_at=reported_at or now_iso(),
    )
