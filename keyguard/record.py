"""Value classes for the pre-commit path, without the cost of ``dataclasses`` at import.

``@record`` turns an annotated class into what ``@dataclass(frozen=True)`` would
(``__init__`` with the same defaults, ``__repr__`` without ``repr=False`` fields,
``__eq__``/``__hash__`` over ``compare=True`` fields, assignment refused), but
builds all its methods with one ``exec`` per class and never imports
``dataclasses`` (which imports ``inspect``, ``ast``, ``tokenize``...). Fifteen
dataclasses cost ~13 ms of every ``keyguard scan --staged``; as records ~1 ms.
The ``exec`` runs when the class is first used (its first instance, or a method
called on an instance made without ``__init__``): most records are never made on
a clean commit (findings, verifications, key records), and their compiling was
~4 ms of it.

The classes stay dataclasses to everything else: ``dataclasses.fields``,
``replace``, ``asdict`` and ``is_dataclass`` work, because
``__dataclass_fields__`` is built (importing ``dataclasses``) the first time
something asks for it. ``@record(frozen=False)`` makes a mutable one.
"""

from __future__ import annotations

_MISSING = object()


class FrozenError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Spec:
    """What ``field()`` said about one field."""

    __slots__ = ("default", "default_factory", "repr", "compare")

    def __init__(self, default, default_factory, repr, compare):  # noqa: A002 - dataclass names
        self.default, self.default_factory, self.repr, self.compare = default, default_factory, repr, compare


def field(*, default=_MISSING, default_factory=_MISSING, repr: bool = True,  # noqa: A002
          compare: bool = True):
    """Like ``dataclasses.field`` (only the options keyguard uses)."""
    return _Spec(default, default_factory, repr, compare)


class _LazyFields:
    """``__dataclass_fields__``, built with ``dataclasses`` on first access."""

    def __init__(self, specs: list[tuple[str, _Spec]], frozen: bool):
        self.specs, self.frozen, self.built = specs, frozen, None

    def __get__(self, obj, cls):
        if self.built is None:
            import dataclasses

            built = {}
            for name, s in self.specs:
                kw = {"repr": s.repr, "compare": s.compare}
                if s.default is not _MISSING:
                    kw["default"] = s.default
                if s.default_factory is not _MISSING:
                    kw["default_factory"] = s.default_factory
                f = dataclasses.field(**kw)
                f.name = name
                f.type = cls.__annotations__.get(name)
                f._field_type = dataclasses._FIELD  # what @dataclass sets on a plain field
                built[name] = f
            self.built = built
        return self.built


def record(cls=None, *, frozen: bool = True):
    """Class decorator: a dataclass-compatible value class (frozen by default)."""
    def wrap(c):
        return _build(c, frozen)
    return wrap if cls is None else wrap(cls)


def _build(cls, frozen: bool):
    specs: list[tuple[str, _Spec]] = []
    for name in cls.__dict__.get("__annotations__", {}):
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, _Spec) else _Spec(value, _MISSING, True, True)
        specs.append((name, spec))
        if isinstance(value, _Spec):
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    methods = ["__init__", "__repr__", "__eq__"] + (["__hash__"] if frozen else [])
    for m in methods:
        setattr(cls, m, _stub(cls, m, specs, frozen))
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    else:
        cls.__hash__ = None
    cls.__dataclass_fields__ = _LazyFields(specs, frozen)
    cls.__match_args__ = tuple(n for n, _ in specs)
    return cls


def _frozen_setattr(self, name, value):
    raise FrozenError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenError(f"cannot delete field {name!r}")


def _stub(cls, name: str, specs: list[tuple[str, _Spec]], frozen: bool):
    """Method ``name`` of ``cls`` until first called: then the class's real methods are built
    (``_methods``) and the call goes to the real one."""
    def stub(self, *args, **kwargs):
        if cls.__dict__[name] is stub:
            _methods(cls, specs, frozen)
        return getattr(cls, name)(self, *args, **kwargs)
    stub.__qualname__ = f"{cls.__qualname__}.{name}"
    return stub


def _methods(cls, specs: list[tuple[str, _Spec]], frozen: bool) -> None:
    """Compile and set ``__init__``, ``__repr__``, ``__eq__`` (and ``__hash__`` when frozen) of ``cls``."""
    ns: dict = {"_MISSING": _MISSING, "cls": cls}
    params, body = [], []
    set_ = "object.__setattr__(self, {!r}, {})" if frozen else "self.{} = {}"
    for name, s in specs:
        if s.default_factory is not _MISSING:
            ns[f"_f_{name}"] = s.default_factory
            params.append(f"{name}=_MISSING")
            value = f"_f_{name}() if {name} is _MISSING else {name}"
        elif s.default is not _MISSING:
            ns[f"_d_{name}"] = s.default
            params.append(f"{name}=_d_{name}")
            value = name
        else:
            params.append(name)
            value = name
        body.append(set_.format(name, value))
    shown = [n for n, s in specs if s.repr]
    compared = [n for n, s in specs if s.compare]
    key = "(" + "".join(f"self.{n}," for n in compared) + ")"
    okey = "(" + "".join(f"other.{n}," for n in compared) + ")"
    src = [
        f"def __init__(self, {', '.join(params)}):",
        *(f"    {b}" for b in body or ["pass"]),
        "def __repr__(self):",
        "    return f'{type(self).__qualname__}(" + ", ".join(f"{n}={{self.{n}!r}}" for n in shown) + ")'",
        "def __eq__(self, other):",
        "    if other.__class__ is not self.__class__:",
        "        return NotImplemented",
        f"    return {key} == {okey}",
    ]
    if frozen:
        src += [
            "def __hash__(self):",
            f"    return hash({key})",
        ]
    exec("\n".join(src), ns)  # noqa: S102 - generated from the class's own field names
    for m in ["__init__", "__repr__", "__eq__"] + (["__hash__"] if frozen else []):
        fn = ns[m]
        fn.__qualname__ = f"{cls.__qualname__}.{m}"
        setattr(cls, m, fn)
