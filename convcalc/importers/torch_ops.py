"""The translators of aten's operators into convcalc's layer kinds, one method each, for
torch_export.py's walk (``OPS``: the operator's name -> its method). A translator makes its rows
through the walk (``layer``, ``merge``, ``alias``), or raises Mismatch when convcalc's rule
cannot say exactly what the operator does: it is then an ``unknown`` row with its recorded shape.

What each becomes: convolutions ``conv``/``convtranspose`` (groups, dilation; an asymmetric
padding is the ``pad`` row aten records before it), ``linear`` ``fc`` on a vector and
``pwlinear`` on tokens, norms ``batchnorm``/``layernorm``/``groupnorm``, pools, activations,
``dropout``; two activations added, multiplied or concatenated a block of ``add``/``mul``/
``concat``, ``matmul``/``bmm`` convcalc's ``matmul``; ``scaled_dot_product_attention`` its two
products (``Q·Kᵀ``, a ``softmax``, ``·V``) as ``matmul`` rows, the projections around it being
the module's own ``linear`` rows: the same count as convcalc's ``attention``, row by row. An
activation and a constant: a learned scale per channel ``layerscale``, a learned tensor added
``posembed``, a class token put first ``clstoken``, any other learned tensor a ``parameter`` row
(its elements counted), a number an ``elementwise`` row. Views (view, reshape, flatten,
squeeze, select, slice, chunk, split) are ``reshape``, ``flatten``, ``take``, ``slice`` and
``chunk`` rows, and ``mean`` over any dims a ``globalavgpool`` of the dims it averages.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from ..layers import Add, Concat, MatMul, Mul, dims_shape
from ..spec.model import BlockSpec, FromSpec, RawOption, make_layer
from .torch_graph import Held, Mismatch, ProgramState, find_batch, in_order, short_op

ACTIVATIONS = {"relu": "relu", "relu6": "relu6", "gelu": "gelu", "silu": "silu", "sigmoid": "sigmoid",
               "tanh": "tanh", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "leaky_relu": "leakyrelu",
               "elu": "elu", "selu": "selu", "mish": "mish", "softplus": "softplus"}
SAME = ("alias", "contiguous", "clone", "detach", "lift_fresh_copy", "_to_copy", "to", "type_as")
VIEWS = ("view", "reshape", "_unsafe_view", "unflatten", "squeeze", "unsqueeze", "flatten")
BINARY = ("add", "mul", "sub", "div", "rsub")

OPS: Dict[str, str] = {
    **{op: "op_activation" for op in (*ACTIVATIONS, "hardtanh")},
    **{op: "op_same" for op in SAME},
    **{op: "op_view" for op in VIEWS},
    **{op: "op_binary" for op in BINARY},
    "conv1d": "op_conv", "conv2d": "op_conv", "conv3d": "op_conv", "convolution": "op_conv",
    "conv_transpose1d": "op_conv", "conv_transpose2d": "op_conv", "conv_transpose3d": "op_conv",
    "linear": "op_linear", "addmm": "op_addmm",
    "batch_norm": "op_batch_norm", "_native_batch_norm_legit_no_training": "op_batch_norm",
    "_native_batch_norm_legit": "op_batch_norm", "native_batch_norm": "op_batch_norm",
    "layer_norm": "op_layer_norm", "native_layer_norm": "op_layer_norm",
    "group_norm": "op_group_norm", "native_group_norm": "op_group_norm",
    "max_pool1d": "op_pool", "max_pool2d": "op_pool", "max_pool3d": "op_pool", "max_pool2d_with_indices": "op_pool",
    "avg_pool1d": "op_pool", "avg_pool2d": "op_pool", "avg_pool3d": "op_pool",
    "adaptive_avg_pool1d": "op_adaptive", "adaptive_avg_pool2d": "op_adaptive", "adaptive_avg_pool3d": "op_adaptive",
    "_adaptive_avg_pool2d": "op_adaptive", "adaptive_max_pool2d": "op_adaptive",
    "dropout": "op_dropout", "native_dropout": "op_dropout", "feature_dropout": "op_dropout",
    "softmax": "op_softmax", "_softmax": "op_softmax",
    "mean": "op_mean", "cat": "op_cat", "concat": "op_cat",
    "matmul": "op_matmul", "bmm": "op_matmul", "mm": "op_matmul",
    "scaled_dot_product_attention": "op_attention",
    "permute": "op_permute", "transpose": "op_permute", "t": "op_permute", "swapaxes": "op_permute",
    "select": "op_select", "slice": "op_slice",
    "chunk": "op_split", "split": "op_split", "split_with_sizes": "op_split", "unbind": "op_split",
    "getitem": "op_getitem",
    "pad": "op_pad", "constant_pad_nd": "op_pad",
    "upsample_nearest1d": "op_upsample", "upsample_nearest2d": "op_upsample", "upsample_nearest3d": "op_upsample",
    "upsample_bilinear2d": "op_upsample", "upsample_bicubic2d": "op_upsample", "upsample_linear1d": "op_upsample",
    "upsample_trilinear3d": "op_upsample",
    "roll": "op_elementwise", "expand": "op_expand",
}


def arg(node: Any, i: int, name: str, default: Any = None) -> Any:
    """The operator's argument ``i`` (or keyword ``name``), ``default`` when not given."""
    if i < len(node.args):
        return node.args[i]
    return node.kwargs.get(name, default)


