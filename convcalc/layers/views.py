"""Views: the same elements arranged otherwise (what model files do between the layers): reshape,
permute, take, slice."""

from __future__ import annotations

import math
from typing import ClassVar, Optional, Tuple

from ..errors import LayerError
from ..limits import MAX_RANK
from ..shape import Shape
from ..values import value
from .base import Layer, Step
from .options import (
    INFERRED,
    Ints,
    dims_inferring,
    non_negative,
    option,
    per_axis_or_zero,
    positive,
)


def check_dims(values: Ints, what: str) -> None:
    """A list of dims longer than any tensor may have is refused before anything multiplies it."""
    if len(values) > MAX_RANK:
        raise LayerError(f"{what} lists {len(values):,} dims; convcalc takes at most {MAX_RANK}",
                         hint="see the README's limits")


def dims_text(values: Ints) -> str:
    """Dims as written, one number for one dim (``256``, not a window's ``256x256``)."""
    return "x".join(map(str, values)) if len(values) <= MAX_RANK else f"{len(values):,} dims"


def dims_shape(dims: Tuple[int, ...]) -> Shape:
    """A shape from its dims in convcalc's order, the last one the channels: ``(12, 197, 64)``
    is 12x197x64, 197 positions of 64 in each of 12 heads."""
    return Shape(tuple(dims[:-1]), dims[-1])


