"""keyguard scans its own repository clean: no key-shaped literal lives outside the rule packs."""

from conftest import ROOT


def test_keyguard_repository_is_clean(keyguard):
    r = keyguard("scan", "--format", "json", cwd=ROOT)
    assert r.returncode == 0, r.stdout.decode()[:2000]


def test_keyguard_history_is_clean(keyguard):
    """Every commit HEAD reaches (a shallow clone has fewer: still none may hold a key)."""
    r = keyguard("scan", "--history", "--no-progress", "--format", "json", "HEAD", cwd=ROOT)
    assert r.returncode == 0, r.stdout.decode()[:2000]


def test_no_file_names_a_path_outside_the_repository():
    """Code, tests, scripts and docs carry what they need: no path beside the checkout or on a build machine."""
    import subprocess

    needles = ("../" + "shared", "/" + "work/")  # split, so this test does not match itself
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    hits = []
    for rel in filter(None, files.decode().split("\0")):
        path = ROOT / rel
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        hits += [f"{rel}: {n}" for n in needles if n in text]
    assert hits == []
