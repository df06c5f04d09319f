"""`acme_eventsourcing.runtime._frozen.frozen_dataclass` behaves as ``@dataclass(frozen=True)``.

Every check runs on both: the class `dataclasses` makes and the one `frozen_dataclass` makes
from the same body, and asserts the same outcome (values, errors and their messages)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from acme_eventsourcing.runtime._frozen import frozen_dataclass


def _positional(deco: Callable[[type], type]) -> type:
    @deco
    class Point:
        """A value with positional fields."""

        unit: ClassVar[str] = "m"
        x: int
        y: int = 0
        tags: tuple[str, ...] = field(default_factory=tuple)

        def norm(self) -> int:
            return abs(self.x) + abs(self.y)

    return Point


def _keyword(deco: Callable[[type], type]) -> type:
    @deco
    class Event:
        """A value with keyword-only fields, one required after defaults."""

        kind: str
        version: int = 1
        metadata: Mapping[str, Any] = field(default_factory=dict)
        stream_id: str

    return Event


PAIRS = [
    pytest.param(_positional(dataclass(frozen=True)), _positional(frozen_dataclass), id="positional"),
    pytest.param(_keyword(dataclass(frozen=True, kw_only=True)), _keyword(frozen_dataclass(kw_only=True)), id="kw_only"),
]


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - the outcome compared is the exception itself
        return (type(exc).__name__, str(exc).replace("__init__", "").split(".")[-1])


def _build(cls: type, *args: Any, **kwargs: Any) -> Any:
    if "kind" in {f.name for f in dataclasses.fields(cls)}:
        return cls(*args, **{"kind": "k", "stream_id": "s", **kwargs})
    return cls(*args, **kwargs) if args or kwargs else cls(1)


@pytest.mark.parametrize(("real", "ours"), PAIRS)
def test_the_class_is_the_same_dataclass(real: type, ours: type) -> None:
    assert dataclasses.is_dataclass(ours)
    assert [(f.name, f.type, f.kw_only) for f in dataclasses.fields(ours)] == [
        (f.name, f.type, f.kw_only) for f in dataclasses.fields(real)
    ]
    assert ours.__match_args__ == real.__match_args__
    assert repr(ours.__dataclass_params__) == repr(real.__dataclass_params__)
    assert str(inspect.signature(ours)) == str(inspect.signature(real))
    assert ours.__doc__ == real.__doc__


@pytest.mark.parametrize(("real", "ours"), PAIRS)
def test_instances_construct_compare_hash_and_print_the_same(real: type, ours: type) -> None:
    a, b = _build(real), _build(ours)
    assert repr(a).replace(real.__qualname__, "X") == repr(b).replace(ours.__qualname__, "X")
    assert (b == _build(ours)) is (a == _build(real)) is True
    assert _build(ours) != _build(real)  # another class, even with the same fields
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.replace(b, **{dataclasses.fields(ours)[1].name: 7}) == dataclasses.replace(
        b, **{dataclasses.fields(ours)[1].name: 7}
    )
    assert copy.deepcopy(b) == b
    factory_field = next(f.name for f in dataclasses.fields(ours) if f.default_factory is not dataclasses.MISSING)
    assert getattr(b, factory_field) == getattr(a, factory_field)  # the factory's value
    if factory_field == "metadata":  # a dict: a fresh one each, and unhashable in both
        assert getattr(_build(ours), factory_field) is not getattr(_build(ours), factory_field)
        assert _outcome(lambda: hash(b)) == _outcome(lambda: hash(a))
        a, b = dataclasses.replace(a, metadata=()), dataclasses.replace(b, metadata=())
    assert hash(b) == hash(a)  # the same tuple of values


@pytest.mark.parametrize(("real", "ours"), PAIRS)
def test_frozen_the_same(real: type, ours: type) -> None:
    for cls in (real, ours):
        instance = _build(cls)
        name = dataclasses.fields(cls)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
            setattr(instance, name, 2)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
            delattr(instance, name)
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'other'"):
            instance.other = 1


@pytest.mark.parametrize(("real", "ours"), PAIRS)
def test_bad_arguments_fail_the_same(real: type, ours: type) -> None:
    names = [f.name for f in dataclasses.fields(real)]
    calls: list[Callable[[type], Any]] = [
        lambda cls: cls(),
        lambda cls: cls(**{n: 1 for n in names}, extra=1),
        lambda cls: cls(1, **{names[0]: 1}) if not dataclasses.fields(cls)[0].kw_only else cls(**{names[0]: 1}),
    ]
    for call in calls:
        theirs, mine = _outcome(lambda c=call: c(real)), _outcome(lambda c=call: c(ours))
        assert theirs[0] == mine[0] == "TypeError"
        assert [n for n in [*names, "extra"] if repr(n) in theirs[1]] == [n for n in [*names, "extra"] if repr(n) in mine[1]]


def test_subclassing_with_dataclass_keeps_working() -> None:
    base = _positional(frozen_dataclass)

    @dataclass(frozen=True)
    class Labelled(base):  # type: ignore[valid-type, misc]
        label: str = ""

    labelled = Labelled(1, 2, label="a")
    assert (labelled.x, labelled.y, labelled.label) == (1, 2, "a")
    with pytest.raises(TypeError, match="non-frozen"):

        @dataclass
        class Mutable(base):  # type: ignore[valid-type, misc]
            label: str = ""


def test_unsupported_options_are_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="compare"):

        @frozen_dataclass
        class Hidden:
            x: int = field(default=0, compare=False)

    with pytest.raises(TypeError, match="defines __eq__"):

        @frozen_dataclass
        class Own:
            x: int

            def __eq__(self, other: object) -> bool:
                return True

    with pytest.raises(TypeError, match="non-default argument 'y' follows default argument"):

        @frozen_dataclass
        class Order:
            x: int = 0
            y: int


@frozen_dataclass
class Picklable:
    x: int
    y: tuple[int, ...] = ()


def test_post_init_runs_and_instances_pickle() -> None:
    seen: list[int] = []

    @frozen_dataclass
    class Checked:
        x: int

        def __post_init__(self) -> None:
            seen.append(self.x)

    Checked(3)
    assert seen == [3]
    assert pickle.loads(pickle.dumps(Picklable(1, (2,)))) == Picklable(1, (2,))  # noqa: S301 - our own bytes
