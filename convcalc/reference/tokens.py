"""Reference tokens and attention: a sequence is a tensor of shape ``(C, L)``, each position a
token of C values."""

from __future__ import annotations

import itertools
import math
from array import array
from dataclasses import dataclass, field
from operator import add, mul
from random import Random
from typing import Dict, List, Optional, Sequence, Tuple

from .base import (
    Learned,
    Result,
    Tensor,
    Weightless,
    channels_last,
    from_channels_last,
    uniform,
)
from .conv import Linear


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
class Parameter:
    """A learned tensor of ``dims`` (PyTorch's ``nn.Parameter``): held, the input passed on; or,
    with ``add``, added to the input broadcast from its last (channels-last) dim, each of its
    dims equal to the input's or 1, as PyTorch broadcasts. Additions are not MACs."""

    dims: Tuple[int, ...]
    values: "array[float]" = field(repr=False)
    add: bool = False

    buffers = 0

    @classmethod
    def random(cls, rng: Random, dims: Tuple[int, ...], add: bool = False) -> "Parameter":
        return cls(dims, uniform(math.prod(dims), rng), add)

    @property
    def params(self) -> int:
        return len(self.values)

    def __call__(self, x: Tensor) -> Result:
        if len(self.values) != math.prod(self.dims):
            raise ValueError(f"a {self.dims} tensor of {len(self.values)} values")
        if not self.add:
            return Result(x)
        dims, data = channels_last(x)
        if len(self.dims) > len(dims) or any(p not in (1, d) for p, d in zip(self.dims[::-1], dims[::-1])):
            raise ValueError(f"{self.dims} does not broadcast to {dims}")
        mine = (1,) * (len(dims) - len(self.dims)) + self.dims
        out = []
        for index, v in zip(itertools.product(*(range(d) for d in dims)), data):
            flat = 0
            for i, n in zip(index, mine):  # a dim of 1 is read at 0: broadcast
                flat = flat * n + (i if n > 1 else 0)
            out.append(v + self.values[flat])
        return Result(from_channels_last(dims, out))


@dataclass(frozen=True)
class SelectToken(Weightless):
    """Token ``index`` of a sequence as a vector of its C values (PyTorch's ``x[:, index]``)."""

    index: int = 0

    def __call__(self, x: Tensor) -> Result:
        if len(x.spatial) != 1 or not 0 <= self.index < x.spatial[0]:
            raise ValueError(f"no token {self.index} in {x.shape=}")
        return Result(Tensor((x.channels,), [x.channel(c)[self.index] for c in range(x.channels)]))


