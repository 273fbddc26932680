"""Where keys hide: base64, URL and JSON escapes, UTF-16, zip members, and huge chunked inputs."""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
import zipfile

import pytest

import keys
from keyguard.detect.detector import OVERLAP, Detector
from keyguard.detect.rulepack import load_rules

DETECTOR = Detector(load_rules())


def live(data: bytes, detector: Detector = DETECTOR):
    return [h for h in detector.scan(data) if h.suppressed is None]


# ---- base64 ---------------------------------------------------------------------------

@pytest.mark.parametrize("lead", ["", "=", ": ", "KEY=", "FLUXLOOP_API_KEY="])  # 0, 1, 2, 1, 2 bytes mod 3
def test_base64_at_any_alignment(lead):
    for key in (keys.platform_key("flux_prod_"), keys.api_key("flx_"), keys.api_key("flx_refresh_")):
        blob = base64.b64encode(f"{lead}{key}\n".encode()).decode()
        text = f"apiVersion: v1\nkind: Secret\ndata:\n  api_key: {blob}\n"
        [hit] = live(text.encode())
        assert hit.secret == key and hit.encoding == "base64"
        assert (hit.line, hit.column, hit.end_column) == (4, 12, 12 + len(blob))
        assert blob in hit.line_text


def test_base64_urlsafe_and_unpadded_and_mid_text():
    key = keys.api_key("flx_api_")
    raw = b"\xfb\xff" + f"token={key}".encode() + b"\xfe"
    blob = base64.urlsafe_b64encode(raw).rstrip(b"=")
    assert blob.startswith(b"-_")  # \xfb\xff: the urlsafe alphabet is really in use
    [hit] = live(b"value: '" + blob + b"' # from vault")
    assert hit.secret == key and hit.encoding == "base64"


def test_base64_of_a_placeholder_stays_suppressed():
    blob = base64.b64encode(b"FLUXLOOP_API_KEY=flux_dev_abc123def456ghi789jkl012mno34\n")
    hits = DETECTOR.scan(b"data:\n  k: " + blob)
    assert [(h.encoding, h.suppressed) for h in hits] == [("base64", "placeholder:seed-example")]


def test_base64_without_a_key_gives_nothing():
    blob = base64.b64encode(b"just some configuration text, flux capacitor included\n" * 20)
    assert DETECTOR.scan(blob) == []


# ---- URL and JSON escapes ----------------------------------------------------------------

def test_url_encoded_key():
    key = keys.platform_key("flux_stg_")
    line = f"GET /v1/run?api_key={key.replace('_', '%5F')}&x=1 HTTP/1.1"
    [hit] = live(line.encode())
    start = line.index("flux%5F") + 1
    assert (hit.secret, hit.encoding, hit.column, hit.end_column) == (key, "url", start, start + len(key) + 4)


def test_url_encoded_lowercase_hex_and_plain_key_in_url():
    a, b = keys.api_key("flx_sa_"), keys.platform_key("flux_dev_")
    hits = live(f"https://x.test/?a={a.replace('_', '%5f')}&b={b}".encode())
    assert [(h.secret, h.encoding) for h in hits] == [(a, "url"), (b, "")]


def test_json_escapes():
    key = keys.platform_key("flux_prod_")
    doc = json.dumps({"url": "https://api.fluxloop.ai/", "k": key.replace("_", "\\u005f")})
    doc = doc.replace("\\\\u005f", "\\u005f").replace("/", "\\/")
    [hit] = live(doc.encode())
    assert hit.secret == key and hit.encoding == "json-escape"
    assert hit.column == doc.index("flux\\u005f") + 1


# ---- text encodings ---------------------------------------------------------------------

@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_bom(codec):
    key = keys.api_key("flx_api_")
    text = f"# Konfiguration für Ärzte\r\nKEY={key}\r\n"
    [hit] = live(text.encode(codec))
    assert (hit.secret, hit.line, hit.column, hit.encoding) == (key, 2, 5, "utf-16")
    assert hit.line_text == f"KEY={key}"


# ---- zip archives -------------------------------------------------------------------------

