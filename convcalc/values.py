"""Frozen value classes: what ``@dataclass(frozen=True)`` gives, without its start-up cost.

``dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` as source text and compiles it when the module is imported,
about 0.35 ms per class. convcalc defines ~90 value classes, so a one-line lookup spent longer
defining classes than Click takes to import. Here every value class shares one set of generic
methods driven by a per-class table of its fields, and defining a class costs microseconds.

The semantics are the dataclass ones convcalc relies on: fields are the annotated class
attributes in definition order through the bases (a redefinition keeps its base's position;
``ClassVar`` annotations are not fields); defaults, default factories, ``compare`` and ``repr``
flags and ``metadata`` come from :func:`field`; ``__post_init__`` runs after ``__init__``;
instances are immutable (assigning raises :class:`FrozenError`, an ``AttributeError``), equal
when they are of the same class with equal compared fields, and hashable. :func:`fields` and
:func:`replace` work like their ``dataclasses`` namesakes.
"""

from __future__ import annotations

from keyword import iskeyword
from operator import attrgetter
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda decorated: decorated

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # no default: the argument is required
_NO_METADATA: Mapping[str, Any] = {}


class Field:
    """One field of a value class, as :func:`fields` returns it."""

    __slots__ = ("name", "default", "default_factory", "compare", "repr", "metadata")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, compare: bool = True,
                 repr: bool = True, metadata: Optional[Mapping[str, Any]] = None) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr
        self.metadata = _NO_METADATA if metadata is None else metadata

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


def field(*, default: Any = MISSING, default_factory: Any = MISSING, compare: bool = True,
          repr: bool = True, metadata: Optional[Mapping[str, Any]] = None) -> Any:
    """Declare a field with more than a plain default (the class attribute's value)."""
    return Field(default, default_factory, compare, repr, metadata)


class FrozenError(AttributeError):
    """An attempt to change a field of a value (they are immutable)."""


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__origin__", annotation)
    return "ClassVar" in str(text)


@dataclass_transform(field_specifiers=(field, Field), frozen_default=True)
def value(cls: Type[T]) -> Type[T]:
    """Make ``cls`` a frozen value class (see the module docstring)."""
    table: Dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__value_fields__", ()):
            table[f.name] = f
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        declared = cls.__dict__.get(name, MISSING)
        f = declared if isinstance(declared, Field) else Field(default=declared)
        f.name = name
        table[name] = f  # a redefined field keeps its base's position, as in dataclasses
        if isinstance(declared, Field):  # the class attribute is the default, as in dataclasses
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    every = tuple(table.values())
    compared = [f.name for f in every if f.compare]
    setattr(cls, "__value_fields__", every)
    setattr(cls, "__value_names__", tuple(table))
    setattr(cls, "__value_nameset__", frozenset(table))
    setattr(cls, "__value_defaults__", tuple((f.name, f.default, f.default_factory) for f in every
                                             if f.default is not MISSING or f.default_factory is not MISSING))
    setattr(cls, "__value_repr__", tuple(f.name for f in every if f.repr))
    setattr(cls, "__value_key__", attrgetter(*compared) if len(compared) > 1 else
            (lambda v, _n=compared[0]: (getattr(v, _n),)) if compared else (lambda v: ()))
    setattr(cls, "__value_post__", getattr(cls, "__post_init__", None))
    own = cls.__dict__
    for name, method in _METHODS.items():
        if name not in own or (name == "__hash__" and own[name] is None and "__eq__" not in own):
            setattr(cls, name, method)
    return cls


SPECIALISE_AFTER = 64
"""Instances of a value class made with the generic ``_init`` before the class gets its own."""
_made: Dict[type, int] = {}  # value class -> instances the generic _init has made of it


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    made = _made.get(cls, 0)
    if made <= SPECIALISE_AFTER:
        _made[cls] = made + 1
        if made == SPECIALISE_AFTER and _specialise(cls):
            cls.__init__(self, *args, **kwargs)
            return
    names = cls.__value_names__
    state = self.__dict__  # written directly: __setattr__ refuses, and this is the hot path
    if args:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments but {len(args)} were given")
        state.update(zip(names, args))
    if kwargs:
        if not cls.__value_nameset__.issuperset(kwargs) or (args and not kwargs.keys().isdisjoint(state)):
            unknown = [k for k in kwargs if k not in cls.__value_nameset__]
            problem = f"an unexpected argument {unknown[0]!r}" if unknown else "an argument twice"
            raise TypeError(f"{cls.__name__}() got {problem}")
        state.update(kwargs)
    if len(state) < len(names):
        for name, default, factory in cls.__value_defaults__:
            if name not in state:
                state[name] = default if factory is MISSING else factory()
        if len(state) < len(names):
            missing = ", ".join(repr(n) for n in names if n not in state)
            raise TypeError(f"{cls.__name__}() missing required argument(s): {missing}")
    if cls.__value_post__ is not None:
        cls.__value_post__(self)


