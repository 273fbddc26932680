"""Loading and validating rule packs (``rules/*.toml`` plus team rule files) into ``Rule``s.

A rule pack is a TOML file holding ``[[rule]]`` tables (see ``rules/platform.toml``
for the documented shape). Everything a user can get wrong — bad TOML, a missing
or unknown field, a bad severity, a duplicate id, a regex that does not compile,
has no secret group or nests quantifiers (slow on a 50 MB line) — becomes one
``RuleError`` line naming the file and the rule. Regexes are bytes patterns.

Parsed rule files are cached (``marshal``, keyed by path, size, mtime and the
Python version) under ``$XDG_CACHE_HOME/keyguard`` (else ``~/.cache/keyguard``)
once every rule of the file has been validated, so the pre-commit path neither
imports a TOML parser nor compiles and checks regexes on every commit: rules from
the cache get ``LazyRegex``es, compiled when a needle of theirs is met. A cache
that cannot be read or written is simply not used.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
from pathlib import Path

from keyguard.detect.lazyregex import LazyRegex
from keyguard.errors import RuleError
from keyguard.model import Rule, Severity
from keyguard.redact import use_rules

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    from typing import Sequence

_CACHE_VERSION = 2  # 2: only validated files are cached

_REQUIRED = ("id", "description", "regex", "keywords", "severity", "remediation")
_OPTIONAL = ("secret-group", "min-entropy", "prefix", "kind", "examples", "negatives", "assigned-body")
_TOP_LEVEL = ("rule", "description")
_KINDS = ("key", "jwt")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def bundled_rule_files() -> list[Path]:
    """The rule packs shipped inside the ``keyguard.rules`` package, sorted by name."""
    import keyguard.rules

    return sorted(Path(keyguard.rules.__file__).parent.glob("*.toml"))


def load_rules(extra_paths: Sequence[str | Path] = ()) -> list[Rule]:
    """Bundled rule packs plus team rule files or folders, validated; raises ``RuleError``."""
    files: list[tuple[Path, str]] = [(p, f"rules/{p.name}") for p in bundled_rule_files()]
    for extra in extra_paths:
        path = Path(extra)
        if path.is_dir():
            files.extend((p, str(p)) for p in sorted(path.glob("*.toml")))
        elif path.is_file():
            files.append((path, str(path)))
        else:
            raise RuleError(f"{path}: no such rule file or folder")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path, shown in files:
        for rule in load_rule_file(path, shown):
            if rule.id in seen:
                raise RuleError(f"{shown}: rule '{rule.id}': duplicate id (already defined in {seen[rule.id]})")
            seen[rule.id] = shown
            rules.append(rule)
    use_rules(rules)
    return rules


def load_rule_file(path: Path, shown: str | None = None) -> list[Rule]:
    """The rules of one TOML rule pack; ``shown`` is the name used in error messages."""
    shown = shown or str(path)
    doc, stamp, cache = _parse(path, shown)
    checked = stamp is None  # from the cache: validated when it was written
    unknown = sorted(set(doc) - set(_TOP_LEVEL))
    if unknown:
        raise RuleError(f"{shown}: unknown top-level key {unknown[0]!r} (expected [[rule]] tables)")
    tables = doc.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RuleError(f"{shown}: 'rule' must be an array of tables ([[rule]])")
    rules = []
    ids: set[str] = set()
    for n, table in enumerate(tables, 1):
        rule = _build_rule(table, shown, n, checked)
        if rule.id in ids:
            raise RuleError(f"{shown}: rule '{rule.id}': duplicate id")
        ids.add(rule.id)
        rules.append(rule)
    if stamp is not None and cache is not None:
        _write_cache(cache, stamp, doc)
    return rules


def _parse(path: Path, shown: str) -> tuple[dict, tuple | None, Path | None]:
    """The TOML document of a rule file, its stamp (None: read from the cache) and its cache file."""
    try:
        st = path.stat()
    except OSError as exc:
        raise RuleError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    stamp = (_CACHE_VERSION, sys.version_info[:2], str(path.resolve()), st.st_size, st.st_mtime_ns)
    cache = _cache_file(stamp[2])
    if cache is not None:
        try:
            with open(cache, "rb") as fh:
                cached_stamp, doc = marshal.load(fh)
            if cached_stamp == stamp and isinstance(doc, dict):
                return doc, None, cache
        except (OSError, EOFError, ValueError, TypeError):
            pass
    return _parse_toml(path, shown), stamp, cache


def _write_cache(cache: Path, stamp: tuple, doc: dict) -> None:
    """Keep the parsed form of a rule file whose rules all validated."""
    try:
        from keyguard.atomic import write_atomic
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, marshal.dumps((stamp, doc)))
    except (OSError, ValueError):  # unwritable cache, or a value marshal cannot hold
        pass


def _cache_file(resolved: str) -> Path | None:
    """Where the parsed form of the rule file ``resolved`` is cached (None: no cache)."""
    if os.environ.get("KEYGUARD_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    import binascii  # already loaded by the detector; zlib would be one more import
    return Path(base) / "keyguard" / f"rules-{binascii.crc32(resolved.encode()):08x}-{Path(resolved).stem}.marshal"


def _parse_toml(path: Path, shown: str) -> dict:
    """Parse one rule file with tomllib; errors name the file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{shown}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{shown}: not valid TOML: {exc}") from None