def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_members_are_scanned():
    a, b = keys.platform_key(), keys.api_key()
    inner = make_zip({"deep/.env": f"K={b}\n".encode()})
    data = make_zip({"README.md": b"nothing here\n", "conf/app.env": f"# x\nKEY={a}\n".encode(),
                     "vendor/inner.zip": inner})
    hits = live(data)
    assert sorted((h.secret, h.encoding, h.line, h.column) for h in hits) == sorted([
        (a, "zip:conf/app.env", 2, 5), (b, "zip:vendor/inner.zip/zip:deep/.env", 1, 3)])


def test_zip_total_size_is_bounded():
    key = keys.platform_key()
    data = make_zip({"a.bin": b"\0" * 5_000_000, "b.env": f"K={key}\n".encode()})
    assert [h.secret for h in live(data)] == [key]
    small = Detector(load_rules(), max_zip_bytes=1_000_000)
    assert live(data, small) == []  # the budget ran out inside a.bin


def limit_notes(data: bytes, detector: Detector) -> list[str]:
    return [h.suppressed for h in detector.scan(data) if h.suppressed and h.suppressed.startswith("limit:")]


def test_zip_gzip_and_tar_draw_on_one_budget_and_its_cut_is_reported():
    import gzip
    import tarfile

    first, late = keys.platform_key(), keys.platform_key()
    filler = b"# nothing to see here, just a line of text\n" * 14_000  # 616 KB each
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("a.zip", make_zip({"a.txt": f"K={first}\n".encode() + filler})),
                           ("b.gz", gzip.compress(filler + f"K={late}\n".encode(), mtime=0))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    assert sorted(h.secret for h in live(data)) == sorted([first, late]) and limit_notes(data, DETECTOR) == []
    small = Detector(load_rules(), max_zip_bytes=1_000_000)  # less than the zip and the gzip together
    assert [h.secret for h in live(data, small)] == [first]
    assert limit_notes(data, small) == ["limit: archive contents beyond the decompression budget not scanned"
                                        " (size limit)"]


def test_gzip_bomb_is_cut_and_the_cut_is_reported():
    import zlib

    key = keys.platform_key()
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = z.compress(f"K={key}\n".encode()) + b"".join(z.compress(b"\0" * (1 << 20)) for _ in range(100)) + z.flush()
    assert len(bomb) < 200_000
    assert [h.secret for h in live(bomb)] == [key]
    assert limit_notes(bomb, DETECTOR) == ["limit: archive contents beyond the decompression budget not scanned"
                                           " (inflates more than 200 times (bomb))"]


def test_not_really_a_zip_is_scanned_as_bytes():
    key = keys.platform_key()
    assert [h.secret for h in live(b"PK\x03\x04 garbage " + key.encode())] == [key]


# ---- huge inputs in chunks ------------------------------------------------------------------

