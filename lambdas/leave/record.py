"""`Record`: the base of the domain's commands and events, an immutable keyword-only value.

A subclass declares its fields as annotations, with optional defaults, as a
``@dataclass(frozen=True, kw_only=True)`` would::

    class LeaveApproved(EmployeeEvent):
        request_id: str
        approved_by: str
        note: str = ""

Instances compare and hash by type and field values, `repr` shows the fields, and setting
or deleting an attribute raises `FrozenInstanceError`. Type checkers treat subclasses as
frozen keyword-only dataclasses (`typing.dataclass_transform`).

Why not `dataclasses`: a dataclass compiles six functions per class with `exec` when its
module is imported (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``). For the domain's 33 commands and events that was about 20 ms of every
Lambda cold start, almost half of the 50 ms budget. Here one generic implementation serves
every class, and a subclass costs only the reading of its annotations.

Defaults must be immutable (a `frozenset`, a tuple, None, a number or a string): the
default object is shared by every instance.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, dataclass_transform

_MISSING = object()


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Record:
    """Immutable value with keyword-only fields declared as class annotations."""

    __slots__ = ()
    __record_fields__: ClassVar[tuple[str, ...]] = ()
    __record_defaults__: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls.__record_fields__)
        defaults = dict(cls.__record_defaults__)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if _is_class_var(annotation):
                continue
            if name not in names:
                names.append(name)
            default = cls.__dict__.get(name, _MISSING)
            if default is not _MISSING:
                if isinstance(default, (list, dict, set)):
                    raise TypeError(f"{cls.__name__}.{name}: a mutable default would be shared; use a tuple or frozenset")
                defaults[name] = default
                delattr(cls, name)  # the instance attribute is the only source of the value
            else:
                defaults.pop(name, None)
        cls.__record_fields__ = tuple(names)
        cls.__record_defaults__ = defaults
        cls.__match_args__ = tuple(names)

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        unknown = values.keys() - set(cls.__record_fields__)
        if unknown:
            raise TypeError(f"{cls.__name__}() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        for name in cls.__record_fields__:
            value = values.get(name, cls.__record_defaults__.get(name, _MISSING))
            if value is _MISSING:
                raise TypeError(f"{cls.__name__}() missing required keyword argument: {name!r}")
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__record_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_fields__)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


def record_fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The field names of a record (class or instance), in declaration order, base classes first."""
    return record.__record_fields__


def has_default(cls: type[Record], name: str) -> bool:
    """Whether field `name` of `cls` may be left out (it has a default)."""
    return name in cls.__record_defaults__


def _is_class_var(annotation: Any) -> bool:
    if isinstance(annotation, str):  # postponed evaluation (``from __future__ import annotations``)
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(annotation, "__origin__", None) is ClassVar
