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

The reader's parts: this module opens and checks the file and walks its graph (``_Graph``);
onnx_graph.py holds the walk's state (tensors, layouts, the spec being built); the operators'
translators are onnx_ops_layers.py (conv, pools, norms, Gemm, Resize, Pad, ...), onnx_ops_views.py
(Reshape, Transpose, Split, Slice, Gather, ...) and onnx_ops_merges.py (Add, Mul, Concat, MatMul:
two activations or an activation and a constant).
"""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple, Union

from ..errors import SpecError
from ..limits import MAX_SIZE
from ..shape import Shape
from ..spec.model import FromSpec, NetworkSpec
from . import safe_name
from .onnx_fold import fold_shapes
from .onnx_names import folded_note
from .onnx_ops_layers import LayerOps
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
    _as_text(model, origin)
    _bounded(onnx, model, origin)
    return model  # its shapes are inferred (and its shape arithmetic folded) by onnx_fold.fold_shapes


def _as_text(model: Any, origin: str) -> None:
    """Every name the walk reads made text. ONNX's names are protobuf strings, meant to be UTF-8,
    but onnx.proto is proto2, which does not enforce it: protobuf hands a name that is not UTF-8
    over as bytes. Such a name is shown with its stray bytes escaped (Python's backslashreplace),
    the same way wherever it is written, so the graph keeps its wiring. Were two tensors' names
    to be shown alike (a stray byte in one, its escape written out as text in the other), the
    file is refused: the wiring would then be ours, not the file's."""
    g = model.graph

    def text(raw: Any) -> str:
        return raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "backslashreplace")

    for holder in (g, *g.node, *(a for n in g.node for a in n.attribute)):
        if not isinstance(holder.name, str):
            holder.name = text(holder.name)
    for n in g.node:
        for field in ("op_type", "domain"):
            if not isinstance(getattr(n, field), str):
                setattr(n, field, text(getattr(n, field)))
    written: Dict[str, Any] = {}  # a tensor's name as shown -> as the file wrote it

    def tensor(raw: Any) -> str:
        shown = text(raw)
        if written.setdefault(shown, raw) != raw:
            raise SpecError(f"'{origin}': tensor names {written[shown]!r} and {raw!r} are both shown as "
                            f"'{shown[:100]}': one is not UTF-8 text, and escaped it is the other",
                            hint="the file's names are damaged; export it again")
        return shown

    for names in (*(n.input for n in g.node), *(n.output for n in g.node)):
        for i, raw in enumerate(names):
            names[i] = tensor(raw)
    for v in (*g.input, *g.output, *g.value_info, *g.initializer):
        v.name = tensor(v.name)


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
            if a.type == onnx.AttributeProto.STRING and n.domain in ("", "ai.onnx"):
                try:  # ONNX's own string attributes are words (auto_pad, mode); a custom operator's may be bytes
                    a.s.decode("utf-8")
                except UnicodeDecodeError:
                    raise refuse(f"node {i}", n.name or (n.output[0] if n.output else n.op_type),
                                 f"({n.op_type}): attribute '{a.name}' is {a.s[:100]!r}, not text",
                                 hint="the file is damaged, or was written by hand") from None
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


class _Graph(LayerOps, ViewOps, MergeOps):
    """One graph walked node by node, each node handed to its operator's translator."""

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
        folded = folded_note(g.node)
        return NetworkSpec(input=shape, layers=tuple(self.out), name=safe_name(g.name or stem),
                           title=f"{g.name or stem} (imported from ONNX)", origin=self.origin, outputs=declared,
                           notes=(folded,) if folded else ())

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
            if node.op_type in ("Identity", "Cast") and node.input and node.input[0] in self.inits and node.output:
                self.inits.setdefault(node.output[0], self.inits[node.input[0]])  # a bias passed on by name
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
