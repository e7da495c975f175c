"""Reference layers in pure Python that count their own multiply-accumulates (STYLE.md rule 5).

An oracle for the engine, so it shares nothing with it: this module imports only the standard
library, and no output size, parameter count or multiply count here comes from a formula.

- Output sizes are the number of window positions found by sliding a window along the padded
  input (``slide``), or of positions a transposed convolution actually writes to.
- Parameters are ``len()`` of the weight and bias arrays a layer allocates and then reads in
  full (every dot product checks that its filter and its input window have the same length);
  buffers are ``len()`` of batchnorm's running statistics.
- A MAC is one product of a weight and an input that is added into an output. Each op adds up
  the lengths of the windows it multiplies: ``map(mul, w, window)`` makes exactly
  ``len(window)`` products when ``len(w) == len(window)``. Zero padding is multiplied like any
  other input, as frameworks do. Pooling, batchnorm's per-element scale, normalisation,
  activations and merges make no such products and count 0.

Tensors are channels first, as PyTorch stores them: shape ``(C, *spatial)``, data one flat
row-major list, so each channel's plane is contiguous and a window position is a slice.
A vector (an fc layer's output) has shape ``(N,)``. Speed comes from gathering windows with
slices and ``zip`` (C loops) instead of index arithmetic per multiply; see
``benchmarks/bench_reference.py``.
"""

from __future__ import annotations

import itertools
import math
import random
from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from operator import add, mul
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .flat import offsets, row_major

Pads = Tuple[Tuple[int, int], ...]  # per spatial axis: (before, after)
PaddingArg = Union[str, int, Sequence[int], Sequence[Tuple[int, int]]]

# Windows gathered at once, in input elements: bounds memory at --full without slowing small layers.
CHUNK = 1 << 20


# --- tensors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """One sample, channels first: ``shape = (C, *spatial)``; ``data`` flat, row-major."""

    shape: Tuple[int, ...]
    data: List[float] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"a tensor needs positive sizes, got {self.shape=}")
        if len(self.data) != math.prod(self.shape):
            raise ValueError(f"{len(self.data)} values do not fill {self.shape=}")

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def spatial(self) -> Tuple[int, ...]:
        return self.shape[1:]

    @property
    def plane(self) -> int:
        """Elements per channel."""
        return math.prod(self.spatial)

    def channel(self, c: int) -> List[float]:
        n = self.plane
        return self.data[c * n:(c + 1) * n]

    @classmethod
    def random(cls, shape: Sequence[int], rng: random.Random) -> "Tensor":
        """Uniform values in [-1, 1): never a zero that would hide a missing product."""
        r = rng.random
        return cls(tuple(shape), [r() * 2.0 - 1.0 for _ in range(math.prod(shape))])

    @classmethod
    def of(cls, nested: Any) -> "Tensor":
        """From nested lists, channels first: ``Tensor.of([[[1, 1], [2, 2]]])`` is one 2x2 channel."""
        shape: List[int] = []
        probe = nested
        while isinstance(probe, (list, tuple)):
            shape.append(len(probe))
            probe = probe[0]
        data: List[Any] = list(nested)
        for _ in shape[1:]:
            data = [v for row in data for v in row]
        return cls(tuple(shape), data)

    def nested(self) -> Any:
        """The data as nested lists, channels first (the inverse of ``Tensor.of``)."""
        out: Any = list(self.data)
        for n in reversed(self.shape[1:]):
            out = [out[i:i + n] for i in range(0, len(out), n)]
        return out


@dataclass(frozen=True)
class Result:
    """What an op produced and the multiply-accumulates it counted while producing it."""

    output: Tensor
    macs: int = 0


def uniform(n: int, rng: random.Random) -> "array[float]":
    """``n`` real, allocated parameters, uniform in [-1, 1). 8 bytes each, so --full fits in memory."""
    r = rng.random
    return array("d", [r() * 2.0 - 1.0 for _ in range(n)])


# --- window geometry ------------------------------------------------------------------------------


def slide(size: int, kernel: int, stride: int = 1, dilation: int = 1, before: int = 0, after: int = 0,
          ceil_mode: bool = False) -> List[int]:
    """Where a window starts along one axis, in padded coordinates, found by sliding it.

    Floor mode keeps every start whose window lies inside the padded input. Ceil mode (PyTorch's
    rule, ``pooling_output_shape`` in aten/src/ATen/native/Pool.h) keeps a start ``t`` while the
    window one stride before it stopped short of the padded end, as long as ``t`` lies inside the
    input or its left padding; such a window hangs over the end. The first window counts too:
    a window larger than the padded input is kept when it overhangs by less than a stride
    (``2x2`` input, kernel 3, stride 2, ceil: one window).
    """
    taps = dilation * (kernel - 1) + 1
    padded = before + size + after
    if min(size, kernel, stride, dilation) < 1 or min(before, after) < 0:
        raise ValueError(f"bad window: {size=}, {kernel=}, {stride=}, {dilation=}, {before=}, {after=}")
    starts: List[int] = []
    t = 0
    while (t - stride + taps < padded and t < size + before) if ceil_mode else t + taps <= padded:
        starts.append(t)
        t += stride
    if not starts:
        raise ValueError(f"window of {taps} taps does not fit the padded input of {padded} ({size=}, {ceil_mode=})")
    return starts


