"""The baseline: only new keys are reported; the file holds no secret, no path, no line."""

from __future__ import annotations

import json

from conftest import Repo
from keys import platform_key


def test_baseline_hides_known_keys_and_reports_new_ones(repo: Repo, keyguard):
    old = platform_key("flux_prod_")
    repo.write("config/app.yaml", f"fluxloop:\n  api_key: {old}\n")
    r = keyguard("baseline", cwd=repo.path)
    assert r.returncode == 0, r.stderr.decode()
    text = (repo.path / ".keyguard-baseline.json").read_text()
    assert old not in text and old[10:] not in text and "config/app.yaml" not in text
    doc = json.loads(text)
    assert len(doc["entries"]) == 1 and "line" not in json.dumps(doc["entries"])

    assert keyguard("scan", cwd=repo.path).returncode == 0
    # moving the key to other lines and files does not churn or resurface it
    repo.write("config/app.yaml", f"# moved\n\n\nfluxloop:\n  api_key: {old}\n")
    repo.write("config/other.yaml", f"backup: {old}\n")
    r = keyguard("scan", cwd=repo.path)
    assert r.returncode == 0, r.stdout.decode()
    assert "2 baselined" in r.stderr.decode()

    # a different key on the same line is not hidden
    new = platform_key("flux_prod_")
    repo.write("config/app.yaml", f"fluxloop:\n  api_key: {new}\n")
    r = keyguard("scan", "--format", "json", cwd=repo.path)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert [f["redacted"] for f in doc["findings"]] == [doc["findings"][0]["redacted"]]
    assert doc["findings"][0]["path"] == "config/app.yaml"


def test_baseline_refuses_to_overwrite_and_update_drops_stale(repo: Repo, keyguard):
    a, b = platform_key("flux_dev_"), platform_key("flux_dev_")
    repo.write("a.env", f"K={a}\n")
    repo.write("b.env", f"K={b}\n")
    assert keyguard("baseline", cwd=repo.path).returncode == 0
    before = (repo.path / ".keyguard-baseline.json").read_text()
    r = keyguard("baseline", cwd=repo.path)
    assert r.returncode == 2 and "--update" in r.stderr.decode()
    assert (repo.path / ".keyguard-baseline.json").read_text() == before

    (repo.path / "b.env").unlink()
    r = keyguard("scan", cwd=repo.path)
    assert r.returncode == 0
    assert "1 baseline entries no longer match" in (r.stdout + r.stderr).decode()
    r = keyguard("baseline", "--update", cwd=repo.path)
    assert r.returncode == 0 and "1 removed" in r.stderr.decode()
    after = json.loads((repo.path / ".keyguard-baseline.json").read_text())
    assert len(after["entries"]) == 1
    assert after["salt"] == json.loads(before)["salt"]


def test_corrupt_baseline_is_a_one_line_error(repo: Repo, keyguard):
    repo.write(".keyguard-baseline.json", "{not json")
    repo.write("x.txt", "hello\n")
    r = keyguard("scan", cwd=repo.path)
    err = r.stderr.decode()
    assert r.returncode == 2 and ".keyguard-baseline.json" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