def softmax(values: Sequence[float]) -> List[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = math.fsum(exps)
    return [e / total for e in exps]


def sequences_of(spatial: Tuple[int, ...], window: Optional[Tuple[int, ...]], partition: str, shifted: bool
                 ) -> Tuple[Tuple[int, ...], List[List[Tuple[int, ...]]]]:
    """The padded sizes and the sequences attention runs on, each a list of positions of the
    padded grid, in the order of the sequence's tokens.

    No window: each line along the last axis is a sequence (batch_first). Block windows: the grid
    is zero-padded at the end to a multiple of the window, rolled back by ``⌊w/2⌋`` when shifted
    (``torch.roll(x, -s)``: the token at p comes from p + s), and cut into adjacent windows. Grid
    windows: token t of group g along an axis of size D is position ``g + t·D/w``.
    """
    if window is None:
        lines = itertools.product(*(range(d) for d in spatial[:-1]))
        return spatial, [[(*line, t) for t in range(spatial[-1])] for line in lines]
    if partition == "grid":
        strides = tuple(d // w for d, w in zip(spatial, window))
        return spatial, [[tuple(g + t * st for g, t, st in zip(group, token, strides))
                          for token in itertools.product(*(range(w) for w in window))]
                         for group in itertools.product(*(range(st) for st in strides))]
    padded = tuple(-(-d // w) * w for d, w in zip(spatial, window))
    shift = tuple(w // 2 if shifted and w < p else 0 for w, p in zip(window, padded))
    return padded, [[tuple((c * w + t + s) % p for c, w, t, s, p in zip(corner, window, token, shift, padded))
                     for token in itertools.product(*(range(w) for w in window))]
                    for corner in itertools.product(*(range(p // w) for p, w in zip(padded, window)))]


def unravel(k: int, sizes: Tuple[int, ...]) -> Tuple[int, ...]:
    """The row-major coordinates of index k in a block of ``sizes``."""
    out = []
    for n in reversed(sizes):
        k, r = divmod(k, n)
        out.append(r)
    return tuple(reversed(out))


def region(position: Tuple[int, ...], window: Tuple[int, ...], padded: Tuple[int, ...], shifted: bool
           ) -> Tuple[int, ...]:
    """Swin's mask regions: along each axis, [0, P−w), [P−w, P−s), [P−s, P) (torchvision's
    slices ``(0, −w), (−w, −s), (−s, None)``); tokens of one window from different regions were
    brought together by the roll and may not attend to each other."""
    out = []
    for i, w, p in zip(position, window, padded):
        s = w // 2 if shifted and w < p else 0
        out.append(0 if i < p - w else 1 if i < p - s else 2)
    return tuple(out)


@dataclass(frozen=True)
class MultiheadAttention:
    """Self-attention as PyTorch's ``nn.MultiheadAttention(C, heads, batch_first=True)`` with query
    = key = value, run on each sequence on its own: the lines of the last axis, or windows of a
    grid (``sequences_of``: Swin's blocks, shifted or not, MaxViT's blocks and grids).

    ``in_proj`` holds the q, k and v projections as one ``3C×C`` weight (and a ``3C`` bias),
    ``out_proj`` a ``C×C`` weight (and ``C``), as PyTorch stores them. Each token's q, k, v are
    dot products with the rows of ``in_proj``; head ``h`` takes the ``d = C/heads`` values
    ``h·d … h·d + d − 1`` of each; token ``i``'s scores are the dot products of its query with
    every key of its sequence, scaled by ``1/√d``, plus the relative position bias of the pair
    (``table``: one value per head for each offset, Swin's eq. 4) and −100 where Swin's mask
    parts them (as torchvision), then softmaxed (none of it counted: element-wise); its output is
    the sum over tokens of score × value, one multiply per value added in; the heads' outputs side
    by side go through ``out_proj``. Every product that is summed into a result counts one MAC.
    Padded tokens (zeros) are projected and attended like any other, then dropped. (torchvision's
    MaxViT scales by ``1/√C``, not ``1/√d``: other values, the same count.)
    """

    channels: int
    heads: int
    in_weight: "array[float]" = field(repr=False)
    out_weight: "array[float]" = field(repr=False)
    in_bias: Optional["array[float]"] = field(default=None, repr=False)
    out_bias: Optional["array[float]"] = field(default=None, repr=False)
    window: Optional[Tuple[int, ...]] = None
    partition: str = "block"
    shifted: bool = False
    table: Optional["array[float]"] = field(default=None, repr=False)

    @classmethod
    def random(cls, rng: Random, channels: int, heads: int, bias: bool = True,
               window: Optional[Tuple[int, ...]] = None, partition: str = "block", shifted: bool = False,
               relative_bias: bool = False) -> "MultiheadAttention":
        if channels % heads:
            raise ValueError(f"{heads=} must divide {channels=}")
        offsets = math.prod(2 * w - 1 for w in window) if window and relative_bias else 0
        return cls(channels, heads, uniform(3 * channels * channels, rng), uniform(channels * channels, rng),
                   uniform(3 * channels, rng) if bias else None, uniform(channels, rng) if bias else None,
                   window, partition, shifted, uniform(offsets * heads, rng) if offsets else None)

    @property
    def params(self) -> int:
        arrays = (self.in_weight, self.out_weight, self.in_bias, self.out_bias, self.table)
        return sum(len(a) for a in arrays if a is not None)

    @property
    def buffers(self) -> int:
        """torchvision's ``relative_position_index``: a table index for each pair of a window's tokens."""
        return math.prod(self.window) ** 2 if self.table is not None and self.window else 0

    def project(self, weight: Sequence[float], bias: Optional[Sequence[float]], col: List[float]
                ) -> Tuple[List[float], int]:
        c = self.channels
        out, macs = [], 0
        for r in range(len(weight) // c):
            v, made = dot(weight[r * c:(r + 1) * c], col)
            out.append(v + (bias[r] if bias is not None else 0.0))
            macs += made
        return out, macs

    def extra(self, group: List[Tuple[int, ...]], i: int, j: int, h: int, padded: Tuple[int, ...]) -> float:
        """What is added to the score of tokens i and j of a window for head h, neither a MAC: the
        bias of their offset, and the mask where the roll brought them together."""
        if self.window is None:
            return 0.0
        added = 0.0
        if self.table is not None:  # token k of a window sits at unravel(k); offsets −(w−1) … w−1 per axis
            index = 0
            for ti, tj, w in zip(unravel(i, self.window), unravel(j, self.window), self.window):
                index = index * (2 * w - 1) + (ti - tj + w - 1)
            added += self.table[index * self.heads + h]
        if self.shifted:  # the mask is laid on the rolled grid: position p is at p − s there
            shift = tuple(w // 2 if w < p else 0 for w, p in zip(self.window, padded))
            rolled = [tuple((q - s) % p for q, s, p in zip(group[k], shift, padded)) for k in (i, j)]
            if region(rolled[0], self.window, padded, True) != region(rolled[1], self.window, padded, True):
                added -= 100.0
        return added

    def __call__(self, x: Tensor) -> Result:
        c = self.channels
        if x.channels != c or not x.spatial:
            raise ValueError(f"attention over {c} channels got {x.shape=}")
        if len(self.in_weight) != 3 * c * c or len(self.out_weight) != c * c:
            raise ValueError("in_proj must be 3C×C and out_proj C×C")
        if self.window is not None and len(self.window) != len(x.spatial):
            raise ValueError(f"a window of {len(self.window)} axes on {x.shape=}")
        padded, groups = sequences_of(x.spatial, self.window, self.partition, self.shifted)
        tokens = dict(zip(itertools.product(*(range(d) for d in x.spatial)), columns(x)))
        out_of: Dict[Tuple[int, ...], List[float]] = {}
        macs = 0
        d = c // self.heads
        scale = 1.0 / math.sqrt(d)
        for group in groups:
            qkv = []
            for pos in group:
                projected, made = self.project(self.in_weight, self.in_bias, tokens.get(pos, [0.0] * c))
                qkv.append(projected)
                macs += made
            mixed: List[List[float]] = [[] for _ in qkv]
            for h in range(self.heads):
                q = [t[h * d:(h + 1) * d] for t in qkv]
                k = [t[c + h * d:c + (h + 1) * d] for t in qkv]
                v = [t[2 * c + h * d:2 * c + (h + 1) * d] for t in qkv]
                for i, qi in enumerate(q):
                    scores = []
                    for j, kj in enumerate(k):
                        s, made = dot(qi, kj)
                        scores.append(s * scale + self.extra(group, i, j, h, padded))
                        macs += made
                    weights = softmax(scores)
                    for e in range(d):
                        s, made = dot(weights, [vj[e] for vj in v])
                        mixed[i].append(s)
                        macs += made
            for pos, col in zip(group, mixed):
                projected, made = self.project(self.out_weight, self.out_bias, col)
                out_of[pos] = projected
                macs += made
        out = [out_of[pos] for pos in itertools.product(*(range(n) for n in x.spatial))]
        return Result(from_columns(out, x.spatial), macs)
