"""Reference normalisation: batchnorm (trained and frozen), local response norm, layer norm, group
norm and layer scale. Their scales are per element and nothing is summed: 0 MACs."""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from .base import Learned, Result, Tensor, Weightless, uniform


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


class PerChannelAffine:
    """What the layer and group norms share: an optional γ and β per channel (PyTorch's
    ``elementwise_affine``/``affine`` and ``bias``), counted as params, and no running statistics."""

    gamma: Optional["array[float]"]
    beta: Optional["array[float]"]
    channels: int

    @staticmethod
    def random_affine(rng: random.Random, channels: int, affine: bool,
                      bias: bool) -> Tuple[Optional["array[float]"], Optional["array[float]"]]:
        return (uniform(channels, rng) if affine else None,
                uniform(channels, rng) if affine and bias else None)

    @property
    def params(self) -> int:
        return sum(len(a) for a in (self.gamma, self.beta) if a is not None)

    buffers = 0

    @property
    def normalised(self) -> int:
        """The channels it normalises (γ's length, or as declared for a norm without γ)."""
        return len(self.gamma) if self.gamma is not None else self.channels


@dataclass(frozen=True)
class LayerNorm(PerChannelAffine):
    """Layer normalisation over the channels at each position (ConvNeXt's), with γ and β per channel
    (β absent with PyTorch's ``bias=False``, both with ``elementwise_affine=False``: ``γ = 1``, ``β = 0``).

    Params: ``len(γ) + len(β)``; no running statistics; no MACs.
    """

    gamma: Optional["array[float]"] = field(repr=False)
    beta: Optional["array[float]"] = field(repr=False)
    eps: float = 1e-6
    channels: int = 0  # the channels it normalises, for a layer norm without γ

    @classmethod
    def random(cls, rng: random.Random, channels: int, affine: bool = True, bias: bool = True) -> "LayerNorm":
        gamma, beta = cls.random_affine(rng, channels, affine, bias)
        return cls(gamma, beta, channels=channels)

    def __call__(self, x: Tensor) -> Result:
        channels = self.normalised
        if x.channels != channels:
            raise ValueError(f"layer norm of {channels} channels got {x.shape=}")
        planes = [x.channel(c) for c in range(x.channels)]
        out_planes: List[List[float]] = [[] for _ in planes]
        for values in zip(*planes):
            mean = math.fsum(values) / len(values)
            inv = 1.0 / math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values) + self.eps)
            for c, (plane, v) in enumerate(zip(out_planes, values)):
                scale = 1.0 if self.gamma is None else self.gamma[c]
                plane.append((v - mean) * inv * scale + (0.0 if self.beta is None else self.beta[c]))
        return Result(Tensor(x.shape, [v for plane in out_planes for v in plane]))


@dataclass(frozen=True)
class GroupNorm(PerChannelAffine):
    """Group normalisation: statistics over each group of channels and all positions; γ, β per channel
    (β absent with PyTorch's ``bias=False``, both with ``affine=False``: ``γ = 1``, ``β = 0``)."""

    groups: int
    gamma: Optional["array[float]"] = field(repr=False)
    beta: Optional["array[float]"] = field(repr=False)
    eps: float = 1e-5
    channels: int = 0  # the channels it normalises, for a group norm without γ

    @classmethod
    def random(cls, rng: random.Random, groups: int, channels: int, affine: bool = True,
               bias: bool = True) -> "GroupNorm":
        gamma, beta = cls.random_affine(rng, channels, affine, bias)
        return cls(groups, gamma, beta, channels=channels)

    def __call__(self, x: Tensor) -> Result:
        channels = self.normalised
        if x.channels != channels or x.channels % self.groups:
            raise ValueError(f"group norm of {channels} channels in {self.groups} groups got {x.shape=}")
        per = x.channels // self.groups
        out: List[float] = []
        for g in range(self.groups):
            values = x.data[g * per * x.plane:(g + 1) * per * x.plane]
            mean = math.fsum(values) / len(values)
            inv = 1.0 / math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values) + self.eps)
            for c in range(g * per, (g + 1) * per):
                scale = 1.0 if self.gamma is None else self.gamma[c]
                shift = 0.0 if self.beta is None else self.beta[c]
                out += [(v - mean) * inv * scale + shift for v in x.channel(c)]
        return Result(Tensor(x.shape, out))


@dataclass(frozen=True)
class LayerScale(Learned):
    """A learned γ per channel multiplies every value of its channel; nothing is summed: 0 MACs."""

    def __call__(self, x: Tensor) -> Result:
        if x.channels != len(self.values):
            raise ValueError(f"layer scale of {len(self.values)} channels got {x.shape=}")
        return Result(Tensor(x.shape, [v * self.values[c] for c in range(x.channels) for v in x.channel(c)]))
