"""Precision must hold (issue 12), through the real CLI on a real repository.

Names that start with a prefix, fixtures that say they are fake and truncated
heads (``flx_api_03Tg…...``) are not findings, staged, on disk or in history;
``-v`` lists them with their reason. A platform prefix before a long random body
outside the documented alphabet is one low-severity finding, "key-shaped, unknown
format", never echoed in full. Values are built at run time: the checkout scans clean.
"""

from __future__ import annotations

import json
import secrets
import string

from conftest import Repo
from keys import api_key


def _p(*parts: str) -> str:
    return "".join(parts)


DECOYS = {  # value -> the reason -v gives
    _p("flx", "_parseHttp2HeadersFromStream"): "identifier",
    _p("flux", "_prod_pipelineconfigv2"): "identifier",
    _p("flux", "_dev_environmentsettings2024"): "identifier",
    _p("flx", "_sa_NotARealKeyJustForUnitTests12345"): "placeholder:word",
    _p("flx", "_api_FAKEKEYFORTESTSONLYFAKEKEYFORTESTS"): "placeholder:word",
}


def _decoy_file() -> tuple[str, dict[str, str]]:
    decoys = dict(DECOYS)
    head = api_key()[:len("flx_api_") + 10]  # a documented-shape head, shown cut short
    decoys[head + "..."] = "placeholder:masked"
    lines = []
    for i, value in enumerate(decoys):
        lines += [f'handler_{i} = "{value}"', f"export FLUXLOOP_API_KEY={value}", f"call({value})"]
    return "\n".join(lines) + "\n", decoys


def _scan(keyguard, repo: Repo, *args: str) -> tuple[int, dict, str]:
    r = keyguard("scan", "-v", "-f", "json", *args, cwd=repo.path)
    return r.returncode, json.loads(r.stdout.decode()), r.stdout.decode() + r.stderr.decode()


def test_names_fake_fixtures_and_truncated_heads_are_not_findings(repo: Repo, keyguard):
    text, decoys = _decoy_file()
    repo.write("README.md", "# project\n")
    repo.commit("init")
    repo.write("src/settings.py", text)
    repo.git("add", "-A")
    for args in (("--staged",), ()):
        code, report, _ = _scan(keyguard, repo, *args)
        assert (code, report["findings"]) == (0, []), (args, report["findings"])
        reasons = {s["reason"] for s in report["suppressed"]}
        assert reasons == set(decoys.values()), (args, report["suppressed"])
    repo.commit("settings")
    code, report, _ = _scan(keyguard, repo, "--history")
    assert (code, report["findings"]) == (0, [])


def test_a_prefix_before_a_random_body_outside_the_alphabet_is_low_unknown_format(repo: Repo, keyguard):
    # platform keys are lowercase letters and digits: mixed-case base62 is not that shape
    alphabet = string.ascii_letters + string.digits
    value = _p("flux", "_prod_") + "".join(secrets.choice(alphabet) for _ in range(30)) + "Q7a"
    repo.write("deploy.yaml", f'token: "{value}"\n')
    repo.commit("deploy")
    for args in ((), ("--history",)):
        code, report, out = _scan(keyguard, repo, *args)
        [f] = report["findings"]
        assert (code, f["severity"], f["details"]["format"], f["path"], f["line"]) == \
            (1, "low", "key-shaped, unknown format", "deploy.yaml", 1), (args, f)
        assert value not in out
    # low severity: a gate on high lets it through, and says so
    r = keyguard("scan", "--fail-on", "high", cwd=repo.path)
    assert r.returncode == 0 and value not in (r.stdout + r.stderr).decode()
    assert b"unknown format" in r.stdout