def _build_rule(t: dict, shown: str, n: int, checked: bool = False) -> Rule:
    """One validated ``Rule`` from the ``n``-th ``[[rule]]`` table of ``shown``.

    ``checked``: the table was validated before (it comes from the cache), so its
    regexes are not compiled and checked now but on first use.
    """
    rid = t.get("id")
    where = f"{shown}: rule '{rid}'" if isinstance(rid, str) and rid else f"{shown}: rule #{n}"

    def fail(message: str) -> RuleError:
        return RuleError(f"{where}: {message}")

    for key in t:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise fail(f"unknown field {key!r}")
    for key in _REQUIRED:
        if key not in t:
            raise fail(f"missing field {key!r}")
    for key in ("id", "description", "regex", "severity", "remediation"):
        if not isinstance(t[key], str) or not t[key].strip():
            raise fail(f"{key!r} must be a non-empty string")
    if not _ID.match(rid):
        raise fail("'id' must be lowercase letters, digits, '.', '_' or '-'")
    try:
        severity = Severity.parse(t["severity"])
    except ValueError as exc:
        raise fail(str(exc)) from None
    keywords = t["keywords"]
    if not isinstance(keywords, list) or not keywords or not all(isinstance(k, str) and k for k in keywords):
        raise fail("'keywords' must be a non-empty list of non-empty strings")
    kind = t.get("kind", "key")
    if kind not in _KINDS:
        raise fail(f"unknown kind {kind!r} (choose from {', '.join(_KINDS)})")
    prefix = t.get("prefix", "")
    if not isinstance(prefix, str):
        raise fail("'prefix' must be a string")
    min_entropy = t.get("min-entropy", 0.0)
    if isinstance(min_entropy, bool) or not isinstance(min_entropy, (int, float)) or not 0 <= min_entropy <= 8:
        raise fail("'min-entropy' must be a number from 0 to 8 (bits per character)")
    examples, negatives = t.get("examples", []), t.get("negatives", [])
    for key, value in (("examples", examples), ("negatives", negatives)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"{key!r} must be a list of strings")

    pattern = t["regex"]
    group = t.get("secret-group", "secret")
    assigned = t.get("assigned-body")
    if checked:
        regex = LazyRegex(pattern.encode("utf-8"))
        assigned = None if assigned is None else LazyRegex(assigned.encode("utf-8"))
    else:
        regex, assigned = _compile_checked(pattern, group, prefix, keywords, assigned, fail)
    return Rule(
        id=rid, description=t["description"].strip(), pattern=pattern, regex=regex,
        secret_group=group, keywords=tuple(k.encode("utf-8") for k in keywords),
        min_entropy=float(min_entropy), severity=severity, remediation=t["remediation"].strip(),
        prefix=prefix, kind=kind, examples=tuple(examples), negatives=tuple(negatives),
        source_file=shown, assigned_body=assigned,
    )


def _compile_checked(pattern: str, group, prefix: str, keywords: list[str], assigned, fail):
    """The rule's compiled ``regex`` and ``assigned-body``, after checking both; ``fail(msg)`` makes the error."""
    try:
        regex = re.compile(pattern.encode("utf-8"))
    except re.error as exc:
        raise fail(f"regex does not compile: {exc}") from None
    if isinstance(group, bool) or not isinstance(group, (int, str)):
        raise fail("'secret-group' must be a group name or number")
    if isinstance(group, int):
        if not 0 <= group <= regex.groups:
            raise fail(f"regex has no secret group {group} (it has {regex.groups} groups)")
    elif group not in regex.groupindex:
        raise fail(f"regex has no secret group (?P<{group}>...)")
    nested = nested_quantifier(pattern)
    if nested:
        raise fail(f"regex nests quantifiers ({nested}); that can take very long on a long line")
    if prefix and not any(prefix.startswith(k) or k.startswith(prefix) for k in keywords):
        raise fail(f"prefix {prefix!r} is not covered by any keyword")
    if assigned is None:
        return regex, None
    if not prefix:
        raise fail("'assigned-body' needs a 'prefix' (it describes what follows the prefix)")
    if not isinstance(assigned, str) or not assigned:
        raise fail("'assigned-body' must be a regex string")
    try:
        compiled = re.compile(assigned.encode("utf-8"))
    except re.error as exc:
        raise fail(f"assigned-body does not compile: {exc}") from None
    if nested_quantifier(assigned):
        raise fail("assigned-body nests quantifiers")
    return regex, compiled


def nested_quantifier(pattern: str) -> str:
    """Describe the first repeat inside a repeat in ``pattern`` ("" if there is none)."""
    try:
        import re._parser as sre_parse  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse  # type: ignore[no-redef]
    repeats = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT}
    possessive = getattr(sre_parse, "POSSESSIVE_REPEAT", None)

    def walk(items, inside: bool) -> str:
        for op, av in items:
            if op in repeats:
                lo, hi, sub = av
                if inside and hi != 1:
                    return "a quantifier inside a quantified group"
                found = walk(sub, inside or hi > 1)
                if found:
                    return found
            elif op is possessive:
                continue  # possessive repeats never backtrack
            elif op is sre_parse.SUBPATTERN:
                found = walk(av[-1], inside)
                if found:
                    return found
            elif op is sre_parse.BRANCH:
                for branch in av[1]:
                    found = walk(branch, inside)
                    if found:
                        return found
            elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
                found = walk(av[1], inside)
                if found:
                    return found
        return ""

    return walk(sre_parse.parse(pattern), False)
