"""Placeholder and decoy filters: why a key-shaped string is not a real key.

The decision is made on the value only (never on the file path): a random key in a
README or a test file is still a leak, and a documentation placeholder in ``.env`` is
still a placeholder. Each filter returns a short named reason, which becomes
``Hit.suppressed`` (shown with ``--verbose``):

========================== ==========================================================
``placeholder:seed-example`` runs like ``abc123def456…`` / ``new123new456``: ascending or repeated triplets
``placeholder:masked``       ``****``, ``abc1...mno34``: a key shown with its middle hidden
``placeholder:elided``       ``flx_api_...``, ``flx_new_key...``: the body left out
``placeholder:filler``       ``xxxx…``, ``0000…``: one character repeated
``placeholder:sequence``     ``abcdefgh…``, ``0123456…``: alphabet or digit runs
``placeholder:repeated``     ``abc123abc123…``: one chunk repeated
``placeholder:word``         ``example``, ``your``, ``redacted`` … inside the body
``template``                 ``${VAR}``, ``{{ secrets.X }}``, ``<YOUR_KEY>``
``env-lookup``               ``$flux_prod_key``, ``%flx_token%``: a variable, not a value
``identifier``               ``flux_prod_deploymentpipelinesettings``: words, not randomness
``low-entropy``              the body's Shannon entropy is below the rule's ``min-entropy``
========================== ==========================================================

JWT-specific reasons (``jwt:…``) live in ``keyguard.detect.jwt``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from operator import add

from keyguard.detect.lazyregex import LazyRegex
from keyguard.model import Rule

FULL_LENGTH = 32
"""Body length at which a rule's full ``min-entropy`` applies; shorter bodies get a
proportionally lower bar (16 random characters cannot reach 3 bits reliably)."""
# The most frequent English letter pairs (about 260 of 676): identifiers are made of them.
_BIGRAMS = frozenset("""
th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve
co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct
us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow
pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex
ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov by rm ep tt oc fa ef cu rn sc gi da yo cr cl
du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug ds lt pi rc rr eg au ck ew mu br bi pt ak
pu ui rg ib tl ny ki rk ys ob mm fu ph og ms ye ud mb ip ub oi rl gu dr hr cc tw ft wn nu af hu
nn eo vo rv nf xp gn sm fl iz ok nl my gl aw ju oa eq sy sl ps jo lf nv je nk kn gs dy hy ze ks
xt bs ik dd cy rp sk
""".split())
# Placeholder words, as their parts: five letters or more, written in one case or in
# camel case, and standing as a word (see ``_placeholder_word``). A random 32-character
# body holds a given 5-letter word about once in two million keys, anywhere: counted
# anywhere, ``...9dummyot5`` was a real key suppressed as a placeholder.
_WORDS = (("example",), ("sample",), ("placeholder",), ("dummy",), ("your", "key"), ("your", "api"),
          ("your", "token"), ("redacted",), ("change", "me"), ("replace",), ("insert",), ("not", "real"),
          ("key", "here"), ("secret",),
          # fixtures that say they are fake: ``NotARealKey...ForUnitTests``, ``FAKEKEYFORTESTSONLY``
          ("not", "a", "real"), ("fake", "key"), ("for", "test"), ("unit", "test"), ("test", "only"),
          ("tests", "only"))


def _word_forms(parts: tuple[str, ...]) -> set[str]:
    """How a word is written: ``fakekey``, ``FAKEKEY``, ``Fakekey``, ``FakeKey``, ``fakeKey``."""
    joined = "".join(parts)
    camel = "".join(p.capitalize() for p in parts)
    return {joined, joined.upper(), joined.capitalize(), camel, parts[0] + camel[len(parts[0]):]}


_WORDS_FOUND = LazyRegex("|".join(sorted({f for w in _WORDS for f in _word_forms(w)}, key=len, reverse=True)))
_RUNS = LazyRegex(r"[a-z]+|[A-Z]+|[0-9]+")
_DIGITS_INSIDE_WORD = LazyRegex(r"[0-9][a-z]|^[0-9]")
_ONE_LETTER_WORD = LazyRegex(r"[A-Z](?![a-z])")
_TEMPLATE_MARKS = ("${", "{{", "}}", "<", ">", "%(", "$(", "{", "}")
_MASK_CHARS = frozenset("*\u2022\u25cf")
_ELLIPSES = ("...", "\u2026")


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character (0.0 for empty text)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def body_of(secret: str, rule: Rule) -> str:
    """The part of ``secret`` after the rule's literal prefix (all of it if none)."""
    if rule.prefix and secret.startswith(rule.prefix):
        return secret[len(rule.prefix):]
    return secret


def placeholder_reason(secret: str, rule: Rule) -> str | None:
    """Why the key-shaped ``secret`` matched by ``rule`` is not a real key, or None if it may be."""
    return body_reason(body_of(secret, rule), rule.min_entropy)