def chunked(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def view(hits):
    return [(h.rule.id, h.secret, h.line, h.column, h.end_column, h.encoding, h.suppressed) for h in hits]


@pytest.mark.parametrize("size", [7, 1000, 65536, 100_000])
def test_scan_chunks_equals_scan_and_finds_border_keys_once(size):
    lines = []
    planted = []
    for i in range(3000):
        if i % 97 == 5:
            key = keys.any_key()
            planted.append(key)
            lines.append(f"é{i}: token={key} ok")
        else:
            lines.append(f"line {i} ünïcode ✓ nothing to see " + "z" * (i % 50))
    data = "\n".join(lines).encode()
    whole = DETECTOR.scan(data)
    assert sorted(h.secret for h in whole if not h.suppressed) == sorted(planted)
    assert view(DETECTOR.scan_chunks(chunked(data, size))) == view(whole)


def test_scan_chunks_key_exactly_across_every_border_position():
    key = keys.platform_key()
    for cut in range(0, len(key) + 1, 5):
        data = b"a" * (70_000 - cut) + b"\nK=" + key.encode() + b"\n"
        hits = DETECTOR.scan_chunks(chunked(data, 70_003))
        assert [(h.secret, h.line, h.column) for h in hits] == [(key, 2, 3)]


def test_scan_chunks_long_line_text_is_trimmed_and_memory_bounded():
    key = keys.platform_key()
    chunk = b"x" * 65536

    def stream():
        for _ in range(150):  # ~10 MB on one line
            yield chunk
        yield b";k=" + key.encode() + b";"
        for _ in range(50):
            yield chunk

    tracemalloc.start()
    try:
        hits = DETECTOR.scan_chunks(stream())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [hit] = hits
    assert hit.line == 1 and hit.column == 150 * 65536 + 4
    assert key in hit.line_text and len(hit.line_text) < 1200
    assert peak < 8 * (65536 + OVERLAP), peak


def test_scan_chunks_utf16_and_zip():
    key = keys.api_key("flx_sa_")
    data = ("hello\n" * 50_000 + f"K={key}\n").encode("utf-16")
    [hit] = DETECTOR.scan_chunks(chunked(data, 4096))
    assert (hit.secret, hit.line, hit.encoding) == (key, 50_001, "utf-16")
    z = make_zip({"x/.env": f"K={key}\n".encode()})
    assert [h.encoding for h in DETECTOR.scan_chunks(chunked(z, 50))] == ["zip:x/.env"]


# ---- base64 wrapped over lines (PEM, MIME, YAML block scalars) -------------------------------

def wrapped(blob: str, width: int, indent: str = "") -> str:
    return "".join(f"{indent}{blob[i:i + width]}\n" for i in range(0, len(blob), width))


@pytest.mark.parametrize("width", [64, 76])
@pytest.mark.parametrize("lead", range(0, 90, 7))  # the key starts anywhere, across a break or not
def test_base64_wrapped_at_64_or_76_columns_is_joined(width, lead):
    key = keys.platform_key("flux_prod_")
    blob = base64.b64encode(("x" * lead + f"\nFLUXLOOP_API_KEY={key}\nOTHER=1\n").encode()).decode()
    text = "-----BEGIN CONFIG-----\n" + wrapped(blob, width) + "-----END CONFIG-----\n"
    hits = DETECTOR.scan(text.encode())
    if not hits:  # not looked for: the stem's base64 cut after its first character, or ``mbH`` cut
        assert not any(n.decode() in text for n, _ in DETECTOR._b64), (lead, text)
        assert any(f"{n[:1]}\n{n[1:]}" in text or f"{n[:2]}\n{n[2:]}" in text for n in ("Zmx1e", "mbHV4")), text
        return
    [hit] = hits
    assert (hit.secret, hit.encoding, hit.line, hit.column, hit.suppressed) == (key, "base64", 2, 1, None)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_base64_needle_cut_by_the_line_break(newline):
    key = keys.platform_key("flux_prod_")
    for lead in range(200):
        blob = base64.b64encode(("y" * lead + f"\nKEY={key}\n").encode()).decode()
        at = blob.find("ZsdX")  # "flux" one byte into a group
        if at != -1 and at % 64 == 62:  # "Zs|dX": no whole needle is left on either line
            break
    else:
        pytest.fail("no lead puts the needle across the break")
    text = "data: |\n" + "".join(f"  {blob[i:i + 64]}{newline}" for i in range(0, len(blob), 64))
    [hit] = live(text.encode())
    assert (hit.secret, hit.line, hit.column) == (key, 2, 3)


def test_mime_body_key_found_whole_not_cut_at_the_line_end():
    key = keys.platform_key("flux_prod_")
    body = base64.encodebytes(("some header text here " * 3 + "FLUXLOOP_API_KEY=" + key + "\n").encode())
    assert body.count(b"\n") == 3  # the key's base64 really spans a line break
    [hit] = live(b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" + body)
    assert (hit.secret, hit.line, hit.column) == (key, 4, 1)


def test_yaml_block_scalar_base64_with_indent_and_crlf():
    key = keys.api_key("flx_api_")
    blob = base64.b64encode(f"# app settings\napi_key: {key}\n".encode()).decode()
    text = "apiVersion: v1\nkind: Secret\ndata:\n  settings.yaml: |\n" + wrapped(blob, 20, "    ")
    [hit] = live(text.replace("\n", "\r\n").encode())
    assert (hit.secret, hit.encoding, hit.line, hit.column) == (key, "base64", 5, 5)


def test_wrapped_base64_without_a_key_and_pem_certificates_give_nothing():
    import secrets as rnd

    blob = base64.b64encode(rnd.token_bytes(3000)).decode()
    cert = "-----BEGIN CERTIFICATE-----\n" + wrapped(blob, 64) + "-----END CERTIFICATE-----\n"
    assert live(cert.encode()) == []
    mime = base64.encodebytes(b"the flux of data and flx words in a plain email body\n" * 30)
    assert DETECTOR.scan(mime) == []


def test_lines_of_unequal_width_are_not_joined():
    key = keys.platform_key("flux_prod_")
    blob = base64.b64encode(f"K={key}\n".encode()).decode()
    # two base64 values on consecutive lines, cut where the key is: not one wrapped body
    text = blob[:30] + "\n" + blob[30:] + "xyzq\n"
    assert [h.secret for h in live(text.encode())] != [key]


# ---- base64 and base64url of a JWT API key ----------------------------------------------------

def jwt_with_header(order: str, spaced: bool = False) -> str:
    """A FluxLoop JWT API key whose compact header names alg, typ and kid in ``order`` ("alg,typ,kid")."""
    header = {"alg": "RS256", "typ": "JWT", "kid": "api-key-1"}
    token = keys.jwt_key()
    seps = (", ", ": ") if spaced else (",", ":")
    head = keys.b64url(json.dumps({k: header[k] for k in order.split(",")}, separators=seps).encode())
    return head + token[token.index("."):]


# (header order, lead bytes before the JWT: 3n -> aligned, 3n+1 -> one byte in, 3n+2 -> two bytes in)
# every shape keyguard looks for (decoders.JWT_BASE64_NEEDLES)
JWT_SHAPES = [(order, lead) for order in ("alg,typ,kid", "alg,kid,typ", "typ,alg,kid", "alg,typ")
              for lead in ("", "TOKEN=", "KEY=", "K:", "T=", "API_KEY=")] + [("kid,alg,typ", ""), ("kid,alg", "KEY=")]


@pytest.mark.parametrize("first,lead", JWT_SHAPES)
@pytest.mark.parametrize("urlsafe", [False, True])
def test_base64_of_a_jwt_api_key(first, lead, urlsafe):
    token = jwt_with_header(first)
    if first == "alg,typ":
        token = token.replace(token[:token.index(".")], keys.b64url(b'{"alg":"HS256","typ":"JWT"}'))
        token = token.split(".")[0] + "." + keys.b64url(b'{"key_id":"k-1","scopes":["api:read"]}') + "." + \
            token.split(".")[2]
    raw = f"{lead}{token}\n".encode()
    blob = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
    [hit] = live(f"data:\n  token: {blob}\n".encode())
    assert (hit.secret, hit.rule.id, hit.encoding, hit.line, hit.column) == (
        token, "fluxloop-jwt-api-key", "base64", 2, 10)
    assert dict(hit.details).get("kid", "api-key-1") == "api-key-1"


def test_base64_of_a_jwt_aligned_whatever_its_header():
    """Aligned, any header is found (``ZXlK``); one or two bytes in, a spaced or alg-only header is
    not looked for (decoders.jwt_base64_needles says which are)."""
    for token in (jwt_with_header("alg,typ,kid", spaced=True), keys.jwt_key(),
                  jwt_with_header("alg") + ""):
        [hit] = live(base64.b64encode(token.encode()))
        assert hit.secret == token


def test_base64_of_an_expired_jwt_is_low_and_of_a_foreign_jwt_is_nothing():
    expired = keys.jwt_key(exp_in=-3600)
    [hit] = live(base64.b64encode(expired.encode()))
    assert hit.severity.value == "low"
    foreign = ".".join([keys.b64url(b'{"alg":"HS256","typ":"JWT"}'), keys.b64url(b'{"sub":"42","name":"x"}'),
                        keys.b64url(b"\x01" * 32)])
    assert DETECTOR.scan(base64.b64encode(foreign.encode())) == []


# ---- one level of double encoding: URL-encoding inside base64 ------------------------------

@pytest.mark.parametrize("encode", [
    lambda k: k.replace("_", "%5F"),                                   # flux%5Fprod%5F...
    lambda k: k[:10] + "".join("%%%02x" % ord(c) if i % 3 == 0 else c for i, c in enumerate(k[10:])),
    lambda k: "https://x.test/cb?token=" + k.replace("_", "%5F") + "&x=1",
])
def test_base64_of_a_url_encoded_key(encode):
    key = keys.platform_key("flux_prod_")
    blob = base64.b64encode(encode(key).encode())
    [hit] = live(b"value: " + blob + b"\n")
    assert (hit.secret, hit.encoding) == (key, "base64/url")


def test_double_encoding_is_bounded_to_one_level():
    key = keys.platform_key("flux_prod_")
    thrice = base64.b64encode(base64.b64encode(base64.b64encode(key.encode())))
    assert live(thrice) == []  # base64 in base64 in base64: past MAX_DEPTH


# ---- keys split across a concatenation ----------------------------------------------------

CONCAT = {
    "python-plus": lambda a, b: f'API_KEY = "{a}" + "{b}"\n',
    "js-plus": lambda a, b: f"const apiKey = '{a}' +\n    '{b}';\n",
    "go-plus": lambda a, b: f'const apiKey = "{a}" +\n\t"{b}"\n',
    "java-plus": lambda a, b: f'String key = "{a}"\n        + "{b}";\n',
    "python-adjacent": lambda a, b: f'KEY = ("{a}"\n       "{b}")\n',
    "c-adjacent": lambda a, b: f'static const char *key = "{a}" "{b}";\n',
    "backtick": lambda a, b: f"let k = `{a}` + `{b}`\n",
}


@pytest.mark.parametrize("shape", sorted(CONCAT))
@pytest.mark.parametrize("cut", [10, 5, 18])  # after the prefix, inside it, inside the body
def test_concatenated_key_is_reported_joined(shape, cut):
    key = keys.platform_key("flux_prod_")
    text = CONCAT[shape](key[:cut], key[cut:])
    [hit] = live(text.encode())
    assert (hit.secret, hit.encoding, hit.line, hit.partial) == (key, "concatenation", 1, False)
    assert hit.column == text.index(key[:cut]) + 1


def test_three_literals_and_api_keys():
    key = keys.api_key("flx_sa_")
    [hit] = live(f'k = "{key[:9]}" + "{key[9:20]}" + "{key[20:]}";'.encode())
    assert (hit.secret, hit.rule.id) == (key, "fluxloop-service-account-key")


def test_fragment_joined_with_a_variable_is_a_partial_key():
    key = keys.platform_key("flux_prod_")
    [hit] = live(f'API_KEY = "{key[:22]}" + suffix\n'.encode())
    assert (hit.secret, hit.partial, hit.severity.value) == (key[:22], True, "low")
    assert ("format", "partial key (concatenation)") in hit.details


def test_literals_joining_into_too_short_a_body_are_a_partial_key():
    key = keys.platform_key("flux_prod_", n=12)
    [hit] = live(f'k = "{key[:14]}" + "{key[14:]}"'.encode())
    assert (hit.secret, hit.partial) == (key, True)


@pytest.mark.parametrize("text", [
    'name = "flux_prod_" + "pipeline"',                 # two harmless strings
    'name = "flux_prod_pipeline" + "configv2"',
    'KEY = "flux_prod_" + os.environ["SUFFIX"]',        # nothing of a key written
    'ident = "flux_prod_pipelineconfigv2"',
    'x = "flux_prod_abcdefgh" + "ijklmnopqrstuvwx"',    # a sequence
    'print("flux_prod_" "is the production prefix")',
    'prefix = "flux_dev_" + env + "_" + "key"',
    'k = "flux_prod_xxxxxxxx" + rest',
])
def test_concatenation_decoys_are_not_reported(text):
    assert live(text.encode()) == []


def test_concatenated_key_in_base64_and_plain_key_next_to_a_plus():
    key, other = keys.platform_key("flux_prod_"), keys.platform_key("flux_dev_")
    hits = live(f'a = "{key}" + "\\n"\nb = "{other}" + name\n'.encode())
    assert [(h.secret, h.partial, h.encoding) for h in hits] == [(key, False, ""), (other, False, "")]


def test_whole_keys_on_consecutive_lines_are_not_joined():
    a, b = keys.platform_key("flux_prod_"), keys.platform_key("flux_prod_")
    for text in (f'KEYS = [\n    "{a}"\n    "{b}"\n]\n', f'"{a}"\n"notes"\n', f'A = "{a}" "{b}"\n'):
        assert sorted(h.secret for h in live(text.encode())) == sorted({a, b} if b in text else {a}), text


def test_a_key_split_in_half_with_plus_is_joined_even_when_the_half_looks_whole():
    key = keys.platform_key("flux_prod_", n=40)
    [hit] = live(f'k = "{key[:30]}" + "{key[30:]}"\n'.encode())  # 20 body characters: a key by itself
    assert (hit.secret, hit.encoding) == (key, "concatenation")
    [hit] = live(f'k = "{key[:30]}" + "{key[30:]}" + "-suffix"\n'.encode())
    assert hit.secret == key
