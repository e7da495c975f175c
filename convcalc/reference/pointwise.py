"""Reference element-wise layers: activations, dropout, softmax over the channels, named functions
and PReLU. The shape is unchanged and nothing is summed: 0 MACs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List

from .base import Learned, Result, Tensor, Weightless


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


@dataclass(frozen=True)
class PReLU(Learned):
    """A learned slope per channel (or one for all) multiplies each negative value of its
    channel; positive values pass. Nothing is summed: 0 MACs."""

    def __call__(self, x: Tensor) -> Result:
        if len(self.values) not in (1, x.channels):
            raise ValueError(f"prelu of {len(self.values)} slopes got {x.shape=}")
        slope = [self.values[c % len(self.values)] for c in range(x.channels)]
        return Result(Tensor(x.shape, [v if v > 0 else slope[c] * v for c in range(x.channels) for v in x.channel(c)]))
