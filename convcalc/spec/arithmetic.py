"""``$width*4`` and ``conv${width}k3``: the arithmetic of a block's arguments, in YAML specs.

Parsed with ``ast`` and walked by hand, never ``eval``: names are the block's arguments, numbers
stay exact (``Fraction``), and every value on the way is bounded, so no expression can overflow,
run long or reach anything but arithmetic.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from typing import Any, Dict

from ..errors import Location, SpecError, did_you_mean
from ..limits import MAX_SIZE
from .layer_string import ARGUMENT

_ARG = re.compile(rf"{ARGUMENT}|\$[A-Za-z_]\w*")


def evaluate(text: str, env: Dict[str, Any], loc: Location) -> Any:
    """Evaluate ``$width*4 + 1`` or ``${width * 4}``: a block's arguments, numbers, + − × ÷ (exact),
    // and parentheses — parsed with ``ast`` and walked by hand, never ``eval``. Every number on
    the way is finite and at most LARGEST_VALUE, so no expression can overflow or grow without end."""

    def refuse(why: str) -> SpecError:
        return SpecError(f"cannot evaluate '{text}': {why}", loc,
                         hint="arguments support + - * / // and parentheses, e.g. $width*4")

    expression = re.sub(ARGUMENT, r"(\1)", text)
    if "${" in expression:
        raise refuse(_UNCLOSED)
    expression = re.sub(r"\$([A-Za-z_]\w*)", r"\1", expression)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise refuse(str(e)) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in env:
            raise SpecError(f"cannot evaluate '{text}': no argument '{node.id}'{did_you_mean(node.id, env)}", loc,
                            hint=f"this block's args: {', '.join(env) or 'none'}")
    try:
        return _arithmetic(tree.body, env)
    except ZeroDivisionError:
        raise refuse("division by zero") from None
    except (ValueError, OverflowError, RecursionError) as e:
        raise refuse(str(e)) from None


_UNCLOSED = "a '${' without its '}', or one inside another; write one ${...} per value"


LARGEST_VALUE = MAX_SIZE**2
"""Largest magnitude an argument expression may reach on its way (sizes are at most MAX_SIZE)."""


def _arithmetic(node: ast.AST, names: Dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _number(node.value)
    if isinstance(node, ast.Name) and node.id in names:
        value = names[node.id]
        return _number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(_arithmetic(node.operand, names))
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv)):
        a, b = _number(_arithmetic(node.left, names)), _number(_arithmetic(node.right, names))
        if isinstance(node.op, ast.Add):
            return _number(a + b)
        if isinstance(node.op, ast.Sub):
            return _number(a - b)
        if isinstance(node.op, ast.Mult):
            return _number(a * b)  # each at most LARGEST_VALUE, so the product is computed quickly
        if isinstance(node.op, ast.FloorDiv):
            return _number(a // b)
        exact = _number(Fraction(a) / Fraction(b))  # checked before float() could overflow
        return int(exact) if exact.denominator == 1 else float(exact)
    raise ValueError("only numbers, arguments, + - * / // and parentheses are allowed")


def _number(value: Any) -> Any:
    """``value`` if it is a finite number of at most LARGEST_VALUE; else a ValueError saying why."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise ValueError(f"{value!r} is not a number" if isinstance(value, str) else "only numbers can be combined")
    if value != value:
        raise ValueError("not a number (NaN)")
    if abs(value) > LARGEST_VALUE:  # type: ignore[operator]  # infinity, or on its way there
        raise ValueError(f"a number larger than {LARGEST_VALUE:.0e} on the way")
    return value



def interpolate(text: str, env: Dict[str, Any], loc: Location) -> str:
    """``conv${width}k3`` in a layer string inside a block: each ``${...}`` or ``$name`` replaced."""
    if "${" in _ARG.sub("", text):
        raise SpecError(f"cannot evaluate '{text}': {_UNCLOSED}", loc)
    return _ARG.sub(lambda m: str(evaluate(m.group(0), env, loc)), text)
