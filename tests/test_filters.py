"""Placeholders are suppressed with a named reason; random keys never are (both directions)."""

from __future__ import annotations

import secrets
import string

import pytest

import keys
from keyguard.detect.detector import Detector
from keyguard.detect.filters import body_reason, entropy, near_miss_reason
from keyguard.detect.rulepack import load_rules

DETECTOR = Detector(load_rules())


def reasons(text: str) -> list[tuple[str, str | None]]:
    """(rule id, suppression reason) of every hit in ``text``."""
    return [(h.rule.id, h.suppressed) for h in DETECTOR.scan(text.encode("utf-8"))]


# Placeholder families as the seeds write them, and the reason each must get.
SEED_LINES = [
    ("│  flux_dev_abc123def456ghi789jkl012mno34 │", "placeholder:seed-example"),
    ("Key: flux_ci_xyz789abc123def456ghi789jkl", "placeholder:seed-example"),
    ('export FLUXLOOP_API_KEY="flux_dev_new123new456new789"', "placeholder:seed-example"),
    ("│ flux_prod_abc123def456ghi789jkl012mno │", "placeholder:seed-example"),
    ("│ flux_prod_xyz789abc123def456ghi789jkl │", "placeholder:seed-example"),
    ("│ Key: flux_dev_****...mno34 │", "placeholder:masked"),
    ("│ Key: flux_dev_abc1...mno34 (last used: 2 hours ago)     │", "placeholder:masked"),
    ("│ Key: flux_ci_xyz7...jkl (last used: 5 minutes ago)      │", "placeholder:masked"),
    ("Key: Production Deployment (flux_prod_****...mno)", "placeholder:masked"),
    ("export FLUXLOOP_API_KEY=flx_api_...", "placeholder:elided"),
    ('"refresh_token": "flx_refresh_...",', "placeholder:elided"),
    ('"access_token": "flx_...",', "placeholder:elided"),
    ("export FLUXLOOP_API_KEY=flx_new_key...", "placeholder:elided"),
    ("fluxloop apikeys revoke flx_old_key...", "placeholder:elided"),
    ("fluxloop apikeys revoke flx_compromised_key", "identifier"),
    ("fluxloop auth login --api-key flux_dev_abc123...", "placeholder:elided"),
    ("Production:    flux_prod_...", "placeholder:elided"),
    ("FLUXLOOP_API_KEY=flux_prod_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "placeholder:filler"),
    ("FLUXLOOP_API_KEY=flux_dev_00000000000000000000000000000000", "placeholder:filler"),
    ("FLUXLOOP_API_KEY=flx_api_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "placeholder:filler"),
    ("key: flux_stg_abcdefghijklmnopqrstuvwxyz012345", "placeholder:sequence"),
    ("key: flux_dev_01234567890123456789", "placeholder:sequence"),
    ("key: flux_prod_a1b2c3d4a1b2c3d4a1b2c3d4", "placeholder:repeated"),
    ("key: flux_prod_abc123abc123abc123abc123", "placeholder:seed-example"),
    ("FLUXLOOP_API_KEY=flux_prod_${FLUXLOOP_API_KEY}", "template"),
    ("api_key: flux_ci_{{ secrets.FLUXLOOP_API_KEY }}", "template"),
    ("--api-key flx_api_<YOUR_API_KEY>", "template"),
    ("echo $flux_prod_token", "env-lookup"),
    ("setting = flux_prod_deploymentpipelinesettings", "identifier"),
    ("setting = flux_prod_deployment_pipeline_settings", "identifier"),
    ("flx_api_ExampleKeyForDocumentation", "placeholder:word"),
    ("FLUXLOOP_API_KEY=flx_api_YourApiKeyGoesHere12345", "placeholder:word"),
]


@pytest.mark.parametrize("line, reason", SEED_LINES)
def test_placeholder_is_suppressed_with_its_reason(line, reason):
    got = reasons(line)
    assert got, "a placeholder should still be seen (suppressed), so --verbose can explain it"
    assert all(r is not None for _, r in got), got
    assert got[0][1] == reason


@pytest.mark.parametrize("line", [
    'api_key = os.environ["FLUXLOOP_API_KEY"]',
    "export FLUXLOOP_API_KEY=$FLUXLOOP_API_KEY",
    "FLUXLOOP_API_KEY: ${{ secrets.FLUXLOOP_API_KEY }}",
    "key = process.env.FLUXLOOP_API_KEY",
    'export API_KEY="eyJhbGciOiJSUzI1NiIs..."',
])
def test_lookups_and_truncated_examples_give_nothing_to_report(line):
    assert [r for _, r in reasons(line) if r is None] == []


def random_keys(n: int):
    for _ in range(n):
        for p in keys.PLATFORM_PREFIXES:
            yield keys.platform_key(p)
        for p in keys.API_PREFIXES:
            yield keys.api_key(p)


def test_random_keys_are_never_suppressed():
    suppressed = []
    for key in random_keys(300):
        hits = DETECTOR.scan(f"KEY={key}\n".encode())
        if [h.secret for h in hits if h.suppressed is None] != [key]:
            suppressed.append((key[:12], [h.suppressed for h in hits]))
    assert suppressed == []


@pytest.mark.parametrize("n", [16, 20, 24, 64])
def test_random_bodies_of_every_length_pass_the_filters(n):
    bad = [b for b in (keys._body(keys.LOWER_DIGITS, n) for _ in range(3000)) if body_reason(b, 3.0)]
    bad += [b for b in (keys._body(keys.ALNUM, n) for _ in range(3000)) if body_reason(b, 3.0)]
    # a random body can contain "secret" or "sample" by chance: allow one in 6000
    assert len(bad) <= 1, bad


def test_all_letter_random_bodies_are_rarely_taken_for_identifiers():
    draws = ["".join(secrets.choice(string.ascii_lowercase) for _ in range(32)) for _ in range(3000)]
    taken = [d for d in draws if body_reason(d, 3.0) == "identifier"]
    assert len(taken) < 0.05 * len(draws)


def test_seed_structure_is_detected_not_listed():
    # never-seen bodies with the seeds' structure
    for body in ("def456ghi789jkl012mno345pqr678", "uvw123xyz456abc789def012",
                 "old111old222old333old444", "key123key456key789key012"):
        assert body_reason(body, 3.0) in ("placeholder:seed-example", "placeholder:repeated"), body


def test_near_miss_reasons():
    assert near_miss_reason("...") == "placeholder:elided"
    assert near_miss_reason("abc1...mno34") == "placeholder:masked"
    assert near_miss_reason("****...mno34") == "placeholder:masked"
    assert near_miss_reason("${KEY}") == "template"
    assert near_miss_reason("token", before="x = $") == "env-lookup"
    assert near_miss_reason("API_KEY") == "env-lookup"
    assert near_miss_reason("a8k2") is None  # just short: nothing to say


def test_entropy():
    assert entropy("") == 0.0
    assert entropy("aaaa") == 0.0
    assert abs(entropy("abcd") - 2.0) < 1e-9


# ---- issue 12: precision cases (built at run time: the checkout must scan clean) ----------

def _p(*parts: str) -> str:
    return "".join(parts)


@pytest.mark.parametrize("value,reason", [
    (_p("flx", "_parseHttp2HeadersFromStream"), "identifier"),
    (_p("flux", "_prod_pipelineconfigv2"), "identifier"),
    (_p("flux", "_dev_environmentsettings2024"), "identifier"),
    (_p("flx", "_sa_NotARealKeyJustForUnitTests12345"), "placeholder:word"),
    (_p("flx", "_api_FAKEKEYFORTESTSONLYFAKEKEYFORTESTS"), "placeholder:word"),
    (_p("flx", "_api_03Tg6eemEE..."), "placeholder:masked"),
])
def test_names_fixtures_and_truncated_heads_are_not_keys(value, reason):
    for line in (f'x = "{value}"', f"FLUXLOOP_API_KEY={value}", f"call({value})"):
        hits = DETECTOR.scan(line.encode())
        assert [h.suppressed for h in hits] == [reason], (line, hits)


def test_digits_inside_words_keep_a_random_body_a_key():
    # a digit followed by a lowercase letter is how generators write, never a name
    for _ in range(200):
        key = keys.platform_key()
        assert [h.suppressed for h in DETECTOR.scan(f"k={key}".encode())] == [None]


def test_prefix_with_a_random_body_outside_the_alphabet_is_low_severity_unknown_format():
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(30)) + "Q7a"
    value = _p("flux", "_prod_", body)
    [hit] = DETECTOR.scan(f'token: "{value}"'.encode())
    assert hit.suppressed is None and hit.severity is not None and hit.severity.value == "low"
    assert dict(hit.details)["format"] == "key-shaped, unknown format"
    assert hit.secret == value


def test_a_placeholder_word_inside_a_random_body_keeps_it_a_key():
    # the CI run that found it: "...om9dummyot5" in a random key was suppressed as a placeholder
    for _ in range(200):
        key = keys.platform_key()
        at = secrets.randbelow(20) + 12  # inside the body, never at its start or end
        key = key[:at] + "dummy" + key[at + 5:]
        assert [h.suppressed for h in DETECTOR.scan(f"k = {key}\n".encode())] == [None], key


@pytest.mark.parametrize("body", [
    "dummy8f3k2j5h7g9d1s4a6q0w2e4r6t", "8f3k2j5h7g9d1s4a6q0w2e4r6tdummy", "my_example_key_8f3k2j5h7g",
    "MyExampleKey8f3k2j5h7g9d1s4a", "j5h7g9d1DummyToken4a6q0w2e4r", "abcXYZ_SAMPLE_e4r6t8y0u2i4o6",
    "yourkeygoeshere", "8f3k2SecretZ9d1s4a6q0w2e4r6t",
])
def test_a_placeholder_word_standing_as_a_word_is_a_placeholder(body):
    assert body_reason(body, 3.0) == "placeholder:word"