def same_pads(size: int, taps: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's 'same': the fewest zeros that let ceil(size/stride) windows fit; odd one after."""
    want = -(-size // stride)
    total = 0
    while taps > size + total or len(slide(size + total, taps, stride)) < want:
        total += 1
    return total // 2, total - total // 2


def resolve_pads(padding: PaddingArg, sizes: Sequence[int], taps: Sequence[int], strides: Sequence[int]) -> Pads:
    """Padding as per-axis (before, after): 'same', 'valid', one int, one per axis, or pairs."""
    rank = len(sizes)
    if padding == "valid":
        return ((0, 0),) * rank
    if padding == "same":
        return tuple(same_pads(n, t, s) for n, t, s in zip(sizes, taps, strides))
    if isinstance(padding, str):
        raise ValueError(f"unknown padding {padding=}")
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    items: List[Any] = list(padding)
    if len(items) == 1 and rank != 1:
        items = items * rank
    if len(items) != rank:
        raise ValueError(f"{padding=} does not give one value per axis of {rank}")
    return tuple((p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in items)


def per_axis(value: Union[int, Sequence[int]], rank: int, what: str) -> Tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(value)
    if len(values) == 1:
        return values * rank
    if len(values) != rank:
        raise ValueError(f"{what} {values} does not give one value per axis of {rank}")
    return values


def flat_strides(dims: Sequence[int]) -> Tuple[int, ...]:
    return tuple(math.prod(dims[i + 1:]) for i in range(len(dims)))


def pad_plane(values: List[float], dims: Sequence[int], pads: Pads, fill: float) -> Tuple[List[float], Tuple[int, ...]]:
    """One channel's plane with ``fill`` added before and after each axis; returns it and its sizes."""
    out = values
    sizes = list(dims)
    for axis in reversed(range(len(dims))):
        before, after = pads[axis]
        if not (before or after):
            continue
        inner = math.prod(sizes[axis + 1:])
        block = sizes[axis] * inner
        head, tail = [fill] * (before * inner), [fill] * (after * inner)
        padded: List[float] = []
        for start in range(0, len(out), block):
            padded += head
            padded += out[start:start + block]
            padded += tail
        out = padded
        sizes[axis] += before + after
    return out, tuple(sizes)


def crop_plane(values: List[float], dims: Sequence[int], cuts: Pads) -> Tuple[List[float], Tuple[int, ...]]:
    """The inverse of ``pad_plane``: drop ``cuts`` elements before and after each axis."""
    out = values
    sizes = list(dims)
    for axis in reversed(range(len(dims))):
        before, after = cuts[axis]
        if not (before or after):
            continue
        inner = math.prod(sizes[axis + 1:])
        block = sizes[axis] * inner
        kept: List[float] = []
        for start in range(0, len(out), block):
            kept += out[start + before * inner:start + block - after * inner]
        out = kept
        sizes[axis] -= before + after
    return out, tuple(sizes)


@dataclass(frozen=True)
class Grid:
    """Where every window of a layer starts and which taps it reads, on one padded plane."""

    padded: Tuple[int, ...]  # sizes of the padded plane (ceil mode's overhang included)
    starts: Tuple[Tuple[int, ...], ...]  # per axis, padded coordinates
    taps: Tuple[int, ...]  # flat offsets of the kernel's taps from a window's start
    stride_last: int

    @property
    def out(self) -> Tuple[int, ...]:
        return tuple(len(s) for s in self.starts)

    def row_bases(self) -> List[int]:
        """Flat start of each output row (all axes but the last fixed), in output order."""
        strides = flat_strides(self.padded)
        bases = [sum(s * st for s, st in zip(combo, strides)) for combo in itertools.product(*self.starts[:-1])]
        return [b + self.starts[-1][0] * strides[-1] for b in bases]

    def chunks(self, window: int) -> List[List[int]]:
        """Row bases in groups small enough that their windows stay under ``CHUNK`` elements."""
        bases = self.row_bases()
        rows = max(1, CHUNK // max(1, window * len(self.starts[-1])))
        return [bases[i:i + rows] for i in range(0, len(bases), rows)]

    def gather(self, plane: List[float], bases: List[int]) -> List[List[float]]:
        """One vector per tap: its input value at every output position of the rows ``bases``."""
        n = len(self.starts[-1])
        step = self.stride_last
        span = step * (n - 1) + 1
        vectors = []
        for t in self.taps:
            v: List[float] = []
            for b in bases:
                v += plane[b + t:b + t + span:step]
            vectors.append(v)
        return vectors


def grid(sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int], pads: Pads,
         ceil_mode: bool = False) -> Grid:
    """Slide the window along every axis; pad after for ceil mode's overhanging last window."""
    starts = []
    padded = []
    for n, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pads):
        axis = slide(n, k, s, d, before, after, ceil_mode)
        starts.append(tuple(axis))
        padded.append(max(before + n + after, axis[-1] + d * (k - 1) + 1))
    strides = flat_strides(padded)
    taps = [sum(t * d * st for t, d, st in zip(combo, dilation, strides))
            for combo in itertools.product(*(range(k) for k in kernel))]
    return Grid(tuple(padded), tuple(starts), tuple(taps), stride[-1] if stride else 1)


def padded_planes(x: Tensor, pads: Pads, g: Grid, fill: float) -> List[List[float]]:
    """Every channel of ``x`` padded with ``fill`` to ``g.padded`` (ceil mode's overhang after)."""
    full = tuple((b, p - n - b) for (b, _), n, p in zip(pads, x.spatial, g.padded))
    return [pad_plane(x.channel(c), x.spatial, full, fill)[0] for c in range(x.channels)]


def _spatial_args(x: Tensor, kernel: Union[int, Sequence[int]], stride: Union[int, Sequence[int], None],
                  dilation: Union[int, Sequence[int]], padding: PaddingArg
                  ) -> Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...], Pads]:
    rank = len(x.spatial)
    if rank == 0:
        raise ValueError(f"a windowed layer needs a spatial input, got {x.shape=}")
    k = per_axis(kernel, rank, "kernel")
    s = per_axis(k if stride is None else stride, rank, "stride")
    d = per_axis(dilation, rank, "dilation")
    pads = resolve_pads(padding, x.spatial, [di * (ki - 1) + 1 for ki, di in zip(k, d)], s)
    return k, s, d, pads


