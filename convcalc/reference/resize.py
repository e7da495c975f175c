"""Reference layers that change sizes and move values without weights: constant padding, centre
crop, channel shuffle, split and chunk of the channels, nearest-neighbour upsampling. No MACs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Sequence, Tuple, Union

from .base import (
    Result,
    Tensor,
    Weightless,
    flat_strides,
    pad_plane,
    per_axis,
    resolve_pads,
)


@dataclass(frozen=True)
class Pad(Weightless):
    """Constant padding of the spatial axes (ZeroPad2d and friends): per axis (before, after)."""

    padding: Union[int, Sequence[int], Sequence[Tuple[int, int]]]
    value: float = 0.0

    def __call__(self, x: Tensor) -> Result:
        pads = resolve_pads(self.padding, x.spatial, [0] * len(x.spatial), [1] * len(x.spatial))
        out: List[float] = []
        dims: Tuple[int, ...] = x.spatial
        for c in range(x.channels):
            plane, dims = pad_plane(x.channel(c), x.spatial, pads, self.value)
            out += plane
        return Result(Tensor((x.channels, *dims), out))


@dataclass(frozen=True)
class Crop(Weightless):
    """A centre crop of the spatial axes to ``size``: output ``o`` is input ``o + start``, where
    ``start`` is torchvision's ``center_crop``'s ``int(round((n − size) / 2))``, a half rounded to
    even (a margin of 3 starts at 2, of 5 at 2)."""

    size: Union[int, Sequence[int]]

    def __call__(self, x: Tensor) -> Result:
        sizes = per_axis(self.size, len(x.spatial), "size")
        if any(c > n or c < 1 for c, n in zip(sizes, x.spatial)):
            raise ValueError(f"cannot crop {x.spatial} to {sizes}")
        starts = [round((n - c) / 2) for n, c in zip(x.spatial, sizes)]  # exact halves: round to even
        kept = [range(start, start + c) for start, c in zip(starts, sizes)]
        strides = flat_strides(x.spatial)
        index = [sum(i * st for i, st in zip(combo, strides)) for combo in itertools.product(*kept)]
        out: List[float] = []
        for c in range(x.channels):
            plane = x.channel(c)
            out += [plane[i] for i in index]
        return Result(Tensor((x.channels, *sizes), out))


@dataclass(frozen=True)
class ChannelShuffle(Weightless):
    """ShuffleNet's shuffle: channels seen as (groups, C/groups), transposed to (C/groups, groups)."""

    groups: int

    def __call__(self, x: Tensor) -> Result:
        if x.channels % self.groups:
            raise ValueError(f"{self.groups=} must divide {x.channels} channels")
        per = x.channels // self.groups
        order = [g * per + i for i in range(per) for g in range(self.groups)]
        return Result(Tensor(x.shape, [v for c in order for v in x.channel(c)]))


def channel_parts(x: Tensor, sizes: Sequence[int]) -> List[Tensor]:
    """``x`` cut along the channels into consecutive parts of ``sizes`` channels (``torch.split``)."""
    if sum(sizes) != x.channels or min(sizes, default=0) < 1:
        raise ValueError(f"split sizes {tuple(sizes)} do not cut {x.channels} channels")
    parts, start = [], 0
    for n in sizes:
        parts.append(Tensor((n, *x.spatial), x.data[start * x.plane:(start + n) * x.plane]))
        start += n
    return parts


@dataclass(frozen=True)
class Chunk(Weightless):
    """``x.chunk(chunks, dim=1)[index]``, as PyTorch defines it: parts ``⌈C/chunks⌉`` channels wide,
    the last one whatever is left (so there may be fewer than ``chunks`` of them). A view: no MACs."""

    chunks: int
    index: int = 0

    def __call__(self, x: Tensor) -> Result:
        width = -(-x.channels // self.chunks)
        sizes = [min(width, x.channels - start) for start in range(0, x.channels, width)]
        if not 0 <= self.index < len(sizes):
            raise ValueError(f"{x.channels} channels make {len(sizes)} chunks of {self.chunks=}: no {self.index=}")
        return Result(channel_parts(x, sizes)[self.index])


@dataclass(frozen=True)
class Split(Weightless):
    """``torch.split(x, sizes, dim=1)[index]``: the sizes must add up to the channels."""

    sizes: Tuple[int, ...]
    index: int = 0

    def __call__(self, x: Tensor) -> Result:
        parts = channel_parts(x, self.sizes)
        if not 0 <= self.index < len(parts):
            raise ValueError(f"{self.sizes=} make {len(parts)} parts: no {self.index=}")
        return Result(parts[self.index])


@dataclass(frozen=True)
class Upsample(Weightless):
    """Nearest-neighbour upsampling (PyTorch's mode='nearest').

    Give the output ``size``, or a ``scale`` per axis (whole or not): the output is then
    ``floor(n·scale)`` long, the product in float64 as PyTorch computes it (``100·0.29`` gives 28),
    and output ``o`` copies input
    ``floor(o / scale)``; with a size, input ``floor(o·n/size)``.
    """

    scale: Union[float, Tuple[float, ...], None] = None
    size: Union[int, Tuple[int, ...], None] = None

    def __call__(self, x: Tensor) -> Result:
        rank = len(x.spatial)
        if rank == 0 or (self.scale is None) == (self.size is None):
            raise ValueError(f"upsample needs a spatial input and one of scale or size ({x.shape=})")
        sources: List[List[int]] = []
        if self.size is not None:
            sizes = per_axis(self.size, rank, "size")
            sources = [[(o * n) // big for o in range(big)] for n, big in zip(x.spatial, sizes)]
        else:
            scales = (self.scale,) * rank if isinstance(self.scale, (int, float)) else tuple(self.scale or ())
            if len(scales) == 1:
                scales = scales * rank
            # PyTorch's size: the float64 product, floored (100·0.29 = 28.999999999999996 → 28)
            sizes = tuple(math.floor(float(n) * float(f)) for n, f in zip(x.spatial, scales))
            factors = [Fraction(str(f)) for f in scales]  # which input each output copies: exact
            sources = [[min(math.floor(o / f), n - 1) for o in range(big)]
                       for n, f, big in zip(x.spatial, factors, sizes)]
            if not all(sources):
                raise ValueError(f"scale {self.scale} leaves no output of {x.shape=}")
        strides = flat_strides(x.spatial)
        index = [sum(combo) for combo in itertools.product(*([i * st for i in src] for src, st in zip(sources, strides)))]
        out: List[float] = []
        for c in range(x.channels):
            plane = x.channel(c)
            out += [plane[i] for i in index]
        return Result(Tensor((x.channels, *(len(src) for src in sources)), out))
