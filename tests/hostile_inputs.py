"""Hostile inputs for keyguard, made at run time: tiny files that cost a naive scanner a lot.

Used by ``tests/test_hostile.py`` (small sizes: behaviour) and ``bench/hostile.py``
(real sizes: time and peak memory). Every generator takes a size so the bench can
check that time grows linearly with it. Keys are random (``keys.py``); nothing here
is key-shaped as written.
"""

from __future__ import annotations

import io
import zipfile

from keys import platform_key

# "flux" + "_prod_" written so this file holds no key-shaped literal
PROD = "flux" + "_prod_"


def _zip(members: list[tuple[str, bytes]], level: int = 9) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def placeholder_text(n_bytes: int) -> bytes:
    """``flux_prod_abab…`` key-shaped placeholders, one per line, ``n_bytes`` in all."""
    line = (PROD + "ab" * 16 + "\n").encode()
    return line * (n_bytes // len(line) + 1)


def nested_zip(levels: int = 3, fan: int = 16, inner_bytes: int = 64 << 20, *,
               filler: bytes | None = None, first: bytes = b"") -> bytes:
    """A zip of ``fan`` copies of a zip of ``fan`` copies ... of ``inner_bytes`` of placeholders.

    Each level multiplies what a scanner with a per-archive budget reads by ``fan``.
    ``filler`` replaces the placeholders (repeated); ``first`` is an extra innermost member
    read before the rest (where a test plants a key).
    """
    text = placeholder_text(inner_bytes) if filler is None else filler * (inner_bytes // len(filler))
    data = _zip(([("first.env", first)] if first else []) + [("p.txt", text)])
    for level in range(levels - 1):
        data = _zip([(f"l{level}-{i}.zip", data) for i in range(fan)])
    return data


def zip_bomb(members: int = 64, member_bytes: int = 64 << 20) -> bytes:
    """A flat zip bomb: ``members`` members of ``member_bytes`` of placeholders each."""
    text = placeholder_text(member_bytes)
    return _zip([(f"m{i}.txt", text) for i in range(members)])


def distinct_keys(n: int, planted: str | None = None) -> bytes:
    """``n`` distinct random platform keys, one per line (``planted`` first if given)."""
    keys = ([planted] if planted else []) + [platform_key() for _ in range(n)]
    return "".join(f"k{i} = {k}\n" for i, k in enumerate(keys)).encode()
