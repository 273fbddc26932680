"""Every hiding place, in one repository built with real git porcelain, through every mode.

One module-scoped repository holds, each with a key of its own (told apart by
the finding's ``kg1:`` fingerprint, computed here with keyguard's own function):

- every file shape of ``test_where_keys_hide.CASES``: config files, notebooks,
  binaries, archives, escapes, UTF-16, base64 wrapped at 64 and 76 columns, a
  YAML block scalar, base64 and base64url of a JWT API key, base64 of a
  URL-encoded key, keys split over ``+`` and over adjacent literals;
- a prefix with an undocumented body (reported low, "key-shaped, unknown format");
- the git places: an annotated-tag message, a file name, a directory name, an
  author name, a committer e-mail, a trailer, a git note, a commit left only in
  the reflog, a dangling blob, a checked-out submodule and a key in the
  submodule's history only;
- decoys that must never be reported: real-word identifiers with digits,
  fixtures marked fake, masked keys, random tokens, a harmless concatenation.

Modes: ``scan --staged`` (before the commit), ``scan`` (work tree), ``scan
--history`` (all refs), ``--include-unreachable``, the ranges ``A..B`` and
``--since``, ``audit``, ``incident``, and a shallow clone. Each case is
asserted in each mode where it can occur, and no output holds a planted key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from conftest import GIT_ENV, Repo
from keys import api_key, platform_key
from test_where_keys_hide import CASES as FILE_SHAPES
from test_where_keys_hide import content as shape_content
from test_where_keys_hide import key_for as shape_key

from keyguard.redact import fingerprint

STAGED, WORKTREE, HISTORY, UNREACHABLE, RANGE, AUDIT = "staged", "worktree", "history", "unreachable", "range", "audit"
ALL_MODES = (STAGED, WORKTREE, HISTORY, UNREACHABLE, RANGE, AUDIT)
COMMITTED = (WORKTREE, HISTORY, UNREACHABLE, RANGE, AUDIT)
"""Where a key in a file's content of the range's commit is found (staged before that commit, too)."""
GIT_ONLY = (HISTORY, UNREACHABLE, RANGE, AUDIT)
UNREACHABLE_ONLY = (UNREACHABLE, AUDIT)
"""Reflog-only commits and dangling blobs: ``--include-unreachable`` (on by default in ``audit``)."""


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def encoded_cases() -> dict[str, tuple[str, str, str]]:
    """case -> (path, key, file text) for shapes the file-shape cases do not hold."""
    body = "".join(secrets.choice(string.ascii_uppercase) for _ in range(10)) \
        + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(30))
    k = "flux_prod_" + body[:5] + "7" + body[6:]
    return {"unknown-format": ("ops/odd.env", k, f"FLUX={k}\n")}


DECOYS = ("src/decoys.py", "\n".join([
    "flx_parseHttp2HeadersFromStream = None",
    "def flux_prod_pipelineconfigv2(): pass",
    "flux_dev_environmentsettings2024 = {}",
    'FIXTURE = "flx_sa_NotARealKeyJustForUnitTests12345"',
    'OTHER = "flx_api_FAKEKEYFORTESTSONLYFAKEKEYFORTESTS"',
    'SHOWN = "flux_prod_8f3kq2x9..."',
    'TOKENS = ["' + secrets.token_hex(20) + '", "' + b64(secrets.token_hex(24)) + '", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"]',
    'NAME = "flux_" + "prod_" + "pipeline"',
    "",
]))


def git_env(**extra: str) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(GIT_ENV)
    e.update(extra)
    return e


class World:
    """The repository, its keys by case, and every mode's JSON report."""

    def __init__(self, root: Path):
        self.root = root
        self.keys: dict[str, str] = {}
        self.where: dict[str, tuple[str, ...]] = {}
        self.reports: dict[str, dict] = {}
        self.outputs: list[str] = []

    def add(self, case: str, key: str, modes: tuple[str, ...]) -> str:
        self.keys[case] = key
        self.where[case] = modes
        return key


