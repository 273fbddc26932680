"""keyguard's configuration: ``[tool.keyguard]`` in ``pyproject.toml`` or ``.keyguard.toml``.

The config file is looked up from the directory being scanned (the repository
root when there is one): ``.keyguard.toml`` wins over ``pyproject.toml``. Keys
(``.keyguard.toml`` holds them at top level, ``pyproject.toml`` under
``[tool.keyguard]``):

- ``rules`` — extra rule files or folders (paths relative to the config file)
- ``exclude`` — path globs (``vendor/**``, ``*.min.js``) never scanned
- ``allow`` — finding fingerprints (``kg1:...``) that are never reported
- ``max-file-size`` — bytes (or ``"500MB"``) above which a file is skipped with a warning
- ``fail-on`` — lowest severity that makes the exit code 1 (default ``low``)
- ``baseline`` — baseline file path inside the repository (default ``.keyguard-baseline.json``;
  absolute paths and ``..`` are refused: a committed config must not make keyguard write elsewhere)
- ``[hygiene]`` — thresholds for ``keyguard keys`` (``unused-days``, ``expiring-days`` ...)

A malformed file or value is a ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from keyguard.errors import ConfigError
from keyguard.sources.blob import MAX_SIZE as DEFAULT_MAX_FILE_SIZE  # larger files are skipped

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
_KNOWN = {"rules", "exclude", "allow", "max-file-size", "fail-on", "baseline", "hygiene"}


@dataclass(frozen=True)
class Config:
    """The effective configuration (defaults when no file exists)."""

    source: Path | None = None
    """The file it was read from, or None."""
    rule_paths: tuple[Path, ...] = ()
    """Extra rule files or folders, absolute."""
    exclude: tuple[str, ...] = ()
    """Path globs, relative to the repository root, never scanned."""
    allow: frozenset[str] = frozenset()
    """Fingerprints never reported."""
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    """Files larger than this are skipped with a warning."""
    fail_on: str = "low"
    """Lowest severity that makes ``scan`` exit 1."""
    baseline: str = ".keyguard-baseline.json"
    """Baseline file, relative to the repository root."""
    hygiene: dict = field(default_factory=dict)
    """Thresholds for the hygiene report, keys as written in the file."""


def find_config_file(start: Path) -> tuple[Path, bool] | None:
    """The config file for ``start`` and whether it is a pyproject.toml, or None."""
    dot = start / ".keyguard.toml"
    if dot.is_file():
        return dot, False
    py = start / "pyproject.toml"
    if py.is_file():
        return py, True
    return None


def load_config(start: Path | str, explicit: Path | str | None = None) -> Config:
    """Read the config for the directory ``start`` (or the ``explicit`` file)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        found = (path, path.name == "pyproject.toml")
    else:
        found = find_config_file(Path(start))
    if found is None:
        return Config()
    path, is_pyproject = found
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if is_pyproject and b"keyguard" not in raw:
        return Config()  # most pyproject.toml files say nothing to keyguard: no TOML parser needed
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if is_pyproject:
        table = data.get("tool", {}).get("keyguard")
        if table is None:
            return Config()
        where = "tool.keyguard"
    else:
        table = data
        where = ""
    return _parse(path, where, table)


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _parse(path: Path, where: str, table: dict) -> Config:
    def fail(name: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: {_key(where, name)}: {why}")

    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where or 'top level'}: expected a table")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(sorted(_KNOWN))})")

    def str_list(name: str) -> tuple[str, ...]:
        value = table.get(name, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(name, "expected a list of strings")
        return tuple(value)

    base = path.parent
    rule_paths = tuple((base / p).resolve() for p in str_list("rules"))
    for p in rule_paths:
        if not p.exists():
            raise fail("rules", f"{p} does not exist")
    allow = frozenset(str_list("allow"))
    for fp in allow:
        if not fp.startswith("kg1:"):
            raise fail("allow", f"{fp!r} is not a keyguard fingerprint (kg1:...)")
    max_size = table.get("max-file-size", DEFAULT_MAX_FILE_SIZE)
    try:
        max_size = parse_size(max_size)
    except ValueError as exc:
        raise fail("max-file-size", str(exc)) from None
    fail_on = table.get("fail-on", "low")
    from keyguard.model import Severity
    if not isinstance(fail_on, str):
        raise fail("fail-on", "expected a severity name")
    try:
        fail_on = Severity.parse(fail_on).value
    except ValueError as exc:
        raise fail("fail-on", str(exc)) from None
    baseline = table.get("baseline", ".keyguard-baseline.json")
    if not isinstance(baseline, str) or not baseline:
        raise fail("baseline", "expected a file path")
    if Path(baseline).is_absolute() or ".." in Path(baseline).parts or baseline.startswith("~"):
        # a committed config must not make keyguard write outside the repository
        raise fail("baseline", f"{baseline!r} is not a path inside the repository")
    hygiene = table.get("hygiene", {})
    if not isinstance(hygiene, dict):
        raise fail("hygiene", "expected a table")
    for k, v in hygiene.items():
        if not isinstance(v, (int, float, str)) or isinstance(v, bool):
            raise fail(f"hygiene.{k}", "expected a number or a string")
    return Config(source=path, rule_paths=rule_paths, exclude=str_list("exclude"), allow=allow,
                  max_file_size=max_size, fail_on=fail_on, baseline=baseline, hygiene=dict(hygiene))


def parse_size(value) -> int:
    """``1048576``, ``"500MB"``, ``"2 GB"`` -> bytes; ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 500MB")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be positive")
        return value
    if isinstance(value, str):
        text = value.strip().upper().replace(" ", "")
        num = text.rstrip("KMGB")
        unit = text[len(num):]
        if num.isdigit() and unit in _SIZE_UNITS and int(num) > 0:
            return int(num) * _SIZE_UNITS[unit]
    raise ValueError(f"{value!r} is not a size (e.g. 500MB)")
