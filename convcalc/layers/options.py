"""Typed options of layer kinds: declared once on the rule's fields, read by both parsers.

A rule declares ``kernel: Ints = option((2,), per_axis, letter="k", help=...)``; the registry
reads that metadata to validate YAML keys and layer-string letters alike, so the two spec
formats can never disagree about what an option means.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional, Tuple, Union

from ..limits import MAX_DIGITS, MAX_SIZE
from ..values import MISSING, Field, field

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


def is_option(f: Field) -> bool:
    return "convert" in f.metadata


def describe_value(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        if len(value) > 40:  # a 5,000-digit string is described, not repeated
            return f"the string '{value[:30]}…' ({len(value):,} characters)"
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


def whole(value: Any, minimum: int = 1, expected: str = "a whole number") -> int:
    """A whole number ≥ ``minimum`` (and at most ``limits.MAX_SIZE``); booleans are not numbers.

    ``expected`` names what else the option takes, for the message ("a whole number, or 'same'").
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SIZE:
        raise OptionError(f"expected a whole number, got {value:g} (write {int(value)})")
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"expected {expected}, got {describe_value(value)}")
    if value < minimum:
        if minimum == 1:
            raise OptionError(f"expected a positive whole number, got {value}")
        raise OptionError(f"must be {minimum} or more, got {value}")
    if value > MAX_SIZE:
        raise OptionError(_too_large(f"{value:,}" if value < 10**15 else f"a number of {digits(value)} digits"))
    return value


def _too_large(shown: str, limit: int = MAX_SIZE) -> str:
    return f"{shown} is larger than convcalc's limit of {limit:,}"


_WHOLE = re.compile(r"[+-]?[0-9]+")  # ASCII only: str.isdigit() and \d also take '²' and '３'


def read_whole(text: str, limit: Optional[int] = MAX_SIZE) -> int:
    """The whole number ``text`` writes: decimal ASCII digits with an optional sign, as every
    reader of convcalc (layer string, YAML, listing, command line) takes numbers from text.

    The length is checked before ``int()`` runs, so no text can reach Python's 4,300-digit
    conversion limit or spend time converting: past ``limit`` (in size) the answer is an
    OptionError. ``limit=None`` bounds only the digits (``limits.MAX_DIGITS``): YAML reads
    numbers before it knows what they are for, and counts (expected MACs) may exceed MAX_SIZE.
    """
    text = text.strip()
    if _WHOLE.fullmatch(text) is None:
        shown = text if len(text) <= 20 else text[:12] + "…"
        raise OptionError(f"expected a whole number (digits 0-9), got '{shown}'")
    significant = len(text.lstrip("+-").lstrip("0"))
    if significant > (MAX_DIGITS if limit is None else len(str(limit))):
        shown = text if len(text) <= 15 else f"a number of {significant:,} digits"
        if limit is None:
            raise OptionError(f"{shown} is larger than convcalc's limit of {MAX_DIGITS:,} digits for any number")
        raise OptionError(_too_large(shown, limit))
    value = int(text)
    if limit is not None and abs(value) > limit:
        raise OptionError(_too_large(f"{value:,}", limit))
    return value


_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")  # one way to match: no backtracking


def read_number(text: str) -> Any:
    """A number as convcalc reads it from text: a whole number (``read_whole``, digits bounded
    by ``limits.MAX_DIGITS``), a decimal such as ``0.5`` or ``1e-4``, or else the text itself,
    for the option's converter to read as it reads any text (``0x3`` is 0 by 3 per axis).
    """
    stripped = text.strip()
    if _WHOLE.fullmatch(stripped):
        return read_whole(stripped, None)
    if _DECIMAL.fullmatch(stripped):
        if len(stripped) > MAX_DIGITS:
            raise OptionError(f"a number of {len(stripped):,} characters is larger than convcalc's limit of "
                              f"{MAX_DIGITS:,} digits for any number")
        return float(stripped)
    return text


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


_AXES = re.compile(r"[+-]?[0-9]+(x[+-]?[0-9]+)*")