def _run(keyguard, world: World, *args: str, cwd: Path, ok=(0, 1), env=None, input=None):
    r = keyguard(*args, cwd=cwd, env=env, input=input)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    world.outputs.append(out + err)
    assert r.returncode in ok, (args, r.returncode, err[-2000:])
    return r, out, err


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from conftest import run_keyguard as keyguard

    top = tmp_path_factory.mktemp("all")
    (top / "home").mkdir()
    w = World(top)
    # the submodule's own repository: a key in a deleted file (its history only) and one on disk
    lib = Repo(top / "lib")
    lib.path.mkdir()
    lib.git("init", "-q", "-b", "main")
    sub_old = w.add("submodule-history", platform_key("flux_dev_"), (HISTORY, UNREACHABLE, AUDIT))
    lib.write("old.cfg", f"key = {sub_old}\n")
    lib.commit("old config")
    lib.git("rm", "-q", "old.cfg")
    sub_disk = w.add("submodule-worktree", api_key("flx_api_"), (WORKTREE, HISTORY, UNREACHABLE, AUDIT))
    lib.write("settings.ini", f"[lib]\nkey = {sub_disk}\n")
    lib.commit("lib settings")

    repo = Repo(top / "repo")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "commit.gpgsign", "false")
    repo.write("README.md", "# project\n")
    w.base = repo.commit("init")

    # 1. everything with content, staged, scanned as the pre-commit hook would, then committed
    for case, (path, _, _) in FILE_SHAPES.items():
        key = w.add("shape:" + case, shape_key(case), (STAGED,) + COMMITTED)
        repo.write(path, shape_content(case, key))
    for case, (path, key, text) in encoded_cases().items():
        w.add(case, key, (STAGED,) + COMMITTED)
        repo.write(path, text)
    repo.write(*DECOYS)
    name_key = w.add("file-name", platform_key("flux_ci_"), (STAGED,) + COMMITTED)
    repo.write(f"backup/{name_key}.json", "{}\n")
    dir_key = w.add("directory-name", api_key("flx_sa_"), (STAGED,) + COMMITTED)
    repo.write(f"keys/{dir_key}/README", "rotated\n")
    repo.git("add", "-A")
    w.reports[STAGED] = json.loads(_run(keyguard, w, "scan", "--staged", "-f", "json", cwd=repo.path)[1])

    # 2. commit it with a key in the author, the committer and a trailer
    author_key = w.add("author-name", platform_key("flux_stg_"), GIT_ONLY)
    committer_key = w.add("committer-email", api_key("flx_api_"), GIT_ONLY)
    trailer_key = w.add("trailer", api_key("flx_sa_"), GIT_ONLY)
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", f"import\n\nDeploy-Key: {trailer_key}\n",
                    f"--author=ci {author_key} <ci@example.com>"], cwd=repo.path, check=True,
                   env=git_env(HOME=str(top / "home"), GIT_COMMITTER_EMAIL=f"{committer_key}@example.com"))
    # an annotated tag message and a git note on the same commit
    tag_key = w.add("tag-message", platform_key("flux_prod_"), GIT_ONLY)
    repo.git("tag", "-a", "v1", "-m", f"release\n\nbuilt with {tag_key}")
    note_key = w.add("git-note", api_key("flx_"), GIT_ONLY)
    repo.git("notes", "add", "-m", f"deployed with {note_key}", "HEAD")
    # a checked-out submodule
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "vendor/lib")
    repo.commit("vendor lib")
    # 3. a commit left only in the reflog, and a dangling blob
    reflog_key = w.add("reflog-only", platform_key("flux_prod_"), UNREACHABLE_ONLY)
    repo.write("debug.py", f"KEY = '{reflog_key}'\n")
    repo.commit("debug")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    blob_key = w.add("dangling-blob", api_key("flx_api_"), UNREACHABLE_ONLY)
    repo.git("hash-object", "-w", "--stdin", input=f"K={blob_key}\n".encode())
    w.repo = repo

    json_out = ("-f", "json", "--no-progress")
    w.reports[WORKTREE] = json.loads(_run(keyguard, w, "scan", "-f", "json", cwd=repo.path)[1])
    w.reports[HISTORY] = json.loads(_run(keyguard, w, "scan", "--history", *json_out, cwd=repo.path)[1])
    w.reports[UNREACHABLE] = json.loads(_run(keyguard, w, "scan", "--history", "--include-unreachable",
                                             *json_out, cwd=repo.path)[1])
    # the same with the standard-library needle search (the native one is on when Hyperscan is installed)
    w.reports["standard-search"] = json.loads(_run(keyguard, w, "scan", "--history", "--include-unreachable",
                                                   *json_out, cwd=repo.path, env={"KEYGUARD_NATIVE": "0"})[1])
    w.reports[RANGE] = json.loads(_run(keyguard, w, "scan", "--history", f"{w.base}..HEAD", *json_out,
                                       cwd=repo.path)[1])
    w.reports["since"] = json.loads(_run(keyguard, w, "scan", "--history", "--since", w.base, *json_out,
                                         cwd=repo.path)[1])
    _run(keyguard, w, "audit", "--no-verify", "--no-hygiene", "--json", str(top / "audit.json"),
         "--sarif", str(top / "audit.sarif"), "--markdown", str(top / "audit.md"), cwd=repo.path, ok=(1,))
    w.reports[AUDIT] = json.loads((top / "audit.json").read_text())
    for f in ("audit.sarif", "audit.md"):
        w.outputs.append((top / f).read_text())
    return w


def _found(report: dict) -> dict[str, list[dict]]:
    by: dict[str, list[dict]] = {}
    for f in report["findings"]:
        by.setdefault(f["fingerprint"], []).append(f)
    return by


def _cases(world: World) -> list[tuple[str, str]]:
    return [(case, mode) for case in sorted(world.where) for mode in world.where[case]]


