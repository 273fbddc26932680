"""The audit cache: which git objects are already known to hold no key, under which rules.

An audit re-reads only what it has not seen. The cache remembers the ids of
objects (blobs, commits, tags) that were scanned and held no finding, together
with the digests of the rules they were scanned with. It never stores a
secret, a hit or a path: objects with hits are simply not cached and are read
again by every audit (they are few), so the findings are always reported.

How it is used: ``keyguard audit`` hands the clean ids to ``HistorySource``
as its ``skip`` set (a parameter: the history source does not know about the
cache); the source does not read them, and reports back which of them still
exist (``known_clean``) and which objects it read and found clean
(``clean_after``). Their union is the next cache.

Invalidation: the cache is used only when every current rule's digest is
among the digests it was made with. A new or changed rule (``rules_to_rescan``
names them) therefore makes the audit re-scan EVERYTHING with every rule, not
only the changed rules; removing a rule invalidates nothing. The digest of
the detector's code version (``ENGINE``) is part of every rule digest, so a
keyguard upgrade that changes filters re-scans everything.

File format (``objects.kgc``): a JSON header line (magic, version, repo
identity, rule digests, count, id size, sha256 of the body) followed by the
sorted raw object ids: 20 bytes each in a SHA-1 repository, 32 in a SHA-256
one (``id_bytes``; a header without it is a SHA-1 cache). A file that is
truncated, fails its checksum, belongs to another repository or is of another
version is ignored with a warning. Writes are atomic (temp file + rename).

Location (``check_location``): the cache decides what an audit skips, so the
content being audited must not be able to supply it. A cache folder that git
tracks (a committed, forged cache) or that is, or lies under, a symbolic link
inside the repository (a committed ``.keyguard-cache`` link redirecting writes)
is refused with a one-line error. The default lives in ``.git/keyguard/``; CI
recipes keep it outside the checkout.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from keyguard.atomic import write_atomic

MAGIC = "keyguard-audit-cache"
VERSION = 1
ENGINE = "detector-2"  # 2: wrapped base64, base64 of JWTs, concatenations (objects clean under 1 may hold keys)
FILE_NAME = "objects.kgc"
ID_BYTES = (20, 32)
"""Raw object id sizes: SHA-1 (the default when a header does not say) and SHA-256."""


def check_location(directory: Path, root: Path) -> None:
    """ConfigError when ``directory`` is tracked by the repository at ``root`` or reached through a symlink."""
    import os

    from keyguard.errors import ConfigError
    from keyguard.git import run as grun

    directory = Path(directory)
    absolute = Path(os.path.abspath(directory))
    for base in {Path(root), Path(root).resolve()}:
        try:
            rel = absolute.relative_to(base)
        except ValueError:
            continue
        probe = base
        for part in rel.parts:  # a link anywhere on the way inside the repository
            probe = probe / part
            if probe.is_symlink():
                raise ConfigError(f"audit cache {directory}: {part} is a symbolic link in the repository; "
                                  f"refusing to use a cache through it (use --cache DIR outside the checkout)")
    root = Path(root).resolve()
    try:
        rel = absolute.resolve().relative_to(root)
    except ValueError:
        return  # outside the work tree
    if rel.parts and rel.parts[0] == ".git":
        return
    from keyguard.errors import GitError
    try:
        tracked = grun.output(["ls-files", "-z", "--", str(rel) or "."], root)
    except GitError:  # a bare repository: no work tree, nothing checked out
        return
    if tracked:
        raise ConfigError(f"audit cache {directory}: the repository tracks files in it; a cache that "
                          f"comes with the content would decide what the audit skips (use --cache DIR "
                          f"outside the checkout)")


def rule_digest(rule) -> str:
    """A digest of everything about a rule that changes what it finds."""
    parts = [ENGINE, rule.id, rule.pattern, str(rule.secret_group), repr(sorted(rule.keywords)),
             repr(rule.min_entropy), rule.kind, rule.prefix,
             repr(getattr(rule.assigned_body, "pattern", None))]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


@dataclass
class AuditCache:
    """Clean object ids and the rule digests they were scanned with."""

    directory: Path
    repo_id: str
    rule_digests: frozenset[str] = frozenset()
    clean: set[bytes] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def rules_to_rescan(self, current: dict[str, str]) -> list[str]:
        """Ids of current rules (id -> digest) whose digest the cache has not seen."""
        return sorted(rid for rid, d in current.items() if d not in self.rule_digests)

    def save(self, rule_digests: frozenset[str], clean: set[bytes]) -> None:
        """Replace the cache atomically with ``clean`` scanned under ``rule_digests``."""
        size = len(next(iter(clean))) if clean else ID_BYTES[0]
        if any(len(oid) != size for oid in clean):
            raise ValueError("audit cache: object ids of mixed lengths")
        body = b"".join(sorted(clean))
        header = {"magic": MAGIC, "version": VERSION, "repo": self.repo_id,
                  "rules": sorted(rule_digests), "count": len(clean), "id_bytes": size,
                  "sha256": hashlib.sha256(body).hexdigest()}
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(header, sort_keys=True).encode() + b"\n" + body)
        self.rule_digests, self.clean = frozenset(rule_digests), set(clean)


def load_cache(directory: Path, repo_id: str) -> AuditCache:
    """Read the cache in ``directory``; an absent, corrupt or foreign one yields an empty cache
    (with a warning for corrupt or foreign ones), never an exception."""
    cache = AuditCache(directory=directory, repo_id=repo_id)
    try:
        raw = cache.path.read_bytes()
    except FileNotFoundError:
        return cache
    except OSError as exc:
        cache.warnings.append(f"audit cache {cache.path}: unreadable ({exc.strerror}); ignored")
        return cache
    why = _problem(raw, repo_id)
    if why:
        cache.warnings.append(f"audit cache {cache.path}: {why}; ignored, everything is scanned again")
        return cache
    head, _, body = raw.partition(b"\n")
    header = json.loads(head)
    cache.rule_digests = frozenset(header["rules"])
    size = header.get("id_bytes", ID_BYTES[0])
    cache.clean = {body[i:i + size] for i in range(0, len(body), size)}
    return cache


def _problem(raw: bytes, repo_id: str) -> str | None:
    """Why the cache file cannot be trusted, or None."""
    head, sep, body = raw.partition(b"\n")
    if not sep:
        return "truncated or not a keyguard cache"
    try:
        header = json.loads(head)
    except ValueError:
        return "not a keyguard cache"
    if not isinstance(header, dict) or header.get("magic") != MAGIC:
        return "not a keyguard cache"
    if header.get("version") != VERSION:
        return f"cache version {header.get('version')!r}, expected {VERSION}"
    if header.get("repo") != repo_id:
        return "made for another repository"
    rules = header.get("rules")
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        return "malformed header"
    size = header.get("id_bytes", ID_BYTES[0])
    if size not in ID_BYTES:
        return "malformed header"
    if not isinstance(header.get("count"), int) or len(body) != size * header["count"]:
        return "truncated"
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        return "checksum mismatch"
    return None


SEEN_FILE = "findings-seen.json"


def load_seen(directory: Path, repo_id: str) -> set[str] | None:
    """Identities (fingerprint|path|commit) of the previous audit's findings; None if unknown."""
    try:
        doc = json.loads((directory / SEEN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("magic") != MAGIC or doc.get("repo") != repo_id:
        return None
    items = doc.get("findings")
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return set(items)


def save_seen(directory: Path, repo_id: str, identities: set[str]) -> None:
    """Remember this audit's findings (keyed fingerprints, paths, commits; never a secret)."""
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"magic": MAGIC, "repo": repo_id, "findings": sorted(identities)}
    write_atomic(directory / SEEN_FILE, json.dumps(doc, indent=1))
