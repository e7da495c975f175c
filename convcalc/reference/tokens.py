"""Reference tokens and attention: a sequence is a tensor of shape ``(C, L)``, each position a
token of C values."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from operator import add, mul
from random import Random
from typing import List, Optional, Sequence, Tuple

from .base import Learned, Result, Tensor, Weightless, uniform
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
    def random(cls, rng: Random, channels: int, heads: int, bias: bool = True) -> "MultiheadAttention":
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
