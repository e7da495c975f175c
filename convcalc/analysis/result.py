"""What one analysis gives: every figure of every layer, block and the whole network.

``analyse`` (engine.py) returns one ``Report``; every output format and picture only formats
it. It holds the shapes, params, buffers and MACs of each layer, the receptive field of each
(receptive.py), the memory of a forward pass and of inference (memory.py), the peak of a
training step (step.py), and the totals under the conventions asked for, each computed once,
here, for every renderer.
These are plain frozen values: a renderer imports this module and nothing else of the analysis.

Conventions (stated in the README, in ``--help`` and in every JSON report):

- params: weights + biases; batchnorm's running mean/variance are *buffers*, counted apart
  (PyTorch's ``num_batches_tracked``, one counter per batchnorm, is left out). A frozen layer
  (``frozen: true``, Keras' ``trainable=False``) trains nothing: its weights and biases are
  buffers too (``FROZEN``, stated only for a network that has one). A weight two layers read
  (``shares: a``: a module applied twice, a tied decoder) is one tensor, counted once, at the
  layer that holds it; the other's row says so (PyTorch's ``model.parameters()`` de-duplicates).
- MACs: multiply-accumulates of conv, fc (per position too) and attention layers (its Q·Kᵀ and
  A·V products included) for one sample; bias additions, pooling,
  normalisation and activations are not counted. FLOPs = 2 · MACs. (The lecture notes' "FLOPs"
  formula ``H2·W2·F²·D1·D2`` counts MACs.)
- activations: output elements of each layer (the "memory" column of the cs231n VGG table);
  the total adds them up with the input, for one forward pass, nothing freed.
- bytes: elements × bytes per element of ``dtype`` × ``batch`` (activations only; params once).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..errors import Location
from ..layers import Layer, Note, Number
from ..shape import Shape
from ..spec.model import NetworkSpec
from ..values import field, value

DTYPE_BYTES: Dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "float64": 8}
OPTIMIZER_STATES: Dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2}

CONVENTIONS: Dict[str, str] = {
    "params": "weights + biases of every layer; batchnorm running mean and variance counted apart as buffers "
              "(PyTorch's num_batches_tracked, one counter per batchnorm, not counted)",
    "macs": "multiply-accumulates of conv, fc (per position too) and attention layers (Q.K^T and A.V included) "
            "for one sample; bias additions, pooling, softmax, "
            "normalisation and activations not counted",
    "flops": "2 x MACs",
    "activations": "output elements of each layer; the total adds every layer's output and the input "
                   "(one forward pass, nothing freed)",
    "bytes": "activation elements x bytes per element x batch; parameter bytes for one copy of the weights",
    "training": "training_bytes: the peak of one steady-state training step with the optimizer (forward, loss, "
                "backward, optimizer step), what autograd keeps by PyTorch's CUDA rules, input batch included; "
                "`convcalc plan` gives its breakdown, where it falls and its conventions",
}

FROZEN = ("frozen layers (frozen: true; Keras' trainable=False) train nothing: their weights and biases "
          "are counted as buffers, not params; MACs unchanged")
"""The convention for frozen layers, added to the stated ones only where a network has one, so the
reports of every other network read as before."""


class InGraph:
    """Where a layer or block sits: inside the blocks of ``path``, under its ``name``."""

    name: str  # declared for type checkers; the value classes below own the fields
    path: Tuple[str, ...]

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def full_name(self) -> str:
        return ".".join((*self.path, self.name))


@value
class LayerReport(InGraph):
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
    path: Tuple[str, ...] = ()  # the enclosing blocks (and branches b1, b2 ...), outermost first
    inputs: Tuple[Shape, ...] = ()  # a merge's branch outputs; empty for a layer
    biases: int = 0  # the bias terms among params
    ops: int = 0  # element-wise work of kind layer.op_kind, counted only when asked (--count-ops)
    # The tensors it reads: 0 is the network's input, k the output of layer k. Receptive fields
    # and memory liveness follow these edges, so a skip from far back is just another edge.
    sources: Tuple[int, ...] = ()
    reads: Tuple[str, ...] = ()  # the names it reads through 'from' / '@name', as written
    frozen: bool = False  # nothing trained: its weights and biases are in buffers, params 0
    shared: int = 0  # params it trains that another layer holds (shares: a tied weight), counted there

    @property
    def activations(self) -> int:
        return self.output.elements

    @property
    def flops(self) -> int:
        return 2 * self.macs


@value
class BlockReport(InGraph):
    """A block's subtotals: the layers ``first``..``last`` (1-based, inclusive) of the report."""

    name: str
    kind: str
    path: Tuple[str, ...]
    input: Shape
    output: Shape
    first: int
    last: int
    params: int
    buffers: int
    macs: int
    activations: int
    loc: Optional[Location] = field(default=None, compare=False, repr=False)
    merge: str = ""  # 'add', 'concat', 'mul', or '' for a plain group
    branches: int = 1
    identities: int = 0  # branches without layers: identity shortcuts

    @property
    def label(self) -> str:
        """``BOTTLENECK``, ``ADD, identity shortcut``, ``CONCAT, 4 branches``."""
        if not self.merge:
            return self.kind.upper()
        how = "identity shortcut" if self.identities == 1 and self.branches == 2 else f"{self.branches} branches"
        return f"{self.merge.upper()}, {how}" if self.kind == self.merge else f"{self.kind.upper()} ({self.merge}, {how})"


