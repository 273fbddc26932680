"""keyguard.record: value classes that behave like frozen dataclasses, with methods built on first use."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from keyguard.record import FrozenError, field, record


def _classes():
    @record
    class Point:
        x: int
        tags: tuple = field(default_factory=tuple)
        note: str = field(default="", repr=False, compare=False)

    @record(frozen=False)
    class Counter:
        n: int = 0

    return Point, Counter


def test_records_behave_like_frozen_dataclasses():
    Point, Counter = _classes()
    p = Point(1, note="a")
    assert p == Point(1, note="b") and hash(p) == hash(Point(1))  # note is not compared
    assert p != Point(2) and repr(p).endswith(".Point(x=1, tags=())")
    assert Point(1, tags=(1,)).tags == (1,) and Point(1).tags == ()
    with pytest.raises(FrozenError):
        p.x = 2
    with pytest.raises(FrozenError):
        del p.x
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "tags", "note"]
    assert dataclasses.replace(p, x=3) == Point(3) and dataclasses.asdict(p) == {"x": 1, "tags": (), "note": "a"}
    c = Counter()
    c.n += 1
    assert c == Counter(1) and Counter.__hash__ is None
    with pytest.raises(TypeError):
        Point()  # x is required


def test_methods_work_before_any_instance_was_made_through_init():
    """An instance made without ``__init__`` (unpickled, copied) before the first ``Tag(...)``:
    showing, comparing and hashing it builds the methods then."""
    for first in (repr, hash, lambda t: t == t):
        @record
        class Tag:
            name: str
            level: int = 0

        blank = object.__new__(Tag)
        object.__setattr__(blank, "name", "x")
        object.__setattr__(blank, "level", 2)
        first(blank)
        assert repr(blank).endswith(".Tag(name='x', level=2)")
        assert blank == Tag("x", 2) and blank != Tag("x") and hash(blank) == hash(Tag("x", 2))


def test_a_model_record_survives_pickle():
    from keyguard.model import Provenance

    p = Provenance(commit="c0ffee", author="A <a@example.com>", refs=("main",))
    assert pickle.loads(pickle.dumps(p)) == p
