"""Reference pooling: max, average, adaptive and global. Pooling compares or sums; it multiplies
nothing in, so it counts 0 MACs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from operator import add
from typing import Callable, List, Sequence, Tuple, Union

from .base import (
    Grid,
    PaddingArg,
    Pads,
    Result,
    Tensor,
    Weightless,
    _spatial_args,
    flat_strides,
    grid,
    padded_planes,
    per_axis,
)


@dataclass(frozen=True)
class MaxPool(Weightless):
    """Max over each window of each channel; padding is −∞, so it never wins. No MACs."""

    kernel: Union[int, Tuple[int, ...]]
    stride: Union[int, Tuple[int, ...], None] = None  # default: the kernel
    padding: PaddingArg = 0
    ceil_mode: bool = False
    dilation: Union[int, Tuple[int, ...]] = 1

    def __call__(self, x: Tensor) -> Result:
        k, s, d, pads = _spatial_args(x, self.kernel, self.stride, self.dilation, self.padding)
        g = grid(x.spatial, k, s, d, pads, self.ceil_mode)
        out: List[float] = []
        for plane in padded_planes(x, pads, g, -math.inf):
            for bases in g.chunks(len(g.taps)):
                taps = g.gather(plane, bases)
                out += map(max, *taps) if len(taps) > 1 else taps[0]
        return Result(Tensor((x.channels, *g.out), out))


@dataclass(frozen=True)
class AvgPool(Weightless):
    """Mean over each window of each channel, with PyTorch's divisor (no MACs: sums, one divide).

    With ``count_include_pad`` the divisor counts padding but not ceil mode's overhang past the
    padded input; without it, only input elements. Per axis, as PyTorch's ``avg_pool2d``.
    """

    kernel: Union[int, Tuple[int, ...]]
    stride: Union[int, Tuple[int, ...], None] = None
    padding: PaddingArg = 0
    ceil_mode: bool = False
    count_include_pad: bool = True

    def divisors(self, sizes: Sequence[int], k: Sequence[int], pads: Pads, g: Grid) -> List[int]:
        per_axis_counts = []
        for n, kk, (before, after), starts in zip(sizes, k, pads, g.starts):
            if self.count_include_pad:
                counts = [min(st + kk, before + n + after) - st for st in starts]
            else:
                counts = [min(st + kk, before + n) - max(st, before) for st in starts]
            per_axis_counts.append(counts)
        divisors = [math.prod(c) for c in itertools.product(*per_axis_counts)]
        if min(divisors) < 1:
            raise ValueError("a window sees only padding, and count_include_pad is off: nothing to average")
        return divisors

    def __call__(self, x: Tensor) -> Result:
        k, s, d, pads = _spatial_args(x, self.kernel, self.stride, 1, self.padding)
        g = grid(x.spatial, k, s, d, pads, self.ceil_mode)
        divisors = self.divisors(x.spatial, k, pads, g)
        out: List[float] = []
        for plane in padded_planes(x, pads, g, 0.0):
            sums: List[float] = []
            for bases in g.chunks(len(g.taps)):
                taps = g.gather(plane, bases)
                total = taps[0]
                for t in taps[1:]:
                    total = list(map(add, total, t))
                sums += total
            out += map(float.__truediv__, map(float, sums), divisors)
        return Result(Tensor((x.channels, *g.out), out))


def adaptive_ranges(size: int, out: int) -> List[Tuple[int, int]]:
    """PyTorch's adaptive windows: ``[floor(i·n/o), ceil((i+1)·n/o))`` for each output i."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


@dataclass(frozen=True)
class AdaptivePool(Weightless):
    """Pool to a fixed output size (PyTorch's AdaptiveAvgPool/AdaptiveMaxPool): windows may differ."""

    output: Union[int, Tuple[int, ...]]
    mode: str = "avg"  # or "max"

    def __call__(self, x: Tensor) -> Result:
        rank = len(x.spatial)
        if rank == 0:
            raise ValueError(f"an adaptive pool needs a spatial input, got {x.shape=}")
        sizes = per_axis(self.output, rank, "output")
        strides = flat_strides(x.spatial)
        ranges = [adaptive_ranges(n, o) for n, o in zip(x.spatial, sizes)]
        windows = []  # flat indices of each output's window, in output order
        for combo in itertools.product(*ranges):
            axes = [range(a, b) for a, b in combo]
            windows.append([sum(i * st for i, st in zip(idx, strides)) for idx in itertools.product(*axes)])
        reduce: Callable[[List[float]], float] = max if self.mode == "max" else (lambda v: math.fsum(v) / len(v))
        out: List[float] = []
        for c in range(x.channels):
            plane = x.channel(c)
            out += [reduce([plane[i] for i in w]) for w in windows]
        return Result(Tensor((x.channels, *(len(r) for r in ranges)), out))


@dataclass(frozen=True)
class GlobalPool(Weightless):
    """Max or mean of each channel over all positions; the output keeps one position per axis."""

    mode: str = "avg"

    def __call__(self, x: Tensor) -> Result:
        if not x.spatial:
            raise ValueError(f"a global pool needs a spatial input, got {x.shape=}")
        planes = [x.channel(c) for c in range(x.channels)]
        out = [max(p) for p in planes] if self.mode == "max" else [math.fsum(p) / len(p) for p in planes]
        return Result(Tensor((x.channels, *(1 for _ in x.spatial)), out))