@value
class Reshape(Layer):
    """The same elements in another shape: PyTorch's ``view``/``reshape``, ONNX's Reshape,
    Squeeze and Unsqueeze. ``to`` lists the new dims in convcalc's order (channels last, no
    batch); one of them may be -1, the size that keeps the element count, as in PyTorch's
    ``view(-1, 64)``, so a window partition holds at every input size. No parameters, no MACs;
    the element count must not change.

    Receptive field: which input positions an output position holds depends on how the dims
    are cut, so none is carried past it (reported as the whole input, as fc).
    """

    family: ClassVar[str] = "reshape"
    leading: ClassVar[Optional[str]] = "to"

    to: Ints = option(convert=dims_inferring, aliases=("shape", "dims"),
                      help="the new dims, channels last, no batch: [197, 12, 64] or 197x12x64; "
                           "one may be -1, inferred: [-1, 64]")

    def out_shape(self, x: Shape) -> Shape:
        check_dims(self.to, "to")
        return dims_shape(self.dims(x))

    def dims(self, x: Shape) -> Ints:
        """``to`` with its -1 (if any) inferred exactly: the elements of ``x`` over the others'
        product, refused unless it divides."""
        known = math.prod(d for d in self.to if d != INFERRED)
        if INFERRED in self.to:
            if x.elements % known:
                others = tuple(d for d in self.to if d != INFERRED)
                given = dims_text(others) + (f" = {known:,}" if len(others) > 1 else "")
                raise LayerError(f"{x} holds {x.elements:,} elements, not a multiple of {given}, "
                                 f"so no size fits the -1 in {dims_text(self.to)}",
                                 hint=f"the dims besides -1 must multiply to a divisor of {x.elements:,}")
            return tuple(x.elements // known if d == INFERRED else d for d in self.to)
        if known != x.elements:
            fits = (f"; or write -1 for the dim to infer: {dims_text(self.to)}x-1 gives "
                    f"{dims_text(self.to)}x{x.elements // known}") if x.elements % known == 0 else ""
            raise LayerError(f"{x} holds {x.elements:,} elements; the dims {dims_text(self.to)} hold {known:,}",
                             hint=f"a reshape keeps every element: its dims must multiply to {x.elements:,}{fits}")
        return self.to

    def untracked(self, x: Shape) -> str:
        # a unit of a view is one input element moved (or kept): no field is the whole input, and
        # where the element lands is not a sliding window's arithmetic, so fields stop here
        return "puts elements in other positions"

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"RESHAPE {dims_text(self.to)}"


@value
class Permute(Layer):
    """The dims in another order: PyTorch's ``permute``/``transpose``, ONNX's Transpose. ``order``
    names, for each output dim, the input dim it takes (from 0, in convcalc's order, channels
    last, no batch): on 197x12x64, ``[1, 0, 2]`` gives 12x197x64. No parameters, no MACs.
    Receptive field: none carried past it, as ``reshape``.
    """

    family: ClassVar[str] = "permute"
    leading: ClassVar[Optional[str]] = "order"

    order: Ints = option(convert=per_axis_or_zero, aliases=("dims", "perm", "axes"),
                         help="for each output dim, the input dim it takes, from 0: [1, 0, 2]")

    def out_shape(self, x: Shape) -> Shape:
        check_dims(self.order, "order")
        dims = x.dims
        if sorted(self.order) != list(range(len(dims))):
            raise LayerError(f"order {list(self.order)} is not a permutation of the {len(dims)} dims of {x} "
                             f"(0 … {len(dims) - 1}, each once)")
        return dims_shape(tuple(dims[i] for i in self.order))

    def untracked(self, x: Shape) -> str:
        return "puts elements in other positions"  # as Reshape's

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return "PERMUTE " + (",".join(map(str, self.order)) if len(self.order) <= MAX_RANK else f"{len(self.order):,} dims")


@value
class Take(Layer):
    """One index along one dim, that dim removed: PyTorch's ``x.select(dim, i)`` (``qkv[0]``),
    ONNX's Gather with one index. ``axis`` counts in convcalc's order (channels last, no batch).
    No parameters, no MACs; receptive field not carried past it, as ``reshape``.
    """

    family: ClassVar[str] = "take"
    leading: ClassVar[Optional[str]] = "index"

    index: int = option(0, non_negative, letter="i", help="which index, from 0 (default 0)")
    axis: int = option(0, non_negative, letter="a", aliases=("dim",),
                       help="along which dim, from 0, channels last (default 0)")

    def out_shape(self, x: Shape) -> Shape:
        dims = x.dims
        if len(dims) < 2:
            raise LayerError(f"needs at least two dims, got the vector {x}", hint="'selecttoken' picks one token")
        if self.axis >= len(dims):
            raise LayerError(f"axis {self.axis} does not exist in {x} (0 … {len(dims) - 1})")
        if self.index >= dims[self.axis]:
            raise LayerError(f"index {self.index} does not exist along axis {self.axis} of {x} "
                             f"(0 … {dims[self.axis] - 1})")
        return dims_shape(dims[:self.axis] + dims[self.axis + 1:])

    def untracked(self, x: Shape) -> str:
        return "keeps one index of an axis"  # as Reshape's

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"TAKE {self.index} axis {self.axis}"


@value
class Slice(Layer):
    """A range of one dim with a step: PyTorch's ``x[..., start:stop:step, ...]``, ONNX's Slice.
    ``axis`` counts in convcalc's order (channels last, no batch); ``stop`` past the end is the
    end, as Python's slices. No parameters, no MACs; receptive field not carried past it.
    (A contiguous part of the channels is also ``split``, whose field follows.)
    """

    family: ClassVar[str] = "slice"

    axis: int = option(0, non_negative, letter="a", aliases=("dim",), help="along which dim, from 0, channels last")
    start: int = option(0, non_negative, help="the first index taken (default 0)")
    stop: Optional[int] = option(None, non_negative, aliases=("end",), help="one past the last (default: the end)")
    step: int = option(1, positive, help="take every step-th (default 1)")

    def out_shape(self, x: Shape) -> Shape:
        dims = x.dims
        if self.axis >= len(dims):
            raise LayerError(f"axis {self.axis} does not exist in {x} (0 … {len(dims) - 1})")
        n = dims[self.axis]
        stop = n if self.stop is None else min(self.stop, n)
        taken = len(range(min(self.start, n), stop, self.step))
        if taken < 1:
            raise LayerError(f"{self.start}:{stop}:{self.step} takes nothing of the {n} along axis {self.axis} of {x}")
        return dims_shape(dims[:self.axis] + (taken,) + dims[self.axis + 1:])

    def untracked(self, x: Shape) -> str:
        return "keeps a range of an axis"  # as Reshape's

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        stop = "" if self.stop is None else self.stop
        step = f":{self.step}" if self.step != 1 else ""
        return f"SLICE axis {self.axis} {self.start}:{stop}{step}"
