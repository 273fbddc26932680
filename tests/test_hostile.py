"""Hostile content and hostile endpoints (issue 14), each point through the real command line.

Repositories with hostile content (bombs, forged caches, a committed config that
excludes everything, a baseline path leading outside, escape sequences in file
names), and a hostile HTTP endpoint with scripted answers (``hostile_server``):
wrong identities, echoed bearers, trickling bodies, endless cursors, absurd
numbers. Every test checks exit codes, one-line messages and that no planted key
appears in full anywhere. Time and memory are measured by ``bench/hostile.py``,
not here.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import hostile_inputs as hi
from hostile_server import Answer, HostileServer, hint_of, record, status_body
from keys import platform_key

ESC = "\x1b"


def out_err(r) -> tuple[str, str]:
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def no_full_key(texts, *keys):
    blob = "".join(texts)
    for k in keys:
        assert k not in blob


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("keyguard: ") and "warning" not in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


@pytest.fixture
def hostile():
    with HostileServer() as srv:
        yield srv


# -- 1. tiny inputs, bounded work ------------------------------------------------------------

def test_nested_zips_share_one_decompression_budget(repo, keyguard):
    key = platform_key()
    # 4 x 4 copies of a zip holding the key and 8 MB of zeros: 128 MB unpacked, budget 64 MB
    repo.write("bomb.zip", hi.nested_zip(3, 4, 8 << 20, filler=b"\0" * 4096, first=f"K={key}\n".encode()))
    r = keyguard("scan", "bomb.zip", "-f", "json", cwd=repo.path)
    out, err = out_err(r)
    assert r.returncode == 1, err
    doc = json.loads(out)
    assert {f["fingerprint"] for f in doc["findings"]} and all(f["path"] == "bomb.zip" for f in doc["findings"])
    assert any("decompression budget" in w for w in doc["warnings"])
    no_full_key([out, err], key)


def test_zip_bomb_is_read_up_to_the_budget(repo, keyguard):
    key = platform_key()
    bomb = hi._zip([("a.env", f"K={key}\n".encode())] + [(f"m{i}", b"\0" * (30 << 20)) for i in range(4)])
    assert len(bomb) < 1 << 20
    repo.write("bomb.zip", bomb)
    r = keyguard("scan", "bomb.zip", "-f", "json", cwd=repo.path)
    out, err = out_err(r)
    doc = json.loads(out)
    assert r.returncode == 1 and len(doc["findings"]) == 1
    assert any("bomb.zip: archive contents beyond the decompression budget" in w for w in doc["warnings"])


def test_placeholder_flood_keeps_a_bounded_list_and_still_finds_the_key(repo, keyguard):
    key = platform_key()
    repo.write("flood.txt", hi.placeholder_text(2 << 20) + f"FLUXLOOP_API_KEY={key}\n".encode())
    repo.git("add", "flood.txt")
    r = keyguard("scan", "--staged", "-f", "json", "--verbose", cwd=repo.path)
    out, err = out_err(r)
    assert r.returncode == 1, err
    doc = json.loads(out)
    assert [f["redacted"] for f in doc["findings"]] == [doc["findings"][0]["redacted"]]
    assert len(doc["suppressed"]) == 1000
    assert any(w.startswith("flood.txt: ") and "more placeholder matches not kept" in w for w in doc["warnings"])
    no_full_key([out, err], key)


def test_many_distinct_keys_are_all_reported_redacted(repo, keyguard):
    data = hi.distinct_keys(3000)
    repo.write("keys.txt", data)
    r = keyguard("scan", "keys.txt", "-f", "json", cwd=repo.path)
    out, err = out_err(r)
    doc = json.loads(out)
    assert r.returncode == 1 and len(doc["findings"]) == 3000
    planted = [line.split(" = ")[1] for line in data.decode().splitlines()]
    no_full_key([out, err], *planted)
    # each snippet redacts its own line's key
    assert all("…" in f["snippet"] for f in doc["findings"])


def test_keys_past_the_per_file_cap_are_counted_in_a_warning(repo, keyguard):
    repo.write("keys.txt", hi.distinct_keys(10_050))
    r = keyguard("scan", "keys.txt", "-f", "json", cwd=repo.path, timeout=600)
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and len(doc["findings"]) == 10_000
    assert any("50 more keys not reported" in w for w in doc["warnings"])


# -- 3. content does not set its own policy ---------------------------------------------------

def test_a_nul_byte_before_a_key_does_not_hide_it(repo, keyguard):
    key = platform_key()
    repo.write("data.bin", b"\0\x01\x02 header\0" + f"token={key}\n".encode())
    r = keyguard("scan", "-f", "json", cwd=repo.path)
    assert r.returncode == 1 and len(json.loads(r.stdout)["findings"]) == 1


def _leaky_history(repo):
    key = platform_key()
    repo.write("app.env", f"K={key}\n")
    repo.commit("leak")
    repo.write("app.env", "K=\n")
    repo.commit("remove")
    return key


def test_a_committed_cache_folder_is_refused(repo, keyguard, tmp_path):
    _leaky_history(repo)
    repo.write(".keyguard-cache/objects.kgc", b"forged\n")
    repo.commit("forged cache")
    r = keyguard("audit", "--cache", ".keyguard-cache", "--no-verify", "--no-hygiene", cwd=repo.path)
    out, err = out_err(r)
    assert r.returncode == 2
    assert "tracks files in it" in one_line_error(err)


def test_a_symlinked_cache_folder_is_refused(repo, keyguard, tmp_path):
    _leaky_history(repo)
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.symlink(target, repo.path / ".keyguard-cache")
    r = keyguard("audit", "--cache", ".keyguard-cache", "--no-verify", "--no-hygiene", cwd=repo.path)
    out, err = out_err(r)
    assert r.returncode == 2 and "symbolic link" in one_line_error(err)
    assert list(target.iterdir()) == []


def test_a_committed_exclude_everything_is_stated_warned_and_ignorable(repo, keyguard, tmp_path):
    key = _leaky_history(repo)
    repo.write(".keyguard.toml", 'exclude = ["**"]\n')
    repo.commit("hide everything")
    outs = tmp_path / "out"
    outs.mkdir()
    args = ["audit", "--no-verify", "--no-hygiene", "--no-cache", "--json", str(outs / "a.json"),
            "--sarif", str(outs / "a.sarif"), "--markdown", str(outs / "a.md")]
    r = keyguard(*args, cwd=repo.path)
    doc = json.loads((outs / "a.json").read_text())
    assert r.returncode == 0 and doc["findings"] == []
    assert doc["policy"]["exclude"].startswith("** (from ") and ".keyguard.toml" in doc["policy"]["exclude"]
    assert any("exclude patterns cover" in w for w in doc["warnings"])
    sarif = json.loads((outs / "a.sarif").read_text())
    assert sarif["runs"][0]["properties"]["policy"]["exclude"] == doc["policy"]["exclude"]
    assert "policy: config" in (outs / "a.md").read_text()
    # the audit's own policy: the repository's config is not read
    r = keyguard(*args, "--no-repo-config", cwd=repo.path)
    doc = json.loads((outs / "a.json").read_text())
    assert r.returncode == 1 and len(doc["findings"]) == 1
    assert doc["policy"]["config"] == "ignored (--no-repo-config)"
    no_full_key([(outs / n).read_text() for n in ("a.json", "a.sarif", "a.md")], key)


def test_text_report_states_the_policy_and_its_origin(repo, keyguard):
    repo.write("k.env", f"K={platform_key()}\n")
    r = keyguard("scan", "--fail-on", "high", cwd=repo.path)
    out, _ = out_err(r)
    assert "policy: config none; exclude none; allow none; fail-on high (from --fail-on)" in out


def test_a_committed_baseline_path_outside_the_repository_is_refused(repo, keyguard, tmp_path):
    repo.write("k.env", f"K={platform_key()}\n")
    repo.write(".keyguard.toml", 'baseline = "../outside.json"\n')
    r = keyguard("baseline", cwd=repo.path)
    out, err = out_err(r)
    assert r.returncode == 2 and "not a path inside the repository" in one_line_error(err)
    assert not (tmp_path / "outside.json").exists()


def test_escape_sequences_in_file_names_do_not_reach_the_terminal(repo, keyguard):
    key = platform_key()
    repo.write(f"evil{ESC}]52;c;aGk={chr(7)}\u202egnp.env", f"K={key}\n")
    r = keyguard("scan", cwd=repo.path)
    out, err = out_err(r)
    assert r.returncode == 1
    assert ESC not in out + err and "\x07" not in out + err and "\u202e" not in out + err
    assert "\\x1b]52" in out and "\\u202e" in out


# -- 4. revocation checks the identity and the result ------------------------------------------

def test_an_endpoint_naming_another_key_gets_no_revoke(hostile, keyguard, tmp_path):
    operator = platform_key("flux_prod_")
    leaked = [platform_key("flux_ci_") for _ in range(3)]
    theirs = status_body(record("key_operator", hint_of(operator), permissions=["manage_keys"]))
    hostile.script["auth_status"] = lambda token, q: Answer.json(200, theirs)
    hostile.script["revoke"] = lambda token, q: Answer.json(200, {"success": True})
    data = "".join(f"k{i}={k}\n" for i, k in enumerate(leaked))
    r = keyguard("scan", "--stdin", "--revoke", "--yes", "-f", "json", cwd=tmp_path, input=data.encode(),
                 env=hostile.env(tmp_path, FLUXLOOP_API_KEY=operator))
    out, err = out_err(r)
    assert r.returncode == 3, err
    assert hostile.calls("revoke") == []
    doc = json.loads(out)
    assert [f["revocation"]["outcome"] for f in doc["findings"]] == ["failed"] * 3
    assert all("record of another key" in f["revocation"]["reason"] for f in doc["findings"])
    no_full_key([out, err], operator, *leaked)


def test_revoke_command_refuses_a_mismatched_record(hostile, keyguard, tmp_path):
    key, other = platform_key("flux_ci_"), platform_key("flux_ci_")
    hostile.script["auth_status"] = lambda token, q: Answer.json(200, status_body(record("k1", hint_of(other))))
    r = keyguard("revoke", "--yes", cwd=tmp_path, input=(key + "\n").encode(), env=hostile.env(tmp_path))
    out, err = out_err(r)
    assert r.returncode == 3 and hostile.calls("revoke") == []
    assert "record of another key" in one_line_error(err)
    no_full_key([out, err], key, other)


def test_revoked_only_when_the_key_stops_answering(hostile, keyguard, tmp_path):
    key = platform_key("flux_ci_")
    hostile.script["auth_status"] = lambda token, q: Answer.json(200, status_body(record("k1", hint_of(key))))
    hostile.script["revoke"] = lambda token, q: Answer.json(200, {"success": True})
    r = keyguard("scan", "--stdin", "--revoke", "--yes", "-f", "json", cwd=tmp_path,
                 input=f"k={key}\n".encode(), env=hostile.env(tmp_path))
    out, err = out_err(r)
    assert r.returncode == 3, err
    rev = json.loads(out)["findings"][0]["revocation"]
    assert rev["outcome"] == "failed" and "still answers live" in rev["reason"]
    assert len(hostile.calls("revoke")) == 1 and len(hostile.calls("auth_status")) == 2


# -- 5. bounded calls ---------------------------------------------------------------------------

def test_a_trickling_answer_is_cut_by_the_deadline(hostile, keyguard, tmp_path):
    key = platform_key()
    body = json.dumps(status_body(record("k1", hint_of(key)))).encode()
    hostile.script["auth_status"] = lambda token, q: Answer(200, body, trickle=0.2)
    r = keyguard("scan", "--stdin", "--verify", "-f", "json", "--api-timeout", "1", "--api-retries", "1",
                 cwd=tmp_path, input=f"k={key}\n".encode(), env=hostile.env(tmp_path))
    out, err = out_err(r)
    v = json.loads(out)["findings"][0]["verification"]
    assert r.returncode == 1 and v["status"] == "unknown"
    assert "timed out after 1s" in v["reason"] or "took more than 1s" in v["reason"], v["reason"]


def test_retry_after_forever_is_not_waited_for(hostile, keyguard, tmp_path):
    keys = [platform_key() for _ in range(3)]
    hostile.script["auth_status"] = lambda token, q: Answer.json(429, {"error": "rate_limited"},
                                                                 **{"Retry-After": "999999"})
    r = keyguard("scan", "--stdin", "--verify", "-f", "json", cwd=tmp_path,
                 input="".join(f"k{i}={k}\n" for i, k in enumerate(keys)).encode(), env=hostile.env(tmp_path))
    out, err = out_err(r)
    doc = json.loads(out)
    assert r.returncode == 1
    assert all(f["verification"]["status"] == "unknown" and "asking to wait" in f["verification"]["reason"]
               for f in doc["findings"])
    assert len(hostile.calls("auth_status")) == 3  # one call per key, no retry


def test_endless_fresh_cursors_stop_at_the_page_cap(hostile, keyguard, tmp_path):
    operator = platform_key("flux_prod_")
    me = status_body(record("op", hint_of(operator), permissions=["manage_keys"]))
    hostile.script["auth_status"] = lambda token, q: Answer.json(200, me)
    counter = iter(range(10 ** 9))
    hostile.script["list"] = lambda token, q: Answer.json(
        200, [record(f"k{next(counter)}", "flux_ci_****...abcd")], **{"X-Next-Cursor": f"c{time.monotonic_ns()}"})
    r = keyguard("keys", "-f", "json", cwd=tmp_path, env=hostile.env(tmp_path, FLUXLOOP_API_KEY=operator),
                 timeout=300)
    out, err = out_err(r)
    assert r.returncode == 2 and "more than 1000 pages" in one_line_error(err)
    assert len(hostile.calls("list")) == 1000


# -- 6 and 7. hostile API text and JSON ---------------------------------------------------------

def test_api_text_cannot_drive_the_terminal(hostile, keyguard, tmp_path):
    operator = platform_key("flux_prod_")
    evil = f"{ESC}[2J{ESC}]52;c;ZXZpbA=={chr(7)}{ESC}]8;;http://x.example{chr(7)}click\u202e"
    me = status_body(record("op", hint_of(operator), name=evil, permissions=["manage_keys"]), account=evil)
    hostile.script["auth_status"] = lambda token, q: Answer.json(200, me)
    r = keyguard("whoami", cwd=tmp_path, env=hostile.env(tmp_path, FLUXLOOP_API_KEY=operator))
    out, err = out_err(r)
    assert r.returncode == 0 and ESC not in out + err and "\u202e" not in out
    assert "\\x1b[2J" in out
    hostile.script["auth_status"] = lambda token, q: Answer.json(
        401, {"error": "invalid_token", "error_description": f"bad{ESC}[31m red"})
    r = keyguard("whoami", cwd=tmp_path, env=hostile.env(tmp_path, FLUXLOOP_API_KEY=operator))
    out, err = out_err(r)
    assert r.returncode == 2 and ESC not in err and "\\x1b[31m" in one_line_error(err)
    no_full_key([out, err], operator)


def test_an_endpoint_echoing_the_key_gets_it_redacted(hostile, keyguard, tmp_path):
    key = platform_key("flux_ci_")
    hostile.script["auth_status"] = lambda token, q: Answer.json(
        200, status_body(record("k1", hint_of(token), name=f"name {token}"), account=token))
    for fmt in ("json", "text", "sarif", "markdown"):
        r = keyguard("scan", "--stdin", "--verify", "-f", fmt, cwd=tmp_path, input=f"k={key}\n".encode(),
                     env=hostile.env(tmp_path))
        out, err = out_err(r)
        assert r.returncode == 3, (fmt, err)
        no_full_key([out, err], key)


@pytest.mark.parametrize("body", [
    b'{"account": "a", "tenant": "t", "key": {"id": "k", "expires_at": 1e300}}',
    b'{"account": "a", "tenant": "t", "key": {"id": "k", "expires_at": 1000000000000000}}',
    b'{"account": "a", "tenant": "t", "key": {"id": "k", "created_at": NaN}}',
    b"[" * 200_000 + b"]" * 200_000,
], ids=["1e300", "10**15", "NaN", "nested-200000"])
def test_absurd_json_is_an_unknown_status_not_a_crash(hostile, keyguard, tmp_path, body):
    key = platform_key()
    hostile.script["auth_status"] = lambda token, q: Answer(200, body)
    r = keyguard("scan", "--stdin", "--verify", "-f", "json", cwd=tmp_path, input=f"k={key}\n".encode(),
                 env=hostile.env(tmp_path))
    out, err = out_err(r)
    assert r.returncode == 1, err
    assert json.loads(out)["findings"][0]["verification"]["status"] == "unknown"
    assert "internal error" not in err and "Traceback" not in err


def test_absurd_json_for_the_operator_is_one_line(hostile, keyguard, tmp_path):
    operator = platform_key("flux_prod_")
    hostile.script["auth_status"] = lambda token, q: Answer(200, b"[" * 200_000 + b"]" * 200_000)
    r = keyguard("whoami", cwd=tmp_path, env=hostile.env(tmp_path, FLUXLOOP_API_KEY=operator))
    out, err = out_err(r)
    assert r.returncode == 2 and "unexpected API response" in one_line_error(err)


# -- 8. keys on keyguard's own command line ------------------------------------------------------

def test_a_key_on_the_command_line_is_warned_about(hostile, keyguard, tmp_path):
    key = platform_key()
    hostile.script["auth_status"] = lambda token, q: Answer.json(
        401, {"error": "invalid_token", "error_description": "Invalid API key"})
    r = keyguard("revoke", key, "--yes", cwd=tmp_path, env=hostile.env(tmp_path))
    out, err = out_err(r)
    assert "other users of this machine can read it" in err and "stdin" in err
    r = keyguard("whoami", "--api-key", key, cwd=tmp_path, env=hostile.env(tmp_path))
    out2, err2 = out_err(r)
    assert "--api-key was given on the command line" in err2 and "FLUXLOOP_API_KEY" in err2
    no_full_key([out, err, out2, err2], key)


def test_a_key_in_the_author_or_a_branch_name_never_reaches_a_report(repo, keyguard, tmp_path):
    """Author, committer and ref names come from the scanned repository: they are shown redacted."""
    import subprocess

    from conftest import GIT_ENV
    author_key, branch_key, key = platform_key("flux_stg_"), platform_key("flux_ci_"), platform_key()
    repo.write("app.env", f"FLUXLOOP_API_KEY={key}\n")
    repo.git("add", "-A")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV, HOME=str(tmp_path / "home"))
    subprocess.run(["git", "commit", "-q", "-m", "env", f"--author=ops {author_key} <ops@example.com>"],
                   cwd=repo.path, env=env, check=True)
    repo.git("branch", f"wip-{branch_key}")
    texts = []
    for fmt in ("json", "sarif", "markdown", "text"):
        r = keyguard("scan", "--history", "-f", fmt, "--no-progress", cwd=repo.path)
        assert r.returncode == 1, r.stderr
        texts += out_err(r)
    assert "ops flux_stg_" in "".join(texts)  # the author is shown, with its key redacted
    r = keyguard("incident", "--offline", "--no-revoke", "--output-dir", str(tmp_path / "inc"), cwd=repo.path,
                 input=(key + "\n").encode())
    # (replacements.txt holds the key on purpose: it is git filter-repo's input, written 0600)
    texts += out_err(r) + tuple(p.read_text() for p in (tmp_path / "inc").iterdir() if p.name != "replacements.txt")
    no_full_key(texts, author_key, branch_key, key)
