"""`leave.record.Record`: the frozen keyword-only value behind every command and event."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest
from leave.record import Record, has_default, record_fields, replace


class Base(Record):
    kind: ClassVar[str] = "base"
    owner: str


class Child(Base):
    amount: int
    note: str = ""
    tags: frozenset[str] = frozenset()


def test_fields_are_declared_order_base_first_and_skip_class_vars() -> None:
    assert record_fields(Child) == ("owner", "amount", "note", "tags")
    assert Child.__match_args__ == ("owner", "amount", "note", "tags")
    assert Child.kind == "base"


def test_keyword_only_with_defaults() -> None:
    assert [name for name in record_fields(Child) if has_default(Child, name)] == ["note", "tags"]
    child = Child(owner="a", amount=1)
    assert (child.owner, child.amount, child.note, child.tags) == ("a", 1, "", frozenset())
    with pytest.raises(TypeError):
        Child("a", 1)  # type: ignore[misc]


def test_missing_and_unknown_arguments_name_the_field() -> None:
    with pytest.raises(TypeError, match="missing required keyword argument: 'amount'"):
        Child(owner="a")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument.*colour"):
        Child(owner="a", amount=1, colour="red")  # type: ignore[call-arg]


def test_equality_and_hash_by_type_and_values() -> None:
    assert Child(owner="a", amount=1) == Child(owner="a", amount=1, note="")
    assert hash(Child(owner="a", amount=1)) == hash(Child(owner="a", amount=1))
    assert Child(owner="a", amount=1) != Child(owner="a", amount=2)

    class Twin(Base):
        amount: int
        note: str = ""
        tags: frozenset[str] = frozenset()

    assert Child(owner="a", amount=1) != Twin(owner="a", amount=1)
    assert len({Child(owner="a", amount=1), Child(owner="a", amount=1)}) == 1


def test_frozen() -> None:
    child = Child(owner="a", amount=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.amount = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del child.owner  # type: ignore[misc]
    assert child.amount == 1


def test_repr_shows_the_fields() -> None:
    assert repr(Child(owner="a", amount=1)) == "Child(owner='a', amount=1, note='', tags=frozenset())"


def test_a_subclass_may_make_a_default_required_again() -> None:
    class Strict(Child):
        note: str

    with pytest.raises(TypeError, match="'note'"):
        Strict(owner="a", amount=1)  # type: ignore[call-arg]
    assert Strict(owner="a", amount=1, note="n").note == "n"


@pytest.mark.parametrize("default", [[], {}, set()])
def test_a_mutable_default_is_refused(default: object) -> None:
    with pytest.raises(TypeError, match="mutable default"):
        type("Bad", (Record,), {"__annotations__": {"items": "list[str]"}, "items": default})


def test_pattern_matching_by_keyword_and_position() -> None:
    match Child(owner="a", amount=3):
        case Child(owner="a", amount=amount):
            assert amount == 3
        case _:
            pytest.fail("keyword pattern did not match")
    match Child(owner="b", amount=4):
        case Child("b", n):
            assert n == 4
        case _:
            pytest.fail("positional pattern did not match")


class WithFactory(Record):
    owner: str
    items: dict[str, int] = dataclasses.field(default_factory=dict)
    note: str = dataclasses.field(default="n")


def test_a_default_factory_gives_each_instance_its_own_value() -> None:
    first, second = WithFactory(owner="a"), WithFactory(owner="b")
    assert first.items == {} and second.items == {}
    assert first.items is not second.items
    assert first.note == "n"
    assert has_default(WithFactory, "items") and has_default(WithFactory, "note")
    assert WithFactory(owner="a", items={"x": 1}).items == {"x": 1}
    assert "items" not in vars(WithFactory)  # the field object does not stay as a class attribute


def test_replace_copies_with_changes_and_names_an_unknown_field() -> None:
    child = Child(owner="a", amount=1, note="x")
    changed = replace(child, amount=2)
    assert changed == Child(owner="a", amount=2, note="x")
    assert child.amount == 1
    assert type(changed) is Child
    with pytest.raises(TypeError, match="Child has no field.*colour"):
        replace(child, colour="red")
