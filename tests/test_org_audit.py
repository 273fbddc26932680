"""Organisation audits: ``keyguard audit --repos FILE --shard I/N`` and ``keyguard report merge``.

Twenty real repositories in a temp dir (some with keys, one unreachable, one
whose own config tries to exclude everything), four shards run as four
concurrent processes, the merge compared with one unsharded run, and a second
night that must fetch and scan nothing new.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GIT_ENV, Repo, run_keyguard
from keys import platform_key

N_REPOS = 20
KEYED = {2, 5, 11, 17}
HOSTILE_CONFIG = 5
"""This repository's own .keyguard.toml excludes everything: an org audit must ignore it."""


def _new_repo(path: Path, n: int, keys: dict[str, str]) -> None:
    path.mkdir(parents=True)
    r = Repo(path)
    r.git("init", "-q", "-b", "main")
    r.write("README.md", f"project {n}\n")
    r.commit("init")
    if n in KEYED:
        key = platform_key("flux_prod_")
        keys[f"repo{n:02d}"] = key
        r.write("deploy/.env", f"FLUXLOOP_API_KEY={key}\n")
        r.commit("deploy settings")
        r.write("deploy/.env", "FLUXLOOP_API_KEY=${FLUXLOOP_API_KEY}\n")
        r.commit("use the environment")
    if n == HOSTILE_CONFIG:
        r.write(".keyguard.toml", 'exclude = ["**"]\n')
        r.commit("hide everything")


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    """20 repositories (4 with keys), a list naming them plus one unreachable entry."""
    base = tmp_path_factory.mktemp("org")
    keys: dict[str, str] = {}
    for n in range(N_REPOS - 1):
        _new_repo(base / "repos" / f"repo{n:02d}", n, keys)
    lines = ["# the organisation's repositories", ""]
    lines += [str(base / "repos" / f"repo{n:02d}") for n in range(N_REPOS - 1)]
    lines.append(f"file://{base / 'repos' / 'gone'}   # deleted last week")
    (base / "repos.txt").write_text("\n".join(lines) + "\n")
    return base, keys


def _audit(base: Path, tag: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "keyguard", "audit", "--repos", str(base / "repos.txt"),
           "--mirror-cache", str(base / f"cache-{tag}"), "--out", str(base / f"out-{tag}"),
           "--no-verify", *extra]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("GIT_", "FLUXLOOP_"))}
    env.update(GIT_ENV, NO_COLOR="1")
    return subprocess.Popen(cmd, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode() + err.decode()


def _merge(base: Path, name: str, *inputs: str) -> tuple[dict, dict, str]:
    r = run_keyguard("report", "merge", *inputs, "--sarif", f"{name}.sarif", "--json", f"{name}.json",
                     "--markdown", f"{name}.md", cwd=base)
    assert r.returncode == 0, r.stderr.decode()
    return (json.loads((base / f"{name}.sarif").read_text()), json.loads((base / f"{name}.json").read_text()),
            (base / f"{name}.md").read_text())


def _finding_set(org_doc: dict) -> set[tuple]:
    return {(f["repository"], f["path"], f["fingerprint"], f["provenance"]["commit"])
            for f in org_doc["findings"]}


def test_four_shards_merge_to_the_unsharded_run_and_a_second_night_scans_nothing_new(org):
    base, keys = org
    # one unsharded run and four shards, the shards as four concurrent processes
    whole = _audit(base, "all")
    shards = [_audit(base, f"s{i}", "--shard", f"{i}/4") for i in range(1, 5)]
    code_all, text_all = _finish(whole)
    shard_results = [_finish(p) for p in shards]

    # a failing repository is reported, the others still run, and the exit code says so (4)
    assert code_all == 4, text_all
    assert "gone: unreachable" in text_all
    assert sorted(c for c, _ in shard_results).count(4) == 1  # exactly one shard holds "gone"
    assert all(c in (0, 1, 4) for c, _ in shard_results)

    _, whole_doc, _ = _merge(base, "org-all", "out-all")
    sarif, sharded_doc, md = _merge(base, "org-sharded", *(f"out-s{i}" for i in range(1, 5)))

    # every repository audited exactly once across the shards; the same findings as one run
    names = [r["name"] for r in sharded_doc["repositories"]]
    assert len(names) == len(set(names)) == N_REPOS
    per_shard = [len(list((base / f"out-s{i}").glob("*.json"))) for i in range(1, 5)]
    assert sum(per_shard) == N_REPOS and all(per_shard), per_shard
    assert _finding_set(sharded_doc) == _finding_set(whole_doc)
    assert {Path(f["repository"]).name for f in sharded_doc["findings"]} == set(keys)
    # the hostile repository's own `exclude = ["**"]` was not applied
    assert any(f["repository"].endswith(f"repo{HOSTILE_CONFIG:02d}") for f in sharded_doc["findings"])
    assert sharded_doc["summary"]["failed"] == 1
    gone = next(r for r in sharded_doc["repositories"] if r["name"].endswith("gone"))
    assert gone["status"] == "unreachable" and gone["error"]

    # the organisation SARIF: within GitHub's limits, results point at <repository>/<path>
    assert len(sarif["runs"]) <= 20
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for run in sarif["runs"] for r in run["results"]}
    assert uris == {f"{Path(f['repository']).as_posix().strip('/')}/deploy/.env"
                    for f in sharded_doc["findings"]}
    assert "| unreachable |" in md and "repos/gone" in md

    # no full key anywhere
    blobs = [text_all, *(t for _, t in shard_results), json.dumps(sarif), json.dumps(sharded_doc), md]
    blobs += [p.read_text() for p in base.glob("out-*/*")]
    for key in keys.values():
        assert not any(key in b for b in blobs)

    # second night, nothing new: no ref fetched, no object scanned but those holding findings
    again = [_audit(base, f"s{i}", "--shard", f"{i}/4") for i in range(1, 5)]
    assert [_finish(p)[0] for p in again] == [c for c, _ in shard_results]
    _, night2, _ = _merge(base, "org-night2", *(f"out-s{i}" for i in range(1, 5)))
    assert _finding_set(night2) == _finding_set(sharded_doc)
    for r in night2["repositories"]:
        if r["status"] == "unreachable":
            continue
        assert r["fetch"] == {"cloned": 0, "refs_updated": 0}, r
        findings = [f for f in night2["findings"] if f["repository"] == r["name"]]
        assert r["stats"]["commits"] == 0, r
        assert r["stats"]["blobs"] <= len({f["provenance"]["blob"] for f in findings}), r
        assert r["stats"]["cached"] > 0, r
        assert r["new"] == 0


