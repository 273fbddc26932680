"""Short keys assigned to a credential (`FLUXLOOP_API_KEY=` + prefix + a few characters) are reported; elsewhere not."""

from __future__ import annotations

import secrets
import string

import pytest

from keyguard.detect.detector import Detector
from keyguard.detect.rulepack import load_rules

DETECTOR = Detector(load_rules())
LOWER = string.ascii_lowercase + string.digits


def reported(text: str) -> list[str]:
    return [h.secret for h in DETECTOR.scan(text.encode()) if not h.suppressed]


def short_body(n: int) -> str:
    while True:
        body = "".join(secrets.choice(LOWER) for _ in range(n))
        if any(c.isdigit() for c in body):
            return body


@pytest.mark.parametrize("template", [
    "FLUXLOOP_API_KEY={k}\n", "export FLUXLOOP_API_KEY='{k}'\n", 'api_key: "{k}"\n',
    '{{"token": "{k}"}}\n', "fluxloop test --api-key {k}\n", "Authorization: Bearer {k}\n",
])
@pytest.mark.parametrize("n", [3, 6, 9, 15])
def test_short_key_in_a_credential_assignment_is_reported(template, n):
    key = "flux_prod_" + short_body(n)
    assert reported(template.format(k=key)) == [key]


@pytest.mark.parametrize("text", [
    "deploy with flux_prod_{b} when ready\n",        # not assigned to a credential
    "FLUX_MODE=flux_prod_{b}_settings\n",            # an identifier continues after it
    "FLUXLOOP_API_KEY=flux_prod_xxxx\n",             # filler
    "FLUXLOOP_API_KEY=flux_prod_abc123\n",           # seed-style sequence
    "FLUXLOOP_API_KEY=flux_prod_...\n",              # elided
    "FLUXLOOP_API_KEY=flux_prod_configuration\n",    # a word, six letters or more
    "FLUXLOOP_API_KEY=flux_prod_x\n",                # one character is no key
    '{{"access_token": "flx_abc"}}\n',                # a three-letter sequence
    "FLUXLOOP_API_KEY=flux_dev_1234\n",              # a digit run
])
def test_short_forms_that_are_not_keys(text):
    assert reported(text.format(b=short_body(8))) == []