def body_reason(body: str, min_entropy: float = 0.0) -> str | None:
    """The named reason a key body is a placeholder or decoy, or None if it looks random."""
    if not body:
        return "placeholder:elided"
    if _MASK_CHARS.intersection(body):
        return "placeholder:masked"
    for dots in _ELLIPSES:
        if dots in body:
            before, _, after = body.partition(dots)
            # ``abc1...mno34`` and a documented-shape head cut short (``03Tg6e...``) are masked keys
            head = before.strip("._")
            masked = head and (after.strip("._") or (
                len(head) >= 4 and head.isalnum() and body_reason(head) is None))
            return "placeholder:masked" if masked else "placeholder:elided"
    if any(mark in body for mark in _TEMPLATE_MARKS):
        return "template"
    alnum = body if body.isalnum() else "".join(filter(str.isalnum, body))
    if not alnum:
        return "placeholder:elided"
    if _is_filler(alnum):
        return "placeholder:filler"
    if _is_seed_example(alnum):
        return "placeholder:seed-example"
    if _is_sequence(alnum):
        return "placeholder:sequence"
    if _period(alnum) is not None:
        return "placeholder:repeated"
    if _placeholder_word(body, len(alnum)):
        return "placeholder:word"
    if _is_identifier(body):
        return "identifier"
    if min_entropy and entropy(alnum) < min_entropy * min(1.0, len(alnum) / FULL_LENGTH):
        return "low-entropy"
    return None


def near_miss_reason(body: str, before: str = "") -> str | None:
    """Why a prefix followed by a non-key ``body`` (``...``, ``${X}``, ``_words``) is a placeholder.

    ``before`` is the text just before the prefix (``$`` or ``%`` there means an
    environment lookup). Returns None when the body is simply not key-like enough to
    mention (too short and nothing placeholder-like about it).
    """
    body = body.rstrip(",;:)]}'\"")
    body = body if body.endswith(_ELLIPSES) else body.rstrip(".")
    if before.endswith(("${", "{{")):
        return "template"
    if before.endswith(("$", "%", "$env:")):
        return "env-lookup"
    if not body:
        return None
    if "_" in body and body.replace("_", "").isalnum():
        if body.replace("_", "").isupper():
            return "env-lookup"
        if _is_identifier(body):
            return "identifier"
    reason = body_reason(body)
    if reason == "identifier" and len(body) < 6:
        return None
    return reason


def _placeholder_word(body: str, letters: int) -> bool:
    """A placeholder word stands as a word in ``body``, or makes up a third of its ``letters``.

    As a word: at the start or the end of the body, next to a separator (``_``, ``-``,
    ``.``), or at a camel-case border (``myExampleKey``, ``YourApiKeyGoesHere``). Inside
    a random body a word mostly has none of these: ``ep7vj5...om9dummyot5`` is a key.
    Measured by planting ``dummy`` at random places in random 32-character bodies: 7% of
    lowercase+digit and 54% of mixed-case bodies still read as holding the word (the
    body's ends, a camel border by chance), so a random key is taken for a placeholder
    about once in 30 million (lowercase) or 20 million (mixed case) keys, against once in
    2 million and 1 million when any occurrence counted.
    """
    n = len(body)
    for m in _WORDS_FOUND.finditer(body):
        a, b = m.span()
        if (b - a) * 3 >= letters or a == 0 or b == n:
            return True
        before, after, word = body[a - 1], body[b], m.group()
        if not before.isalnum() or not after.isalnum():
            return True
        if word[0].isupper() and before.islower():  # myExample
            return True
        if after.isupper() and not word.isupper():  # exampleKey, ExampleKey
            return True
    return False


def _is_filler(alnum: str) -> bool:
    """One character makes up at least half of the body (``xxxx``, ``0000``, ``aaaa1``).

    At least four times: in a short body (a key assigned where only a few characters
    show) three equal characters happen by chance (``eeue6h``).
    """
    count = Counter(alnum).most_common(1)[0][1]
    return count * 2 >= len(alnum) and count >= 4


def _pairs(up: bool) -> frozenset[str]:
    """Every two-character string whose second character follows (``up``) or precedes the first
    by one in the digits or in one case of the alphabet, with wrap-around (``9`` -> ``0``)."""
    out = set()
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        n = len(alphabet)
        for i, a in enumerate(alphabet):
            b = alphabet[(i + (1 if up else -1)) % n]
            out.add(a + b)
    return frozenset(out)


# ASCII steps looked up as two-character strings, so a body's steps are counted without a Python
# call per character (this runs for every candidate: its cost is paid once per finding).
_UP = _pairs(True)
_DOWN = _pairs(False)
_STEPS = _UP | _DOWN


