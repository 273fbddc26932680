"""The values that cross module boundaries: rules, hits, findings, key records.

Every stage of the flow speaks in these frozen records (``keyguard.record``: dataclasses
to ``dataclasses.fields``/``replace``, without their import cost on the pre-commit path):
sources -> ``ScanItem``; detector -> ``Hit``; scan -> ``Finding``;
fluxloop -> ``Verification``/``Revocation``/``KeyRecord``/``HygieneFinding``;
reports consume a ``ScanReport``. A secret value lives only in
``Hit.secret``/``Finding.secret`` (never in ``repr``) and is shown only through
``keyguard.redact``.
"""

from __future__ import annotations

import enum
from keyguard.record import field, record


class Severity(str, enum.Enum):
    """How bad a finding is; ordered, and mapped to SARIF levels and scores."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Larger is worse: info 0 .. critical 4."""
        return _RANK[self]

    @property
    def security_severity(self) -> str:
        """GitHub code scanning's ``security-severity`` score (a string, 0.0-10.0)."""
        return _SCORE[self]

    @property
    def sarif_level(self) -> str:
        """SARIF ``level`` for this severity."""
        return "error" if self.rank >= 3 else ("warning" if self.rank >= 1 else "note")

    def raised(self, steps: int = 1) -> "Severity":
        """This severity moved ``steps`` up (capped at critical)."""
        order = list(_RANK)
        return order[max(0, order.index(self) - steps)]

    @classmethod
    def parse(cls, text: str) -> "Severity":
        """Parse a user-given severity name; raises ValueError with the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {text!r} (choose from {', '.join(s.value for s in cls)})"
            ) from None


_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.INFO: 0}
_SCORE = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0", Severity.INFO: "0.0"}


@record
class Rule:
    """One detection rule from a rule pack (``rules/*.toml``)."""

    id: str
    """Stable rule id, e.g. ``fluxloop-prod-key``."""
    description: str
    """One line saying what the rule finds."""
    pattern: str
    """The regex source text; the secret is the group ``secret_group``."""
    regex: object = field(repr=False, compare=False)
    """The compiled bytes regex."""
    secret_group: int | str
    """Which group of ``regex`` holds the secret."""
    keywords: tuple[bytes, ...]
    """Literal prefilter: a text holding none of these cannot match."""
    min_entropy: float
    """Shannon entropy (bits/char) the secret body must reach."""
    severity: Severity
    """Default severity of a finding."""
    remediation: str
    """What to do about a finding, in plain words."""
    prefix: str = ""
    """Literal prefix of the key (``flux_prod_``); empty for JWTs."""
    kind: str = "key"
    """``key`` for prefixed keys, ``jwt`` for JWT API keys (decoded offline)."""
    assigned_body: object = field(default=None, repr=False, compare=False)
    """Compiled bytes regex for a shorter key body, accepted only where the text assigns
    the key to a credential (``FLUXLOOP_API_KEY=``, ``api_key:``, ``--api-key``); None if not."""
    examples: tuple[str, ...] = ()
    """Texts the rule must report (self-test)."""
    negatives: tuple[str, ...] = ()
    """Texts the rule must not report (self-test)."""
    source_file: str = ""
    """The rule file it came from, for error messages."""


@record
class ScanItem:
    """One piece of text to scan, as a source yields it."""

    path: str
    """Repository-relative path with forward slashes (or ``<stdin>``, ``<commit-message>``)."""
    data: bytes = field(repr=False)
    """The raw bytes."""
    provenance: "Provenance | None" = None
    """Where in git history it came from, for history scans."""


@record
class Hit:
    """A secret the detector found in one text (before baseline/allow handling)."""

    rule: Rule
    secret: str = field(repr=False)
    """The full secret value. Never print it: use ``keyguard.redact.redact``."""
    line: int
    """1-based line of the secret's first character in the text."""
    column: int
    """1-based column (in characters) of the secret's first character."""
    end_column: int
    """1-based column just past the secret's last character on its line."""
    line_text: str = field(repr=False, default="")
    """The whole line, for the redacted snippet and the allow marker."""
    encoding: str = ""
    """How the secret was encoded where found: "" (plain), "base64", "url",
    "json-escape", "utf-16", "zip:member/path", "concatenation" (joined string literals) ...
    joined with "/" when nested."""
    severity: Severity | None = None
    """Severity override (e.g. an expired JWT is low); None means the rule's."""
    details: tuple[tuple[str, str], ...] = ()
    """Extra facts decoded offline (JWT kid, key_id, scopes, iss, exp, expired)."""
    suppressed: str | None = None
    """If a filter dropped it, the filter's named reason (shown with --verbose)."""
    end_line: int = 0
    """Last line the hit's text spans (a base64 body wrapped over lines, a concatenation over two);
    0 when it ends on ``line``."""
    partial: bool = False
    """Only part of a key (a literal of a concatenation whose rest is not written as a literal):
    reported at low severity, never sent to the API, revoked, or fingerprinted as a whole key."""


@record
class Provenance:
    """Where in git history a finding was seen."""

    commit: str
    """Full commit id that introduced the text (or holds the message)."""
    author: str = ""
    """``Name <email>`` of the commit author."""
    date: str = ""
    """Author date, ISO 8601."""
    kind: str = "blob"
    """``blob``, ``commit-message``, ``commit-identity`` (author/committer name or e-mail),
    ``tag-message``, ``tree`` (a file or folder name), ``note``, ``reflog`` or ``unreachable``."""
    blob: str = ""
    """The blob id holding the text (empty for messages)."""
    refs: tuple[str, ...] = ()
    """Branches/tags/stashes whose history contains the commit (may be empty)."""
    present_at_head: bool | None = None
    """Whether the same secret is still in a file at HEAD (None if unknown)."""


@record
class Verification:
    """What the FluxLoop API said about a found key."""

    status: str
    """``live``, ``expired``, ``revoked``, ``invalid`` or ``unknown``."""
    key_id: str = ""
    name: str = ""
    tenant: str = ""
    account: str = ""
    type: str = ""
    permissions: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    expires_at: int | None = None
    reason: str = ""
    """Why the status is what it is (for ``unknown``: what failed)."""
    key_hint: str = ""
    """The record's ``key_hint`` (``flux_ci_****...x2q9``): checked against the found key before a revoke."""


REVOKED = "revoked"
ALREADY_REVOKED = "already_revoked"
FAILED = "failed"
DECLINED = "declined"
WOULD_REVOKE = "would_revoke"
OUTCOMES = (REVOKED, ALREADY_REVOKED, FAILED, DECLINED, WOULD_REVOKE)
"""Every revocation outcome name (the one place they are spelled)."""
OFF_OUTCOMES = (REVOKED, ALREADY_REVOKED)
"""Outcomes after which the key is off."""


@record
class Revocation:
    """The outcome of trying to revoke a live leaked key."""

    outcome: str
    """One of ``OUTCOMES``: ``revoked``, ``already_revoked``, ``failed``, ``declined``, ``would_revoke`` (dry run)."""
    at: str = ""
    """ISO 8601 UTC time of the revocation."""
    via: str = ""
    """``operator`` (operator credential with manage_keys) or ``self`` (the key revoking itself)."""
    reason: str = ""

    @property
    def off(self) -> bool:
        """Whether the key is switched off after this outcome (``OFF_OUTCOMES``)."""
        return self.outcome in OFF_OUTCOMES


def is_off(revocation: "Revocation | None") -> bool:
    """``revocation.off`` that accepts None (no revocation: not off)."""
    return revocation is not None and revocation.off


@record
class Finding:
    """A reportable leaked key: the hit, where it is, and what was learned about it."""

    rule_id: str
    description: str
    severity: Severity
    secret: str = field(repr=False)
    """Full value; only reports given ``show_secrets`` may write it."""
    redacted: str
    fingerprint: str
    path: str
    line: int
    column: int
    end_column: int
    snippet: str = ""
    """The line with the secret redacted (and trimmed to a sane width)."""
    encoding: str = ""
    remediation: str = ""
    source: str = "worktree"
    """``staged``, ``worktree``, ``history``, ``stdin``."""
    provenance: Provenance | None = None
    details: tuple[tuple[str, str], ...] = ()
    verification: Verification | None = None
    revocation: Revocation | None = None
    is_new: bool | None = None
    """Set by audits: True when not seen by the previous audit."""
    partial: bool = False
    """``Hit.partial``: a fragment of a key, not a key (never verified or revoked; its fingerprint
    and baseline entry are made from ``identity``, never from the fragment alone)."""


PARTIAL_MARK = "partial:"
"""What a fragment's identity starts with, so it never equals a whole key's."""


def identity(secret: str, partial: bool = False) -> str:
    """What a finding's fingerprint and baseline entry are made from: the key itself, or for a
    fragment (``partial``) the fragment marked as one, so it never stands for a whole key."""
    return PARTIAL_MARK + secret if partial else secret


@record
class KeyRecord:
    """One key of the tenant, as the list endpoint returns it."""

    id: str
    name: str = ""
    description: str = ""
    type: str = "user"
    key_hint: str = ""
    projects: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    created_at: int | None = None
    expires_at: int | None = None
    last_used: int | None = None
    revoked: bool = False
    created_by: str = ""


@record
class HygieneFinding:
    """An unhealthy key found by the hygiene report."""

    check: str
    """Check id, e.g. ``never-used``, ``unused``, ``never-expires``, ``over-broad``."""
    severity: Severity
    message: str
    key: KeyRecord


@record(frozen=False)
class ScanReport:
    """Everything one run produced, handed to a report writer."""

    kind: str
    """``staged``, ``worktree``, ``history``, ``stdin``, ``hygiene``, ``audit``."""
    findings: list[Finding] = field(default_factory=list)
    hygiene: list[HygieneFinding] = field(default_factory=list)
    suppressed: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(path, redacted, line, reason) of hits dropped by filters (for --verbose)."""
    allowed: int = 0
    """Hits skipped by an inline ``keyguard:allow`` marker or an allowed fingerprint."""
    baselined: int = 0
    """Hits hidden because the baseline holds them."""
    stale_baseline: int = 0
    """Baseline entries that matched nothing in this scan."""
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    """Counters such as files, bytes, blobs, commits."""
    root: str = ""
    """Repository root (for repo-relative URIs)."""
    command: str = ""
    """The command line that produced it (secrets removed)."""
    tenant: str = ""
    """The FluxLoop tenant the hygiene findings belong to (names keys in SARIF), if known."""
    policy: dict[str, str] = field(default_factory=dict)
    """The policy applied and where each part came from (``keyguard.policy.describe``)."""
    incomplete: list[tuple[str, str]] = field(default_factory=list)
    """Steps the run was asked for but could not do: ``(step, why)`` (``verify``, ``hygiene``)."""
