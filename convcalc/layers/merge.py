"""Merges: where branches meet (add, mul, concat, seqcat, matmul), and ``MERGES``, the words
that name them in YAML."""

from __future__ import annotations

import math
from typing import ClassVar, Dict, Optional, Tuple, Type

from ..errors import LayerError
from ..shape import Shape
from ..values import value
from .base import Layer
from .views import dims_shape


@value
class Merge(Layer):
    """Joins the outputs of a block's branches; no parameters, and element-wise work is not counted."""

    family: ClassVar[str] = "merge"

    @property
    def kind(self) -> str:
        return self.family

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        raise NotImplementedError

    def merge_macs(self, inputs: Tuple[Shape, ...]) -> int:
        """Multiply-accumulates of the merge itself: 0 but for a matrix product."""
        return 0


@value
class Add(Merge):
    """Element-wise sum (a residual connection): every branch must end in exactly the same shape."""

    family: ClassVar[str] = "add"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if len(set(inputs)) > 1:
            raise LayerError("add needs branches of the same shape, got " + ", ".join(map(str, inputs)))
        return inputs[0]

    def describe(self) -> str:
        return "ADD"


@value
class Mul(Merge):
    """Element-wise product; a 1x1xC branch broadcasts over HxWxC (squeeze-and-excitation)."""

    family: ClassVar[str] = "mul"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        full = max(inputs, key=lambda s: s.elements)
        for s in inputs:
            if s != full and not (s.channels == full.channels and s.rank == full.rank and set(s.spatial) <= {1}):
                raise LayerError("mul needs branches of the same shape (or 1x1xC to broadcast), got "
                                 + ", ".join(map(str, inputs)))
        return full

    def describe(self) -> str:
        return "MUL"


@value
class Concat(Merge):
    """Channel concatenation (inception): spatial sizes must match; channels add up.

    With ``axis`` (``concat: {from: [a, b], axis: 0}``) along that dim instead, counted in
    convcalc's order (channels last): every other dim must match (``torch.cat`` along a dim of
    a tensor laid out channels last, as Swin's shifted windows are put back together)."""

    family: ClassVar[str] = "concat"

    axis: Optional[int] = None  # None: the channels

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if self.axis is not None:
            return self.along(inputs, self.axis)
        if len({s.spatial for s in inputs}) > 1:
            raise LayerError("concat needs branches of the same spatial size, got " + ", ".join(map(str, inputs)))
        return Shape(inputs[0].spatial, sum(s.channels for s in inputs))

    @staticmethod
    def along(inputs: Tuple[Shape, ...], axis: int) -> Shape:
        dims = [s.dims for s in inputs]
        if len({len(d) for d in dims}) > 1 or axis >= len(dims[0]):
            raise LayerError(f"concat along axis {axis} needs tensors of more than {axis} dims, all of one rank, "
                             "got " + ", ".join(map(str, inputs)))
        if len({d[:axis] + d[axis + 1:] for d in dims}) > 1:
            raise LayerError(f"concat along axis {axis} needs the other dims to match, got " + ", ".join(map(str, inputs)))
        first = dims[0]
        return dims_shape(first[:axis] + (sum(d[axis] for d in dims),) + first[axis + 1:])

    def describe(self) -> str:
        return "CONCAT" if self.axis is None else f"CONCAT axis {self.axis}"


@value
class ConcatTokens(Merge):
    """Concatenation along a token sequence: sequences of the same channels, lengths add up.

    PyTorch's ``torch.cat(..., dim=1)`` on N×L×C; a learned class token is this with a sequence
    of one (``clstoken`` counts it as one layer)."""

    family: ClassVar[str] = "seqcat"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if any(s.rank != 1 for s in inputs) or len({s.channels for s in inputs}) > 1:
            raise LayerError("seqcat needs token sequences (LxC) of the same channels, got "
                             + ", ".join(map(str, inputs)), hint="make a grid a sequence with 'tokens' first")
        return Concat.along(inputs, 0)

    def describe(self) -> str:
        return "CONCAT TOKENS"


@value
class MatMul(Merge):
    """Matrix product of two tensors: ``(…, M, K) @ (…, K, N) → (…, M, N)``, batch·M·K·N MACs.

    As PyTorch's ``a @ b`` (``torch.matmul``) and ONNX's MatMul: the last two dims multiply, the
    dims before them broadcast (each pair equal, or one of them 1). Attention written out in a
    model file is two of them: ``Q·Kᵀ`` and ``A·V``.

    Params: 0 (both operands are activations; an activation times a weight is ``fc``/``pwlinear``).
    MACs: ``batch · M · K · N``, ``batch`` the product of the broadcast dims: each output element
    sums K products. The same count as the ``attention`` rule's ``L²·C`` for each of its products.
    """

    family: ClassVar[str] = "matmul"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if len(inputs) != 2:
            raise LayerError(f"matmul multiplies two tensors, got {len(inputs)}")
        a, b = inputs
        if a.rank == 0 or b.rank == 0:
            raise LayerError(f"matmul needs two dims or more on each side (…xMxK @ …xKxN), got {a} and {b}")
        if a.channels != b.spatial[-1]:
            raise LayerError(f"matmul needs the last dim of the first ({a.channels}) to equal the second to last "
                             f"of the second ({b.spatial[-1]}), got {a} and {b}")
        return Shape((*broadcast(a.spatial[:-1], b.spatial[:-1], a, b), a.spatial[-1]), b.channels)

    def merge_macs(self, inputs: Tuple[Shape, ...]) -> int:
        a, b = inputs
        out = self.merge(inputs)
        return math.prod(out.spatial) * a.channels * b.channels

    def describe(self) -> str:
        return "MATMUL"


def broadcast(p: Tuple[int, ...], q: Tuple[int, ...], a: Shape, b: Shape) -> Tuple[int, ...]:
    """NumPy's broadcasting of the leading dims: aligned from the right, each pair equal or one 1."""
    n = max(len(p), len(q))
    p, q = (1,) * (n - len(p)) + p, (1,) * (n - len(q)) + q
    if any(i != j and 1 not in (i, j) for i, j in zip(p, q)):
        raise LayerError(f"matmul cannot broadcast the leading dims of {a} and {b}")
    return tuple(max(i, j) for i, j in zip(p, q))


MERGES: Dict[str, Type[Merge]] = {"add": Add, "sum": Add, "residual": Add, "mul": Mul, "multiply": Mul,
                                  "concat": Concat, "cat": Concat, "seqcat": ConcatTokens,
                                  "matmul": MatMul, "bmm": MatMul}
