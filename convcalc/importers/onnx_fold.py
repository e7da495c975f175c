"""Shape arithmetic in an ONNX graph folded to constants, so every tensor gets a size.

Exporters that trace a model (PyTorch's TorchScript exporter, and any with a dynamic batch)
write ``x.view(n, groups, c // groups, h, w)`` as a small program on the input's shape:
Shape -> Gather -> Div -> Unsqueeze -> Concat -> Reshape. onnx's shape inference does not run
that program (its data propagation stops at Div and at a symbolic batch), so every tensor after
the Reshape has no size and the import stops there.

convcalc counts one sample, so it first fixes a symbolic batch to 1, then runs the program
here: each node whose inputs are all known small integer tensors (a shape, an index, a
constant) is evaluated, and a Reshape, Slice, Expand, Resize, Pad ... that reads the result
is rewired to read it as a constant. onnx's shape inference, run again, then sizes the rest.

Why our own and not onnxruntime or onnx's reference evaluator: those would run the whole
graph (weights included, which a stripped file does not have) and pull in a runtime; the
shape program uses a dozen operators on a handful of integers. Every value has at most
``SMALL`` elements, so the work is bounded by the node count.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..flat import offsets, row_major
from .onnx_wire import (
    SMALL,  # the most elements of a value this evaluates (a shape, a few indices)
)

FOLDED = "::folded"  # the suffix of a computed value's constant: the name the file gave it, then this
ROUNDS = 200  # folding and inferring again, at most this often (each round is linear in the nodes)
WORK = 200_000  # and at most this many node visits in all: 10 rounds of a 20,000-node graph

Value = Tuple[Tuple[int, ...], List[float]]  # dims, values row-major


def fold_shapes(onnx: Any, model: Any) -> Any:
    """``model`` with its batch fixed to 1 and its shape arithmetic folded, re-inferred."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    for vi in g.input:
        if vi.name in inits:
            continue
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].ClearField("dim_param")
            dims[0].dim_value = 1  # one sample: the batch convcalc counts
    for vi in g.output:  # a declared symbolic batch would contradict the inferred 1
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].ClearField("dim_param")
    model = _infer(onnx, model)
    rounds = min(ROUNDS, max(1, WORK // max(1, len(g.node))))
    for _ in range(rounds):  # each round's sizes let the next round run more of the program
        if not _rewire(onnx, model, _evaluate(onnx, model)):
            break
        model = _infer(onnx, model)
    return model


def _infer(onnx: Any, model: Any) -> Any:
    """onnx's shape inference, with its own data propagation (it runs part of the program)."""
    for data_prop in (True, False):
        try:
            return onnx.shape_inference.infer_shapes(model, data_prop=data_prop)
        except Exception:  # a model it cannot infer keeps what it records
            continue
    return model


def _shapes(model: Any) -> Dict[str, List[Optional[int]]]:
    g = model.graph
    out: Dict[str, List[Optional[int]]] = {}
    for vi in (*g.input, *g.value_info, *g.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    return out


def _constant(onnx: Any, tensor: Any) -> Optional[Value]:
    if math.prod(tensor.dims) > SMALL or tensor.data_location == 1:  # 1: EXTERNAL
        return None
    try:
        array = onnx.numpy_helper.to_array(tensor)
    except Exception:
        return None
    return tuple(int(d) for d in array.shape), [v.item() for v in array.reshape(-1)]


def _evaluate(onnx: Any, model: Any) -> Dict[str, Value]:
    """Every small tensor the graph's shape program computes, by name."""
    g = model.graph
    shapes = _shapes(model)
    known: Dict[str, Value] = {}
    for t in g.initializer:
        v = _constant(onnx, t)
        if v is not None:
            known[t.name] = v
    for node in g.node:  # exporters write nodes in order; a node read before it is made is skipped
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant":
            v = _constant(onnx, attrs["value"]) if "value" in attrs else None
            if v is None and "value_ints" in attrs:
                v = ((len(attrs["value_ints"]),), [int(i) for i in attrs["value_ints"]])
            if v is None and "value_int" in attrs:
                v = ((), [int(attrs["value_int"])])
            if v is not None and node.output:
                known[node.output[0]] = v
            continue
        if node.op_type == "Shape" and node.input:
            dims = shapes.get(node.input[0])
            if dims is not None and None not in dims:
                start, end = int(attrs.get("start", 0)), attrs.get("end")
                part = [float(d or 0) for d in dims][start:None if end is None else int(end)]
                known[node.output[0]] = ((len(part),), part)
            continue
        if node.op_type == "ConstantOfShape" and "value" in attrs:
            attrs["value"] = _constant(onnx, attrs["value"])
        rule = RULES.get(node.op_type)
        ins = [known.get(i) if i else None for i in node.input]
        if rule is None or not node.output or any(v is None for v, name in zip(ins, node.input) if name):
            continue
        try:
            v = rule([v for v in ins if v is not None], attrs)
        except (ArithmeticError, IndexError, ValueError, TypeError, KeyError):
            continue
        if v is not None and math.prod(v[0]) <= SMALL and len(v[1]) == math.prod(v[0]):
            known[node.output[0]] = v
    return known


def _rewire(onnx: Any, model: Any, known: Dict[str, Value]) -> bool:
    """Point every input that reads a computed value at a constant holding it."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    made: Dict[str, str] = {}
    changed = False
    for node in g.node:
        if node.op_type in ("Shape", "Constant") or (node.output and node.output[0] in known):
            continue  # the program itself: left as it is, now unread
        for i, name in enumerate(node.input):
            if not name or name in inits or name not in known:
                continue
            if name not in made:
                dims, values = known[name]
                made[name] = f"{name}{FOLDED}"
                integral = all(float(v).is_integer() for v in values)
                g.initializer.append(onnx.helper.make_tensor(
                    made[name], onnx.TensorProto.INT64 if integral else onnx.TensorProto.FLOAT, list(dims),
                    [int(v) for v in values] if integral else [float(v) for v in values]))
            node.input[i] = made[name]
            changed = True
    return changed


# --- the operators of a shape program, on (dims, values) -------------------------------------


def _flat(v: Value) -> List[float]:
    return v[1]


def _gather(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    (dims, data), (idims, idx) = ins
    if len(dims) != 1 or int(a.get("axis", 0)) != 0:
        return None
    n = dims[0]
    return idims, [data[int(i) + (n if i < 0 else 0)] for i in idx]


def _unsqueeze(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    (dims, data), *rest = ins
    axes = [int(x) for x in (a.get("axes") or (rest[0][1] if rest else []))]
    out = list(dims)
    for axis in sorted(x % (len(dims) + len(axes)) for x in axes):
        out.insert(axis, 1)
    return tuple(out), data


def _squeeze(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    (dims, data), *rest = ins
    axes = [int(x) % len(dims) for x in (a.get("axes") or (rest[0][1] if rest else []))] if dims else []
    return tuple(d for i, d in enumerate(dims) if (i not in axes if axes else d != 1)), data


def _concat(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    if any(len(d) != 1 for d, _ in ins):
        return None
    data = [x for _, v in ins for x in v]
    return (len(data),), data


def _take(dims: Tuple[int, ...], data: List[float], picks: List[Sequence[int]]) -> Value:
    """The elements at every combination of ``picks`` (one list of indices per axis)."""
    return tuple(len(p) for p in picks), [data[o] for o in offsets(picks, row_major(dims))]


def _slice(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    (dims, data), *rest = ins
    starts = a.get("starts") or (rest[0][1] if rest else None)
    ends = a.get("ends") or (rest[1][1] if len(rest) > 1 else None)
    if starts is None or ends is None:
        return None
    axes = a.get("axes") or (rest[2][1] if len(rest) > 2 else list(range(len(starts))))
    steps = rest[3][1] if len(rest) > 3 else [1] * len(starts)
    picks: List[Sequence[int]] = [range(d) for d in dims]
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % len(dims)
        picks[axis] = list(range(dims[axis]))[slice(int(start), int(end), int(step))]
    return _take(dims, data, picks)


def _transpose(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    (dims, data), = ins
    perm = [int(p) for p in a.get("perm", range(len(dims) - 1, -1, -1))]
    steps = row_major(dims)
    out_dims = tuple(dims[p] for p in perm)
    return out_dims, [data[o] for o in offsets([range(d) for d in out_dims], [steps[p] for p in perm])]


def _reshape(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    (dims, data), (_, target) = ins
    out = [int(t) if t != 0 or a.get("allowzero", 0) else dims[i] for i, t in enumerate(target)]
    if out.count(-1) == 1:
        rest = math.prod(d for d in out if d != -1)
        out[out.index(-1)] = len(data) // rest if rest else 0
    return tuple(out), data


def _constant_of_shape(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
    dims = tuple(int(d) for d in ins[0][1])
    fill = a.get("value", ((), [0]))  # _evaluate has read the attribute's tensor
    value = fill[1][0] if fill is not None and fill[1] else None
    if value is None or math.prod(dims) > SMALL:
        return None
    return dims, [value] * math.prod(dims)


def _binary(op: Callable[[Any, Any], Any]) -> Callable[[List[Value], Dict[str, Any]], Optional[Value]]:
    def rule(ins: List[Value], a: Dict[str, Any]) -> Optional[Value]:
        (da, xa), (db, xb) = ins
        if len(xa) != len(xb) and 1 not in (len(xa), len(xb)):
            return None
        n = max(len(xa), len(xb))
        xa, xb = (xa * n if len(xa) == 1 else xa), (xb * n if len(xb) == 1 else xb)
        return (da if len(da) >= len(db) else db), [op(x, y) for x, y in zip(xa, xb)]
    return rule


def _divide(x: Any, y: Any) -> Any:
    both_int = float(x).is_integer() and float(y).is_integer()
    return int(x) // int(y) if both_int else x / y  # integer tensors divide as C does; shapes are integers


RULES: Dict[str, Callable[[List[Value], Dict[str, Any]], Optional[Value]]] = {
    "Gather": _gather,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "ConstantOfShape": _constant_of_shape,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Slice": _slice,
    "Cast": lambda ins, a: ins[0],
    "Identity": lambda ins, a: ins[0],
    "Add": _binary(lambda x, y: x + y),
    "Sub": _binary(lambda x, y: x - y),
    "Mul": _binary(lambda x, y: x * y),
    "Div": _binary(_divide),
    "Mod": _binary(lambda x, y: x % y),
    "Floor": lambda ins, a: (ins[0][0], [math.floor(x) for x in ins[0][1]]),
    "Sqrt": lambda ins, a: (ins[0][0], [math.sqrt(x) for x in ins[0][1]]),
    "Ceil": lambda ins, a: (ins[0][0], [math.ceil(x) for x in ins[0][1]]),
    "Equal": _binary(lambda x, y: int(x == y)),
    "Where": lambda ins, a: (ins[0][0], [x if c else y for c, x, y in zip(_flat(ins[0]), _flat(ins[1]) * (
        len(ins[0][1]) if len(ins[1][1]) == 1 else 1), _flat(ins[2]) * (len(ins[0][1]) if len(ins[2][1]) == 1 else 1))]),
}
