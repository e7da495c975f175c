"""Reference layers with weights: convolution, transposed convolution, fully connected, and the
flatten before it. Each MAC is a product of a weight and an input that is summed into an output."""

from __future__ import annotations

import itertools
import math
from array import array
from dataclasses import dataclass, field
from operator import add, mul
from random import Random
from typing import List, Optional, Sequence, Tuple, Union

from .base import (
    PaddingArg,
    Result,
    Tensor,
    Weightless,
    _spatial_args,
    crop_plane,
    flat_strides,
    grid,
    padded_planes,
    per_axis,
    resolve_pads,
    uniform,
)


@dataclass(frozen=True)
class Conv:
    """N-D convolution (cross-correlation, as every framework), with groups, dilation and bias.

    ``weight`` holds ``filters`` rows, each ``in_channels/groups`` channels of ``kernel`` taps,
    laid out as PyTorch's ``(K, C/g, *kernel)``. Each output value is one dot product of a
    filter row with the input window it sees.
    """

    in_channels: int
    filters: int
    kernel: Tuple[int, ...]
    weight: "array[float]" = field(repr=False)
    bias: Optional["array[float]"] = field(default=None, repr=False)
    stride: Union[int, Tuple[int, ...]] = 1
    padding: PaddingArg = 0
    dilation: Union[int, Tuple[int, ...]] = 1
    groups: int = 1

    @classmethod
    def random(cls, rng: Random, in_channels: int, filters: int, kernel: Union[int, Sequence[int]],
               rank: int = 2, stride: Union[int, Sequence[int]] = 1, padding: PaddingArg = 0,
               dilation: Union[int, Sequence[int]] = 1, groups: int = 1, bias: bool = True) -> "Conv":
        if in_channels % groups or filters % groups:
            raise ValueError(f"{groups=} must divide {in_channels=} and {filters=}")
        k = per_axis(kernel, rank, "kernel")
        weight = uniform(filters * (in_channels // groups) * math.prod(k), rng)
        return cls(in_channels, filters, k, weight, uniform(filters, rng) if bias else None,
                   tuple(per_axis(stride, rank, "stride")), padding, tuple(per_axis(dilation, rank, "dilation")),
                   groups)

    @property
    def params(self) -> int:
        return len(self.weight) + (len(self.bias) if self.bias is not None else 0)

    buffers = 0

    def __call__(self, x: Tensor) -> Result:
        if x.channels != self.in_channels:
            raise ValueError(f"conv expects {self.in_channels} channels, got {x.shape=}")
        k, s, d, pads = _spatial_args(x, self.kernel, self.stride, self.dilation, self.padding)
        g = grid(x.spatial, k, s, d, pads)
        planes = padded_planes(x, pads, g, 0.0)
        per_in, per_out = self.in_channels // self.groups, self.filters // self.groups
        length = per_in * len(g.taps)
        rows = [tuple(self.weight[f * length:(f + 1) * length]) for f in range(self.filters)]
        if sum(map(len, rows)) != len(self.weight):
            raise ValueError(f"weight of {len(self.weight)} does not hold {self.filters} filters of {length}")
        out: List[List[float]] = [[] for _ in range(self.filters)]
        macs = 0
        for group in range(self.groups):
            channels = planes[group * per_in:(group + 1) * per_in]
            for bases in g.chunks(length):
                # one window per output position, ordered like a filter row: channel, then taps
                windows = list(zip(*(v for plane in channels for v in g.gather(plane, bases))))
                if windows and len(windows[0]) != length:
                    raise ValueError(f"window of {len(windows[0])} inputs for filters of {length} weights")
                products = sum(map(len, windows))  # each filter below multiplies all of these once
                for f in range(group * per_out, (group + 1) * per_out):
                    w, b = rows[f], (self.bias[f] if self.bias is not None else 0.0)
                    out[f] += [sum(map(mul, w, window), b) for window in windows]
                    macs += products
        return Result(Tensor((self.filters, *g.out), [v for plane in out for v in plane]), macs)


@dataclass(frozen=True)
class ConvTranspose:
    """N-D transposed convolution ("deconvolution"): each input value scatters ``value · filter``.

    ``weight`` is laid out as PyTorch's ``(C, K/g, *kernel)``. Input position ``i`` of an axis
    writes to ``i·S + t·D`` for tap ``t``; ``padding`` then crops that many positions off each
    end and ``output_padding`` adds positions after (they receive bias only, unless the crop
    left products there). Every product is counted, including those that land in the crop:
    a framework computes them (one GEMM over all inputs, then col2im) before discarding them.
    """

    in_channels: int
    filters: int
    kernel: Tuple[int, ...]
    weight: "array[float]" = field(repr=False)
    bias: Optional["array[float]"] = field(default=None, repr=False)
    stride: Tuple[int, ...] = (1,)
    padding: Union[int, Sequence[int], Sequence[Tuple[int, int]]] = 0
    output_padding: Union[int, Tuple[int, ...]] = 0
    dilation: Tuple[int, ...] = (1,)
    groups: int = 1

    @classmethod
    def random(cls, rng: Random, in_channels: int, filters: int, kernel: Union[int, Sequence[int]],
               rank: int = 2, stride: Union[int, Sequence[int]] = 1,
               padding: Union[int, Sequence[int], Sequence[Tuple[int, int]]] = 0,
               output_padding: Union[int, Sequence[int]] = 0, dilation: Union[int, Sequence[int]] = 1,
               groups: int = 1, bias: bool = True) -> "ConvTranspose":
        if in_channels % groups or filters % groups:
            raise ValueError(f"{groups=} must divide {in_channels=} and {filters=}")
        k = per_axis(kernel, rank, "kernel")
        weight = uniform(in_channels * (filters // groups) * math.prod(k), rng)
        return cls(in_channels, filters, k, weight, uniform(filters, rng) if bias else None,
                   per_axis(stride, rank, "stride"), padding, per_axis(output_padding, rank, "output_padding"),
                   per_axis(dilation, rank, "dilation"), groups)

    @property
    def params(self) -> int:
        return len(self.weight) + (len(self.bias) if self.bias is not None else 0)

    buffers = 0

    def __call__(self, x: Tensor) -> Result:
        if x.channels != self.in_channels:
            raise ValueError(f"transposed conv expects {self.in_channels} channels, got {x.shape=}")
        rank = len(x.spatial)
        if rank == 0:
            raise ValueError(f"a transposed conv needs a spatial input, got {x.shape=}")
        k, s, d = per_axis(self.kernel, rank, "kernel"), per_axis(self.stride, rank, "stride"), \
            per_axis(self.dilation, rank, "dilation")
        op = per_axis(self.output_padding, rank, "output_padding")
        if isinstance(self.padding, str):
            raise ValueError(f"transposed conv takes numeric padding, got {self.padding=}")
        pads = resolve_pads(self.padding, x.spatial, [0] * rank, s)
        # the uncropped output reaches as far as the last input's last tap writes, then output_padding
        reach = [(n - 1) * si + di * (ki - 1) + 1 for n, si, di, ki in zip(x.spatial, s, d, k)]
        full = tuple(r + o for r, o in zip(reach, op))
        if any(b + a >= f for (b, a), f in zip(pads, full)):
            raise ValueError(f"padding {pads} crops the whole output of {full}")
        strides = flat_strides(full)
        n_last = x.spatial[-1]
        step = s[-1]
        span = step * (n_last - 1) + 1
        row_starts = [sum(i * si * st for i, si, st in zip(combo, s, strides))
                      for combo in itertools.product(*(range(n) for n in x.spatial[:-1]))]
        taps = [sum(t * di * st for t, di, st in zip(combo, d, strides))
                for combo in itertools.product(*(range(ki) for ki in k))]
        per_in, per_out = self.in_channels // self.groups, self.filters // self.groups
        ntaps = len(taps)
        if len(self.weight) != self.in_channels * per_out * ntaps:
            raise ValueError(f"weight of {len(self.weight)} is not {self.in_channels} channels of "
                             f"{per_out} filters of {ntaps} taps")
        size = math.prod(full)
        x_rows = [[x.channel(c)[r * n_last:(r + 1) * n_last] for r in range(len(row_starts))]
                  for c in range(x.channels)]
        out = []
        macs = 0
        for f in range(self.filters):
            group, local = divmod(f, per_out)
            buf = [0.0] * size
            for c in range(group * per_in, (group + 1) * per_in):
                rows = x_rows[c]
                first = (c * per_out + local) * ntaps
                for t, w in zip(taps, self.weight[first:first + ntaps]):
                    scale = w.__mul__
                    for base, row in zip(row_starts, rows):
                        j = base + t
                        products = list(map(scale, row))
                        buf[j:j + span:step] = list(map(add, buf[j:j + span:step], products))
                        macs += len(products)
            cropped, out_dims = crop_plane(buf, full, pads)
            if self.bias is not None:
                cropped = [v + self.bias[f] for v in cropped]
            out.append(cropped)
        return Result(Tensor((self.filters, *out_dims), [v for plane in out for v in plane]), macs)


@dataclass(frozen=True)
class Linear:
    """Fully connected: ``weight`` is ``units`` rows of ``in_features``; a volume is flattened first."""

    in_features: int
    units: int
    weight: "array[float]" = field(repr=False)
    bias: Optional["array[float]"] = field(default=None, repr=False)

    @classmethod
    def random(cls, rng: Random, in_features: int, units: int, bias: bool = True) -> "Linear":
        return cls(in_features, units, uniform(units * in_features, rng), uniform(units, rng) if bias else None)

    @property
    def params(self) -> int:
        return len(self.weight) + (len(self.bias) if self.bias is not None else 0)

    buffers = 0

    def __call__(self, x: Tensor) -> Result:
        inputs = x.data
        n = len(inputs)
        if n != self.in_features:
            raise ValueError(f"fc expects {self.in_features} inputs, got {x.shape=}")
        out = []
        macs = read = 0
        for u in range(self.units):
            w = self.weight[u * n:(u + 1) * n]
            if len(w) != n:
                raise ValueError(f"weight row {u} has {len(w)} values for {n} inputs")
            out.append(sum(map(mul, w, inputs), self.bias[u] if self.bias is not None else 0.0))
            macs += len(w)
            read += len(w)
        if read != len(self.weight):
            raise ValueError(f"weight of {len(self.weight)} has values no unit read")
        return Result(Tensor((self.units,), out), macs)


@dataclass(frozen=True)
class Flatten(Weightless):
    """A volume as one vector, in PyTorch's order (channel by channel)."""

    def __call__(self, x: Tensor) -> Result:
        return Result(Tensor((len(x.data),), list(x.data)))
