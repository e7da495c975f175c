"""Figures as people read them: ``61.1M``, ``96.0 MiB``, and exact fractions for JSON.

Rounding happens here and only here, when a figure is shown: every table, Markdown, HTML page
and picture rounds through these, and JSON and CSV print the exact integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fractions import Fraction


def human(n: int) -> str:
    """Three significant digits with a decimal prefix: 34944 -> 34.9K, 138357544 -> 138M."""
    if abs(n) < 1000:
        return str(n)
    for prefix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale * 0.9995:
            value = n / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f}{prefix}"
    return str(n)  # pragma: no cover - unreachable


def human_bytes(n: int) -> str:
    """Binary prefixes, as memory is sized: 100663296 -> 96.0 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - unreachable


def number(f: "int | Fraction") -> Any:
    """An exact JSON number: an int, or a fraction as the string "p/q"."""
    return f.numerator if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def significant(x: "Fraction", up: bool = False) -> str:
    """Three significant digits (below 1000), rounded down, or up with ``up``: a bound shown
    rounded stays a bound. 235.249... -> 235, 1.5482 -> 1.54, up: 476.09 -> 477."""
    import math

    digits = 2 if x < 10 else 1 if x < 100 else 0
    scaled = x * 10**digits
    n = math.ceil(scaled) if up else math.floor(scaled)
    return f"{n / 10**digits:.{digits}f}"


def duration(seconds: "Fraction") -> str:
    """A time in s, ms, µs or ns, three significant digits, rounded down (lower bounds stay lower)."""
    for unit, factor in (("s", 1), ("ms", 10**3), ("µs", 10**6)):
        if seconds * factor >= 1:
            return f"{significant(seconds * factor)} {unit}"
    return f"{significant(seconds * 10**9)} ns"


def with_unit(n: int, unit: str) -> str:
    """A figure with its decimal prefix and unit: 15_700_000_000_000, "FLOP/s" -> 15.7 TFLOP/s."""
    shown = human(n)
    return f"{shown[:-1]} {shown[-1]}{unit}" if shown[-1].isalpha() else f"{shown} {unit}"
