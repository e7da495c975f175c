"""ONNX model file -> NetworkSpec, read with the ``onnx`` package (``pip install convcalc[onnx]``).

Why ``onnx``: it is the format's own reader, kept by the people who define ``onnx.proto``, so a
field we did not write still parses; it is an optional extra so the core install stays three
small packages. Only the graph is read: parameters come from the initializers' *dims*, never
their data, so a model whose weights live in absent external files reads the same. Weights
inside the file are not even read: onnx_wire skims the file and seeks over every large
tensor's data, and onnx parses what is left (a file over protobuf's 2 GiB limit included).

The graph is walked in topological order. Each node that carries an activation becomes a
convcalc layer named after the node; a node reading a tensor other than the one just made
is preceded by ``from:``; Add/Mul/Concat of activations are merges of named tensors, and a
MatMul of two activations (attention) is a ``matmul``. Nodes that only compute shapes or
constants (Shape, Gather on shapes, Constant, ...) are folded away (onnx_fold.py runs them
first, so every tensor has a size).

Layouts: a conv's tensor is (N, C, H, W) in ONNX and H x W x C in convcalc. Past a Transpose
or Reshape a tensor may be anything (attention's heads, a sequence of tokens): those are kept
channels last, convcalc's dims being ONNX's without the batch, and the views between them are
``permute``/``reshape``/``take``. Which layout a view's result takes is decided by its readers
(``wants_grid``), and ``layout_in`` maps ONNX axes to convcalc dims for every operator that
names an axis. An operator convcalc has no rule for becomes an ``unknown`` layer with the output shape
the file (or ONNX's shape inference) records: reported with its count, never silently zero.
Where that shape is not known either, the import stops with an error naming the node.
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

from ..errors import SpecError
from ..limits import MAX_SIZE
from ..shape import Shape, same_padding
from ..spec.model import FromSpec, NetworkSpec
from . import safe_name
from .onnx_fold import fold_shapes
from .onnx_ops_merges import MergeOps
from .onnx_ops_views import ViewOps
from .onnx_wire import read_graph

ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leakyrelu", "Elu": "elu",
               "Selu": "selu", "Softplus": "softplus", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid",
               "Mish": "mish", "Gelu": "gelu", "Identity": "", "Cast": ""}
# Element-wise functions with no rule of their own: counted as convcalc's element-wise layers are
ELEMENTWISE = {"Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Sin",
               "Cos", "Not", "IsNaN", "IsInf", "Softsign", "ThresholdedRelu", "Celu"}
SHAPE_ONLY = {"Shape", "Size", "Constant", "ConstantOfShape"}  # their outputs are never activations


class Asymmetric(NamedTuple):
    """ONNX pads whose begin and end differ per axis (and are not 'same' written out)."""

    begin: List[int]
    end: List[int]


def read_onnx(path_or_text: Union[Path, str], origin: str) -> NetworkSpec:
    onnx = _import_onnx()
    model = _load(onnx, Path(path_or_text), origin)
    return _Graph(onnx, fold_shapes(onnx, model), origin).network()


def _import_onnx() -> Any:
    try:
        import onnx  # the optional extra: imported only when an .onnx file is read
    except ImportError:
        raise SpecError("reading .onnx files needs the onnx package, which is not installed",
                        hint="install the extra convcalc[onnx]: `pip install '.[onnx]'` in convcalc's checkout, "
                             "or `pip install onnx`") from None
    return onnx


def _load(onnx: Any, path: Path, origin: str) -> Any:
    """The model's graph, read without its weights (onnx_wire: time and memory follow the graph)."""
    graph = read_graph(path, origin)
    try:
        model = onnx.load_model_from_string(graph)
    except Exception as e:  # protobuf's DecodeError and friends: the bytes are not a whole model
        raise SpecError(f"'{origin}' is not a readable ONNX model ({type(e).__name__}: {str(e)[:200]})",
                        hint="the file may be truncated, or another format with an .onnx name") from None
    if not model.graph.node:
        raise SpecError(f"'{origin}': the ONNX graph has no nodes", hint="is this an ONNX model file?")
    _bounded(onnx, model, origin)
    return model  # its shapes are inferred (and its shape arithmetic folded) by onnx_fold.fold_shapes


MAX_RANK = 64
"""The most dimensions of a tensor: NumPy's own limit (NPY_MAXDIMS, since NumPy 2), far above any
network's; it keeps a product of dims a small number (one of 100,000 dims of 2**62 takes 38 s)."""


