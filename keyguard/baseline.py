"""The baseline file (``.keyguard-baseline.json``): known findings to stay quiet about.

It holds salted fingerprints of secret *values* (HMAC-SHA256 with a random
per-file salt), never the secret, never a path or line number: the file does
not churn when code moves, and a different key on the same line is not hidden.
Rewriting it is atomic (temp file + rename).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from keyguard.errors import ConfigError

FORMAT_VERSION = 1


@dataclass
class Baseline:
    """The set of baselined secret hashes and the salt they were made with."""

    path: Path
    salt: str = field(default_factory=lambda: __import__("secrets").token_hex(16))
    entries: dict[str, str] = field(default_factory=dict)
    """hash -> rule id."""
    matched: set[str] = field(default_factory=set)
    """Hashes that matched a hit in this run (to count stale entries)."""

    def hash(self, secret: str) -> str:
        """The salted fingerprint of ``secret`` in this baseline."""
        import hashlib  # lazily: only runs that meet a key need it
        import hmac

        return hmac.new(bytes.fromhex(self.salt), secret.encode("utf-8"), hashlib.sha256).hexdigest()

    def contains(self, secret: str) -> bool:
        """Whether ``secret`` is baselined; remembers the match for ``stale``."""
        h = self.hash(secret)
        if h in self.entries:
            self.matched.add(h)
            return True
        return False

    @property
    def stale(self) -> int:
        """Entries that matched nothing in this run."""
        return len(set(self.entries) - self.matched)

    def replace_with(self, found: list[tuple[str, str]]) -> None:
        """Make the entries exactly the given (secret, rule id) pairs (salt kept)."""
        self.entries = {self.hash(secret): rule for secret, rule in found}

    def to_json(self) -> str:
        """The file's text: stable ordering so that diffs stay small."""
        import json
        doc = {
            "version": FORMAT_VERSION,
            "tool": "keyguard",
            "about": "Salted fingerprints of known FluxLoop keys; no secret is stored here.",
            "salt": self.salt,
            "entries": [{"hash": h, "rule": r} for h, r in sorted(self.entries.items())],
        }
        return json.dumps(doc, indent=2) + "\n"

    def save(self) -> None:
        """Write atomically: the old file stays whole until the new one is complete."""
        from keyguard.atomic import write_atomic
        try:
            write_atomic(self.path, self.to_json())
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write baseline: {exc.strerror}") from None


def load_baseline(path: Path) -> Baseline | None:
    """Read the baseline at ``path``; None if it does not exist; ConfigError if malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a keyguard baseline (not UTF-8 text)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc.strerror}") from None
    import json
    try:
        doc = json.loads(text)
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
        salt = doc["salt"]
        bytes.fromhex(salt)
        entries = {}
        for e in doc["entries"]:
            h, rule = e["hash"], e.get("rule", "")
            if not (isinstance(h, str) and len(h) == 64):
                raise ValueError("an entry's hash is not a 64-digit hex string")
            entries[h] = rule
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a keyguard baseline: {exc}") from None
    return Baseline(path=path, salt=salt, entries=entries)
