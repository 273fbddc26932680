"""`keyguard scan --staged FILE...` as pre-commit calls it: staged files by added lines, others whole."""

from conftest import Repo
from keys import platform_key


def test_named_files_staged_by_added_lines_unstaged_whole(repo: Repo, keyguard):
    old = platform_key("flux_dev_")
    repo.write("app.py", f"KEY = '{old}'\n")
    repo.write("legacy.py", f"KEY = '{old}'\n")
    repo.commit("before keyguard")
    # a commit that touches app.py without adding a key: what it adds is clean
    repo.write("app.py", f"KEY = '{old}'\nTIMEOUT = 5\n")
    repo.git("add", "app.py")
    r = keyguard("scan", "--staged", "app.py", cwd=repo.path)
    assert r.returncode == 0, r.stdout.decode()
    # a file named with nothing staged (pre-commit run --files legacy.py) is scanned whole
    r = keyguard("scan", "--staged", "legacy.py", cwd=repo.path)
    assert r.returncode == 1 and b"legacy.py" in r.stdout
    # a staged file that adds a key is refused, and only the new key is reported
    new = platform_key("flux_dev_")
    repo.write("app.py", f"KEY = '{old}'\nTIMEOUT = 5\nKEY2 = '{new}'\n")
    repo.git("add", "app.py")
    r = keyguard("scan", "--staged", "--format", "json", "app.py", cwd=repo.path)
    assert r.returncode == 1
    out = r.stdout.decode()
    assert '"line": 3' in out and '"line": 1,' not in out
    assert new not in out and old not in out
