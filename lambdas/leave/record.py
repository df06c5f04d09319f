"""`Record`: the base of the domain's commands, events and states, an immutable keyword-only value.

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
``__delattr__``), about 0.6 ms a class with bytecode cached. For the domain's 33 commands
and events that was about 20 ms of every Lambda cold start, and the ten aggregate states
and values (`EmployeeState`, `Leave`, `Balance`, ...) cost another 7 ms of the commands
handler's import. Here one generic implementation serves every class, and a subclass costs
only the reading of its annotations (about 20 us).

Defaults must be immutable (a `frozenset`, a tuple, None, a number or a string): the
default object is shared by every instance. For a fresh mutable value per instance, give
``dataclasses.field(default_factory=...)`` as a dataclass would. `replace(record, **changes)`
is the `dataclasses.replace` of records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, field
from typing import Any, ClassVar, TypeVar, dataclass_transform

_MISSING = object()
R = TypeVar("R", bound="Record")


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Record:
    """Immutable value with keyword-only fields declared as class annotations."""

    __slots__ = ()
    __record_fields__: ClassVar[tuple[str, ...]] = ()
    __record_defaults__: ClassVar[dict[str, Any]] = {}
    __record_factories__: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls.__record_fields__)
        defaults = dict(cls.__record_defaults__)
        factories = dict(cls.__record_factories__)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if _is_class_var(annotation):
                continue
            if name not in names:
                names.append(name)
            default = cls.__dict__.get(name, _MISSING)
            defaults.pop(name, None)
            factories.pop(name, None)
            if default is _MISSING:
                continue
            delattr(cls, name)  # the instance attribute is the only source of the value
            if isinstance(default, Field):
                if default.default_factory is not MISSING:
                    factories[name] = default.default_factory
                    continue
                if default.default is MISSING:
                    continue
                default = default.default
            if isinstance(default, (list, dict, set)):
                raise TypeError(f"{cls.__name__}.{name}: a mutable default would be shared; use a tuple or frozenset")
            defaults[name] = default
        cls.__record_fields__ = tuple(names)
        cls.__record_defaults__ = defaults
        cls.__record_factories__ = factories
        cls.__match_args__ = tuple(names)

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        unknown = values.keys() - set(cls.__record_fields__)
        if unknown:
            raise TypeError(f"{cls.__name__}() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        for name in cls.__record_fields__:
            value = values.get(name, cls.__record_defaults__.get(name, _MISSING))
            if value is _MISSING:
                factory = cls.__record_factories__.get(name)
                if factory is None:
                    raise TypeError(f"{cls.__name__}() missing required keyword argument: {name!r}")
                value = factory()
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
    """Whether field `name` of `cls` may be left out (it has a default or a default factory)."""
    return name in cls.__record_defaults__ or name in cls.__record_factories__


def replace(record: R, **changes: Any) -> R:
    """A copy of `record` with `changes` (field name -> new value), as `dataclasses.replace`:
    `TypeError` names a field the record does not have."""
    values = {name: getattr(record, name) for name in record.__record_fields__}
    unknown = changes.keys() - values.keys()
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field(s): {', '.join(sorted(unknown))}")
    return type(record)(**{**values, **changes})


def _is_class_var(annotation: Any) -> bool:
    if isinstance(annotation, str):  # postponed evaluation (``from __future__ import annotations``)
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(annotation, "__origin__", None) is ClassVar
