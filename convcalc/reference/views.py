"""Reference views: the same values arranged otherwise (reshape, permute, take, slice), read in
convcalc's order, channels last, as model files arrange them. No MACs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..flat import offsets, row_major
from .base import Result, Tensor, Weightless, channels_last, from_channels_last


@dataclass(frozen=True)
class Reshape(Weightless):
    """The same values in the same order, cut into other dims (PyTorch's ``reshape``); a -1 in
    ``to`` is the size that holds what the others leave, as PyTorch infers it."""

    to: Tuple[int, ...]

    def __call__(self, x: Tensor) -> Result:
        dims, data = channels_last(x)
        to = list(self.to)
        if -1 in to:
            rest = math.prod(d for d in to if d != -1)
            to[to.index(-1)] = len(data) // rest
        if math.prod(to) != len(data):
            raise ValueError(f"cannot reshape {dims} to {self.to}")
        return Result(from_channels_last(to, data))


@dataclass(frozen=True)
class Permute(Weightless):
    """Output dim ``j`` is input dim ``order[j]`` (PyTorch's ``permute``): every value moved once."""

    order: Tuple[int, ...]

    def __call__(self, x: Tensor) -> Result:
        dims, data = channels_last(x)
        if sorted(self.order) != list(range(len(dims))):
            raise ValueError(f"{self.order} does not permute {dims}")
        steps = row_major(dims)
        out_dims = [dims[i] for i in self.order]
        out = [data[o] for o in offsets([range(d) for d in out_dims], [steps[i] for i in self.order])]
        return Result(from_channels_last(out_dims, out))


@dataclass(frozen=True)
class Take(Weightless):
    """Index ``index`` along dim ``axis``, the dim removed (PyTorch's ``select``)."""

    index: int
    axis: int

    def __call__(self, x: Tensor) -> Result:
        dims, data = channels_last(x)
        if not 0 <= self.axis < len(dims) or not 0 <= self.index < dims[self.axis]:
            raise ValueError(f"no index {self.index} along axis {self.axis} of {dims}")
        picks: List[Sequence[int]] = [range(d) for d in dims]
        picks[self.axis] = (self.index,)
        out = [data[o] for o in offsets(picks, row_major(dims))]
        rest = dims[:self.axis] + dims[self.axis + 1:]
        return Result(from_channels_last(rest, out))


@dataclass(frozen=True)
class Slice(Weightless):
    """``x[..., start:stop:step, ...]`` along dim ``axis`` (channels last), as Python slices."""

    axis: int
    start: int = 0
    stop: Optional[int] = None
    step: int = 1

    def __call__(self, x: Tensor) -> Result:
        dims, data = channels_last(x)
        if not 0 <= self.axis < len(dims):
            raise ValueError(f"no axis {self.axis} in {dims}")
        kept = list(range(dims[self.axis]))[self.start:self.stop:self.step]
        if not kept:
            raise ValueError(f"{self.start}:{self.stop}:{self.step} takes nothing of {dims[self.axis]}")
        picks: List[Sequence[int]] = [range(d) for d in dims]
        picks[self.axis] = kept
        out = [data[o] for o in offsets(picks, row_major(dims))]
        out_dims = [len(p) for p in picks]
        return Result(from_channels_last(out_dims, out))
