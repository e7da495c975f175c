"""Fold the layer rules over a spec: shapes, parameters, MACs and memory, as exact integers.

No I/O and no rounding here; ``render`` does both. Conventions (stated in the README, in
``--help`` and in every JSON report):

- params: weights + biases; batchnorm's running mean/variance are *buffers*, counted apart.
- MACs: multiply-accumulates of conv and fc layers for one sample; bias additions, pooling,
  normalisation and activations are not counted. FLOPs = 2 · MACs. (The lecture notes' "FLOPs"
  formula ``H2·W2·F²·D1·D2`` counts MACs.)
- activations: output elements of each layer (the "memory" column of the cs231n VGG table);
  the total adds them up with the input, for one forward pass, nothing freed.
- bytes: elements × bytes per element of ``dtype`` × ``batch`` (activations only; params once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from .errors import LayerError, Location, ShapeError
from .layers import Layer, Note
from .shape import Shape
from .spec import NetworkSpec

DTYPE_BYTES: Dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "float64": 8}

CONVENTIONS: Dict[str, str] = {
    "params": "weights + biases of every layer; batchnorm running statistics counted apart as buffers",
    "macs": "multiply-accumulates of conv and fc layers for one sample; bias additions, pooling, "
            "normalisation and activations not counted",
    "flops": "2 x MACs",
    "activations": "output elements of each layer; the total adds every layer's output and the input "
                   "(one forward pass, nothing freed)",
    "bytes": "activation elements x bytes per element x batch; parameter bytes for one copy of the weights",
}


@dataclass(frozen=True)
class LayerReport:
    """Everything convcalc knows about one layer, as exact integers."""

    index: int
    name: str
    layer: Layer
    input: Shape
    output: Shape
    params: int
    buffers: int
    macs: int
    notes: Tuple[Note, ...] = ()
    loc: Optional[Location] = field(default=None, compare=False, repr=False)

    @property
    def activations(self) -> int:
        return self.output.elements

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    activations: int  # input included
    layers: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Report:
    """The analysis of one network for one dtype and batch size."""

    spec: NetworkSpec
    layers: Tuple[LayerReport, ...]
    dtype: str = "float32"
    batch: int = 1

    @property
    def output(self) -> Shape:
        return self.layers[-1].output if self.layers else self.spec.input

    @property
    def totals(self) -> Totals:
        return Totals(
            params=sum(r.params for r in self.layers),
            buffers=sum(r.buffers for r in self.layers),
            macs=sum(r.macs for r in self.layers),
            activations=self.spec.input.elements + sum(r.activations for r in self.layers),
            layers=len(self.layers),
        )

    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def activation_bytes(self, elements: int) -> int:
        return elements * self.bytes_per_element * self.batch

    def param_bytes(self, params: int) -> int:
        return params * self.bytes_per_element

    @property
    def warnings(self) -> Tuple[Tuple[LayerReport, Note], ...]:
        return tuple((r, n) for r in self.layers for n in r.notes if n.level == "warning")


def default_names(spec: NetworkSpec) -> Tuple[str, ...]:
    """Unnamed layers are numbered like the lecture notes: conv1, pool1, norm1 ... fc6, fc7, fc8."""
    counters: Dict[str, int] = {}
    names = []
    for ls in spec.layers:
        family = ls.layer.family_name()
        key = type(ls.layer).counter or family
        counters[key] = counters.get(key, 0) + 1
        names.append(ls.name or f"{family}{counters[key]}")
    return tuple(names)


def analyse(spec: NetworkSpec, dtype: str = "float32", batch: int = 1) -> Report:
    """Run every layer's rule on the shape the previous one produced."""
    if dtype not in DTYPE_BYTES:
        raise ShapeError(f"unknown dtype '{dtype}'; expected one of {', '.join(DTYPE_BYTES)}")
    x = spec.input
    reports = []
    for index, (ls, name) in enumerate(zip(spec.layers, default_names(spec)), start=1):
        rule = ls.layer
        try:
            y = rule.out_shape(x)
            if 0 in y.dims:
                raise LayerError(f"output {y} has a zero size")
            report = LayerReport(index, name, rule, x, y, rule.params(x), rule.buffers(x), rule.macs(x),
                                 rule.notes(x), ls.loc)
        except LayerError as e:
            raise ShapeError(f"layer {index} '{name}' ({rule.describe()}) on input {x}: {e.message}",
                             ls.loc, e.hint) from None
        reports.append(report)
        x = y
    return Report(spec, tuple(reports), dtype, batch)