def ints(v: Any, rank: int, default: int) -> List[int]:
    """An int or a list of ints, one per axis; [] (aten's 'as the kernel') gives ``default``."""
    if v is None or v == []:
        return [default] * rank
    if isinstance(v, int):
        return [v] * rank
    out = [int(i) for i in v]
    return out * rank if len(out) == 1 else out


class TorchOps(ProgramState):
    """Mixin of the walk (torch_export._Program): one method per operator."""

    def mismatch(self, why: str) -> Exception:
        return Mismatch(why)

    def is_act(self, a: Any) -> bool:
        return hasattr(a, "name") and a.name in self.held

    def cc_axis(self, h: Held, dim: int) -> Optional[int]:
        """The convcalc dim aten's axis ``dim`` is (None: the batch)."""
        return h.axes[dim % len(h.dims)]

    # --- one activation in, one out: the same layout ---------------------------------------

    def op_same(self, node: Any, acts: Sequence[Any]) -> None:
        self.alias(node, self.held[acts[0].name])

    def op_activation(self, node: Any, acts: Sequence[Any]) -> None:
        op = self.op(node)
        x = self.held[acts[0].name]
        if op == "hardtanh":
            lo, hi = arg(node, 1, "min_val", -1.0), arg(node, 2, "max_val", 1.0)
            if (lo, hi) != (0.0, 6.0):
                return self.elementwise(node, x, "hardtanh")
            op = "relu6"
        self.layer(node, ACTIVATIONS[op], {}, x)

    def op_elementwise(self, node: Any, acts: Sequence[Any]) -> None:
        self.elementwise(node, self.held[acts[0].name], self.op(node))

    def elementwise(self, node: Any, x: Held, op: str, suffix: str = "") -> None:
        if self.dims_of(node) != x.dims:
            raise self.mismatch("an element-wise operator that changes the shape")
        self.layer(node, "elementwise", {"op": op}, x, suffix=suffix)

    def op_dropout(self, node: Any, acts: Sequence[Any]) -> None:
        p = arg(node, 1, "p", 0.5)
        self.layer(node, "dropout", {"p": float(p)}, self.held[acts[0].name])

    def op_softmax(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "aten")
        if arg(node, 1, "dim") % len(x.dims) != len(x.dims) - 1:
            return self.elementwise(node, x, "softmax")
        self.layer(node, "softmax", {}, x)

    def op_expand(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.held[acts[0].name]
        if self.dims_of(node) != x.dims:
            raise self.mismatch("an activation expanded")
        self.alias(node, x)

    # --- weights ----------------------------------------------------------------------------

    def op_conv(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "grid")
        w, b = arg(node, 1, "weight"), arg(node, 2, "bias")
        if self.is_act(w) or w is None or w.name not in self.param_dims:
            raise self.mismatch("a conv whose weight is not a parameter")
        wd = self.param_dims[w.name]
        rank = len(wd) - 2
        op = self.op(node)
        transposed = op.startswith("conv_transpose") or (op == "convolution" and bool(arg(node, 6, "transposed")))
        if op == "convolution":
            stride, padding, dilation = arg(node, 3, "stride"), arg(node, 4, "padding"), arg(node, 5, "dilation")
            out_pad, groups = arg(node, 7, "output_padding"), arg(node, 8, "groups", 1)
        elif transposed:
            stride, padding, out_pad = arg(node, 3, "stride"), arg(node, 4, "padding"), arg(node, 5, "output_padding")
            groups, dilation = arg(node, 6, "groups", 1), arg(node, 7, "dilation")
        else:
            stride, padding = arg(node, 3, "stride"), arg(node, 4, "padding")
            dilation, groups, out_pad = arg(node, 5, "dilation"), arg(node, 6, "groups", 1), None
        options: Dict[str, Any] = {"kernel": list(wd[2:]), "stride": ints(stride, rank, 1),
                                   "dilation": ints(dilation, rank, 1), "groups": int(groups or 1),
                                   "bias": b is not None}
        options["padding"] = padding if isinstance(padding, str) else ints(padding, rank, 0)
        if transposed:
            options["filters"] = wd[1] * int(groups or 1)
            options["output_padding"] = ints(out_pad, rank, 0)
            return void(self.layer(node, "convtranspose", options, x, params=(w, b)))
        options["filters"] = wd[0]
        self.layer(node, "conv", options, x, params=(w, b))

    def op_linear(self, node: Any, acts: Sequence[Any]) -> None:
        w, b = arg(node, 1, "weight"), arg(node, 2, "bias")
        if acts[0] is not node.args[0] or w is None or self.is_act(w) or w.name not in self.param_dims:
            raise self.mismatch("a linear whose weight is not a parameter")
        self.linear(node, acts[0], self.param_dims[w.name][0], w, b)

    def linear(self, node: Any, a: Any, units: int, w: Any, b: Any) -> None:
        x = self.want(a, "aten")
        kind = "fc" if len(x.cc) == 1 else "pwlinear"
        self.layer(node, kind, {"units": units, "bias": b is not None}, x, same=False, params=(w, b))

    def op_addmm(self, node: Any, acts: Sequence[Any]) -> None:
        """``addmm(bias, x, wᵀ)``: a linear, as decomposed programs write it (the weight's
        transpose is a constant, made of the weight)."""
        b, a, wt = node.args[:3]
        if not self.is_act(a) or self.is_act(wt) or self.is_act(b):
            raise self.mismatch("addmm of two activations")
        sources = [p for p in self.params if self.params[p] in self.derived.get(wt.name, set())]
        bias = [p for p in self.params if self.params[p] in self.derived.get(getattr(b, "name", ""), set())]
        w = self.by_name[sources[0]] if sources else None
        bn = self.by_name[bias[0]] if bias else None
        self.linear(node, a, self.dims_of(node)[-1], w, bn)

    def op_batch_norm(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "grid")
        w, b = arg(node, 1, "weight"), arg(node, 2, "bias")
        self.layer(node, "batchnorm", {"affine": w is not None}, x, params=(w, b))

    def op_layer_norm(self, node: Any, acts: Sequence[Any]) -> None:
        shape, w, b = arg(node, 1, "normalized_shape"), arg(node, 2, "weight"), arg(node, 3, "bias")
        if len(shape) != 1:
            raise self.mismatch("a layer norm over more than the last dim")
        x = self.want(acts[0], "aten")
        self.layer(node, "layernorm", {"affine": w is not None, "bias": b is not None or w is None}, x, params=(w, b))

    def op_group_norm(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "grid")
        if self.op(node) == "native_group_norm":
            w, b, groups = arg(node, 1, "weight"), arg(node, 2, "bias"), arg(node, 6, "group")
        else:
            groups, w, b = arg(node, 1, "num_groups"), arg(node, 2, "weight"), arg(node, 3, "bias")
        self.layer(node, "groupnorm", {"groups": int(groups), "affine": w is not None,
                                       "bias": b is not None or w is None}, x, params=(w, b))

    # --- pools and resizing -----------------------------------------------------------------

    def op_pool(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "grid")
        rank = len(x.dims) - 2
        kernel = ints(arg(node, 1, "kernel_size"), rank, 1)
        options: Dict[str, Any] = {"kernel": kernel, "stride": ints(arg(node, 2, "stride"), rank, 0) or kernel}
        if options["stride"] == [0] * rank:
            options["stride"] = kernel
        options["padding"] = ints(arg(node, 3, "padding"), rank, 0)
        if self.op(node).startswith("max"):
            options["dilation"] = ints(arg(node, 4, "dilation"), rank, 1)
            options["ceil_mode"] = bool(arg(node, 5, "ceil_mode", False))
            kind = "maxpool"
        else:
            options["ceil_mode"] = bool(arg(node, 4, "ceil_mode", False))
            if not arg(node, 5, "count_include_pad", True) and any(options["padding"]) or arg(node, 6, "divisor_override"):
                raise self.mismatch("an average pool that divides by other than its window")
            kind = "avgpool"
        self.layer(node, kind, options, x)

    def op_adaptive(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "grid")
        kind = "adaptivemaxpool" if "max" in self.op(node) else "adaptiveavgpool"
        self.layer(node, kind, {"output": list(self.dims_of(node)[2:])}, x)

    def op_upsample(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.want(acts[0], "grid")
        mode = self.op(node).split("_")[1].rstrip("123d")
        self.layer(node, "upsample", {"size": list(self.dims_of(node)[2:]), "mode": mode}, x)

    def op_pad(self, node: Any, acts: Sequence[Any]) -> None:
        """F.pad's list runs from the last axis back, (before, after) for each."""
        x = self.held[acts[0].name]
        pads = [int(p) for p in arg(node, 1, "pad")]
        mode = arg(node, 2, "mode", "constant") if self.op(node) == "pad" else "constant"
        if not any(pads):
            return self.alias(node, x)
        if mode != "constant" or any(p < 0 for p in pads):
            raise self.mismatch("a pad that is not of zeros")
        before, after = [0] * (len(x.cc) - 1), [0] * (len(x.cc) - 1)
        for k in range(len(pads) // 2):
            at = self.cc_axis(x, -1 - k)
            if pads[2 * k] or pads[2 * k + 1]:
                if at is None or at == len(x.cc) - 1:
                    raise self.mismatch("a pad of the channels or the batch")
                before[at], after[at] = pads[2 * k], pads[2 * k + 1]
        self.layer(node, "pad", {"padding": before, "after": after}, x)

    # --- two operands -----------------------------------------------------------------------

    def op_binary(self, node: Any, acts: Sequence[Any]) -> None:
        op = self.op(node)
        operands = [a for a in node.args[:2]]
        if len(acts) == 2 and all(self.is_act(a) for a in operands):
            if op not in ("add", "mul"):
                raise self.mismatch(f"{op} of two activations")
            first = self.held[operands[0].name]
            second = self.in_layout(operands[1], first)
            self.merge(node, Add() if op == "add" else Mul(), (first, second))
            return
        x_node = acts[0]
        x = self.held[x_node.name]
        other: Any = next((a for a in operands if a is not x_node), None)
        if self.dims_of(node) != x.dims:
            raise self.mismatch("a constant that broadcasts the activation")
        if not hasattr(other, "name"):  # a number
            return self.elementwise(node, x, op)
        made = self.derived.get(other.name, set()) | ({self.params[other.name]} if other.name in self.params else set())
        if not made:
            return self.elementwise(node, x, op)
        dims = self.dims_of(other)
        if op == "mul" and other.name in self.params and self.per_channel(x, dims):
            return void(self.layer(node, "layerscale", {}, x, params=(other,)))
        if op == "add" and other.name in self.params and self.whole(x, dims):
            return void(self.layer(node, "posembed", {}, x, params=(other,)))
        for p in [q for q in self.params if self.params[q] in made]:  # Swin's relative position bias table
            pn = self.by_name[p]
            x = self.layer(node, "parameter", {"shape": list(self.param_dims[p])}, x, suffix=f".{self.params[p]}",
                           params=(pn,))
            x = type(x)(x.ref, self.held[x_node.name].dims, self.held[x_node.name].axes)
        self.elementwise(node, x, op)

    def per_channel(self, x: Held, dims: Sequence[int]) -> bool:
        """A constant of one value per channel of ``x`` as aten broadcasts it (right-aligned)."""
        c = len(x.cc) - 1
        shaped = (1,) * (len(x.dims) - len(dims)) + tuple(dims)
        return all(d == (x.dims[i] if x.axes[i] == c else 1) for i, d in enumerate(shaped))

    def whole(self, x: Held, dims: Sequence[int]) -> bool:
        """A constant of the sample's shape (leading 1s aside), in aten's order = convcalc's."""
        trimmed = tuple(dims)
        while trimmed and trimmed[0] == 1 and len(trimmed) > len(x.cc):
            trimmed = trimmed[1:]
        return trimmed == x.cc and list(a for a in x.axes if a is not None) == sorted(a for a in x.axes if a is not None)

    def in_layout(self, a: Any, like: Held) -> Held:
        """Activation ``a`` in ``like``'s layout, permuted when held otherwise."""
        h = self.held[a.name]
        if h.axes == like.axes or h.dims != like.dims:
            return h
        order = [0] * len(h.cc)
        for cur, tgt in zip(h.axes, like.axes):
            if cur is not None and tgt is not None:
                order[tgt] = cur
        moved = type(h)(self.permute(h.ref, order), h.dims, like.axes)
        self.held[a.name] = moved
        return moved

    def op_cat(self, node: Any, acts: Sequence[Any]) -> None:
        tensors, dim = arg(node, 0, "tensors"), arg(node, 1, "dim", 0)
        if all(self.is_act(t) for t in tensors):
            first = self.held[tensors[0].name]
            xs = [first] + [self.in_layout(t, first) for t in tensors[1:]]
            at = self.cc_axis(first, dim)
            if at is None:
                raise self.mismatch("a cat along the batch")
            self.merge(node, Concat() if at == len(first.cc) - 1 else Concat(axis=at), xs)
            return
        # ViT's class token: cat([token.expand(N, -1, -1), x], dim=1)
        if len(tensors) == 2 and self.is_act(tensors[1]) and not self.is_act(tensors[0]):
            x = self.want(tensors[1], "aten")
            made = self.derived.get(tensors[0].name, set())
            token = [p for p in self.params if self.params[p] in made]
            if len(x.cc) == 2 and x.batch == 0 and dim % 3 == 1 and len(token) == 1 \
                    and math.prod(self.param_dims[token[0]]) == x.cc[1]:
                pn = self.by_name[token[0]]
                return void(self.layer(node, "clstoken", {}, x, params=(pn,)))
        raise self.mismatch("a cat with a constant")

    def op_matmul(self, node: Any, acts: Sequence[Any]) -> None:
        a, b = node.args[:2]
        if not (self.is_act(a) and self.is_act(b)):
            w = b if self.is_act(a) else None
            if w is None or w.name not in self.param_dims or len(self.param_dims[w.name]) != 2:
                raise self.mismatch("a product with a constant that is not a weight")
            x = self.want(a, "aten")
            kind = "fc" if len(x.cc) == 1 else "pwlinear"
            return void(self.layer(node, kind, {"units": self.param_dims[w.name][1], "bias": False}, x,
                                   same=False, params=(w,)))
        ha, hb = self.want(a, "aten"), self.want(b, "aten")
        self.merge(node, MatMul(), (ha, hb))

    def op_attention(self, node: Any, acts: Sequence[Any]) -> None:
        """``softmax(Q·Kᵀ·scale + mask)·V``: the two products as ``matmul`` rows (the module's
        projections are rows of their own), the softmax between them."""
        q, k, v = node.args[:3]
        if not all(self.is_act(t) for t in (q, k, v)) or self.is_act(arg(node, 3, "attn_mask")):
            raise self.mismatch("attention on a constant, or with a computed mask")
        hq, hk, hv = self.want(q, "aten"), self.want(k, "aten"), self.want(v, "aten")
        r = len(hk.cc)
        kt = self.permute(hk.ref, [*range(r - 2), r - 1, r - 2], ".kT")
        scores = MatMul().merge((dims_shape(hq.cc), dims_shape((*hk.cc[:-2], hk.cc[-1], hk.cc[-2]))))
        self.block(MatMul(), (hq.ref, kt), ".qk")
        probs = self.add_layer(make_softmax(), self.last, ".softmax")
        self.block(MatMul(), (probs, hv.ref), "")
        y = MatMul().merge((scores, dims_shape(hv.cc)))
        axes = self.settle(node, y.dims)
        self.held[node.name] = Held(self.last, self.dims_of(node), axes)

    def block(self, rule: Any, refs: Sequence[str], suffix: str) -> None:
        name = self.fresh(suffix)
        self.out.append(BlockSpec(tuple((FromSpec(r),) for r in refs), rule, name))
        self.last = name

    # --- views ------------------------------------------------------------------------------

    def op_permute(self, node: Any, acts: Sequence[Any]) -> None:
        """Only the map from aten's axes to convcalc's dims changes: no row (one is made where a
        reader needs another order)."""
        x = self.held[acts[0].name]
        r = len(x.dims)
        op = self.op(node)
        if op == "permute":
            order = [int(d) % r for d in arg(node, 1, "dims")]
        else:
            d0, d1 = (0, 1) if op == "t" else (int(arg(node, 1, "dim0")) % r, int(arg(node, 2, "dim1")) % r)
            order = list(range(r))
            order[d0], order[d1] = order[d1], order[d0]
        self.alias(node, x, tuple(x.axes[i] for i in order))

    def op_view(self, node: Any, acts: Sequence[Any]) -> None:
        """A view in aten's order: a ``reshape`` row of the sample's dims (the batch of one is
        wherever an axis of 1 is left), none when the sample's dims stay; a flatten of everything
        after the batch convcalc's ``flatten`` (the fc after it counts the same)."""
        x = self.held[acts[0].name]
        dims = self.dims_of(node)
        op = self.op(node)
        if op == "flatten" and x.batch == 0 and len(dims) == 2 and arg(node, 1, "start_dim", 0) in (1, -len(x.dims) + 1):
            if len(x.cc) == 1:
                return self.alias(node, x)
            return void(self.layer(node, "flatten", {}, x, same=False))
        x = self.want(acts[0], "aten")
        batch = dims.index(1) if 1 in dims else None
        cc = tuple(d for i, d in enumerate(dims) if i != batch)
        if cc == x.cc:
            return self.alias(node, x, in_order(dims, batch))
        if find_batch(dims, cc) == -1 or not cc:
            raise self.mismatch("a view to no dims")
        self.layer(node, "reshape", {"to": list(cc)}, x, same=False)

    def op_select(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.held[acts[0].name]
        dim, index = int(arg(node, 1, "dim")) % len(x.dims), int(arg(node, 2, "index"))
        at = x.axes[dim]
        if at is None:  # the batch's only sample
            rest = x.axes[:dim] + x.axes[dim + 1:]
            return self.alias(node, x, rest)
        index %= x.dims[dim]
        axes = tuple(None if a is None else a - (a > at) for i, a in enumerate(x.axes) if i != dim)
        self.layer(node, "take", {"axis": at, "index": index}, x, axes=axes)

    def op_slice(self, node: Any, acts: Sequence[Any]) -> None:
        x = self.held[acts[0].name]
        dim = int(arg(node, 1, "dim", 0)) % len(x.dims)
        size = x.dims[dim]
        start, end, step = arg(node, 2, "start"), arg(node, 3, "end"), int(arg(node, 4, "step", 1) or 1)
        start = 0 if start is None else max(0, min(size, start + size if start < 0 else start))
        end = size if end is None else max(0, min(size, end + size if end < 0 else end))
        if (start, end, step) == (0, size, 1):
            return self.alias(node, x)
        at = x.axes[dim]
        if at is None:
            raise self.mismatch("a slice of the batch")
        self.layer(node, "slice", {"axis": at, "start": start, "stop": end, "step": step}, x)

    def op_split(self, node: Any, acts: Sequence[Any]) -> None:
        """chunk, split, unbind: remembered; each part taken (getitem) is a row."""
        x = self.held[acts[0].name]
        op = self.op(node)
        sizes = [self.dims_of(node, i) for i in range(len(node.meta.get("val") or ()))]
        dim = int(arg(node, 1, "dim", 0)) if op == "unbind" else int(arg(node, 2, "dim", 0))
        dim %= len(x.dims)
        spans, at = [], 0
        for s in sizes:
            n = 1 if op == "unbind" else s[dim]
            spans.append((at, at + n))
            at += n
        self.parts[node.name] = (acts[0], dim, spans, op == "unbind")
        self.held[node.name] = x  # for the walk's bookkeeping: the parts are taken by getitem

    def op_getitem(self, node: Any, acts: Sequence[Any]) -> None:
        parent, index = node.args[0], int(node.args[1])
        if parent.name not in self.parts:  # a batch norm's or a pool's results: the first is the tensor
            if index == 0:
                self.alias(node, self.held[parent.name])
            else:  # running statistics, a max pool's indices: not activations
                self.derived[node.name] = set()
            return
        src, dim, spans, unbind = self.parts[parent.name]
        x = self.held[src.name]
        at = x.axes[dim]
        if at is None:
            raise self.mismatch("a part of the batch")
        start, stop = spans[index]
        if unbind:
            axes = tuple(None if a is None else a - (a > at) for i, a in enumerate(x.axes) if i != dim)
            self.layer(node, "take", {"axis": at, "index": start}, x, axes=axes)
        elif at == len(x.cc) - 1 and len({b - a for a, b in spans}) == 1:
            self.layer(node, "chunk", {"chunks": len(spans), "index": index}, x)
        else:
            self.layer(node, "slice", {"axis": at, "start": start, "stop": stop}, x)

    def op_mean(self, node: Any, acts: Sequence[Any]) -> None:
        """A mean over any dims: the dims it keeps made channels, the dims it averages a grid,
        a ``globalavgpool`` over that grid (a permute and a reshape on each side where needed)."""
        x = self.held[acts[0].name]
        r = len(x.dims)
        dims = arg(node, 1, "dim")
        over = sorted({int(d) % r for d in (dims if dims else range(r))})
        if any(x.axes[d] is None for d in over):
            raise self.mismatch("a mean over the batch")
        cc_over = sorted(int(x.axes[d] or 0) for d in over)
        c = len(x.cc) - 1
        if cc_over == list(range(c)):  # the grid's positions: one row
            y = self.layer(node, "globalavgpool", {}, x, suffix=".pool" if not arg(node, 2, "keepdim") else "")
        else:
            # the kept dims in aten's order, which the result has (N, C, W for a mean over H)
            kept = [int(a) for d, a in enumerate(x.axes) if d not in over and a is not None]
            order = [*cc_over, *kept]
            ref = self.permute(x.ref, order) if order != list(range(len(x.cc))) else x.ref
            n, m = math.prod(x.cc[i] for i in cc_over), math.prod(x.cc[i] for i in kept)
            shaped = self.add_layer(make_reshape([n, m]), ref, ".grid")
            y = self.layer(node, "globalavgpool", {}, type(x)(shaped, (1, n, m), (None, 0, 1)), suffix=".pool")
        out = self.dims_of(node)
        if arg(node, 2, "keepdim") and cc_over == list(range(c)):
            return
        keep = bool(arg(node, 2, "keepdim"))
        batch = None if x.batch is None else x.batch if keep else x.batch - sum(d < x.batch for d in over)
        cc = tuple(d for i, d in enumerate(out) if i != batch) or (1,)
        if cc != y.cc:
            self.layer(node, "reshape", {"to": list(cc)}, y, same=False)
        else:
            self.alias(node, y, in_order(out, batch))

    def op(self, node: Any) -> str:
        return short_op(node.target)


def make_softmax() -> Any:
    return make_layer("softmax", [], None)


def make_reshape(to: List[int]) -> Any:
    return make_layer("reshape", [RawOption("to", to)], None)


def void(_: Any) -> None:
    return None