@value
class OutputReport:
    """One of the network's outputs: the tensor named ``name`` (``tensor`` as in ``sources``)."""

    name: str
    tensor: int
    shape: Shape


OP_KINDS = ("norm", "act", "pool")


@value
class Conventions:
    """How figures are counted; every output says which were used.

    ``count``: 'macs' or 'flops' (2 per MAC). ``bias``: params include biases (the cs231n VGG
    table leaves them out). ``ops``: element-wise work also counted, one operation per element
    (pool: per window element); batchnorm's folded scale-and-shift is one MAC, two FLOPs.
    ``optimizer``: whose state the training step keeps (sgd none, momentum 1, adam 2 per parameter).
    ``inplace``: activations and dropout run in place (PyTorch's inplace=True), so their outputs
    add no activation memory.
    """

    count: str = "macs"
    bias: bool = True
    ops: Tuple[str, ...] = ()
    optimizer: str = "sgd"
    inplace: bool = False  # activations and dropout overwrite their input: no new tensor to count


def counted_params(r: LayerReport, c: Conventions) -> int:
    """The layer's params as the conventions count them: with or without its biases."""
    return r.params if c.bias else r.params - r.biases


def counted_activations(r: LayerReport, c: Conventions) -> int:
    """The layer's output elements, or none when it runs in place and the conventions say so."""
    return 0 if c.inplace and r.layer.inplace else r.activations


def work(r: LayerReport, c: Conventions, count: Optional[str] = None) -> int:
    """The layer's MACs or FLOPs (``count``, else as the conventions say), extra element-wise ops
    included when the conventions count them (batchnorm's scale-and-shift: one MAC, two FLOPs)."""
    extra = r.ops if r.layer.op_kind and r.layer.op_kind in c.ops else 0
    if (count or c.count) == "flops":
        return 2 * r.macs + extra * (2 if r.layer.op_kind == "norm" else 1)
    return r.macs + extra


@value
class Totals:
    params: int  # weights + biases
    buffers: int
    macs: int  # conv and fc multiply-accumulates
    activations: int  # input included; in-place layers left out when the conventions say so
    layers: int
    biases: int = 0
    counted_params: int = 0  # params as the conventions count them
    work: int = 0  # MACs or FLOPs as the conventions count them

    @property
    def flops(self) -> int:
        return 2 * self.macs


