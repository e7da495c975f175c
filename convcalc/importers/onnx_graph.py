"""The state of one ONNX graph's walk, which every operator's translator reads and adds to: the
file's tensors (initializers, constants, recorded shapes, who reads what), the layout each
activation has in convcalc (a grid, or channels last: ``plain``), and the spec being built
(``emit``, ``unknown``). The translators (onnx_ops_*.py) are mixins of GraphState.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..errors import SpecError
from ..spec.model import FromSpec, LayerSpec, Node, RawOption, make_layer
from . import safe_name, unique_name
from .onnx_names import scoped_names
from .onnx_wire import SMALL  # the most elements of a constant whose values are read

# Operators that need their input as a grid (N, C, spatial...): a view whose result reaches one
# of them is laid out as a grid again.
GRID_READERS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
                "BatchNormalization", "InstanceNormalization", "LRN", "Resize", "Upsample", "Pad", "ReduceMean",
                "ReduceMax", "Flatten"}
PARTS = {"Split", "Slice", "Concat"}  # along the last axis, they read channels last
# ... and those that read the channels last (LayerNormalization over the last axis, products).
LAST_READERS = {"LayerNormalization", "MatMul", "Gemm", "Softmax", "LogSoftmax"}


class GraphState:
    """One graph read node by node: what the file holds, where each activation is in convcalc,
    and the layers made so far."""

    def __init__(self, onnx: Any, model: Any, origin: str) -> None:
        self.onnx = onnx
        self.graph = model.graph
        self.origin = origin
        g = self.graph
        self.inits: Dict[str, Any] = {t.name: t for t in g.initializer}
        self.shapes: Dict[str, List[Optional[int]]] = {}
        for vi in (*g.input, *g.value_info, *g.output):
            t = vi.type.tensor_type
            if t.HasField("shape"):
                self.shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        self.static: Set[str] = set(self.inits)  # constants, initializers, shape arithmetic
        self.consumers: Dict[str, int] = {}
        self.readers: Dict[str, List[Any]] = {}  # tensor -> the nodes that read it
        for n in g.node:
            for i in n.input:
                self.consumers[i] = self.consumers.get(i, 0) + 1
                self.readers.setdefault(i, []).append(n)
        self.refs: Dict[str, str] = {}  # ONNX activation tensor -> convcalc tensor name
        # Tensors laid out with the channels LAST (tokens, attention heads, anything past a
        # Transpose or Reshape): ONNX tensor -> (its batch axis, or None once merged away; its dims
        # per sample in convcalc's order, which is then ONNX's order). Every other activation is a
        # grid, (N, C, spatial...) in ONNX, spatial... x C in convcalc.
        self.plain: Dict[str, Tuple[Optional[int], Tuple[int, ...]]] = {}
        self.batch: Optional[int] = None  # the input's batch size when the file fixes it
        self.grids: Set[str] = set()  # views laid out as grids again: not channels-last, whatever they read
        self.half: Set[str] = set()  # the first half of grid -> tokens (flattened, or permuted), not yet tokens
        self.names: Set[str] = {"input"}
        self.out: List[Node] = []
        self.last = "input"
        self.at: Dict[str, int] = {}  # convcalc name -> its index in self.out (to fold a bias in)
        self.node: Any = None
        self.index = 0
        # row names from the module paths the exporter recorded (onnx_names.py); a weighted
        # node's from its weight's name ('layer1.0.conv1.weight' -> 'layer1.0.conv1')
        weight_of = {id(n): n.input[1][: -len(".weight")] for n in g.node
                     if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul") and len(n.input) > 1
                     and n.input[1] in self.inits and n.input[1].endswith(".weight") and len(n.input[1]) > 7}
        self.scoped = scoped_names(g.node, weight_of)

    # --- errors and small reads ----------------------------------------------------------

    def where(self) -> str:
        n = self.node
        return f"{self.origin}: node {self.index} '{n.name or (n.output[0] if n.output else '?')}' ({n.op_type})"

    def fail(self, message: str, hint: str = "") -> SpecError:
        return SpecError(f"{self.where()}: {message}", hint=hint)

    def attrs(self) -> Dict[str, Any]:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in self.node.attribute}

    def word(self, a: Dict[str, Any], key: str, default: str, allowed: Sequence[str]) -> str:
        """A string attribute that names a mode (auto_pad, Resize's mode) as text: one of
        ``allowed`` or a located error, as a mode convcalc does not know would be a guess."""
        raw = a.get(key, default)
        text = bytes(raw).decode("utf-8", "backslashreplace") if isinstance(raw, (bytes, bytearray)) else str(raw)
        if text not in allowed:
            raise self.fail(f"attribute {key} is '{text[:100]}', where ONNX's {self.node.op_type} takes "
                            f"{', '.join(w or repr(w) for w in allowed)}", hint="the file is damaged, or was written by hand")
        return text

    def dims(self, name: str) -> Optional[Tuple[int, ...]]:
        t = self.inits.get(name)
        return tuple(int(d) for d in t.dims) if t is not None else None

    def values(self, name: str) -> Optional[List[float]]:
        """The few values of a small constant (a scale, a pad list), or None when not readable."""
        t = self.inits.get(name)
        if t is None or math.prod(t.dims) > SMALL or t.data_location == 1:  # 1: EXTERNAL
            return None
        try:
            return [float(v) for v in self.onnx.numpy_helper.to_array(t).reshape(-1)]
        except Exception:
            return None

    def spatial_dims(self, name: str) -> Optional[List[int]]:
        s = self.shapes.get(name)
        if s is None or len(s) < 3 or any(d is None for d in s[2:]):
            return None
        return [int(d) for d in s[2:] if d is not None]

    # --- building the spec ---------------------------------------------------------------

    def fresh(self, suffix: str = "") -> str:
        n = self.node
        return unique_name(safe_name(self.scoped.get(id(n)) or n.name or (n.output[0] if n.output else n.op_type))
                           + suffix, self.names)

    def read(self, ref: str) -> None:
        if ref != self.last:
            self.out.append(FromSpec(ref))

    def made(self, name: str) -> None:
        self.at[name] = len(self.out) - 1
        self.last = name
        for i, o in enumerate(self.node.output):
            if o and i == 0:
                self.refs[o] = name

    def emit(self, kind: str, options: Dict[str, Any], source: str, suffix: str = "") -> None:
        # one value for every axis is written once (kernel 3, not [3, 3]), as a person writes it
        options = {k: v[0] if isinstance(v, list) and v and len(set(v)) == 1 else v for k, v in options.items()}
        try:
            layer = make_layer(kind, [RawOption(k, v) for k, v in options.items()], None)
        except SpecError as e:
            raise self.fail(f"as convcalc's {kind}: {e.message}", e.hint) from None
        name = self.fresh(suffix)
        self.read(self.refs[source])
        self.out.append(LayerSpec(layer, name))
        self.made(name)

    def unknown(self, node: Any, source: str) -> None:
        used = [o for o in node.output if o and self.consumers.get(o, 0) or any(v.name == o for v in self.graph.output)]
        if len(used) > 1:
            raise self.fail(f"convcalc has no rule for '{node.op_type}' with {len(used)} outputs in use",
                            hint="convcalc follows one tensor out of each unknown operator")
        dims = self.shapes.get(node.output[0])
        if dims is None or len(dims) < 2 or any(d is None or d <= 0 for d in dims[1:]):
            raise self.fail(f"convcalc has no rule for '{node.op_type}' and the file records no output shape "
                            f"for it ({dims}), so shapes cannot continue",
                            hint="run onnx.shape_inference on the model, or replace the operator")
        if source in self.plain and len(dims) == len(self.shapes.get(source, [])):  # channels last: as it reads
            axis = self.plain[source][0]
            out = [int(d or 0) for i, d in enumerate(dims) if i != axis]
        else:
            out = [int(d) for d in dims[2:] if d is not None] + [int(dims[1] or 0)]
        op = f"{node.domain}:{node.op_type}" if node.domain and node.domain != "ai.onnx" else node.op_type
        self.emit("unknown", {"op": safe_name(op)[:100], "out": out}, source)

    # --- layouts: a grid, or a tensor laid out channels last -----------------------------

    def static_dims(self, t: str) -> Optional[Tuple[int, ...]]:
        """ONNX dims of ``t`` (a symbolic batch as 1); None when another size is not known."""
        s = self.shapes.get(t)
        if s is None:
            return None
        free = [i for i, d in enumerate(s) if d is None or d <= 0]
        if len(free) > 1 or (free and self.batch is not None):
            return None
        return tuple(1 if d is None or d <= 0 else int(d) for d in s)

    def mark_tokens(self, t: str) -> None:
        """``t`` is (N, L, C): L tokens of C."""
        dims = self.static_dims(t)
        if dims is not None and len(dims) == 3:
            self.plain[t] = (0, dims[1:])

    def layout_in(self, x: str) -> Optional[Tuple[Optional[int], Tuple[int, ...], List[Optional[int]]]]:
        """``x``'s batch axis, its dims per sample in convcalc's order, and for each ONNX axis the
        convcalc dim it is (None: the batch). A grid (N, C, H, W) is H x W x C: C moves last."""
        full = self.static_dims(x)
        if full is None or not full or (len(full) < 2 and x not in self.plain):
            return None
        if x in self.plain:
            b, dims = self.plain[x]
            if len(dims) != len(full) - (b is not None):
                return None
            return b, dims, [None if a == b else a - int(b is not None and a > b) for a in range(len(full))]
        r = len(full)
        return 0, (*full[2:], full[1]), [None, r - 2, *range(r - 2)]

    def wants_grid(self, t: str, default: bool) -> bool:
        """Whether a view's result ``t`` is laid out as a grid (N, C, spatial...) or channels last:
        what its first readers need, looking through operators that keep its shape. A conv, a
        pool, batchnorm, a split of the channels want a grid; a layernorm over the last axis, a
        MatMul, a softmax want the channels last; a sum with a tensor takes that tensor's
        layout. When nothing decides (a Transpose next), the layout of what the view read."""
        dims = self.static_dims(t)
        todo, seen = [t], {t}
        while todo and len(seen) < 256:
            u = todo.pop(0)
            for n in self.readers.get(u, ()):
                if n.op_type in GRID_READERS:
                    return True
                if n.op_type in LAST_READERS:
                    return False
                if n.op_type in PARTS:  # along the last axis: channels last; axis 1 may be H as well as C
                    axis = self.part_axis(n)
                    if axis is not None and dims and axis % len(dims) == len(dims) - 1:
                        return False
                    continue
                joined = [i for i in n.input if i != u and i in self.refs and self.static_dims(i) == dims]
                if joined:
                    return joined[0] not in self.plain
                o = n.output[0] if n.output else ""
                if o and o not in seen and n.op_type not in ("Reshape", "Transpose", "Flatten") \
                        and self.static_dims(o) == dims:
                    seen.add(o)
                    todo.append(o)
        return default

    def part_axis(self, n: Any) -> Optional[int]:
        """The axis a Split, Slice or Concat works along, when the file says it plainly."""
        if n.op_type == "Slice":
            a = {at.name: self.onnx.helper.get_attribute_value(at) for at in n.attribute}
            axes = a.get("axes") or (self.values(n.input[3]) if len(n.input) > 3 and n.input[3] else None)
            return int(axes[0]) if axes and len(axes) == 1 else None if axes or "starts" in a else 0
        return next((int(self.onnx.helper.get_attribute_value(at)) for at in n.attribute if at.name == "axis"),
                    0 if n.op_type == "Split" else None)

    def batch_axis(self, t: str, dims: Tuple[int, ...], hint: Optional[int]) -> Optional[int]:
        """Where the batch is in ``t``: where it was carried to (``hint``), the symbolic axis, or (the
        file's batch is 1) the first axis of size 1, which holds nothing else; None when the batch
        of one was merged into another axis: the dims are then the sample's."""
        raw = self.shapes.get(t) or []
        if hint is not None and hint < len(dims) and dims[hint] == (self.batch or 1):
            return hint
        if None in raw:
            return raw.index(None)
        if self.batch != 1:
            raise self.fail(f"its output {list(dims)} merges the batch of {self.batch} with other axes; "
                            "convcalc counts one sample", hint="export the model with batch size 1")
        return dims.index(1) if 1 in dims else None

    def channels(self, x: str) -> Optional[int]:
        if x in self.plain:
            return self.plain[x][1][-1] if self.plain[x][1] else None
        s = self.shapes.get(x)
        return int(s[1]) if s is not None and len(s) >= 3 and s[1] else None

    def channel_axis(self, x: str) -> Optional[int]:
        """The ONNX axis that holds what convcalc calls the channels: 1 on a grid (N, C, ...), the
        axis that became the last dim on a tensor laid out channels last."""
        if x not in self.plain:
            return 1
        src = self.layout_in(x)
        return None if src is None else next((a for a, d in enumerate(src[2]) if d == len(src[1]) - 1), None)

    def per_channel(self, x: str, dims: Sequence[int]) -> bool:
        """Whether a constant of ``dims`` holds one value per channel of ``x`` as ONNX broadcasts
        it, from the last axis: C x 1 x 1 on a grid, C on a tensor laid out channels last (leading
        1s, the batch's, aside)."""
        src = self.layout_in(x)
        if src is None:
            return False
        per_sample = src[1]
        trimmed = tuple(dims)
        while trimmed and trimmed[0] == 1:
            trimmed = trimmed[1:]
        lanes = 1 if x in self.plain else len(per_sample)
        return trimmed == (per_sample[-1],) + (1,) * (lanes - 1)
