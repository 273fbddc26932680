"""The structure docs/architecture.md describes: git is started only by ``keyguard.git``, and
keyguard's import graph has no cycle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keys import platform_key

PKG = Path(__file__).resolve().parent.parent / "keyguard"
GIT_PKG = PKG / "git"

# calls that start a process
_SPAWNERS = {
    "subprocess": {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"},
    "os": {"system", "popen", "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe",
           "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe",
           "posix_spawn", "posix_spawnp", "fork", "forkpty"},
    "pty": {"spawn"},
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
}


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def test_only_keyguard_git_starts_processes():
    offenders = []
    for name, path, tree in _modules():
        if path.is_relative_to(GIT_PKG):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in _SPAWNERS:
                bad = {a.name for a in node.names} & _SPAWNERS[node.module]
                if bad:
                    offenders.append(f"{name}:{node.lineno} from {node.module} import {', '.join(sorted(bad))}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "subprocess":
                        offenders.append(f"{name}:{node.lineno} import subprocess")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.attr in _SPAWNERS.get(node.value.id, ()):
                    offenders.append(f"{name}:{node.lineno} {node.value.id}.{node.attr}")
    assert offenders == [], "only keyguard/git/ may start processes:\n" + "\n".join(offenders)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
    return ".".join([*base, node.module] if node.module else base)


def _graph() -> dict[str, set[str]]:
    mods = {name: tree for name, _, tree in _modules()}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, tree in mods.items():
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name and t != "keyguard":
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_git_layer_imports_nothing_of_keyguard_but_errors():
    graph = _graph()
    for mod, deps in graph.items():
        if mod.startswith("keyguard.git"):
            assert {d for d in deps if not d.startswith("keyguard.git")} <= {"keyguard.errors"}, mod


def test_no_import_cycle_between_packages():
    """Packages (keyguard.git, keyguard.sources, ...) import each other without a cycle; the
    ``fluxloop`` package's internal client/options cycle belongs to another change."""
    graph = _graph()
    pkg = lambda m: ".".join(m.split(".")[:2])  # noqa: E731
    pgraph: dict[str, set[str]] = {}
    for m, deps in graph.items():
        pgraph.setdefault(pkg(m), set()).update(pkg(d) for d in deps if pkg(d) != pkg(m))
    for deps in list(pgraph.values()):
        for d in deps:
            pgraph.setdefault(d, set())
    assert _cycles(pgraph) == []


def test_no_import_cycle_inside_git_sources_audit_incident():
    graph = _graph()
    mine = ("keyguard.git", "keyguard.sources", "keyguard.audit", "keyguard.incident")
    sub = {m: {d for d in deps if d.startswith(mine)} for m, deps in graph.items() if m.startswith(mine)}
    assert _cycles(sub) == []


_HOOK = r'''
import json, os, sys, traceback
bad, seen = [], []
def hook(event, args):
    if event not in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        return
    seen.append(event)
    frames = [f for f in traceback.extract_stack()[:-1] if "/keyguard/" in f.filename.replace(os.sep, "/")]
    if frames and "/keyguard/git/" not in frames[-1].filename.replace(os.sep, "/"):
        bad.append(f"{frames[-1].filename}:{frames[-1].lineno} {event}")
sys.addaudithook(hook)
from keyguard.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
sys.stdout.flush()
sys.stderr.write("\nSPAWNS-OUTSIDE-GIT " + json.dumps([len(seen), bad]) + "\n")
sys.exit(code if isinstance(code, int) else 0)
'''


@pytest.mark.parametrize("args", [("scan",), ("scan", "--staged"), ("scan", "--history", "--include-unreachable"),
                                  ("incident", "--offline")], ids=lambda a: " ".join(a))
def test_at_run_time_every_process_is_started_by_keyguard_git(repo, tmp_path, args):
    """An audit hook in the real CLI process sees each process start and the keyguard frame that
    asked for it: always a frame in keyguard/git/."""
    from conftest import GIT_ENV

    key = platform_key("flux_prod_")
    repo.write("a.env", f"K={key}\n")
    repo.commit("leak")
    repo.write("b.env", f"K={key}\n")
    repo.git("add", "b.env")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("GIT_", "FLUXLOOP_"))}
    env.update(GIT_ENV, HOME=str(tmp_path), NO_COLOR="1")
    extra = ["--output-dir", str(tmp_path / "out")] if args[0] == "incident" else []
    r = subprocess.run([sys.executable, "-c", _HOOK, *args, *extra], cwd=repo.path, env=env,
                       input=(key + "\n").encode(), capture_output=True, timeout=300)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    line = [x for x in err.splitlines() if x.startswith("SPAWNS-OUTSIDE-GIT ")][-1]
    seen, bad = json.loads(line.split(" ", 1)[1])
    assert seen > 0 and bad == []
