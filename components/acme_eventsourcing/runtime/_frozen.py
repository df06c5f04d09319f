"""`frozen_dataclass`: a frozen dataclass whose methods are not compiled at import (private).

``@frozen_dataclass`` (or ``@frozen_dataclass(kw_only=True)``) makes the class that
``@dataclass(frozen=True)`` makes, field for field: `dataclasses.fields`, `replace`,
`asdict`, `is_dataclass`, `__match_args__`, `__dataclass_params__` and subclassing with
``@dataclass(frozen=True)`` behave the same, and instances construct, compare, hash, print
and refuse assignment the same way (same error types and messages for the common cases).
The field processing (defaults, ``field(default_factory=...)``, annotations) is still
`dataclasses`' own; only the six methods differ.

Why: `dataclasses` writes each class its own ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` as source text and compiles them with
`exec` when the module is imported: about 0.6 ms a class even with bytecode cached. Every
Lambda function imports the runtime's value classes on each cold start (the commands handler
eleven of them, about 7 ms of its import). Here one generic implementation per method serves
every class: making a class costs the field processing alone (about 0.15 ms), and an
instance costs about a microsecond more to construct.

Supported: plain defaults, ``field(default=...)``, ``field(default_factory=...)``, per-field
``kw_only``, ``__post_init__``. Refused when the class is made (use `dataclasses.dataclass`
for those): ``init=False``, ``repr=False``, ``compare=False`` or ``hash=`` fields, `InitVar`,
and a class body that defines one of the six methods itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_C = TypeVar("_C", bound=type)
_METHODS = ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__")


@overload
def frozen_dataclass(cls: _C, /) -> _C: ...


@overload
def frozen_dataclass(*, kw_only: bool = False) -> Callable[[_C], _C]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen_dataclass(cls: _C | None = None, /, *, kw_only: bool = False) -> _C | Callable[[_C], _C]:
    """``@dataclass(frozen=True, kw_only=kw_only)`` without compiling methods (see the module)."""

    def wrap(cls: _C) -> _C:
        return _make(cls, kw_only=kw_only)

    return wrap if cls is None else wrap(cls)


def _make(cls: _C, *, kw_only: bool) -> _C:
    own = [name for name in _METHODS if name in cls.__dict__]
    if own:
        raise TypeError(f"{cls.__name__} defines {', '.join(own)}: use dataclasses.dataclass for it")
    cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False, kw_only=kw_only)  # type: ignore[assignment]
    fields = dataclasses.fields(cls)
    others = set(cls.__dataclass_fields__) - {f.name for f in fields}  # type: ignore[attr-defined]
    for name in others:  # ClassVar pseudo-fields are fine; an InitVar needs the generated __init__
        if "InitVar" in str(cls.__dataclass_fields__[name].type):  # type: ignore[attr-defined]
            raise TypeError(f"{cls.__name__}.{name}: InitVar is not supported; use dataclasses.dataclass")
    for f in fields:
        if not (f.init and f.repr and f.compare and f.hash is None):
            raise TypeError(f"{cls.__name__}.{f.name}: init/repr/compare/hash options are not supported; use dataclasses.dataclass")
    names = tuple(f.name for f in fields)
    positional = tuple(f.name for f in fields if not f.kw_only)
    spec = tuple((f.name, f.default, None if f.default_factory is MISSING else f.default_factory) for f in fields)
    seen_default = None
    for f in fields:  # what dataclasses' generated __init__ refuses to compile
        if f.kw_only:
            continue
        name = f.name
        if f.default is not MISSING or f.default_factory is not MISSING:
            seen_default = name
        elif seen_default is not None:
            raise TypeError(f"non-default argument {name!r} follows default argument")
    post_init = hasattr(cls, "__post_init__")
    field_names = frozenset(names)
    qualname = cls.__qualname__
    set_field = object.__setattr__

    def init_(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > len(positional):
                raise TypeError(f"{qualname}.__init__() takes {len(positional) + 1} positional arguments but {len(args) + 1} were given")
            for name, value in zip(positional, args, strict=False):
                if name in kwargs:
                    raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
                kwargs[name] = value
        take = kwargs.pop
        for name, default, factory in spec:
            value = take(name, default)
            if value is MISSING:
                if factory is None:
                    raise _missing(qualname, spec, positional, name, kwargs)
                value = factory()
            set_field(self, name, value)
        if kwargs:
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {next(iter(kwargs))!r}")
        if post_init:
            self.__post_init__()

    values: Callable[[Any], tuple[Any, ...]] = (
        attrgetter(*names) if len(names) > 1 else (lambda obj: tuple(getattr(obj, name) for name in names))
    )

    def repr_(self: Any) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(names, values(self), strict=True))
        return f"{self.__class__.__qualname__}({shown})"

    def eq_(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    def hash_(self: Any) -> int:
        return hash(values(self))

    def setattr_(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def delattr_(self: Any, name: str) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for method in (init_, repr_, eq_, hash_, setattr_, delattr_):
        method.__name__ = f"__{method.__name__[:-1]}__"
        method.__qualname__ = f"{qualname}.{method.__name__}"
        method.__module__ = cls.__module__
        setattr(cls, method.__name__, method)
    init_.__signature__ = _signature(fields)  # type: ignore[attr-defined]
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init = params.repr = params.eq = params.frozen = True  # what the class now does
    return cls


def _missing(
    qualname: str, spec: tuple[tuple[str, Any, Any], ...], positional: tuple[str, ...], first: str, rest: Mapping[str, Any]
) -> TypeError:
    """The `TypeError` Python raises for the required arguments left out (all of them,
    positional first): `first` is the first one missing, `rest` the arguments not used yet."""
    later = [entry for entry in spec[[name for name, _, _ in spec].index(first) + 1 :]]
    absent = [first] + [name for name, default, factory in later if default is MISSING and factory is None and name not in rest]
    for kind, names in (
        ("positional", [n for n in absent if n in positional]),
        ("keyword-only", [n for n in absent if n not in positional]),
    ):
        if names:
            quoted = [repr(n) for n in names]
            listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])}{',' if len(quoted) > 2 else ''} and {quoted[-1]}"
            plural = "s" if len(names) > 1 else ""
            return TypeError(f"{qualname}.__init__() missing {len(names)} required {kind} argument{plural}: {listed}")
    return TypeError(f"{qualname}.__init__() missing a required argument")  # not reached


class _Factory:
    """The default a signature shows for a ``default_factory`` field, as `dataclasses` shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _signature(fields: tuple[dataclasses.Field[Any], ...]) -> Any:
    """What `inspect.signature` shows for the generated ``__init__`` of the same dataclass."""
    import inspect  # already imported by boto3 and dataclasses in a Lambda function

    kinds = {False: inspect.Parameter.POSITIONAL_OR_KEYWORD, True: inspect.Parameter.KEYWORD_ONLY}
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for f in fields:
        default = f.default if f.default is not MISSING else _FACTORY if f.default_factory is not MISSING else inspect.Parameter.empty
        parameters.append(inspect.Parameter(f.name, kinds[bool(f.kw_only)], default=default, annotation=f.type))
    return inspect.Signature(parameters, return_annotation=None)