def test_a_new_commit_is_fetched_and_only_it_is_scanned(org, tmp_path):
    base, keys = org
    listing = tmp_path / "one.txt"
    target = base / "repos" / "repo01"
    listing.write_text(f"{target}\n")
    args = ("audit", "--repos", str(listing), "--mirror-cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "out"), "--no-verify")
    assert run_keyguard(*args, cwd=tmp_path).returncode == 0
    r = Repo(target)
    key = platform_key("flux_dev_")
    r.write("notes.txt", f"token {key}\n")
    r.commit("notes")
    try:
        res = run_keyguard(*args, cwd=tmp_path)
        assert res.returncode == 1, res.stderr.decode()
        doc = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
        assert doc["repository"]["fetch"] == {"cloned": 0, "refs_updated": 1}
        assert doc["stats"]["commits"] == 1 and doc["stats"]["blobs"] == 1
        assert [f["path"] for f in doc["findings"]] == ["notes.txt"] and doc["findings"][0]["is_new"]
        assert key not in res.stderr.decode() + json.dumps(doc)
    finally:
        r.git("reset", "-q", "--hard", "HEAD~1")


def test_bad_inputs_are_one_line_errors(org, tmp_path):
    base, _ = org
    checkout = Repo(tmp_path / "checkout")
    (tmp_path / "checkout").mkdir()
    checkout.git("init", "-q")
    cases = [
        (["--repos", str(tmp_path / "missing.txt")], "cannot read"),
        (["--repos", str(base / "repos.txt"), "--shard", "5/4"], "expected I/N"),
        (["--shard", "1/2"], "--shard goes with --repos"),
        (["--repos", str(base / "repos.txt"), "--mirror-cache", str(tmp_path / "checkout" / ".cache")],
         "inside a git work tree"),
    ]
    for extra, message in cases:
        r = run_keyguard("audit", *extra, "--no-verify", cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    r = run_keyguard("report", "merge", str(base / "repos.txt"), cwd=tmp_path)
    assert r.returncode == 2 and "not a readable JSON report" in r.stderr.decode()


def test_shards_are_stable_and_partition_any_list():
    from keyguard.audit.org import in_shard, normalise_name

    names = [f"github.com/acme/service-{i}" for i in range(200)]
    for n in (1, 3, 8):
        owners = [[i for i in range(1, n + 1) if in_shard(name, (i, n))] for name in names]
        assert all(len(o) == 1 for o in owners)
    assert normalise_name("https://user:tok@GitHub.com/acme/api.git", Path("/"))[1] == "github.com/acme/api"
    assert normalise_name("git@github.com:acme/api.git", Path("/"))[1] == "github.com/acme/api"
    assert normalise_name("ssh://git@github.com/acme/api/", Path("/"))[1] == "github.com/acme/api"


def test_merged_sarif_respects_githubs_limits(tmp_path):
    """25,000 results per run (GitHub's hard limit): a bigger organisation keeps the worst."""
    from keyguard.redact import fingerprint

    finding = {"rule_id": "fluxloop-dev-key", "description": "FluxLoop key", "severity": "medium",
               "redacted": "flux_dev_abcd…wxyz", "path": "a.env", "line": 1, "column": 1, "end_column": 40,
               "snippet": "K=flux_dev_abcd…wxyz", "provenance": {"commit": "a" * 40, "kind": "blob"}}
    for r in range(26):
        findings = [dict(finding, fingerprint=fingerprint(f"{r}-{i}"), line=i + 1,
                         severity="critical" if (r, i) == (25, 999) else "medium") for i in range(1000)]
        doc = {"schema": "keyguard-report/1", "summary": {"findings": 1000}, "findings": findings,
               "repository": {"name": f"git.example.com/acme/r{r:02d}", "status": "findings"}}
        (tmp_path / f"r{r:02d}.json").write_text(json.dumps(doc))
    r = run_keyguard("report", "merge", str(tmp_path), "--sarif", "org.sarif", "--json", "org.json",
                     "--markdown", "org.md", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    sarif = json.loads((tmp_path / "org.sarif").read_text())
    assert len(sarif["runs"]) <= 20
    assert (tmp_path / "org.sarif").stat().st_size <= 10_000_000
    results = [res for run in sarif["runs"] for res in run["results"]]
    assert len(results) <= 25_000
    assert any(res["level"] == "error" for res in results)  # the one critical finding was kept
    notes = [n["message"]["text"] for run in sarif["runs"] for inv in run["invocations"]
             for n in inv["toolExecutionNotifications"]]
    assert any("truncated" in n for n in notes)
    assert json.loads((tmp_path / "org.json").read_text())["summary"]["findings"] == 26_000


def _corrupt_loose_objects(gitdir: Path) -> int:
    n = 0
    for f in gitdir.glob("objects/??/*"):
        f.chmod(0o644)
        f.write_bytes(b"not zlib")
        n += 1
    return n


def test_a_corrupt_mirror_is_cloned_again_and_a_corrupt_repository_is_reported(tmp_path, repo: Repo, keyguard):
    repo.write("a.txt", "a\n")
    repo.commit("a")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{repo.path}\n")
    args = ("audit", "--repos", str(listing), "--mirror-cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "out"), "--no-verify")
    assert keyguard(*args, cwd=tmp_path).returncode == 0
    [mirror] = (tmp_path / "cache").glob("*/mirror.git")
    assert _corrupt_loose_objects(mirror) > 0
    r = keyguard(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert doc["repository"]["status"] == "clean" and doc["repository"]["fetch"]["cloned"] == 1
    assert any("cached mirror was unreadable" in w for w in doc["warnings"])

    # the audited repository itself corrupt: one line and a failure, never a clean report
    _corrupt_loose_objects(repo.path / ".git")
    r = keyguard("scan", "--history", cwd=repo.path)
    err = r.stderr.decode()
    assert r.returncode == 2 and "cannot be read (corrupt?" in err and len(err.strip().splitlines()) == 1


def test_a_mirror_url_cannot_run_a_program(tmp_path):
    """``ext::`` (and any transport but https/http/ssh/git/file) is refused before it runs anything."""
    from keyguard.errors import GitError
    from keyguard.git.mirror import update_mirror

    marker = tmp_path / "ran"
    with pytest.raises(GitError) as err:
        update_mirror(f"ext::sh -c touch% {marker}", tmp_path / "cache" / "mirror.git")
    assert not marker.exists() and "Traceback" not in str(err.value)
    assert not (tmp_path / "cache" / "mirror.git").exists()
