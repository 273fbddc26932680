"""The frozen values of an incident: where the key is, what the API says, what was done.

``Occurrence`` is one place the leaked value was found; ``Identification`` is
what the FluxLoop API said (``unknown`` when it could not be asked);
``Timeline`` and ``Incident`` gather everything the report writers need. None
of these holds the secret itself: only its redacted form and fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyguard.fluxloop.records import KeyUsage
from keyguard.model import Revocation, Verification

# Occurrence kinds, in the order reports list them.
KINDS = (
    "worktree",        # a file on disk (tracked or untracked)
    "index",           # staged in the index, whatever the file on disk says
    "commit",          # a file in a commit reachable from a branch or tag
    "stash",           # a file in a stash entry (working tree, index or untracked part)
    "reflog",          # a file in a commit reachable only from a reflog (reset, amend, rebase)
    "unreachable",     # a file in a commit no ref or reflog reaches (dropped stash, expired reflog)
    "loose-blob",      # a blob in the store that no commit holds (staged once, never committed)
    "commit-message",  # the message of a commit (its trailers included)
    "commit-identity",  # the author's or committer's name or e-mail of a commit
    "tag-message",     # the message of an annotated tag
    "note",            # a git note (refs/notes/*) on a commit
    "tree",            # a file *name* in a tree
)

KIND_TITLES = {
    "worktree": "working tree",
    "index": "index (staged)",
    "commit": "commit",
    "stash": "stash",
    "reflog": "reflog only",
    "unreachable": "unreachable commit",
    "loose-blob": "unreachable blob",
    "commit-message": "commit message",
    "commit-identity": "commit author/committer",
    "tag-message": "tag message",
    "note": "git note",
    "tree": "file name",
}
"""Human titles of the kinds."""


@dataclass(frozen=True)
class Occurrence:
    """One place where the leaked value is."""

    kind: str
    """One of ``KINDS``."""
    path: str = ""
    """Repository-relative path (files), or the tag name (tag messages)."""
    line: int = 0
    """1-based line of the first occurrence in that text (0 if unknown)."""
    count: int = 1
    """How many times the value occurs in that text."""
    encoding: str = ""
    """``""`` (as is), ``base64`` or ``base64url``."""
    commit: str = ""
    """Full commit id (commits, stashes, reflog, unreachable, commit messages)."""
    object_id: str = ""
    """The blob, tag or commit object that holds the bytes."""
    author: str = ""
    """``Name <email>`` of the commit author (or tagger)."""
    date: str = ""
    """Author (or tagger) date, ISO 8601."""
    refs: tuple[str, ...] = ()
    """Branches, tags and stash entries (``stash@{1}``) whose history holds the commit."""
    removed_in: tuple[str, ...] = ()
    """Commits that removed this blob from this path (the file was deleted or changed)."""
    note: str = ""
    """A short explanation (``stash@{0} untracked files``, ``only in the HEAD reflog``)."""


@dataclass(frozen=True)
class Location:
    """Everything ``locate`` found for one leaked value, plus what it looked at."""

    occurrences: tuple[Occurrence, ...] = ()
    encodings_found: tuple[str, ...] = ()
    """Encodings (``""``, ``base64`` ...) under which the value was found."""
    stats: tuple[tuple[str, int], ...] = ()
    """Counters: objects, bytes, files, ... (for the report and ``--verbose``)."""
    warnings: tuple[str, ...] = ()

    def stat(self, name: str) -> int:
        """One counter (0 when absent)."""
        return dict(self.stats).get(name, 0)

    @property
    def where_searched(self) -> str:
        """What the place count covers: "" for the whole history, or the shallow clone's part of it."""
        return " in the part of history this shallow clone holds" if self.stat("shallow") else ""


@dataclass(frozen=True)
class Identification:
    """What the FluxLoop API said about the key (``status`` ``unknown`` when it could not tell)."""

    verification: Verification
    usage: KeyUsage | None = None
    """The key's use over the last days (its blast radius), from the usage endpoint."""
    usage_error: str = ""
    """Why there is no usage (no permission, offline ...), when there is none."""
    offline: bool = False
    """True when the user asked for no network at all."""


@dataclass(frozen=True)
class Timeline:
    """The incident's dates: first committed, last seen, revoked."""

    first_committed: str = ""
    """ISO date of the earliest commit (or tag) holding the value."""
    first_commit: str = ""
    first_author: str = ""
    last_seen: str = ""
    """ISO date of the latest commit (or tag) holding the value."""
    last_commit: str = ""
    still_present: bool = False
    """Whether the value is in the working tree or the index now."""
    last_used: int | None = None
    """When the API last saw the key used (epoch seconds), if known."""
    revoked_at: str = ""
    """ISO 8601 UTC time of the revocation, if revoked by keyguard."""
    reported_at: str = ""
    """When this incident report was made (ISO 8601 UTC)."""


@dataclass(frozen=True)
class PurgeResult:
    """What ``--purge`` did on the mirror clone."""

    mirror: str
    """Path of the rewritten mirror clone."""
    clean: bool
    """True when the re-scan of the rewritten mirror found the value nowhere."""
    remaining: tuple[Occurrence, ...] = ()
    """Where the re-scan still found it."""
    refs_rewritten: int = 0


@dataclass(frozen=True)
class Incident:
    """One incident, as the report writers receive it (no secret inside)."""

    redacted: str
    fingerprint: str
    repository: str
    location: Location
    identification: Identification
    revocation: Revocation | None
    timeline: Timeline
    output_dir: str = ""
    replacements_file: str = ""
    purge_commands: tuple[str, ...] = ()
    remote_url: str = ""
    purge: PurgeResult | None = None
    remediation: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    exit_code: int = 1