def _bounded(onnx: Any, model: Any, origin: str) -> None:
    """What the walk takes as the file states it, checked before it starts: every attribute of
    the type onnx's operator schema gives it, every tensor's rank at most MAX_RANK, the input's
    dims at most MAX_SIZE (as a spec's)."""
    g = model.graph
    version = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    schemas: Dict[str, Dict[str, int]] = {}  # op -> attribute -> its AttributeType, from onnx.defs

    def typed(op: str) -> Dict[str, int]:
        if op not in schemas:
            try:
                schemas[op] = {k: int(a.type) for k, a in onnx.defs.get_schema(op, version, "").attributes.items()}
            except Exception:  # an operator onnx does not define at this opset: its attributes are not read
                schemas[op] = {}
        return schemas[op]

    def refuse(what: str, name: str, message: str, hint: str = "see the README's limits") -> SpecError:
        return SpecError(f"'{origin}': {what} '{name[:100]}' {message}", hint=hint)

    for t in g.initializer:
        if len(t.dims) > MAX_RANK:
            raise refuse("initializer", t.name, f"has {len(t.dims):,} dimensions, over convcalc's limit of {MAX_RANK}")
    for i, n in enumerate(g.node, start=1):
        for a in n.attribute:
            if a.type == 0:  # UNDEFINED: onnx reads its value as None; every file since ONNX 1.0 (IR 3) sets it
                raise refuse(f"node {i}", n.name or (n.output[0] if n.output else n.op_type),
                             f"({n.op_type}): attribute '{a.name[:100]}' has no type, so no value",
                             hint="the file is damaged, or was written by hand")
            expected = typed(n.op_type).get(a.name) if n.domain in ("", "ai.onnx") and version else None
            if expected is not None and a.type != expected:
                kind = onnx.AttributeProto.AttributeType.Name
                raise refuse(f"node {i}", n.name or (n.output[0] if n.output else n.op_type),
                             f"({n.op_type}): attribute '{a.name}' is {kind(a.type)}, where ONNX's {n.op_type} "
                             f"takes {kind(expected)}", hint="the file is damaged, or was written by hand")
            if a.HasField("t") and len(a.t.dims) > MAX_RANK:
                raise refuse("node", n.name or a.t.name, f"holds a tensor of {len(a.t.dims):,} dimensions, "
                                                        f"over convcalc's limit of {MAX_RANK}")
    for v in (*g.input, *g.value_info, *g.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) > MAX_RANK:
            raise refuse("tensor", v.name, f"has {len(dims):,} dimensions, over convcalc's limit of {MAX_RANK}")
    for v in g.input:
        for d in v.type.tensor_type.shape.dim:
            if d.dim_value > MAX_SIZE:
                raise refuse("input", v.name, f"has a dimension of {d.dim_value:,}, over the largest size "
                                              f"convcalc handles, {MAX_SIZE:,}")