def _step(a: str, b: str) -> bool:
    """``b`` follows ``a`` (or precedes it) in the alphabet or the digits, with wrap-around."""
    if a.isdigit() and b.isdigit():
        d = (ord(b) - ord(a)) % 10
        return d in (1, 9)
    if a.isalpha() and b.isalpha() and a.islower() == b.islower():
        d = (ord(b.lower()) - ord(a.lower())) % 26
        return d in (1, 25)
    return False


def _consecutive(run: str) -> bool:
    """Every character of ``run`` steps by one from the last, in one direction."""
    if len(run) < 2:
        return False
    if run.isascii():  # the usual case, by table
        if run[:2] not in _STEPS:
            return False
        pairs = list(map(add, run, run[1:]))
        return all(map(_UP.__contains__, pairs)) or all(map(_DOWN.__contains__, pairs))
    steps = {(ord(b) - ord(a)) % (10 if a.isdigit() else 26) for a, b in zip(run, run[1:])}
    return steps in ({1}, {9}, {25}) and all(_step(a, b) for a, b in zip(run, run[1:]))


def _is_seed_example(alnum: str) -> bool:
    """Built from ascending runs, repeated chunks and ``111``-style runs: ``abc123def456…``, ``new123new456``."""
    runs = _RUNS.findall(alnum)
    if len(runs) < 3:
        return False
    runs = [r for r in runs if len(r) >= 2]
    if sum(map(len, runs)) < 0.7 * len(alnum):  # not even with every run of two or more counted
        return False
    counts = Counter(runs)
    structured = sum(len(r) for r in runs if counts[r] > 1 or len(set(r)) == 1 or _consecutive(r))
    return structured >= 0.7 * len(alnum)


def _is_sequence(alnum: str) -> bool:
    """Mostly alphabet or digit runs: ``abcdefghijkl``, ``0123456789``, ``zyxwvu``; short ones
    (``abc``, ``xyz1``... under six characters) when every run is a sequence or a repeat."""
    if len(alnum) < 6:
        runs = _RUNS.findall(alnum)
        return all(len(r) >= 2 and (_consecutive(r) or len(set(r)) == 1) for r in runs) and \
            any(len(r) >= 3 for r in runs)
    if alnum.isascii():  # the usual case, by table
        steps = sum(map(_STEPS.__contains__, map(add, alnum, alnum[1:])))
    else:
        steps = sum(_step(a, b) for a, b in zip(alnum, alnum[1:]))
    return steps >= 0.6 * (len(alnum) - 1)


def _period(alnum: str) -> int | None:
    """The length of a chunk that, repeated, makes up the whole body (None if none)."""
    n = len(alnum)
    if not n:
        return None
    # only where the first character comes again can a chunk start over
    p = alnum.find(alnum[0], 1, n // 2 + 1)
    while p != -1:
        if alnum[p:] == alnum[:n - p]:
            return p
        p = alnum.find(alnum[0], p + 1, n // 2 + 1)
    return None


def _is_identifier(body: str) -> bool:
    """Words, not randomness: few digits, few capitals, and letter pairs that English uses.

    Key generators mix letters and digits all through the body, so a body whose
    letter pairs are mostly common English bigrams is a name
    (``deploymentpipelinesettings``, ``compromised_key``). Digits are allowed as names
    use them: at most four, each run ending a word (before a capital, a ``_`` or the
    end: ``parseHttp2Headers``, ``configv2``, ``settings2024``), and then 80% common
    pairs. Measured on 200,000 random bodies of each alphabet (lowercase+digits, mixed
    case+digits): at 16 characters 3 and 1 taken for a name, at 20 0 and 1, none at 24
    and 32 (at 12, the shortest an assigned key can be, 50 and 37). Measured:
    word concatenations score 0.74+ (1st percentile), random letters 0.39 (median);
    under 3% of all-letter random bodies reach 0.65.
    """
    share = 0.65
    if any(c.isdigit() for c in body):
        # with digits, a stricter test: every camel-case word has two letters or more, and
        # 80% of the letter pairs are common (random 16-20 character bodies reach 0.65)
        if (sum(map(str.isdigit, body)) > 4 or _DIGITS_INSIDE_WORD.search(body)
                or _ONE_LETTER_WORD.search(body)):
            return False
        body = re.sub(r"[0-9]+", "_", body)
        share = 0.8
    parts = [p for p in re.split(r"[_\-]+", body) if p]
    letters = "".join(parts)
    if len(letters) < 3 or not letters.isalpha() or not letters.isascii():
        return False
    if letters.isupper():
        return "_" in body  # ALL_CAPS_NAME
    if sum(c.isupper() for c in letters) > 0.3 * len(letters):
        return False
    pairs = [p[i:i + 2].lower() for p in parts for i in range(len(p) - 1)]
    if not pairs:
        return False
    return sum(pair in _BIGRAMS for pair in pairs) >= share * len(pairs)