@value
class Report:
    """The analysis of one network for one dtype, batch size and set of conventions.

    Built once by ``analyse``; everything a renderer prints is here, computed once: per layer
    (``layers``, and ``fields`` in the same order), per block, per output, and for the whole
    network (``totals``, ``memory``). The methods only apply the conventions to one layer's
    figures (biases in or out, MACs or FLOPs, in-place activations), which is arithmetic, not
    analysis.
    """

    spec: NetworkSpec
    layers: Tuple[LayerReport, ...]
    totals: Totals
    memory: "Memory"
    fields: Tuple["Field", ...]  # the receptive field of each entry of ``layers``, in its order
    dtype: str = "float32"
    batch: int = 1
    blocks: Tuple[BlockReport, ...] = ()  # innermost first within each block, in the order they end
    conventions: Conventions = Conventions()
    outputs: Tuple[OutputReport, ...] = ()  # as declared ('outputs:'), else the last tensor
    covering: int = 0  # the first layer (1-based) whose units see the whole input; 0: none does
    # each operator convcalc could not count ('unknown' layers) and how often it occurs: when there
    # is any, the totals leave its cost out and are incomplete
    unknown: Tuple[Tuple[str, int], ...] = ()
    frozen: int = 0  # how many layers are frozen (their weights counted as buffers)
    warnings: Tuple[Tuple[LayerReport, Note], ...] = ()  # every warning note, with its layer

    @property
    def output(self) -> Shape:
        """The network's output; with several, the last one declared."""
        if self.outputs:
            return self.outputs[-1].shape
        return self.layers[-1].output if self.layers else self.spec.input

    def shape_of(self, tensor: int) -> Shape:
        return self.layers[tensor - 1].output if tensor else self.spec.input

    def counted_params(self, r: LayerReport) -> int:
        return counted_params(r, self.conventions)

    def counted_activations(self, r: LayerReport) -> int:
        return counted_activations(r, self.conventions)

    def work(self, r: LayerReport, count: Optional[str] = None) -> int:
        return work(r, self.conventions, count)

    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def activation_bytes(self, elements: int) -> int:
        return elements * self.bytes_per_element * self.batch

    def param_bytes(self, params: int) -> int:
        return params * self.bytes_per_element

    @property
    def unknown_ops(self) -> Dict[str, int]:
        """``unknown`` as a dict: operator -> how often it occurs ({} when the totals are complete)."""
        return dict(self.unknown)


# --- receptive fields (receptive.py computes them) ---------------------------------------


@value
class AxisField:
    size: Number
    jump: Number
    start: Number


@value
class Field:
    """The receptive field of a layer's output units.

    ``status`` is 'local' (``axes`` hold size, jump and start), 'global' (each unit sees the
    whole input), 'unaligned' (branches disagreed; ``why`` says where) or 'untracked' (a
    sequence made from a grid was reordered, e.g. a class token prepended, or attention within
    windows or rows: ``why`` says where).
    """

    axes: Tuple[AxisField, ...] = ()
    status: str = "local"
    exact: bool = True
    why: str = ""

    def covers(self, spatial: Tuple[int, ...]) -> bool:
        """Whether one unit's field is at least as large as the input, on every axis."""
        if self.status == "global":
            return True
        return self.status == "local" and bool(self.axes) and all(a.size >= n for a, n in zip(self.axes, spatial))

    def text(self) -> str:
        """``196 j16`` (square), ``7x5 j2x1``, ``all``, ``not aligned``; fractions kept exact."""
        if self.status == "global":
            return "all"
        if self.status == "unaligned":
            return "not aligned"
        if self.status == "untracked":
            return "n/a"
        sizes = {a.size for a in self.axes}
        jumps = {a.jump for a in self.axes}
        r = fraction_text(self.axes[0].size) if len(sizes) == 1 else "x".join(fraction_text(a.size) for a in self.axes)
        j = fraction_text(self.axes[0].jump) if len(jumps) == 1 else "x".join(fraction_text(a.jump) for a in self.axes)
        return f"{'≤' if not self.exact else ''}{r} j{j}"


def fraction_text(f: Number) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


# --- memory (memory.py computes it) ---------------------------------------------------------


@value
class Memory:
    """Element counts per sample and the byte figures they make for a dtype, batch and optimizer."""

    dtype: str
    batch: int
    optimizer: str
    params: int
    buffers: int
    activations: int  # forward, per sample, input included
    peak: int  # inference live set, per sample
    training_peak: int = 0  # bytes: the peak of one training step (analysis/step.py), as `convcalc plan` says
    training_complete: bool = True  # False: a layer kind without a saved-tensor rule is left out of it

    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def weight_bytes(self) -> int:
        return (self.params + self.buffers) * self.bytes_per_element

    @property
    def forward_bytes(self) -> int:
        return self.activations * self.batch * self.bytes_per_element

    @property
    def inference_bytes(self) -> int:
        """Weights plus the peak live activations."""
        return self.weight_bytes + self.peak * self.batch * self.bytes_per_element

    @property
    def gradient_bytes(self) -> int:
        return self.params * self.bytes_per_element

    @property
    def optimizer_bytes(self) -> int:
        return OPTIMIZER_STATES[self.optimizer] * self.params * self.bytes_per_element

    @property
    def training_bytes(self) -> int:
        """The peak of one steady-state training step (not every activation kept: autograd frees
        what it saved as backward passes), the figure ``convcalc plan`` gives."""
        return self.training_peak
