"""The translators of ONNX's operators that are one layer of their own: Conv and ConvTranspose,
the pools, the normalisations, Gemm, PRelu and Clip, Softmax, Dropout, Resize, Pad, a mean over
a grid's spatial axes. ONNX's pads become convcalc's padding, or (``Asymmetric``) a ``pad``
layer before the layer.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..shape import same_padding
from .onnx_checks import WeightChecks

AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "")  # '' as NOTSET: some exporters write it empty


class Asymmetric(NamedTuple):
    """ONNX pads whose begin and end differ per axis (and are not 'same' written out)."""

    begin: List[int]
    end: List[int]


class LayerOps(WeightChecks):
    """Conv, the pools, the norms and the other operators that are one layer each."""

    # --- one method per operator: (kind, options), or None when handled -----------------

    def padding(self, a: Dict[str, Any], x: str, kernel: Sequence[int], stride: Sequence[int],
                dilation: Sequence[int]) -> Any:
        """ONNX pads ``[x1_begin, x2_begin, ..., x1_end, x2_end]`` or auto_pad, as convcalc's padding."""
        auto = self.word(a, "auto_pad", "NOTSET", AUTO_PAD)
        effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        if auto == "VALID":
            return 0
        size = self.spatial_dims(x)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            if auto == "SAME_LOWER" and (size is None or any(
                    sum(same_padding(w, f, s)) % 2 for w, f, s in zip(size, effective, stride))):
                raise self.fail("auto_pad SAME_LOWER with an odd total padding puts the extra pixel first, "
                                "which convcalc's 'same' (extra pixel last) cannot express")
            return "same"
        pads = [int(p) for p in a.get("pads", [0] * (2 * len(kernel)))]
        n = len(pads) // 2
        begin, end = pads[:n], pads[n:]
        if begin == end:
            return begin if len(set(begin)) > 1 else begin[0] if begin else 0
        if size is not None and all(same_padding(w, f, s) == (b, e)
                                    for w, f, s, b, e in zip(size, effective, stride, begin, end)):
            return "same"  # TensorFlow's 'same' written out: the odd pixel after
        if min(pads) < 0:
            raise self.fail(f"negative pads {pads}: a crop inside a conv or pool is not supported")
        return Asymmetric(begin, end)

    def padded(self, kind: str, options: Dict[str, Any], x: str) -> Any:
        """Asymmetric pads as a pad layer (before/after per axis) then the layer with padding 0.

        Shapes and counts are exactly those of the padded layer: a conv's MACs are every output
        position times its kernel, padded zeros included, as PyTorch and ONNX runtimes multiply
        them. A MaxPool pads with −∞, not zero, and an AveragePool (count_include_pad 0) leaves
        the padding out of its mean: the values differ, the shapes and counts do not. Ceil mode is
        refused: its rule that the last window starts inside the input or the *left* padding
        cannot be kept once the padding is a layer of its own."""
        pads = options["padding"]
        if not isinstance(pads, Asymmetric):
            return kind, options
        if options.get("ceil_mode"):
            raise self.fail(f"asymmetric pads (begin {pads.begin}, end {pads.end}) with ceil_mode: "
                            "convcalc cannot place the last window as ONNX does")
        self.emit("pad", {"padding": pads.begin, "after": pads.end}, x, ".pad")
        self.emit(kind, {**options, "padding": 0}, self.node.output[0])
        return None

    def weight(self, node: Any, what: str) -> Tuple[int, ...]:
        dims = self.dims(node.input[1]) if len(node.input) > 1 else None
        if dims is None:
            raise self.fail(f"its {what} is not an initializer of the file, so convcalc cannot size it",
                            hint="export with the weights as initializers (constants folded)")
        return dims

    def op_Conv(self, node: Any, x: str) -> Any:
        if len(node.input) > 1 and node.input[1] in self.refs:  # weights computed at run time
            return self.unknown(node, x)
        w = self.weight(node, "weight")
        a = self.attrs()
        self.check_conv(node, x, w, a, transposed=False)
        kernel = list(a.get("kernel_shape", w[2:]))
        stride = list(a.get("strides", [1] * len(kernel)))
        dilation = list(a.get("dilations", [1] * len(kernel)))
        return self.padded("conv", {"filters": w[0], "kernel": kernel, "stride": stride, "dilation": dilation,
                                    "padding": self.padding(a, x, kernel, stride, dilation),
                                    "groups": int(a.get("group", 1)), "bias": len(node.input) > 2 and bool(node.input[2])}, x)

    def op_ConvTranspose(self, node: Any, x: str) -> Any:
        w = self.weight(node, "weight")
        a = self.attrs()
        self.check_conv(node, x, w, a, transposed=True)
        group = int(a.get("group", 1))
        kernel = list(a.get("kernel_shape", w[2:]))
        if "output_shape" in a:
            raise self.fail("output_shape is not supported; convcalc needs pads and output_padding")
        auto = self.word(a, "auto_pad", "NOTSET", AUTO_PAD)
        if auto not in ("NOTSET", "VALID", ""):
            raise self.fail(f"auto_pad {auto!r} on ConvTranspose is not supported; give pads")
        pads = [int(p) for p in a.get("pads", [0] * (2 * len(kernel)))]
        n = len(pads) // 2
        stride = list(a.get("strides", [1] * len(kernel)))
        output_padding = list(a.get("output_padding", [0] * len(kernel)))
        dilation = list(a.get("dilations", [1] * len(kernel)))
        both = [min(b, e) for b, e in zip(pads[:n], pads[n:])]  # what it removes from both sides
        options = {"filters": w[1] * group, "kernel": kernel, "stride": stride, "padding": both or 0,
                   "output_padding": output_padding, "dilation": dilation, "groups": group,
                   "bias": len(node.input) > 2 and bool(node.input[2])}
        if pads[:n] == pads[n:]:
            return "convtranspose", options
        # Asymmetric: the transposed conv removing the common part, then a crop of the rest. Its
        # MACs are per input position whatever the padding, so the counts are the file's; the
        # crop is centred where ONNX removes more from one side: the values differ, not the sizes.
        size = self.spatial_dims(x)
        if size is None or len(size) != n:
            raise self.fail(f"asymmetric pads {pads} on an input of unknown size")
        out = [(i - 1) * s - b - e + d * (k - 1) + o + 1 for i, s, b, e, d, k, o in
               zip(size, stride, pads[:n], pads[n:], dilation, kernel, output_padding)]
        self.emit("convtranspose", options, x)
        self.emit("crop", {"size": out}, self.node.output[0], ".crop")
        return None

    def op_PRelu(self, node: Any, x: str) -> Any:
        """A learned negative slope: one per channel or one for all (a single value); any other
        slope is unknown."""
        self.check_slope(node, x)
        slope = self.dims(node.input[1]) if len(node.input) > 1 else None
        if slope is not None and math.prod(slope) == 1:
            return "prelu", {"shared": True}
        if slope is not None and self.per_channel(x, slope):
            return "prelu", {}
        return self.unknown(node, x)

    def op_InstanceNormalization(self, node: Any, x: str) -> Any:
        """Each channel normalised over its positions, with a learned scale and shift per channel:
        a group norm of one channel per group (2·C params)."""
        self.check_per_channel(node, x, ((1, "scale"), (2, "shift")))
        c = self.channels(x)
        return ("groupnorm", {"groups": c}) if c is not None and x not in self.plain else self.unknown(node, x)

    def op_Gemm(self, node: Any, x: str) -> Any:
        a = self.attrs()
        if node.input[0] != x or a.get("transA", 0) or node.input[1] in self.refs:
            return self.unknown(node, x)
        w = self.weight(node, "weight")
        units = self.check_product(node, x, w, bool(a.get("transB", 0)))
        self.check_bias(node, 2, units)
        kind = "pwlinear" if x in self.plain and len(self.plain[x][1]) > 1 else "fc"  # rows of positions
        return kind, {"units": units, "bias": len(node.input) > 2 and bool(node.input[2])}

    def op_LayerNormalization(self, node: Any, x: str) -> Any:
        rank = len(self.shapes.get(x, []))
        if int(self.attrs().get("axis", -1)) % max(rank, 1) == rank - 1 and (x in self.plain or rank == 2):
            self.check_per_channel(node, x, ((1, "scale"), (2, "shift")), axis=-1)
            return "layernorm", {}  # over the channels, the last axis of tokens or a vector
        return self.unknown(node, x)

    def pool(self, node: Any, x: str, kind: str) -> Any:
        a = self.attrs()
        kernel = list(a["kernel_shape"]) if "kernel_shape" in a else None
        if kernel is None:
            raise self.fail("has no kernel_shape")
        self.check_pool(x, kernel, a)
        stride = list(a.get("strides", [1] * len(kernel)))  # ONNX's default stride is 1, not the kernel
        dilation = list(a.get("dilations", [1] * len(kernel)))
        options = {"kernel": kernel, "stride": stride, "padding": self.padding(a, x, kernel, stride, dilation),
                   "ceil_mode": bool(a.get("ceil_mode", 0))}
        if dilation != [1] * len(kernel):
            options["dilation"] = dilation
        return self.padded(kind, options, x)

    def op_MaxPool(self, node: Any, x: str) -> Any:
        return self.pool(node, x, "maxpool")

    def op_AveragePool(self, node: Any, x: str) -> Any:
        return self.pool(node, x, "avgpool")

    def op_GlobalAveragePool(self, node: Any, x: str) -> Any:
        return "globalavgpool", {}

    def op_GlobalMaxPool(self, node: Any, x: str) -> Any:
        return "globalmaxpool", {}

    def op_BatchNormalization(self, node: Any, x: str) -> Any:
        self.check_per_channel(node, x, ((1, "scale"), (2, "shift"), (3, "mean"), (4, "variance")))
        return "batchnorm", {}

    def op_LRN(self, node: Any, x: str) -> Any:
        return "lrn", {"size": int(self.attrs()["size"])}

    def first_value(self, node: Any, i: int) -> Optional[float]:
        """The first value of constant input ``i``, or None when it is absent or not constant."""
        if len(node.input) <= i or not node.input[i]:
            return None
        values = self.values(node.input[i])
        return float(values[0]) if values else None

    def op_Clip(self, node: Any, x: str) -> Any:
        a = self.attrs()
        lo = a.get("min", self.first_value(node, 1))
        hi = a.get("max", self.first_value(node, 2))
        if lo == 0 and hi == 6:
            return "relu6", {}
        if lo == 0 and hi is None:
            return "relu", {}
        return self.unknown(node, x)

    def op_Softmax(self, node: Any, x: str) -> Any:
        return "softmax", {}

    op_LogSoftmax = op_Softmax

    def op_Dropout(self, node: Any, x: str) -> Any:
        ratio = self.attrs().get("ratio")
        if ratio is None:
            ratio = self.first_value(node, 1)
        return "dropout", {"p": 0.5 if ratio is None else float(ratio)}

    def op_Resize(self, node: Any, x: str) -> Any:
        a = self.attrs()
        mode = self.word(a, "mode", "nearest", ("nearest", "linear", "cubic", "bilinear"))  # bilinear: Upsample-1's
        rank = len(self.shapes.get(x, [])) - 2
        mode = {"nearest": "nearest", "linear": "bilinear" if rank == 2 else "linear" if rank == 1 else "trilinear",
                "cubic": "bicubic", "bilinear": "bilinear"}[mode]
        inputs = list(node.input)
        scales = None
        if "scales" in a:  # Upsample-7
            scales = [float(s) for s in a["scales"]]
        elif node.op_type == "Upsample" and len(inputs) > 1:
            scales = self.values(inputs[1])
        elif len(inputs) > 2 and inputs[2]:
            scales = self.values(inputs[2])
        sizes = self.values(inputs[3]) if len(inputs) > 3 and inputs[3] else None
        for what, given in (("scales", scales), ("sizes", sizes)):  # one per axis, or per axis of 'axes'
            if given and "axes" not in a and x in self.shapes and len(given) != rank + 2:
                raise self.fail(f"its {what} {[int(v) if float(v).is_integer() else v for v in given]} has "
                                f"{len(given)} values, where an input of rank {rank + 2} takes {rank + 2}",
                                hint="ONNX's own checker refuses this file too; export it again")
        if scales and len(scales) > 2:
            if scales[:2] != [1.0, 1.0]:
                return self.unknown(node, x)
            spatial = scales[2:]
            spatial = [int(s) if float(s).is_integer() else s for s in spatial]
            return "upsample", {"scale": spatial[0] if len(set(spatial)) == 1 else spatial, "mode": mode}
        size = [int(s) for s in sizes[2:]] if sizes and len(sizes) > 2 else self.spatial_dims(node.output[0])
        if size is None:
            raise self.fail("its scales or sizes are neither constants nor recorded, so shapes cannot continue")
        return "upsample", {"size": size, "mode": mode}

    op_Upsample = op_Resize

    def op_Pad(self, node: Any, x: str) -> Any:
        a = self.attrs()
        pads = a.get("pads")
        if pads is None and len(node.input) > 1:
            pads = self.values(node.input[1])
        if pads is None:
            raise self.fail("its pads are not a constant, so shapes cannot continue")
        pads = [int(p) for p in pads]
        dims = self.onnx_dims(x)
        if dims is not None and len(pads) != 2 * len(dims):  # every axis' begin, then every axis' end
            raise self.fail(f"pads {pads} has {len(pads)} values, where an input of rank {len(dims)} takes "
                            f"{2 * len(dims)} (every axis' begin, then every axis' end)",
                            hint="ONNX's own checker refuses this file too; export it again")
        n = len(pads) // 2
        begin, end = pads[:n], pads[n:]
        if begin[:2] != [0, 0] or end[:2] != [0, 0] or min(pads) < 0:
            return self.unknown(node, x)  # padding the batch or the channels, or cropping
        if begin != end:  # reflect and edge modes give the same shape as zeros
            return "pad", {"padding": begin[2:], "after": end[2:]}
        return "pad", {"padding": begin[2:] if len(set(begin[2:])) > 1 else begin[2]}

    def op_ReduceMean(self, node: Any, x: str) -> Any:
        """A mean (a max) over any axes but the batch: over every spatial axis of a grid (what
        exporters write for adaptive_avg_pool to 1x1) a global pool; over other axes (tokens:
        ``x.mean(1)`` on N x L x C) the axes it keeps made the channels, the axes it reduces a
        grid, a global pool over that grid, a permute and a reshape on each side where needed."""
        a = self.attrs()
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.values(node.input[1])
        keep = int(a.get("keepdims", 1))
        pool = "globalavgpool" if node.op_type == "ReduceMean" else "globalmaxpool"
        rank = len(self.shapes.get(x, []))
        src = self.layout_in(x)
        if axes is None or not axes or rank < 2 or src is None:
            return self.unknown(node, x)
        batch, dims, where = src
        over = sorted({int(v) % rank for v in axes})
        if any(where[v] is None for v in over):
            return self.unknown(node, x)  # a mean over the batch: not one sample's
        c = len(dims) - 1
        cc_over = sorted(int(where[v] or 0) for v in over)
        if x not in self.plain and keep and cc_over == list(range(c)):
            return pool, {}  # the grid stays a grid: 1x1xC
        o = node.output[0]
        out = self.static_dims(o)
        if out is None:
            return self.unknown(node, x)
        source = x
        if cc_over != list(range(c)):
            # the kept dims in the file's order, which the result has (N, C, W for a mean over H)
            kept = [int(w) for v, w in enumerate(where) if v not in over and w is not None]
            order = [*cc_over, *kept]
            if order != list(range(len(dims))):
                self.emit("permute", {"order": order}, source, ".permute")
                source = o
            n, m = math.prod(dims[i] for i in cc_over), math.prod(dims[i] for i in kept)
            self.emit("reshape", {"to": [n, m]}, source, ".grid")
            source = o
            pooled: Tuple[int, ...] = (1, m)
        else:
            pooled = (1,) * c + (dims[-1],)
        out_batch = None if batch is None else batch if keep else batch - sum(v < batch for v in over)
        want = tuple(d for i, d in enumerate(out) if i != out_batch) or (1,)
        if want == pooled:
            self.emit(pool, {}, source)
        else:
            self.emit(pool, {}, source, ".pool")
            self.emit("reshape", {"to": list(want)}, o)
        self.plain[o] = (out_batch, want)
        return None

    op_ReduceMax = op_ReduceMean
