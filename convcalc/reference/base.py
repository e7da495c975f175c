"""What every family of reference layers shares: ``Tensor`` and ``Result``, seeded weights,
the geometry of sliding windows (where each window starts, padding), the channels-last order in
which views and merges read a tensor, and ``Sequential``. Imports only the standard library: the
families import from here, never the other way round."""

from __future__ import annotations

import itertools
import math
import random
from array import array
from dataclasses import dataclass, field
from typing import Any, List, Sequence, Tuple, Union

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


# --- layers without weights, or with one learned array ------------------------------------------


class Weightless:
    """A layer with nothing to learn and nothing to keep: no parameters, no buffers."""

    params = 0
    buffers = 0


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


# --- convcalc's order, channels last: how views and the matrix product read a tensor ------------


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


# --- layers one after another -------------------------------------------------------------------


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