# --- layers with weights ------------------------------------------------------------------------


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
    def random(cls, rng: random.Random, in_channels: int, filters: int, kernel: Union[int, Sequence[int]],
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
    def random(cls, rng: random.Random, in_channels: int, filters: int, kernel: Union[int, Sequence[int]],
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
    def random(cls, rng: random.Random, in_features: int, units: int, bias: bool = True) -> "Linear":
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


def normalise_channels(x: Tensor, mean: Sequence[float], var: Sequence[float], eps: float,
                       gamma: Optional[Sequence[float]], beta: Optional[Sequence[float]]) -> Tensor:
    """``(x − mean)/sqrt(var + eps)·γ + β`` per channel; without γ and β, ``γ = 1`` and ``β = 0``."""
    if not x.channels == len(mean) == len(var) or (gamma is not None and len(gamma) != x.channels):
        raise ValueError(f"batchnorm of {len(mean)} channels got {x.shape=}")
    out: List[float] = []
    for c in range(x.channels):
        scale = (1.0 if gamma is None else gamma[c]) / math.sqrt(var[c] + eps)
        shift = (0.0 if beta is None else beta[c]) - mean[c] * scale
        out += [v * scale + shift for v in x.channel(c)]
    return Tensor(x.shape, out)


def _variances(channels: int, rng: random.Random) -> "array[float]":
    return array("d", [abs(v) + 0.5 for v in uniform(channels, rng)])


@dataclass(frozen=True)
class BatchNorm:
    """Inference batchnorm per channel: ``(x − mean)/sqrt(var + eps)·γ + β``.

    γ and β are trained (params), absent when PyTorch's ``affine=False``; the running mean and
    variance are buffers. The per-element scale is not a multiply-accumulate (nothing is summed),
    so it counts 0 MACs.
    """

    gamma: Optional["array[float]"] = field(repr=False)
    beta: Optional["array[float]"] = field(repr=False)
    mean: "array[float]" = field(repr=False)
    var: "array[float]" = field(repr=False)
    eps: float = 1e-5

    @classmethod
    def random(cls, rng: random.Random, channels: int, affine: bool = True) -> "BatchNorm":
        var = _variances(channels, rng)
        gamma, beta = (uniform(channels, rng), uniform(channels, rng)) if affine else (None, None)
        return cls(gamma, beta, uniform(channels, rng), var)

    @property
    def params(self) -> int:
        return sum(len(a) for a in (self.gamma, self.beta) if a is not None)

    @property
    def buffers(self) -> int:
        return len(self.mean) + len(self.var)

    def __call__(self, x: Tensor) -> Result:
        return Result(normalise_channels(x, self.mean, self.var, self.eps, self.gamma, self.beta))


@dataclass(frozen=True)
class FrozenBatchNorm:
    """torchvision's ``FrozenBatchNorm2d``: batchnorm whose weight, bias, running mean and variance
    are all fixed buffers, none trained. 0 params; 0 MACs, as batchnorm."""

    weight: "array[float]" = field(repr=False)
    bias: "array[float]" = field(repr=False)
    mean: "array[float]" = field(repr=False)
    var: "array[float]" = field(repr=False)
    eps: float = 1e-5

    @classmethod
    def random(cls, rng: random.Random, channels: int) -> "FrozenBatchNorm":
        var = _variances(channels, rng)
        return cls(uniform(channels, rng), uniform(channels, rng), uniform(channels, rng), var)

    params = 0

    @property
    def buffers(self) -> int:
        return len(self.weight) + len(self.bias) + len(self.mean) + len(self.var)

    def __call__(self, x: Tensor) -> Result:
        return Result(normalise_channels(x, self.mean, self.var, self.eps, self.weight, self.bias))


# --- pooling ------------------------------------------------------------------------------------


class Weightless:
    """A layer with nothing to learn and nothing to keep: no parameters, no buffers."""

    params = 0
    buffers = 0


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


# --- shape-only and element-wise layers --------------------------------------------------------


@dataclass(frozen=True)
class Flatten(Weightless):
    """A volume as one vector, in PyTorch's order (channel by channel)."""

    def __call__(self, x: Tensor) -> Result:
        return Result(Tensor((len(x.data),), list(x.data)))


def _gelu(v: float) -> float:
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _softplus(v: float) -> float:
    return v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

ACTIVATIONS: Dict[str, Callable[[float], float]] = {
    "relu": lambda v: v if v > 0 else 0.0,
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "leakyrelu": lambda v: v if v > 0 else 0.01 * v,
    "elu": lambda v: v if v > 0 else math.expm1(v),
    "selu": lambda v: _SELU_SCALE * (v if v > 0 else _SELU_ALPHA * math.expm1(v)),
    "gelu": _gelu,
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
    "silu": lambda v: v * _sigmoid(v),
    "hardswish": lambda v: v * min(max(v + 3.0, 0.0), 6.0) / 6.0,
    "hardsigmoid": lambda v: min(max(v + 3.0, 0.0), 6.0) / 6.0,
    "softplus": _softplus,
    "mish": lambda v: v * math.tanh(_softplus(v)),
    "identity": lambda v: v,
}


@dataclass(frozen=True)
class Activation(Weightless):
    """An element-wise function from ``ACTIVATIONS``; shape unchanged, no MACs."""

    function: str = "relu"

    def __call__(self, x: Tensor) -> Result:
        return Result(Tensor(x.shape, list(map(ACTIVATIONS[self.function], x.data))))


@dataclass(frozen=True)
class Dropout(Weightless):
    """The identity at inference: dropout only acts while training."""

    p: float = 0.5

    def __call__(self, x: Tensor) -> Result:
        return Result(Tensor(x.shape, list(x.data)))


@dataclass(frozen=True)
class Softmax(Weightless):
    """Softmax over the channels at each position (PyTorch's dim=1); over the vector for a vector."""

    def __call__(self, x: Tensor) -> Result:
        planes = [x.channel(c) for c in range(x.channels)]
        out_planes: List[List[float]] = [[] for _ in planes]
        for values in zip(*planes):
            top = max(values)
            exps = [math.exp(v - top) for v in values]
            total = math.fsum(exps)
            for plane, e in zip(out_planes, exps):
                plane.append(e / total)
        return Result(Tensor(x.shape, [v for plane in out_planes for v in plane]))


@dataclass(frozen=True)
class LRN(Weightless):
    """Local response normalisation across channels, as PyTorch's LocalResponseNorm:

    ``b_c = a_c / (k + α/n · Σ a_j²)^β`` over the n channels ``c − n//2 … c + (n−1)//2``.
    Its squares and products are normalisation, not multiply-accumulates: 0 MACs.
    """

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    def __call__(self, x: Tensor) -> Result:
        planes = [x.channel(c) for c in range(x.channels)]
        squares = [[v * v for v in p] for p in planes]
        out: List[float] = []
        for c, plane in enumerate(planes):
            near = squares[max(0, c - self.size // 2):c + (self.size - 1) // 2 + 1]
            sums = list(map(math.fsum, zip(*near)))
            out += [v / (self.k + self.alpha / self.size * s) ** self.beta for v, s in zip(plane, sums)]
        return Result(Tensor(x.shape, out))


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
    """A centre crop of the spatial axes to ``size``: output ``o`` is input ``o + (n − size) // 2``."""

    size: Union[int, Sequence[int]]

    def __call__(self, x: Tensor) -> Result:
        sizes = per_axis(self.size, len(x.spatial), "size")
        if any(c > n or c < 1 for c, n in zip(sizes, x.spatial)):
            raise ValueError(f"cannot crop {x.spatial} to {sizes}")
        kept = [range((n - c) // 2, (n - c) // 2 + c) for n, c in zip(x.spatial, sizes)]
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


@dataclass(frozen=True)
class LayerNorm:
    """Layer normalisation over the channels at each position (ConvNeXt's), with γ and β per channel.

    Params: ``len(γ) + len(β)``; no running statistics; no MACs.
    """

    gamma: "array[float]" = field(repr=False)
    beta: "array[float]" = field(repr=False)
    eps: float = 1e-6

    @classmethod
    def random(cls, rng: random.Random, channels: int) -> "LayerNorm":
        return cls(uniform(channels, rng), uniform(channels, rng))

    @property
    def params(self) -> int:
        return len(self.gamma) + len(self.beta)

    buffers = 0

    def __call__(self, x: Tensor) -> Result:
        if x.channels != len(self.gamma):
            raise ValueError(f"layer norm of {len(self.gamma)} channels got {x.shape=}")
        planes = [x.channel(c) for c in range(x.channels)]
        out_planes: List[List[float]] = [[] for _ in planes]
        for values in zip(*planes):
            mean = math.fsum(values) / len(values)
            inv = 1.0 / math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values) + self.eps)
            for c, (plane, v) in enumerate(zip(out_planes, values)):
                plane.append((v - mean) * inv * self.gamma[c] + self.beta[c])
        return Result(Tensor(x.shape, [v for plane in out_planes for v in plane]))


@dataclass(frozen=True)
class GroupNorm:
    """Group normalisation: statistics over each group of channels and all positions; γ, β per channel."""

    groups: int
    gamma: "array[float]" = field(repr=False)
    beta: "array[float]" = field(repr=False)
    eps: float = 1e-5

    @classmethod
    def random(cls, rng: random.Random, groups: int, channels: int) -> "GroupNorm":
        return cls(groups, uniform(channels, rng), uniform(channels, rng))

    @property
    def params(self) -> int:
        return len(self.gamma) + len(self.beta)

    buffers = 0

    def __call__(self, x: Tensor) -> Result:
        if x.channels != len(self.gamma) or x.channels % self.groups:
            raise ValueError(f"group norm of {len(self.gamma)} channels in {self.groups} groups got {x.shape=}")
        per = x.channels // self.groups
        out: List[float] = []
        for g in range(self.groups):
            values = x.data[g * per * x.plane:(g + 1) * per * x.plane]
            mean = math.fsum(values) / len(values)
            inv = 1.0 / math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values) + self.eps)
            for c in range(g * per, (g + 1) * per):
                out += [(v - mean) * inv * self.gamma[c] + self.beta[c] for v in x.channel(c)]
        return Result(Tensor(x.shape, out))


# --- tokens and attention: a sequence is a tensor of shape (C, L) ------------------------------


def dot(w: Sequence[float], v: Sequence[float]) -> Tuple[float, int]:
    """``Σ w·v`` and the products it made; refuses vectors of different lengths (a missed weight)."""
    if len(w) != len(v):
        raise ValueError(f"a dot product of {len(w)} weights with {len(v)} inputs")
    return sum(map(mul, w, v)), len(v)


def columns(x: Tensor) -> List[List[float]]:
    """The channel vector at each position (a token's C values), in position order."""
    return [list(col) for col in zip(*(x.channel(c) for c in range(x.channels)))]


def from_columns(cols: List[List[float]], spatial: Tuple[int, ...]) -> Tensor:
    """The inverse of ``columns``: channel vectors per position back to a channels-first tensor."""
    return Tensor((len(cols[0]), *spatial), [v for plane in zip(*cols) for v in plane])


@dataclass(frozen=True)
class PositionLinear(Linear):
    """``nn.Linear`` on the channels at each position: ``weight`` is ``units`` rows of
    ``in_features``; every position gets the same ``units`` dot products. Nothing is flattened
    (the weights are ``Linear``'s; only the call differs)."""

    def __call__(self, x: Tensor) -> Result:
        if x.channels != self.in_features:
            raise ValueError(f"a per-position linear of {self.in_features} inputs got {x.shape=}")
        n = self.in_features
        rows = [self.weight[u * n:(u + 1) * n] for u in range(self.units)]
        if sum(map(len, rows)) != len(self.weight):
            raise ValueError(f"weight of {len(self.weight)} has values no unit reads")
        out, macs = [], 0
        for col in columns(x):
            values = []
            for u, row in enumerate(rows):
                v, made = dot(row, col)
                values.append(v + (self.bias[u] if self.bias is not None else 0.0))
                macs += made
            out.append(values)
        return Result(from_columns(out, x.spatial), macs)


@dataclass(frozen=True)
class Learned:
    """A layer that keeps one learned array and nothing else (layer scale, class token, position
    embedding): its length is the parameter count."""

    values: "array[float]" = field(repr=False)

    buffers = 0

    @classmethod
    def random(cls, rng: random.Random, count: int) -> "Learned":
        return cls(uniform(count, rng))

    @property
    def params(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class LayerScale(Learned):
    """A learned γ per channel multiplies every value of its channel; nothing is summed: 0 MACs."""

    def __call__(self, x: Tensor) -> Result:
        if x.channels != len(self.values):
            raise ValueError(f"layer scale of {len(self.values)} channels got {x.shape=}")
        return Result(Tensor(x.shape, [v * self.values[c] for c in range(x.channels) for v in x.channel(c)]))


@dataclass(frozen=True)
class PReLU(Learned):
    """A learned slope per channel (or one for all) multiplies each negative value of its
    channel; positive values pass. Nothing is summed: 0 MACs."""

    def __call__(self, x: Tensor) -> Result:
        if len(self.values) not in (1, x.channels):
            raise ValueError(f"prelu of {len(self.values)} slopes got {x.shape=}")
        slope = [self.values[c % len(self.values)] for c in range(x.channels)]
        return Result(Tensor(x.shape, [v if v > 0 else slope[c] * v for c in range(x.channels) for v in x.channel(c)]))


@dataclass(frozen=True)
class Tokens(Weightless):
    """``(C, H, W) → (C, H·W)``: each channel's plane read row by row, which is how it is stored."""

    def __call__(self, x: Tensor) -> Result:
        if not x.spatial:
            raise ValueError(f"tokens need a grid, got {x.shape=}")
        return Result(Tensor((x.channels, x.plane), list(x.data)))


@dataclass(frozen=True)
class ToGrid(Weightless):
    """``(C, L) → (C, H, W)``, row by row; without ``size`` the largest square that fits, checked."""

    size: Optional[Tuple[int, ...]] = None

    def __call__(self, x: Tensor) -> Result:
        if len(x.spatial) != 1:
            raise ValueError(f"togrid needs a sequence, got {x.shape=}")
        n = x.spatial[0]
        sizes = self.size
        if sizes is None:
            side = max(s for s in range(1, n + 1) if s * s <= n)
            sizes = (side, side)
        elif len(sizes) == 1:
            sizes = sizes * 2
        return Result(Tensor((x.channels, *sizes), list(x.data)))  # Tensor refuses a size that does not fit


@dataclass(frozen=True)
class ClassToken(Learned):
    """A learned token of C values put before the sequence: ``(C, L) → (C, L + 1)``."""

    def __call__(self, x: Tensor) -> Result:
        if len(x.spatial) != 1 or x.channels != len(self.values):
            raise ValueError(f"a class token of {len(self.values)} channels needs a sequence of them, got {x.shape=}")
        out: List[float] = []
        for c in range(x.channels):
            out += [self.values[c], *x.channel(c)]
        return Result(Tensor((x.channels, x.spatial[0] + 1), out))


@dataclass(frozen=True)
class PositionEmbedding(Learned):
    """A learned table added to the input, one value per element; additions are not MACs."""

    def __call__(self, x: Tensor) -> Result:
        if len(x.data) != len(self.values):
            raise ValueError(f"a position embedding of {len(self.values)} values got {x.shape=}")
        return Result(Tensor(x.shape, list(map(add, x.data, self.values))))


@dataclass(frozen=True)
class SelectToken(Weightless):
    """Token ``index`` of a sequence as a vector of its C values (PyTorch's ``x[:, index]``)."""

    index: int = 0

    def __call__(self, x: Tensor) -> Result:
        if len(x.spatial) != 1 or not 0 <= self.index < x.spatial[0]:
            raise ValueError(f"no token {self.index} in {x.shape=}")
        return Result(Tensor((x.channels,), [x.channel(c)[self.index] for c in range(x.channels)]))


# --- views and the matrix product: in convcalc's order, channels last --------------------------


def channels_last(x: Tensor) -> Tuple[Tuple[int, ...], List[float]]:
    """``x``'s dims and values in convcalc's order (spatial..., C), row-major: the order in which
    convcalc's reshape, permute, take and matmul read a tensor."""
    n, c = x.plane, x.channels
    data: List[float] = [0.0] * (n * c)
    for ch in range(c):  # a strided slice per channel: no Python work per element
        data[ch::c] = x.data[ch * n:(ch + 1) * n]
    return (*x.spatial, c), data


def from_channels_last(dims: Sequence[int], data: Sequence[float]) -> Tensor:
    *spatial, c = dims
    return Tensor((c, *spatial), [v for ch in range(c) for v in data[ch::c]])


@dataclass(frozen=True)
class Reshape(Weightless):
    """The same values in the same order, cut into other dims (PyTorch's ``reshape``)."""

    to: Tuple[int, ...]

    def __call__(self, x: Tensor) -> Result:
        dims, data = channels_last(x)
        if math.prod(self.to) != len(data):
            raise ValueError(f"cannot reshape {dims} to {self.to}")
        return Result(from_channels_last(self.to, data))


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


def concat_along(axis: int) -> Callable[..., Result]:
    """Tensors joined along dim ``axis`` (channels last): every other dim must agree."""

    def join(*xs: Tensor) -> Result:
        parts = [channels_last(x) for x in xs]
        dims = [d for d, _ in parts]
        if any(len(d) != len(dims[0]) or d[:axis] + d[axis + 1:] != dims[0][:axis] + dims[0][axis + 1:]
               for d in dims):
            raise ValueError(f"cannot join {dims} along axis {axis}")
        outer = math.prod(dims[0][:axis])
        out: List[float] = []
        for i in range(outer):
            for d, data in parts:
                block = math.prod(d[axis:])
                out += data[i * block:(i + 1) * block]
        joined = list(dims[0])
        joined[axis] = sum(d[axis] for d in dims)
        return Result(from_channels_last(joined, out))

    return join


def matmul_tensors(a: Tensor, b: Tensor) -> Result:
    """``a @ b`` as ``torch.matmul``: the last two dims multiply, the leading ones broadcast. Counts
    one MAC per product it sums, by doing them."""
    (da, xa), (db, xb) = channels_last(a), channels_last(b)
    if len(da) < 2 or len(db) < 2 or da[-1] != db[-2]:
        raise ValueError(f"cannot multiply {da} by {db}")
    m, k, n = da[-2], da[-1], db[-1]
    lead = max(len(da), len(db)) - 2
    pa, pb = (1,) * (lead - len(da) + 2) + tuple(da[:-2]), (1,) * (lead - len(db) + 2) + tuple(db[:-2])
    if any(i != j and 1 not in (i, j) for i, j in zip(pa, pb)):
        raise ValueError(f"cannot broadcast {da} and {db}")
    batch = [max(i, j) for i, j in zip(pa, pb)]
    sa, sb = row_major(pa), row_major(pb)
    out: List[float] = []
    macs = 0
    for index in itertools.product(*map(range, batch)):
        oa = sum((i if d > 1 else 0) * s for i, d, s in zip(index, pa, sa)) * m * k
        ob = sum((i if d > 1 else 0) * s for i, d, s in zip(index, pb, sb)) * k * n
        for r in range(m):
            row = xa[oa + r * k:oa + (r + 1) * k]
            for c in range(n):
                out.append(math.fsum(row[t] * xb[ob + t * n + c] for t in range(k)))
                macs += k
    return Result(from_channels_last((*batch, m, n), out), macs)


ELEMENTWISE: Dict[str, Callable[[float], float]] = {
    "erf": math.erf, "exp": lambda v: math.exp(min(v, 700.0)), "log": lambda v: math.log(abs(v) or 1.0),
    "sqrt": lambda v: math.sqrt(abs(v)), "reciprocal": lambda v: 1.0 / v if v else 0.0, "neg": lambda v: -v,
    "abs": abs, "floor": math.floor, "ceil": math.ceil, "round": round, "sin": math.sin, "cos": math.cos,
    "sign": lambda v: (v > 0) - (v < 0), "softsign": lambda v: v / (1 + abs(v)),
    "power": lambda v: v * v,  # Caffe's (shift + scale·x)^power: its parameters change values, not counts
}


@dataclass(frozen=True)
class Elementwise(Weightless):
    """A named function applied to every value (outside its domain, as near as is defined: the
    counts, not the values, are what verify compares)."""

    op: str

    def __call__(self, x: Tensor) -> Result:
        f = ELEMENTWISE.get(self.op.lower())
        if f is None:
            raise ValueError(f"no reference for the function '{self.op}'")
        return Result(Tensor(x.shape, [float(f(v)) for v in x.data]))


def softmax(values: Sequence[float]) -> List[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = math.fsum(exps)
    return [e / total for e in exps]


@dataclass(frozen=True)
class MultiheadAttention:
    """Self-attention as PyTorch's ``nn.MultiheadAttention(C, heads)`` with query = key = value.

    ``in_proj`` holds the q, k and v projections as one ``3C×C`` weight (and a ``3C`` bias),
    ``out_proj`` a ``C×C`` weight (and ``C``), as PyTorch stores them. Each token's q, k, v are
    dot products with the rows of ``in_proj``; head ``h`` takes the ``d = C/heads`` values
    ``h·d … h·d + d − 1`` of each; token ``i``'s scores are the dot products of its query with
    every key, scaled by ``1/√d`` and softmaxed (not counted: element-wise); its output is the
    sum over tokens of score × value, one multiply per value added in; the heads' outputs side by
    side go through ``out_proj``. Every product that is summed into a result counts one MAC.
    On a grid, the positions (row by row) are the tokens.
    """

    channels: int
    heads: int
    in_weight: "array[float]" = field(repr=False)
    out_weight: "array[float]" = field(repr=False)
    in_bias: Optional["array[float]"] = field(default=None, repr=False)
    out_bias: Optional["array[float]"] = field(default=None, repr=False)

    @classmethod
    def random(cls, rng: random.Random, channels: int, heads: int, bias: bool = True) -> "MultiheadAttention":
        if channels % heads:
            raise ValueError(f"{heads=} must divide {channels=}")
        return cls(channels, heads, uniform(3 * channels * channels, rng), uniform(channels * channels, rng),
                   uniform(3 * channels, rng) if bias else None, uniform(channels, rng) if bias else None)

    @property
    def params(self) -> int:
        return sum(len(a) for a in (self.in_weight, self.out_weight, self.in_bias, self.out_bias) if a is not None)

    buffers = 0

    def project(self, weight: Sequence[float], bias: Optional[Sequence[float]], col: List[float]
                ) -> Tuple[List[float], int]:
        c = self.channels
        out, macs = [], 0
        for r in range(len(weight) // c):
            v, made = dot(weight[r * c:(r + 1) * c], col)
            out.append(v + (bias[r] if bias is not None else 0.0))
            macs += made
        return out, macs

    def __call__(self, x: Tensor) -> Result:
        c = self.channels
        if x.channels != c or not x.spatial:
            raise ValueError(f"attention over {c} channels got {x.shape=}")
        if len(self.in_weight) != 3 * c * c or len(self.out_weight) != c * c:
            raise ValueError("in_proj must be 3C×C and out_proj C×C")
        macs = 0
        qkv = []
        for col in columns(x):
            projected, made = self.project(self.in_weight, self.in_bias, col)
            qkv.append(projected)
            macs += made
        d = c // self.heads
        scale = 1.0 / math.sqrt(d)
        mixed: List[List[float]] = [[] for _ in qkv]
        for h in range(self.heads):
            q = [t[h * d:(h + 1) * d] for t in qkv]
            k = [t[c + h * d:c + (h + 1) * d] for t in qkv]
            v = [t[2 * c + h * d:2 * c + (h + 1) * d] for t in qkv]
            for i, qi in enumerate(q):
                scores = []
                for kj in k:
                    s, made = dot(qi, kj)
                    scores.append(s * scale)
                    macs += made
                weights = softmax(scores)
                for e in range(d):
                    s, made = dot(weights, [vj[e] for vj in v])
                    mixed[i].append(s)
                    macs += made
        out = []
        for col in mixed:
            projected, made = self.project(self.out_weight, self.out_bias, col)
            out.append(projected)
            macs += made
        return Result(from_columns(out, x.spatial), macs)


@dataclass(frozen=True)
class Sequential:
    """Layers one after another (a separable conv is a depthwise conv, then a pointwise one)."""

    layers: Tuple[Any, ...]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def buffers(self) -> int:
        return sum(layer.buffers for layer in self.layers)

    def __call__(self, x: Tensor) -> Result:
        macs = 0
        for layer in self.layers:
            result = layer(x)
            x, macs = result.output, macs + result.macs
        return Result(x, macs)


# --- merges -------------------------------------------------------------------------------------


def add_tensors(*xs: Tensor) -> Result:
    """A residual merge: element-wise sum of tensors of one shape. Additions are not MACs."""
    if not xs or any(x.shape != xs[0].shape for x in xs):
        raise ValueError(f"add needs tensors of one shape, got {[x.shape for x in xs]}")
    total = xs[0].data
    for x in xs[1:]:
        total = list(map(add, total, x.data))
    return Result(Tensor(xs[0].shape, list(total)))


def mul_tensors(*xs: Tensor) -> Result:
    """Element-wise product (squeeze-and-excitation's gate); a tensor with one position per axis
    broadcasts over the others. Not a MAC: nothing is summed."""
    if not xs:
        raise ValueError("mul needs at least one tensor")
    full = max(xs, key=lambda x: len(x.data))
    total = full.data
    for x in xs:
        if x is full:
            continue
        if x.shape == full.shape:
            total = list(map(mul, total, x.data))
        elif x.channels == full.channels and len(x.spatial) == len(full.spatial) and x.plane == 1:
            n = full.plane
            total = [v * x.data[i // n] for i, v in enumerate(total)]
        else:
            raise ValueError(f"mul cannot broadcast {x.shape} to {full.shape}")
    return Result(Tensor(full.shape, list(total)))


def concat_tensors(*xs: Tensor) -> Result:
    """An inception merge: stack along the channels; the spatial sizes must agree."""
    if not xs or any(x.spatial != xs[0].spatial for x in xs):
        raise ValueError(f"concat needs one spatial size, got {[x.shape for x in xs]}")
    return Result(Tensor((sum(x.channels for x in xs), *xs[0].spatial), [v for x in xs for v in x.data]))
