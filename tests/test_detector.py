"""The detector on plain text: positions, line text, JWTs, the prefilter and its speed."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time

import pytest

import keys
from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules
from keyguard.model import Severity

RULES = load_rules()
DETECTOR = Detector(RULES)


def live(data: bytes, detector: Detector = DETECTOR):
    return [h for h in detector.scan(data) if h.suppressed is None]


def test_line_and_columns_count_characters_not_bytes():
    key = keys.platform_key("flux_dev_")
    text = f"# Ünïcödé header ✓\nkey = «{key}» # ок\n"
    [hit] = live(text.encode("utf-8"))
    line = text.splitlines()[1]
    assert (hit.line, hit.column, hit.end_column) == (2, line.index(key) + 1, line.index(key) + 1 + len(key))
    assert hit.line_text == line
    assert hit.secret == key and hit.rule.id == "fluxloop-dev-key" and hit.encoding == ""


def test_crlf_and_utf8_bom():
    key = keys.api_key("flx_sa_")
    data = "\ufefffirst\r\nsecond\r\n  TOKEN=".encode() + key.encode() + b"\r\nlast\r\n"
    [hit] = live(data)
    assert (hit.line, hit.column) == (3, 9)
    assert hit.line_text == "  TOKEN=" + key  # no trailing \r
    [first] = live("\ufeff".encode() + key.encode())
    assert first.column == 1  # the BOM is not a character of the line


def test_several_keys_on_one_line_and_repeated_key():
    a, b = keys.platform_key(), keys.api_key()
    hits = live(f"{a} {b} {a}\n{a}".encode())
    assert [(h.secret, h.line, h.column) for h in hits] == [
        (a, 1, 1), (b, 1, len(a) + 2), (a, 1, len(a) + len(b) + 3), (a, 2, 1)]


def test_no_hit_on_key_glued_to_more_characters():
    key = keys.platform_key()
    # not a key of the documented shape (an uppercase letter glued on): at most "key-shaped, unknown format"
    assert [(h.severity.value, dict(h.details)["format"]) for h in live((key + "Q").encode())] == [
        ("low", "key-shaped, unknown format")]
    assert live((key + "z" * 40).encode()) == []  # body longer than any key


def test_long_line_text_is_a_window_around_the_key():
    key = keys.platform_key()
    data = b"x=" + b"a" * 100_000 + b";k='" + key.encode() + b"';" + b"b" * 100_000
    [hit] = live(data)
    assert hit.column == 100_000 + 7
    assert key in hit.line_text and len(hit.line_text) < 1200
    assert hit.line_text.startswith("\u2026") and hit.line_text.endswith("\u2026")


def test_binary_data_scanned_as_bytes_only_when_prefilter_says_so():
    key = keys.api_key()
    blob = os.urandom(4000).replace(b"flx", b"xxx").replace(b"flux", b"xxxx").replace(b"eyJ", b"xxx")
    assert live(blob) == []
    data = b"\x00\x01\x02ELF\x00" + key.encode() + b"\x00\xff\xfe"
    assert [h.secret for h in live(data)] == [key]


# ---- JWT API keys -----------------------------------------------------------------

def test_jwt_api_key_details_and_severity():
    token = keys.jwt_key(scopes=("api:read", "deploy:production"), kid="api-key-7", key_id="key-42abc")
    [hit] = live(f'"api_key": "{token}"'.encode())
    d = dict(hit.details)
    assert hit.rule.kind == "jwt" and hit.secret == token and hit.severity is None
    assert d["kid"] == "api-key-7" and d["key_id"] == "key-42abc"
    assert d["scopes"] == "api:read,deploy:production" and d["iss"] == "https://auth.fluxloop.ai"
    assert d["expired"] == "false" and d["exp"].endswith("Z")


def test_expired_jwt_is_low_with_expired_detail():
    token = keys.jwt_key(exp_in=-3600)
    [hit] = live(f"Authorization: Bearer {token}\n".encode())
    assert hit.severity is Severity.LOW and dict(hit.details)["expired"] == "true"


def test_jwt_expiry_uses_the_detectors_clock():
    token = keys.jwt_key(exp_in=3600)
    later = Detector(RULES, now=time.time() + 7200)
    [hit] = live(token.encode(), later)
    assert hit.severity is Severity.LOW


def _jwt(header: dict, claims: dict, sig: str | None = None) -> str:
    enc = lambda d: keys.b64url(json.dumps(d).encode())  # noqa: E731
    return ".".join([enc(header), enc(claims), sig if sig is not None else keys.b64url(secrets.token_bytes(256))])


def test_unrelated_jwts_are_not_reported():
    session = _jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "42", "name": "Jane", "iat": 1516239022})
    oauth = _jwt({"alg": "RS256", "kid": "3f1a9c"}, {"sub": "u1", "scope": "openid email", "aud": "app"})
    assert DETECTOR.scan(f"a={session}\nb={oauth}\n".encode()) == []


def test_jwt_shape_by_claims_alone_is_enough():
    token = _jwt({"alg": "RS256", "typ": "JWT"}, {"key_id": "key-9", "scopes": ["api:read"], "exp": 4102444800})
    assert [h.rule.kind for h in live(token.encode())] == ["jwt"]


@pytest.mark.parametrize("sig", ["signature", "sig", "", "SIGNATURE", "x" * 60])
def test_placeholder_signature_is_suppressed(sig):
    token = _jwt({"alg": "RS256", "typ": "JWT", "kid": "api-key-1"},
                 {"sub": "user-123", "scopes": ["api:read"], "key_id": "key-1", "exp": 1713192000}, sig)
    hits = DETECTOR.scan(f'"api_key": "{token}"'.encode())
    assert [h.suppressed for h in hits] == ["jwt:placeholder-signature"]


def test_not_a_jwt_when_parts_do_not_decode():
    fake = "eyJ" + keys._body(keys.ALNUM, 30) + ".eyJ" + keys._body(keys.ALNUM, 40) + "." + keys._body(keys.ALNUM, 50)
    assert DETECTOR.scan(fake.encode()) == []


# ---- the prefilter and speed ---------------------------------------------------------

def test_keywords_are_few_and_derived_from_the_rules():
    kw = DETECTOR.keywords
    assert set(kw[:3]) == {b"flux", b"flx", b"eyJ"}
    whole = [n for n in kw if not n.endswith(b"\n")]  # the others: needles cut by a wrapped body's break
    assert len(whole) <= 17  # 6 for base64 of a JWT (decoders.JWT_BASE64_NEEDLES)
    escaped = kw[-4:]
    # every base64 needle (or its part before a line break) really occurs in base64 of a stem at some alignment
    heads = [keys.b64url(h.encode()) for h in ('{"alg":"RS256","typ":"JWT",', '{"alg":"RS256","kid":"api-key-',
                                               '{"typ":"JWT","alg":"RS256",', '{"kid":"')]
    for needle in kw[3:-4]:
        needle = needle.rstrip(b"\r\n")
        assert any(needle in base64.b64encode(b"\0" * lead + stem.encode() + b"\0\0")
                   for stem in ("flux", "flx", *heads) for lead in range(3)), needle
    # one pass per probe byte, and base64 of a JWT adds none: the same 7 searches as before it
    assert len(DETECTOR._searches) == 7
    # the escaped needles are the stems' first characters with every character escaped
    assert set(escaped) == {b"\\u0066\\u006", b"%66%6", b"&#102;&#108;", b"&#x66;&#x6"}


def test_might_contain():
    key = keys.platform_key()
    assert not DETECTOR.might_contain(b"plain text about nothing in particular\n" * 100)
    assert DETECTOR.might_contain(key.encode())
    assert DETECTOR.might_contain(base64.b64encode(b"ab" + key.encode()))
    assert DETECTOR.might_contain(key.encode("utf-16-le"))
    assert DETECTOR.might_contain(b"PK\x03\x04rest")
    assert not DETECTOR.might_contain(b"")


def test_fifty_megabyte_single_line_does_not_hang():
    key = keys.platform_key()
    minified = b"var a=function(b){return b*2},c=[1,2,3].map(a);" * (50 * 1024 * 1024 // 48)
    data = minified + b'var k="' + key.encode() + b'";'
    [hit] = live(data)  # its time is bench/hostile.py's to measure, not a unit test's
    assert hit.secret == key and hit.line == 1 and hit.column == len(minified) + 8


@pytest.mark.parametrize("junk", [b"flux_prod_", b"flx_a", b"eyJ", b"flux%5F", b"Zmx1e", b"flux\\u005f"])
def test_hostile_repetition_is_bounded(junk):
    data = junk * (20 * 1024 * 1024 // len(junk))
    hits = DETECTOR.scan(data)  # time and memory: bench/hostile.py
    assert all(h.suppressed for h in hits)
    kept = [h for h in hits if not h.suppressed.startswith("limit:")]
    assert len(kept) <= 1000 and len(hits) - len(kept) <= 1