def _per_axis(value: Any, minimum: int, expected: str = "a whole number") -> Ints:
    if isinstance(value, str) and _AXES.fullmatch(value.strip().lower()):
        return tuple(whole(read_whole(v), minimum) for v in value.strip().lower().split("x"))
    if isinstance(value, (list, tuple)):
        if not value:
            raise OptionError("expected one number per axis, got an empty list")
        return tuple(whole(v, minimum, expected) for v in value)
    return (whole(value, minimum, expected),)


def per_axis(value: Any) -> Ints:
    """One positive number for every axis (``3``), or one per axis (``[3, 5]`` or ``3x5``)."""
    return _per_axis(value, 1)


def per_axis_or_zero(value: Any) -> Ints:
    return _per_axis(value, 0)


INFERRED = -1  # PyTorch's view(-1, 64): the one dim the element count decides


def dims_inferring(value: Any) -> Ints:
    """New dims for a reshape: each positive, or one of them -1, inferred from the element count
    as PyTorch's ``view(-1, 64)`` infers it (``[-1, 64]``, ``-1x64``, ``64x-1``)."""
    if isinstance(value, str) and _AXES.fullmatch(value.strip().lower()):
        value = [read_whole(v) for v in value.strip().lower().split("x")]
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise OptionError("expected one number per dim, got an empty list")
    expected = "a positive whole number, or -1 for the dim to infer"
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and v < 1 and v != INFERRED:
            raise OptionError(f"expected {expected}, got {v}")
    dims = tuple(INFERRED if v == INFERRED and not isinstance(v, (bool, float)) else whole(v, 1, expected)
                 for v in values)
    if dims.count(INFERRED) > 1:
        raise OptionError(f"at most one dim can be -1 (inferred), got {dims.count(INFERRED)}")
    return dims


def padding(value: Any) -> Padding:
    """Zero padding: a number, one per axis, or 'same' / 'valid'."""
    if isinstance(value, str) and value.strip().lower() in ("same", "valid"):
        return value.strip().lower()
    return _per_axis(value, 0, "a whole number or 'same' / 'valid'")


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"expected true or false, got {describe_value(value)}")
    return value


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; take it as the number anyone means by it."""
    return read_number(value) if isinstance(value, str) else value


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
    if isinstance(value, str) and _AXES.fullmatch(value.strip().lower()):
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


TENSOR_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}"  # torchvision names FPN levels '0'..'3'
_TENSOR_NAME = re.compile(TENSOR_PATTERN)


def tensor_name(value: Any) -> str:
    """The name of a layer, a block or ``input``: what ``like:`` and ``from:`` refer to. The
    engine resolves it (analysis/engine.py); here it only has to look like a name."""
    if not isinstance(value, str) or not _TENSOR_NAME.fullmatch(value):
        raise OptionError(f"expected the name of a layer, a block or 'input', got {describe_value(value)}")
    return value


BLOCK_INPUT = "<in>"
"""What a ``from`` or ``@`` inside a block reads to mean the block's own input (at the top of a
spec, the network's input): ``from: <in>``, ``@<in>``. No layer or block can be named so, as a
name cannot hold '<' or '>', so it never means anything else."""


def source_name(value: Any) -> str:
    """What ``from``, ``outputs`` and ``@`` read: a tensor's name, or ``<in>``, the block's input."""
    return BLOCK_INPUT if value == BLOCK_INPUT else tensor_name(value)


_OP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,99}")


def op_name(value: Any) -> str:
    """An operator's name as its file spells it (``Einsum``, ``com.microsoft:FusedConv``)."""
    if not isinstance(value, str) or not _OP_NAME.fullmatch(value):
        raise OptionError(f"expected an operator name, got {describe_value(value)}")
    return value


def choice(*allowed: str) -> Converter:
    """One of a few words."""

    def convert(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in allowed:
            raise OptionError(f"expected one of {', '.join(allowed)}, got {describe_value(value)}")
        return value.lower()

    return convert
