"""The layering rules of docs/architecture.md, checked on the source (they fail when someone slips)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "keyguard"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_fluxloop_is_a_library():
    """No argparse, no printing, no prompts, nothing from the commands."""
    for path in (PKG / "fluxloop").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        imports = _imports(path)
        assert "argparse" not in imports, path
        assert not any(m.startswith("keyguard.commands") for m in imports), path
        assert not re.search(r"\b(print|input)\(|sys\.std(out|err|in)|getpass", text), path


def test_no_command_imports_another_command():
    commands = {p.stem for p in (PKG / "commands").glob("*.py")} - {"__init__", "common"}
    for path in (PKG / "commands").glob("*.py"):
        for module in _imports(path):
            parts = module.split(".")
            if parts[:2] == ["keyguard", "commands"] and len(parts) > 2:
                assert parts[2] not in commands or parts[2] == path.stem, f"{path.name} imports {module}"


def test_revocation_outcome_names_are_spelled_once():
    """Outcomes are compared and built through the names in model.py, never as string literals."""
    literal = re.compile(r"""Revocation\(\s*["']|\.outcome\s*(==|!=|in|not in)\s*[("']""")
    for path in PKG.rglob("*.py"):
        if path.name == "model.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not literal.search(line), f"{path.relative_to(PKG)}:{n}: {line.strip()}"