def test_each_case_is_found_in_each_mode_where_it_can_occur(world: World):
    missing = []
    for case, modes in sorted(world.where.items()):
        fp = fingerprint(world.keys[case])
        for mode in modes:
            reports = [world.reports[mode]] + ([world.reports["since"]] if mode == RANGE else [])
            for rep in reports:
                if fp not in _found(rep):
                    missing.append((case, mode))
    assert not missing, missing


def test_unreachable_places_are_not_reported_without_being_asked(world: World):
    for case in ("reflog-only", "dangling-blob"):
        fp = fingerprint(world.keys[case])
        for mode in (HISTORY, RANGE, WORKTREE):
            assert fp not in _found(world.reports[mode]), (case, mode)


def test_no_decoy_and_nothing_unexpected_is_reported(world: World):
    expected = {fingerprint(k) for k in world.keys.values()}
    for mode, report in world.reports.items():
        for f in report["findings"]:
            assert f["path"] != DECOYS[0], (mode, f)
            assert f["fingerprint"] in expected or f["severity"] == "low", (mode, f)


def test_fragments_and_unknown_formats_are_low_and_never_whole_keys(world: World):
    odd = fingerprint(world.keys["unknown-format"])
    for mode in (STAGED, WORKTREE, HISTORY):
        hits = _found(world.reports[mode])[odd]
        assert {f["severity"] for f in hits} == {"low"}, (mode, hits)


def test_the_native_needle_search_finds_what_the_standard_one_finds(world: World):
    pytest.importorskip("hyperscan", reason="the native needle search is not installed here")

    def seen(report: dict) -> list[tuple]:
        return sorted((f["fingerprint"], f["path"], f["line"], f.get("encoding") or "", f["provenance"]["commit"])
                      for f in report["findings"])

    assert seen(world.reports[UNREACHABLE]) == seen(world.reports["standard-search"])
    assert len(seen(world.reports[UNREACHABLE])) >= len(world.keys)


def test_git_places_are_named(world: World):
    """A user reading the history report can tell where each git-place key sits."""
    rep = _found(world.reports[HISTORY])
    paths = {case: {f["path"] for f in rep.get(fingerprint(world.keys[case]), [])}
             for case in ("tag-message", "file-name", "directory-name", "author-name", "committer-email",
                          "trailer", "git-note", "submodule-history")}
    assert any("tag" in p for p in paths["tag-message"]), paths
    assert any(p.startswith("<") for p in paths["author-name"] | paths["committer-email"]), paths
    assert any("vendor/lib" in p for p in paths["submodule-history"]), paths


def test_no_output_holds_a_planted_key(world: World):
    blob = "\n".join(world.outputs) + json.dumps(world.reports)
    leaked = [case for case, key in world.keys.items() if key in blob]
    assert not leaked, leaked


def test_incident_finds_a_git_place_key_everywhere_it_is(world: World, keyguard, tmp_path):
    """One key per kind of place: the tag message and the reflog-only commit."""
    for case in ("tag-message", "reflog-only", "submodule-history"):
        key = world.keys[case]
        out = tmp_path / case
        r = keyguard("incident", "--offline", "--no-revoke", "--output-dir", str(out), cwd=world.repo.path,
                     input=(key + "\n").encode())
        assert r.returncode in (0, 1), r.stderr
        assert key not in r.stdout.decode() + r.stderr.decode()
        doc = json.loads((out / "incident.json").read_text())
        assert doc["occurrences"], case


def test_a_shallow_clone_says_it_saw_part_of_history(world: World, keyguard, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-local", f"file://{world.repo.path}", str(clone)],
                   check=True, env=git_env(HOME=str(world.root / "home")))
    r = keyguard("scan", "--history", "-f", "json", "--no-progress", cwd=clone)
    assert r.returncode == 1
    assert "shallow" in r.stderr.decode().lower()
    assert any("shallow" in w.lower() for w in json.loads(r.stdout)["warnings"])
    r = keyguard("scan", "--history", "-f", "sarif", "--no-progress", cwd=clone)
    sarif = json.loads(r.stdout)
    assert "shallow" in json.dumps(sarif["runs"][0].get("invocations", [])).lower()
    r = keyguard("scan", "--history", "-f", "markdown", "--no-progress", cwd=clone)
    assert "shallow" in r.stdout.decode().lower()
    # an audit can be made to fail on it (exit 4: a step asked for could not be done)
    r = keyguard("audit", "--no-verify", "--no-hygiene", "--fail-on-shallow", "--json", str(tmp_path / "a.json"),
                 cwd=clone)
    assert r.returncode == 4, r.stderr
    assert "shallow" in r.stderr.decode().lower()
    # an incident does not claim a complete count
    key = world.keys["tag-message"]
    r = keyguard("incident", "--offline", "--no-revoke", "--output-dir", str(tmp_path / "inc"), cwd=clone,
                 input=(key + "\n").encode())
    assert "part of history this shallow clone holds" in r.stdout.decode(), r.stdout
