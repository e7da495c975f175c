"""A shape as a spec writes it, read: ``227x227x3`` or ``[227, 227, 3]`` -> ``Shape`` (channels last).

Every reader of a spec (YAML, the layer string, a listing, an expectation, a model file's
input) reads shapes here, so a shape is refused the same way, located, wherever it is written.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Sequence

from ..errors import Location, SpecError
from ..layers.options import OptionError, read_whole, whole
from ..limits import MAX_RANK
from ..shape import Shape

_SHAPE = re.compile(r"^\s*[0-9]+(\s*[x×]\s*[0-9]+)*\s*$", re.IGNORECASE)  # ASCII digits only


def parse_shape(text: str, loc: Optional[Location] = None) -> Shape:
    """``227x227x3`` (H x W x C, channels last), or a bare channel count for a flat input."""
    if not _SHAPE.match(text):
        raise SpecError(f"expected an input shape like 227x227x3, got '{text[:40]}'", loc)
    try:
        dims = [read_whole(d) for d in re.split(r"[x×]", text.lower())]
    except OptionError as e:
        raise SpecError(f"input shape: {e}", loc) from None
    return shape_from_dims(dims, loc)


def shape_from_dims(dims: Sequence[Any], loc: Optional[Location] = None) -> Shape:
    try:
        checked = [whole(d) for d in dims]
    except OptionError as e:
        raise SpecError(f"input shape: {e}", loc) from None
    if not checked:
        raise SpecError("input shape is empty; expected H, W, C", loc)
    if len(checked) > MAX_RANK:
        raise SpecError(f"input shape has {len(checked):,} dims; convcalc takes at most {MAX_RANK}", loc,
                        hint="see the README's limits")
    return Shape(tuple(checked[:-1]), checked[-1])
