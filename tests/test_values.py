"""convcalc.values behaves like ``@dataclass(frozen=True)`` for everything convcalc relies on.

Each behaviour is checked against the real thing: the same class declared both ways must give
the same constructor errors, repr, equality, hash and replace().
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcalc.values import (
    SPECIALISE_AFTER,
    FrozenError,
    field,
    fields,
    is_value,
    replace,
    value,
)


def declare(decorate, make_field):
    @decorate
    class Base:
        kind: ClassVar[str] = "base"
        size: int
        stride: int = 1
        tags: Tuple[str, ...] = make_field(default=())

    @decorate
    class Derived(Base):
        stride: int = 2  # redefined: keeps its position after `size`
        note: str = make_field(default="", compare=False)
        hidden: Optional[int] = make_field(default=None, repr=False)
        items: list = make_field(default_factory=list, compare=False)  # unhashable: not compared

    return Base, Derived


ValueBase, ValueDerived = declare(value, field)
DataBase, DataDerived = declare(dataclasses.dataclass(frozen=True), dataclasses.field)


@value
class Picklable:  # pickle finds classes by their module-level name
    size: int
    note: str = field(default="", compare=False)


def test_fields_in_dataclass_order_with_metadata():
    assert [f.name for f in fields(ValueDerived)] == [f.name for f in dataclasses.fields(DataDerived)]
    assert [f.name for f in fields(ValueDerived)] == ["size", "stride", "tags", "note", "hidden", "items"]
    assert fields(ValueDerived(1)) == fields(ValueDerived)
    assert ValueDerived.stride == 2 and ValueBase.stride == 1  # defaults stay class attributes
    assert ValueDerived.kind == "base" and "kind" not in ValueDerived.__value_names__
    assert is_value(ValueDerived) and not is_value(object())
    with pytest.raises(TypeError, match="not a value"):
        fields(3)


@given(size=st.integers(), stride=st.integers(), note=st.text(max_size=3), hidden=st.none() | st.integers(),
       positional=st.booleans())
def test_same_behaviour_as_a_frozen_dataclass(size, stride, note, hidden, positional):
    def build(cls):
        if positional:
            return cls(size, stride, ("a",), note, hidden)
        return cls(size=size, stride=stride, tags=("a",), note=note, hidden=hidden)

    v, d = build(ValueDerived), build(DataDerived)
    assert repr(v) == repr(d)  # both declare.<locals>.Derived(...)
    other_v, other_d = ValueDerived(size, stride, ("a",), note + "!", 7), DataDerived(size, stride, ("a",), note + "!", 7)
    assert (v == other_v) == (d == other_d)  # note is not compared; hidden is
    assert hash(v) == hash(ValueDerived(size, stride, ("a",), "", hidden))
    assert replace(v, stride=stride + 1).stride == dataclasses.replace(d, stride=stride + 1).stride
    assert replace(v, stride=stride + 1) == ValueDerived(size, stride + 1, ("a",), note, hidden)


def test_defaults_and_factories():
    a, b = ValueDerived(3), ValueDerived(3)
    assert (a.stride, a.tags, a.note, a.hidden, a.items) == (2, (), "", None, [])
    assert a.items is not b.items  # a factory runs per instance


@pytest.mark.parametrize("call, message", [
    (lambda cls: cls(), "missing .*required .*argument"),
    (lambda cls: cls(1, size=2), "twice|multiple values"),
    (lambda cls: cls(1, sise=2), "unexpected"),
    (lambda cls: cls(1, 2, (), "", None, [], 7), "arguments but 7 were given|takes from"),
])
def test_constructor_errors_like_dataclasses(call, message):
    with pytest.raises(TypeError, match=message):
        call(ValueDerived)
    with pytest.raises(TypeError, match=message):
        call(DataDerived)


def test_frozen():
    v = ValueDerived(1)
    with pytest.raises(FrozenError):
        v.size = 2
    with pytest.raises(AttributeError):
        del v.size
    with pytest.raises(TypeError, match="unexpected"):
        replace(v, sise=2)


def test_equality_needs_the_same_class():
    assert ValueBase(1, 2) != ValueDerived(1, 2)
    assert ValueBase(1, 2) == ValueBase(1, 2) and {ValueBase(1, 2): "x"}[ValueBase(1, 2)] == "x"


def test_post_init_copy_and_pickle():
    @value
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")
            object.__setattr__(self, "double", 2 * self.n)

    assert Checked(4).double == 8
    with pytest.raises(ValueError):
        Checked(-1)
    v = Picklable(5, note="x")
    for clone in (copy.copy(v), copy.deepcopy(v), pickle.loads(pickle.dumps(v))):
        assert clone == v and clone.note == "x"


def test_a_single_compared_field_and_none():
    @value
    class One:
        n: int
        loc: object = field(default=None, compare=False)

    @value
    class Nothing:
        loc: object = field(default=None, compare=False)

    assert One(1, "a") == One(1, "b") and hash(One(1)) == hash((1,))
    assert Nothing("a") == Nothing("b") and hash(Nothing()) == hash(())


# --- a class made often gets an __init__ of its own (values._specialise) -------------------------


def made_often(cls, *args, **kwargs):
    """``cls(*args, **kwargs)``, after enough instances that the class has its own __init__."""
    for _ in range(SPECIALISE_AFTER + 2):
        made = cls(*args, **kwargs)
    return made


def test_a_class_made_often_gets_its_own_init_that_behaves_the_same():
    Base, Derived = declare(value, field)
    first = Derived(3, 4, ("t",), "n", 5)
    assert Derived.__init__ is Base.__init__  # the generic one, shared
    often = made_often(Derived, 3, 4, ("t",), "n", 5)
    assert Derived.__init__ is not Base.__init__ and Derived.__init__.__qualname__ == "declare.<locals>.Derived.__init__"
    assert often == first and repr(often) == repr(first) and hash(often) == hash(first)
    assert vars(often) == vars(first)
    a, b = Derived(1), Derived(size=1)
    assert (a.stride, a.tags, a.note, a.hidden, a.items) == (2, (), "", None, []) and a == b
    assert a.items is not b.items  # a factory runs per instance
    assert Derived(1, items=[1]).items == [1] and replace(a, stride=9).stride == 9
    with pytest.raises(FrozenError):
        a.size = 2


@pytest.mark.parametrize("call, message", [
    (lambda cls: cls(), "missing .*required .*argument"),
    (lambda cls: cls(1, size=2), "twice|multiple values"),
    (lambda cls: cls(1, sise=2), "unexpected"),
    (lambda cls: cls(1, 2, (), "", None, [], 7), "arguments but 7 were given|takes from"),
])
def test_constructor_errors_like_dataclasses_when_made_often(call, message):
    _, Derived = declare(value, field)
    made_often(Derived, 1)
    with pytest.raises(TypeError, match=message):
        call(Derived)


def test_post_init_runs_when_made_often():
    @value
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")
            object.__setattr__(self, "double", 2 * self.n)

    assert made_often(Checked, 4).double == 8
    with pytest.raises(ValueError):
        Checked(-1)


def test_classes_that_keep_the_generic_init():
    @value
    class WithDefault:
        a: int = 1

    @value
    class RequiredAfterDefault(WithDefault):  # cannot be written as parameters in this order
        b: int

    class Plain(WithDefault):  # not a value class of its own: it inherits the generic __init__
        pass

    generic = WithDefault.__init__
    made_often(RequiredAfterDefault, b=2)
    assert RequiredAfterDefault.__init__ is generic and RequiredAfterDefault(b=2).a == 1
    with pytest.raises(TypeError, match="missing"):
        RequiredAfterDefault(1)
    assert made_often(Plain, 5).a == 5 and Plain.__init__ is generic and "__init__" not in Plain.__dict__
