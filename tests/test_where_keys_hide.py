"""Every hiding place the issue lists, each in a real git repository, found by the real CLI.

For each file shape the key is staged (`scan --staged`, the pre-commit path) and
also committed and scanned from disk (`scan`); the finding must name the file
and the line, and the output must never hold the key.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
import zipfile

import pytest

from conftest import Repo
from keys import api_key, jwt_key, platform_key


def notebook(key: str) -> str:
    cells = [{"cell_type": "code", "source": ["import os\n", f"os.environ['FLUXLOOP_API_KEY'] = '{key}'\n"],
              "metadata": {}, "outputs": [], "execution_count": 1}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def zipped(key: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config/.env", f"FLUXLOOP_API_KEY={key}\n")
    return buf.getvalue()


def pyc(key: str) -> bytes:
    """A compiled Python module holding the key as a string constant (the real ``marshal`` format)."""
    import importlib.util
    import marshal

    code = compile(f"API_KEY = {key!r}\n", "settings.py", "exec")
    return importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code)


def sqlite_like(key: str) -> bytes:
    """A database page: binary header, then the key as UTF-16LE text (SQLite's UTF-16 encodings)."""
    return b"SQLite format 3\0" + bytes(range(1, 40)) * 3 + ("api_key=" + key).encode("utf-16-le") + b"\0" * 64


def pickled(key: str) -> bytes:
    import pickle

    return pickle.dumps({"settings": {"api_key": key}, "n": list(range(10))}, protocol=4)


def gzipped(key: str) -> bytes:
    import gzip

    return gzip.compress(f"2024-01-01 boot\nFLUXLOOP_API_KEY={key}\n".encode(), mtime=0)


def tarred(files: dict[str, bytes], compress: str = "") -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:" + compress) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_image(key: str) -> bytes:
    """A ``docker save`` image: a tar holding a manifest and a gzipped layer tarball."""
    layer = tarred({"app/.env": f"FLUXLOOP_API_KEY={key}\n".encode(), "bin/tool": bytes(range(256))}, "gz")
    return tarred({"manifest.json": b'[{"Layers": ["blobs/sha256/ab12/layer.tar"]}]',
                   "blobs/sha256/ab12/layer.tar": layer})


def wrapped_b64(text: str, width: int, indent: str = "") -> str:
    blob = base64.b64encode(text.encode()).decode()
    return "".join(f"{indent}{blob[i:i + width]}\n" for i in range(0, len(blob), width))


# (path, make content from key, expected line or None when lines are not meaningful)
CASES = {
    "dotenv": (".env", lambda k: f"# local\nFLUXLOOP_API_KEY={k}\n", 2),
    "fluxloop-dotenv": (".fluxloop/.env", lambda k: f"FLUXLOOP_API_KEY={k}\nFLUXLOOP_API_ENDPOINT=https://api.fluxloop.ai\n", 1),
    "fluxloop-config": (".fluxloop/config.yaml", lambda k: f"project: bot\napi_key: {k}\n", 2),
    "credentials-json": ("home/.fluxloop/credentials", lambda k: json.dumps(
        {"default_profile": "production", "profiles": {"production": {"access_token": k}}}, indent=2), 5),
    "credentials-yaml": ("home/.fluxloop/credentials.yaml", lambda k: f"profiles:\n  default:\n    api_key: {k}\n", 3),
    "shell-export": ("scripts/env.sh", lambda k: f"#!/bin/sh\nexport FLUXLOOP_API_KEY=\"{k}\"\n", 2),
    "python": ("app/settings.py", lambda k: f"import os\n\nFLUX_KEY = '{k}'\n", 3),
    "javascript": ("web/src/api.js", lambda k: f"const client = new Flux({{\n  apiKey: \"{k}\",\n}});\n", 2),
    "go": ("cmd/main.go", lambda k: f"package main\n\nconst apiKey = `{k}`\n", 3),
    "json": ("config/settings.json", lambda k: json.dumps({"fluxloop": {"key": k}}, indent=2), 3),
    "toml": ("config/app.toml", lambda k: f"[fluxloop]\napi_key = \"{k}\"\n", 2),
    "ini": ("setup.cfg", lambda k: f"[fluxloop]\napi_key = {k}\n", 2),
    "terraform": ("infra/terraform.tfvars", lambda k: f"region = \"eu-west-1\"\nfluxloop_api_key = \"{k}\"\n", 2),
    "ci-workflow": (".github/workflows/test.yml", lambda k: f"jobs:\n  test:\n    env:\n      FLUXLOOP_API_KEY: {k}\n", 4),
    "markdown": ("docs/setup.md", lambda k: f"# Setup\n\nUse `{k}` for now.\n", 3),
    "notebook": ("analysis.ipynb", notebook, None),
    "minified": ("static/app.min.js", lambda k: "!function(){" + "var a=1;" * 3000 + f"c.key=\"{k}\";" + "}();", 1),
    "url": ("docs/curl.txt", lambda k: f"curl 'https://api.fluxloop.ai/v1/scenarios?api_key={k}&limit=5'\n", 1),
    "k8s-base64": ("deploy/secret.yaml", lambda k: "apiVersion: v1\nkind: Secret\ndata:\n  api-key: "
                   + base64.b64encode(k.encode()).decode() + "\n", 4),
    "url-encoded": ("logs/request.log", lambda k: "GET /cb?token=" + urllib.parse.quote(k, safe="") .replace("_", "%5F") + "\n", 1),
    "json-escaped": ("data/blob.json", lambda k: '{"cfg": "{\\"key\\": \\"' + k.replace("_", "\\u005f") + '\\"}"}\n', 1),
    "zip": ("release/bundle.zip", zipped, None),
    "crlf": ("win/settings.ini", lambda k: f"[a]\r\nname = x\r\nkey = {k}\r\n", 3),
    "bom-nonascii": ("i18n/notes.txt", lambda k: "\ufeffClé d'accès «" + k + "» — à garder secrète\n", 1),
    "utf16": ("win/notes.txt", lambda k: ("note\r\nkey=" + k + "\r\n").encode("utf-16"), 2),
    "pyc": ("app/__pycache__/settings.cpython-311.pyc", pyc, None),
    "sqlite-utf16": ("data/app.db", sqlite_like, None),
    "pickle": ("cache/state.pkl", pickled, None),
    "gzip": ("logs/boot.log.gz", gzipped, None),
    "tar": ("dist/config.tar", lambda k: tarred({"etc/app.env": f"FLUXLOOP_API_KEY={k}\n".encode()}), None),
    "tgz": ("dist/config.tgz", lambda k: tarred({"etc/app.env": f"FLUXLOOP_API_KEY={k}\n".encode()}, "gz"), None),
    "docker-image": ("images/app.tar", docker_image, None),
    "json-all-escaped": ("web/bundle.js", lambda k: "var cfg = {key: \"" + "".join("\\u%04x" % ord(c) for c in k) + "\"};\n", 1),
    "url-all-encoded": ("logs/access.log", lambda k: "x\nGET /cb?t=" + "".join("%%%02X" % ord(c) for c in k) + " 200\n", 2),
    "html-entities": ("site/index.html", lambda k: "<p>\n<code>" + "".join("&#%d;" % ord(c) for c in k) + "</code>\n", 2),
    "html-hex-entities": ("site/key.html", lambda k: "<i>" + "".join("&#x%x;" % ord(c) for c in k) + "</i>\n", 1),
    # issue 3: wrapped base64, base64 of a JWT, URL-encoding inside base64; issue 6: concatenations
    "pem-wrapped-64": ("certs/app.pem", lambda k: "-----BEGIN APP CONFIG-----\n" + wrapped_b64(
        "# generated\n" + "#" * 40 + f"\nFLUXLOOP_API_KEY={k}\n", 64) + "-----END APP CONFIG-----\n", 2),
    "mime-76": ("mail/settings.eml", lambda k: "Subject: settings\nContent-Transfer-Encoding: base64\n\n"
                + wrapped_b64("hello team, here are the settings:\n" * 2 + f"FLUXLOOP_API_KEY={k}\n", 76), 4),
    "yaml-block-base64": ("deploy/app-config.yaml", lambda k: "kind: Secret\ndata:\n  app.env: |\n"
                          + wrapped_b64(f"MODE=prod\nFLUXLOOP_API_KEY={k}\n", 32, "    "), 4),
    "jwt-base64": ("deploy/jwt-secret.yaml", lambda k: "kind: Secret\ndata:\n  token: "
                   + base64.b64encode(k.encode()).decode() + "\n", 3),
    "jwt-base64url": ("conf/token.b64", lambda k: base64.urlsafe_b64encode(f"TOKEN={k}".encode()).decode() + "\n", 1),
    "base64-url-encoded": ("conf/cb.b64", lambda k: "cb: " + base64.b64encode(
        f"https://x.test/cb?key={k.replace('_', '%5F')}&y=1".encode()).decode() + "\n", 1),
    "concat-python": ("app/keys.py", lambda k: f"import os\nKEY = ('{k[:10]}'\n       '{k[10:]}')\n", 2),
    "concat-js": ("web/src/key.js", lambda k: f'const key = "{k[:14]}" +\n  "{k[14:]}";\n', 1),
    "concat-go": ("cmd/key.go", lambda k: f'package main\n\nvar key = "{k[:5]}" + "{k[5:]}"\n', 3),
}


def content(case: str, key: str) -> bytes:
    data = CASES[case][1](key)
    return data if isinstance(data, bytes) else data.encode("utf-8")


def key_for(case: str) -> str:
    if case == "credentials-json":
        return api_key("flx_")
    if case in ("javascript", "jwt-base64", "jwt-base64url"):
        return jwt_key()
    return platform_key("flux_prod_") if case not in ("go", "terraform") else api_key("flx_api_")


@pytest.mark.parametrize("case", sorted(CASES))
def test_key_is_found_staged_and_on_disk(repo: Repo, keyguard, case: str):
    path, _, line = CASES[case]
    key = key_for(case)
    repo.write("README.md", "# project\n")
    repo.commit("init")
    repo.write(path, content(case, key))
    repo.git("add", "-A")
    for args in (("scan", "--staged", "--format", "json"), ("scan", "--format", "json")):
        r = keyguard(*args, cwd=repo.path)
        out = r.stdout.decode()
        assert r.returncode == 1, (case, args, out, r.stderr.decode())
        findings = json.loads(out)["findings"]
        assert [f["path"] for f in findings] == [path], (case, args, findings)
        if line is not None:
            assert findings[0]["line"] == line, (case, args, findings[0])
        assert key not in out and key not in r.stderr.decode()
        # also not in an encoded form the user could paste back
        assert base64.b64encode(key.encode()).decode() not in out


def test_binary_file_is_skipped_but_text_in_it_is_not_lost(repo: Repo, keyguard):
    key = platform_key("flux_dev_")
    repo.write("assets/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    repo.write("assets/readme.txt", f"key {key}\n")
    r = keyguard("scan", "--format", "json", cwd=repo.path)
    assert [f["path"] for f in json.loads(r.stdout)["findings"]] == ["assets/readme.txt"]


def test_history_finds_every_shape_once_committed(repo: Repo, keyguard):
    keys = {case: key_for(case) for case in CASES}
    for case, key in keys.items():
        repo.write(CASES[case][0], content(case, key))
    repo.commit("everything at once")
    for case in CASES:
        (repo.path / CASES[case][0]).unlink()
    repo.commit("and gone")
    r = keyguard("scan", "--history", "--format", "json", cwd=repo.path)
    found = {f["path"] for f in json.loads(r.stdout)["findings"]}
    assert found == {CASES[c][0] for c in CASES}


BINARY_AND_ARCHIVES = ("pyc", "sqlite-utf16", "pickle", "gzip", "tar", "tgz", "docker-image",
                       "json-all-escaped", "url-all-encoded", "html-entities", "html-hex-entities")


def test_binaries_archives_and_escapes_are_found_in_range_scans(repo: Repo, keyguard):
    """`--since REF` and `A..B` (the pre-push path) read the same blobs the full history does."""
    repo.write("README.md", "# project\n")
    base = repo.commit("init")
    keys = {case: key_for(case) for case in BINARY_AND_ARCHIVES}
    for case, key in keys.items():
        repo.write(CASES[case][0], content(case, key))
    repo.commit("binaries")
    expected = {CASES[c][0] for c in BINARY_AND_ARCHIVES}
    for args in (("--since", base), (f"{base}..HEAD",)):
        r = keyguard("scan", "--history", *args, "--format", "json", cwd=repo.path)
        out = r.stdout.decode()
        found = json.loads(out)["findings"]
        assert {f["path"] for f in found} == expected, (args, found)
        assert all(key not in out + r.stderr.decode() for key in keys.values())


DECOYS = {
    "certs/ca.pem": lambda: "-----BEGIN CERTIFICATE-----\n" + "".join(
        base64.b64encode(__import__("secrets").token_bytes(48)).decode() + "\n" for _ in range(20))
        + "-----END CERTIFICATE-----\n",
    "mail/note.eml": lambda: "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(
        b"the flux of the flx pipeline, nothing secret here\n" * 20).decode(),
    "app/names.py": lambda: 'PREFIX = "flux_prod_" + "pipeline"\nNAME = "flux_prod_pipelineconfigv2"\n'
                            'LABEL = ("flux_dev_"\n         "sandbox")\nKEY = "flux_prod_" + os.environ["SUFFIX"]\n',
    "web/x.js": lambda: "const p = 'flux_ci_' + env + '_' + 'runner';\n",
}


def test_encoded_and_concatenated_decoys_are_not_reported(repo: Repo, keyguard):
    """Random base64 bodies, certificates, harmless concatenations: nothing, staged, on disk or in history."""
    repo.write("README.md", "# project\n")
    repo.commit("init")
    for path, make in DECOYS.items():
        repo.write(path, make())
    repo.git("add", "-A")
    for args in (("scan", "--staged"), ("scan",)):
        r = keyguard(*args, "--format", "json", cwd=repo.path)
        assert r.returncode == 0 and json.loads(r.stdout)["findings"] == [], (args, r.stdout.decode())
    repo.commit("decoys")
    r = keyguard("scan", "--history", "--format", "json", cwd=repo.path)
    assert r.returncode == 0 and json.loads(r.stdout)["findings"] == [], r.stdout.decode()


def test_partial_key_is_reported_low_and_marked(repo: Repo, keyguard):
    key = platform_key("flux_prod_")
    fragment = key[:24]
    repo.write("app/conf.py", f"import os\nAPI_KEY = '{fragment}' + os.environ['REST']\n")
    repo.git("add", "-A")
    for args in (("scan", "--staged"), ("scan",)):
        r = keyguard(*args, "--format", "json", cwd=repo.path)
        out = r.stdout.decode()
        [f] = json.loads(out)["findings"]
        assert (r.returncode, f["line"], f["severity"], f["partial"]) == (1, 2, "low", True), out
        assert f["details"]["format"] == "partial key (concatenation)"
        assert fragment not in out + r.stderr.decode()
    repo.commit("conf")
    r = keyguard("scan", "--history", "--format", "json", cwd=repo.path)
    [f] = json.loads(r.stdout)["findings"]
    assert f["partial"] is True


def test_staged_reports_a_key_whose_wrapped_body_changes_below_its_first_line(repo: Repo, keyguard):
    """The finding is placed at the block's first line; the commit may add only the lines below it."""
    new = platform_key("flux_prod_")
    env = "MODE=prod\n" + "#" * 120 + "\n"
    text = lambda k: "kind: Secret\ndata:\n  app.env: |\n" + wrapped_b64(env + (f"KEY={k}\n" if k else ""), 64, "    ")
    repo.write("deploy/secret.yaml", text(""))
    repo.commit("no key yet")
    repo.write("deploy/secret.yaml", text(new))
    repo.git("add", "-A")
    added = [line[1:] for line in repo.git("diff", "--cached", "-U0").splitlines() if line.startswith("+    ")]
    assert added and text(new).splitlines()[3] not in added  # the block's first line is not added
    r = keyguard("scan", "--staged", "--format", "json", cwd=repo.path)
    [f] = json.loads(r.stdout)["findings"]
    assert (f["line"], f["encoding"]) == (4, "base64"), r.stdout.decode()
    assert new not in r.stdout.decode()