class _Graph(ViewOps, MergeOps):
    # --- the walk ------------------------------------------------------------------------

    def order(self) -> List[Tuple[int, Any]]:
        """Nodes in topological order (Kahn); a dangling input or a cycle is a located error."""
        g = self.graph
        produced: Dict[str, int] = {}
        for i, n in enumerate(g.node):
            for o in n.output:
                if o:
                    produced[o] = i
        known = set(self.inits) | {v.name for v in g.input}
        waiting = [0] * len(g.node)
        readers: Dict[int, List[int]] = {}
        for i, n in enumerate(g.node):
            for name in n.input:
                if not name:
                    continue
                if name in produced:
                    waiting[i] += 1
                    readers.setdefault(produced[name], []).append(i)
                elif name not in known:
                    self.node, self.index = n, i + 1
                    raise self.fail(f"reads tensor '{name[:100]}', which no node, input or initializer makes",
                                    hint="the file is incomplete or was edited by hand")
        ready = [i for i, w in enumerate(waiting) if w == 0]  # a heap: file order where free
        heapq.heapify(ready)
        done: List[Tuple[int, Any]] = []
        while ready:
            i = heapq.heappop(ready)
            done.append((i, g.node[i]))
            for j in readers.get(i, ()):
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(ready, j)
        if len(done) < len(g.node):
            # every waiting node waits on a waiting maker; walking back through them must repeat
            # a node, and the first repeated one is on a cycle (the first waiting node may only
            # read from one)
            stuck = next(i for i, w in enumerate(waiting) if w > 0)
            walked: Set[int] = set()
            while stuck not in walked:
                walked.add(stuck)
                stuck = next(produced[name] for name in g.node[stuck].input
                             if name in produced and waiting[produced[name]] > 0)
            self.node, self.index = g.node[stuck], stuck + 1
            raise self.fail("is part of a cycle: the graph is not a network that runs in one pass")
        return done

    def network(self) -> NetworkSpec:
        g = self.graph
        inputs = [v for v in g.input if v.name not in self.inits]
        if len(inputs) != 1:
            raise SpecError(f"{self.origin}: the graph has {len(inputs)} inputs "
                            f"({', '.join(v.name for v in inputs)[:200]}); convcalc reads networks of one input")
        x = inputs[0]
        dims = self.shapes.get(x.name)
        if not dims or len(dims) < 2 or any(d is None or d <= 0 for d in dims[1:]):
            raise SpecError(f"{self.origin}: input '{x.name}' has shape {dims}: convcalc needs its size fixed "
                            "(a symbolic batch is fine)", hint="export with a fixed input size")
        shape = Shape(tuple(int(d) for d in dims[2:] if d is not None), int(dims[1] or 0))
        self.batch = dims[0]
        self.refs[x.name] = "input"
        for index, node in self.order():
            self.node, self.index = node, index + 1
            self.visit(node)
        outputs = [FromSpec(self.refs[o.name]) for o in g.output if o.name in self.refs]
        declared: Tuple[FromSpec, ...] = ()
        if len(outputs) > 1 or (outputs and outputs[0].ref != self.last):
            declared = tuple(outputs)
        stem = Path(self.origin).stem
        return NetworkSpec(input=shape, layers=tuple(self.out), name=safe_name(g.name or stem),
                           title=f"{g.name or stem} (imported from ONNX)", origin=self.origin, outputs=declared)

    def activations(self, node: Any) -> List[str]:
        return [i for i in node.input if i in self.refs]

    def visit(self, node: Any) -> None:
        self.dispatch(node)
        acts = self.activations(node)
        if acts and acts[0] in self.plain:  # what reads channels-last and keeps its rank stays so
            axis, _ = self.plain[acts[0]]
            rank = len(self.shapes.get(acts[0], []))
            for o in node.output:
                out = self.static_dims(o) if o else None
                if out is not None and o not in self.plain and o not in self.grids and len(out) == rank:
                    self.plain[o] = (axis, out if axis is None else out[:axis] + out[axis + 1:])

    def dispatch(self, node: Any) -> None:
        acts = self.activations(node)
        if not acts or node.op_type in SHAPE_ONLY:  # shape arithmetic and constants: folded away
            self.static.update(o for o in node.output if o)
            if node.op_type == "Constant" and node.output and node.attribute and node.attribute[0].name == "value":
                self.inits.setdefault(node.output[0], node.attribute[0].t)  # a Slice's starts, a Split's sizes
            return
        op = node.op_type
        if op in ACTIVATIONS and not ACTIVATIONS[op]:  # Identity, Cast: the same tensor
            self.refs[node.output[0]] = self.refs[acts[0]]
            return
        if op in ("Add", "Mul", "Sum", "Concat") and len(acts) >= 2:
            return self.merge(node, acts)
        handler = getattr(self, f"op_{op}", None)
        if handler is not None:  # (kind, options) to emit, or None when it has emitted (or folded) itself
            made = handler(node, acts[0])
            if made is not None:
                kind, options = made
                self.emit(kind, options, acts[0])
            return
        if op in ACTIVATIONS:
            return self.emit(ACTIVATIONS[op], {}, acts[0])
        if op in ELEMENTWISE and len(acts) == 1:
            return self.emit("elementwise", {"op": op}, acts[0])
        self.unknown(node, acts[0])

    # --- one method per operator: (kind, options), or None when handled -----------------

    def padding(self, a: Dict[str, Any], x: str, kernel: Sequence[int], stride: Sequence[int],
                dilation: Sequence[int]) -> Any:
        """ONNX pads ``[x1_begin, x2_begin, ..., x1_end, x2_end]`` or auto_pad, as convcalc's padding."""
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
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
        kernel = list(a.get("kernel_shape", w[2:]))
        stride = list(a.get("strides", [1] * len(kernel)))
        dilation = list(a.get("dilations", [1] * len(kernel)))
        return self.padded("conv", {"filters": w[0], "kernel": kernel, "stride": stride, "dilation": dilation,
                                    "padding": self.padding(a, x, kernel, stride, dilation),
                                    "groups": int(a.get("group", 1)), "bias": len(node.input) > 2 and bool(node.input[2])}, x)

    def op_ConvTranspose(self, node: Any, x: str) -> Any:
        w = self.weight(node, "weight")
        a = self.attrs()
        group = int(a.get("group", 1))
        kernel = list(a.get("kernel_shape", w[2:]))
        if "output_shape" in a:
            raise self.fail("output_shape is not supported; convcalc needs pads and output_padding")
        auto = a.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
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
        slope = self.dims(node.input[1]) if len(node.input) > 1 else None
        if slope is not None and math.prod(slope) == 1:
            return "prelu", {"shared": True}
        if slope is not None and self.per_channel(x, slope):
            return "prelu", {}
        return self.unknown(node, x)

    def op_InstanceNormalization(self, node: Any, x: str) -> Any:
        """Each channel normalised over its positions, with a learned scale and shift per channel:
        a group norm of one channel per group (2·C params)."""
        c = self.channels(x)
        return ("groupnorm", {"groups": c}) if c is not None and x not in self.plain else self.unknown(node, x)

    def op_Gemm(self, node: Any, x: str) -> Any:
        a = self.attrs()
        if node.input[0] != x or a.get("transA", 0) or node.input[1] in self.refs:
            return self.unknown(node, x)
        w = self.weight(node, "weight")
        kind = "pwlinear" if x in self.plain and len(self.plain[x][1]) > 1 else "fc"  # rows of positions
        return kind, {"units": w[0] if a.get("transB", 0) else w[-1], "bias": len(node.input) > 2 and bool(node.input[2])}

    def op_LayerNormalization(self, node: Any, x: str) -> Any:
        rank = len(self.shapes.get(x, []))
        if int(self.attrs().get("axis", -1)) % max(rank, 1) == rank - 1 and (x in self.plain or rank == 2):
            return "layernorm", {}  # over the channels, the last axis of tokens or a vector
        return self.unknown(node, x)

    def pool(self, node: Any, x: str, kind: str) -> Any:
        a = self.attrs()
        kernel = list(a["kernel_shape"]) if "kernel_shape" in a else None
        if kernel is None:
            raise self.fail("has no kernel_shape")
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
        mode = a.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        rank = len(self.shapes.get(x, [])) - 2
        mode = {"nearest": "nearest", "linear": "bilinear" if rank == 2 else "linear" if rank == 1 else "trilinear",
                "cubic": "bicubic"}.get(mode, "nearest")
        inputs = list(node.input)
        scales = None
        if "scales" in a:  # Upsample-7
            scales = [float(s) for s in a["scales"]]
        elif node.op_type == "Upsample" and len(inputs) > 1:
            scales = self.values(inputs[1])
        elif len(inputs) > 2 and inputs[2]:
            scales = self.values(inputs[2])
        if scales and len(scales) > 2:
            if scales[:2] != [1.0, 1.0]:
                return self.unknown(node, x)
            spatial = scales[2:]
            spatial = [int(s) if float(s).is_integer() else s for s in spatial]
            return "upsample", {"scale": spatial[0] if len(set(spatial)) == 1 else spatial, "mode": mode}
        sizes = self.values(inputs[3]) if len(inputs) > 3 and inputs[3] else None
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
        n = len(pads) // 2
        begin, end = pads[:n], pads[n:]
        if begin[:2] != [0, 0] or end[:2] != [0, 0] or min(pads) < 0:
            return self.unknown(node, x)  # padding the batch or the channels, or cropping
        if begin != end:  # reflect and edge modes give the same shape as zeros
            return "pad", {"padding": begin[2:], "after": end[2:]}
        return "pad", {"padding": begin[2:] if len(set(begin[2:])) > 1 else begin[2]}

    def op_ReduceMean(self, node: Any, x: str) -> Any:
        """The mean over every spatial axis of a grid (what exporters write for adaptive_avg_pool
        to 1x1): a global pool; any other reduction is unknown."""
        a = self.attrs()
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.values(node.input[1])
        rank = len(self.shapes.get(x, []))
        if x in self.plain or axes is None or rank < 3 or sorted(int(v) % rank for v in axes) != list(range(2, rank)):
            return self.unknown(node, x)
        return ("globalavgpool" if node.op_type == "ReduceMean" else "globalmaxpool"), {}

    op_ReduceMax = op_ReduceMean
