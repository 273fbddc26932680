"""keyguard scans its own repository clean: no key-shaped literal lives outside the rule packs."""

from conftest import ROOT


def test_keyguard_repository_is_clean(keyguard):
    r = keyguard("scan", "--format", "json", cwd=ROOT)
    assert r.returncode == 0, r.stdout.decode()[:2000]