def _specialise(cls: Any) -> bool:
    """Give ``cls``, whose instances are many, an ``__init__`` of its own, as ``dataclass`` writes
    one: its fields as parameters, stored without the generic one's bookkeeping (3x faster).

    Only a class made often pays for the compiling (~50 µs), so a short command compiles none.
    The new ``__init__`` binds arguments as the generic one does, defaults, factories and
    ``__post_init__`` included, and raises the same TypeErrors in Python's words (as a
    dataclass's). False, and the class keeps the generic one, when it inherits it from a value
    class, or its fields cannot be parameters in their order (a required field after one with a
    default, through inheritance)."""
    if cls.__dict__.get("__init__") is not _init:
        return False
    params, body = [], []
    namespace: Dict[str, Any] = {"_value_factory": _FACTORY, "_value_post": cls.__value_post__}
    defaulted = False
    for f in cls.__value_fields__:
        name = f.name
        if not name.isidentifier() or iskeyword(name) or name.startswith("_value_"):
            return False
        if f.default_factory is not MISSING:  # the factory wins, as in the generic _init
            namespace[f"_value_make_{name}"] = f.default_factory
            params.append(f"{name}=_value_factory")
            body.append(f"_value_state[{name!r}] = _value_make_{name}() if {name} is _value_factory else {name}")
        else:
            if f.default is not MISSING:
                namespace[f"_value_default_{name}"] = f.default
                params.append(f"{name}=_value_default_{name}")
            elif defaulted:
                return False
            else:
                params.append(name)
            body.append(f"_value_state[{name!r}] = {name}")
        defaulted = defaulted or f.default is not MISSING or f.default_factory is not MISSING
    if cls.__value_post__ is not None:
        body.append("_value_post(_value_self)")
    source = (f"def __init__(_value_self, {', '.join(params)}):\n"
              "    _value_state = _value_self.__dict__\n" + "".join(f"    {line}\n" for line in body))
    exec(source, namespace)  # noqa: S102  # our own text, from field names checked to be identifiers
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init
    return True


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


_FACTORY: Any = _Factory()  # the default of a field with a default_factory, in a specialised __init__


def _repr(self: Any) -> str:
    cls = type(self)
    return f"{cls.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in cls.__value_repr__)})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self.__class__.__value_key__
    return key(self) == key(other)


def _hash(self: Any) -> int:
    # Kept once worked out: values are immutable, and a large spec's shapes and rules are looked
    # up by value thousands of times (the engine remembers a rule's figures on each input).
    state = self.__dict__
    h = state.get("__value_hash__")
    if h is None:
        h = state["__value_hash__"] = hash(self.__class__.__value_key__(self))
    return h  # type: ignore[no-any-return]


def _setattr(self: Any, name: str, _: Any) -> None:
    raise FrozenError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")


_METHODS: Dict[str, Callable[..., Any]] = {
    "__init__": _init, "__repr__": _repr, "__eq__": _eq, "__hash__": _hash,
    "__setattr__": _setattr, "__delattr__": _delattr,
}


def is_value(obj: Any) -> bool:
    return hasattr(obj, "__value_fields__")


def fields(obj: Any) -> Tuple[Field, ...]:
    """The fields of a value class or instance, in order."""
    try:
        return obj.__value_fields__  # type: ignore[no-any-return]
    except AttributeError:
        raise TypeError(f"{obj!r} is not a value class or instance") from None


def replace(obj: T, **changes: Any) -> T:
    """A copy of ``obj`` with some fields changed (validated as the constructor validates them)."""
    state = {f.name: getattr(obj, f.name) for f in fields(obj)}
    state.update(changes)
    return type(obj)(**state)
