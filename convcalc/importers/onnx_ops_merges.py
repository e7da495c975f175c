"""The translators of ONNX's operators of two operands. Two activations are a merge of named
tensors: Add, Sum, Mul and Concat a block of convcalc's rule (add, mul, concat), MatMul
(attention's Q·Kᵀ and A·V) a ``matmul``. An activation and a constant is one layer: a MatMul by
a weight ``fc`` (``pwlinear`` on tokens), a bias added after it folded into it, a scale or shift
``identity``, ``layerscale`` or ``posembed``, a class token put before a sequence ``clstoken``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..errors import LayerError
from ..layers import Add, Concat, MatMul, Merge, Mul, dims_shape
from ..spec.model import BlockSpec, FromSpec, LayerSpec
from .onnx_checks import WeightChecks, per_unit

MERGES = {"Add": Add, "Sum": Add, "Mul": Mul, "Concat": Concat}


class MergeOps(WeightChecks):
    """Merges (two activations) and an activation with a constant: (kind, options) to emit, or
    None when handled."""

    def merge(self, node: Any, acts: Sequence[str]) -> None:
        rule: Merge = MERGES[node.op_type]()
        if node.op_type == "Concat":
            axis = int(self.attrs().get("axis", 1))
            rank = len(self.shapes.get(acts[0], [])) or 4
            if len({a in self.plain for a in acts}) > 1:
                return self.unknown(node, acts[0])  # a grid joined to a tensor laid out channels last
            if axis % rank != self.channel_axis(acts[0]):  # along another axis (a roll's halves)
                src = self.layout_in(acts[0])
                at = src[2][axis % rank] if src is not None else None
                if at is None:
                    return self.unknown(node, acts[0])
                rule = Concat(axis=at)
        if len(acts) < len([i for i in node.input if i]):  # a constant among the operands
            return self.unknown(node, acts[0])
        name = self.fresh()
        self.out.append(BlockSpec(tuple((FromSpec(self.refs[a]),) for a in acts), rule, name))
        self.made(name)

    def op_MatMul(self, node: Any, x: str) -> Any:
        if len(node.input) == 2 and all(i in self.refs for i in node.input):
            return self.product(node, x)
        w = self.dims(node.input[1])
        if node.input[0] != x or w is None or len(w) != 2:  # a weight of another rank
            return self.unknown(node, x)
        self.check_product(node, x, w, trans_b=False)
        if x in self.plain and len(self.plain[x][1]) > 1:  # nn.Linear on each token: nothing flattened
            return "pwlinear", {"units": w[1], "bias": False}
        return "fc", {"units": w[1], "bias": False}

    def product(self, node: Any, x: str) -> Any:
        """MatMul of two activations (attention's Q·Kᵀ and A·V): convcalc's ``matmul`` of the two."""
        a, b = node.input
        la, lb = self.layout_in(a), self.layout_in(b)
        if la is None or lb is None or a not in self.plain or b not in self.plain:
            return self.unknown(node, x)
        try:
            y = MatMul().merge((dims_shape(la[1]), dims_shape(lb[1])))
        except LayerError:
            return self.unknown(node, x)
        o, out = node.output[0], self.static_dims(node.output[0])
        if out is None:
            return self.unknown(node, x)
        if out == y.dims:
            self.plain[o] = (None, y.dims)
        else:
            axis = next((i for i in range(len(out)) if out[i] == (self.batch or 1)
                         and out[:i] + out[i + 1:] == y.dims), None)
            if axis is None:
                return self.unknown(node, x)
            self.plain[o] = (axis, y.dims)
        name = self.fresh()
        self.out.append(BlockSpec(((FromSpec(self.refs[a]),), (FromSpec(self.refs[b]),)), MatMul(), name))
        self.made(name)
        return None

    def op_Concat(self, node: Any, x: str) -> Any:
        """A learned token put before a sequence (ViT's class token, expanded to the batch): the one
        activation second, the constant's sequence one long: ``clstoken``."""
        other = node.input[0]
        dims = self.dims(other) or self.static_dims(other)
        axis = int(self.attrs().get("axis", 1))
        if (len(node.input) == 2 and node.input[1] == x and x in self.plain and self.plain[x][0] == 0
                and len(self.plain[x][1]) == 2 and axis % 3 == 1 and dims is not None and dims[1:] == (1, self.plain[x][1][1])):
            return "clstoken", {}
        return self.unknown(node, x)

    def op_Add(self, node: Any, x: str) -> Any:
        """An activation plus a constant: a MatMul's bias (folded into its fc), or a shift."""
        other = next(i for i in node.input if i != x)
        ref = self.refs[x]
        spec = self.out[self.at[ref]] if ref in self.at else None
        if (isinstance(spec, LayerSpec) and spec.layer.kind in ("fc", "pwlinear") and not getattr(spec.layer, "bias", True)
                and self.consumers.get(x) == 1 and self.dims(other) is not None
                and per_unit(self.dims(other) or ()) == (getattr(spec.layer, "units", 0),)):
            from ..values import replace

            self.out[self.at[ref]] = replace(spec, layer=replace(spec.layer, bias=True))
            self.refs[node.output[0]] = ref
            return None
        return self.scalar_op(node, x, other)

    def scalar_op(self, node: Any, x: str, other: str) -> Any:
        """An activation and a constant: one number (x·s, x + s: no parameters); a learned scale per
        channel (``layerscale``) or a learned addend of the tensor's shape (``posembed``)."""
        dims = self.dims(other)
        if dims is None and other in self.static:  # computed from shapes (1/√d in a traced export)
            recorded = self.shapes.get(other)
            if recorded is not None and None not in recorded and math.prod(int(d or 0) for d in recorded) == 1:
                return "identity", {}
        if dims is not None and math.prod(dims) == 1:
            return "identity", {}
        if dims is None:
            return self.unknown(node, x)
        if node.op_type == "Mul" and self.per_channel(x, dims):
            return "layerscale", {}
        src = self.layout_in(x)
        if node.op_type == "Add" and x in self.plain and src is not None and tuple(dims[len(dims) - len(src[1]):]) \
                == src[1] and set(dims[:len(dims) - len(src[1])]) <= {1}:
            return "posembed", {}
        return self.unknown(node, x)

    def op_Mul(self, node: Any, x: str) -> Any:
        return self.scalar_op(node, x, next(i for i in node.input if i != x))

    op_Sub = op_Div = op_Mul
