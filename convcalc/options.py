"""Typed options of layer kinds: declared once on the rule's fields, read by both parsers.

A rule declares ``kernel: Ints = option((2,), per_axis, letter="k", help=...)``; the registry
reads that metadata to validate YAML keys and layer-string letters alike, so the two spec
formats can never disagree about what an option means.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Tuple, Union

from .limits import MAX_SIZE
from .values import MISSING, Field, field

Ints = Tuple[int, ...]
Padding = Union[str, Ints]  # 'same', 'valid', or one symmetric padding per axis

Converter = Callable[[Any], Any]

REQUIRED: Any = MISSING


class OptionError(ValueError):
    """A value of the wrong type or range; the registry adds the location and option name."""


def option(
    default: Any = REQUIRED,
    convert: Converter = lambda v: v,
    *,
    letter: str = "",
    flag: Any = None,
    aliases: Tuple[str, ...] = (),
    help: str = "",
) -> Any:
    """A field of a rule that is a user-settable option.

    ``letter`` is its short form in layer strings (``k3``, ``s2``); ``flag`` is the value a bare
    letter sets (``nb`` sets bias to False).
    """
    meta = {"convert": convert, "letter": letter, "flag": flag, "aliases": aliases, "help": help}
    if default is REQUIRED:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def is_option(f: Field) -> bool:  # type: ignore[type-arg]
    return "convert" in f.metadata


def describe_value(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, float):
        return f"the number {value:g}"
    if value is None:
        return "nothing"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def whole(value: Any, minimum: int = 1) -> int:
    """A whole number ≥ ``minimum`` (and at most ``limits.MAX_SIZE``); booleans are not numbers."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SIZE:
        raise OptionError(f"expected a whole number, got {value:g} (write {int(value)})")
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"expected a whole number, got {describe_value(value)}")
    if value < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise OptionError(f"expected a {what} whole number, got {value}")
    if value > MAX_SIZE:
        shown = f"{value:,}" if value < 10**15 else f"a number of {digits(value)} digits"
        raise OptionError(f"{shown} is larger than convcalc's limit of {MAX_SIZE:,}")
    return value


def digits(value: int) -> str:
    """How many decimal digits ``value`` has, without converting a huge int to text (Python
    refuses past 4,300 digits)."""
    estimate = int(value.bit_length() * math.log10(2)) + 1
    if estimate > 4300:
        return f"about {estimate}"
    if value < 10 ** (estimate - 1):
        estimate -= 1
    elif value >= 10**estimate:
        estimate += 1
    return str(estimate)


def positive(value: Any) -> int:
    return whole(value, 1)


def non_negative(value: Any) -> int:
    return whole(value, 0)


_AXES = re.compile(r"^\d+(x\d+)*$")


def _per_axis(value: Any, minimum: int) -> Ints:
    if isinstance(value, str) and _AXES.match(value.strip().lower()):
        return tuple(whole(int(v), minimum) for v in value.strip().lower().split("x"))
    if isinstance(value, (list, tuple)):
        if not value:
            raise OptionError("expected one number per axis, got an empty list")
        return tuple(whole(v, minimum) for v in value)
    return (whole(value, minimum),)


def per_axis(value: Any) -> Ints:
    """One positive number for every axis (``3``), or one per axis (``[3, 5]`` or ``3x5``)."""
    return _per_axis(value, 1)


def per_axis_or_zero(value: Any) -> Ints:
    return _per_axis(value, 0)


def padding(value: Any) -> Padding:
    """Zero padding: a number, one per axis, or 'same' / 'valid'."""
    if isinstance(value, str) and value.strip().lower() in ("same", "valid"):
        return value.strip().lower()
    try:
        return _per_axis(value, 0)
    except OptionError as e:
        raise OptionError(f"{e} or 'same' / 'valid'") from None


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"expected true or false, got {describe_value(value)}")
    return value


_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; take it as the number anyone means by it."""
    return float(value) if isinstance(value, str) and _FLOAT.match(value.strip()) else value


def fraction(value: Any) -> float:
    """A probability in [0, 1)."""
    value = _number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise OptionError(f"expected a number from 0 up to (not including) 1, got {describe_value(value)}")
    return float(value)


def real(value: Any) -> float:
    """Any finite number (a coefficient that changes no count)."""
    value = _number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptionError(f"expected a number, got {describe_value(value)}")
    return float(value)


def per_axis_number(value: Any) -> Tuple[float, ...]:
    """One positive number (whole or not) per axis: ``2``, ``1.5``, ``[2, 1]``."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, str) and _AXES.match(value.strip().lower()):
        values = value.strip().lower().split("x")
    out = []
    for v in values:
        v = _number(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v > MAX_SIZE:
            raise OptionError(f"expected a positive number, got {describe_value(v)}")
        out.append(float(v))
    if not out:
        raise OptionError("expected one number per axis, got an empty list")
    return tuple(out)


def choice(*allowed: str) -> Converter:
    """One of a few words."""

    def convert(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in allowed:
            raise OptionError(f"expected one of {', '.join(allowed)}, got {describe_value(value)}")
        return value.lower()

    return convert
