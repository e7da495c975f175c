"""The state of one exported program's walk, which every operator's translator (torch_ops.py)
reads and adds to: how convcalc holds each activation (``Held``: its tensor, and the convcalc dim
each aten axis is), the row names (the module path), and the spec being built, every row checked
against the shape the program recorded. torch_export.py walks the graph; see there for the why.
"""

from __future__ import annotations

import math
import re
from typing import Any, Container, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..errors import SpecError
from ..layers import Layer, Merge, dims_shape
from ..shape import Shape
from ..spec.model import (
    BlockSpec,
    FromSpec,
    LayerSpec,
    Node,
    RawOption,
    Shares,
    make_layer,
)
from ..values import value
from . import safe_name, unique_name

Axes = Tuple[Optional[int], ...]


@value
class Held:
    """An activation as convcalc holds it: the tensor ``ref``, the aten ``dims`` (a batch of one
    included) and for each aten axis the convcalc dim it is (``axes``; None: the batch)."""

    ref: str
    dims: Tuple[int, ...]
    axes: Axes

    @property
    def cc(self) -> Tuple[int, ...]:
        """The sample's dims in convcalc's order."""
        out = [0] * sum(a is not None for a in self.axes)
        for d, a in zip(self.dims, self.axes):
            if a is not None:
                out[a] = d
        return tuple(out)

    @property
    def batch(self) -> Optional[int]:
        return next((i for i, a in enumerate(self.axes) if a is None), None)


def in_order(dims: Sequence[int], batch: Optional[int]) -> Axes:
    """The layout that keeps aten's order, the batch (if any) at axis ``batch``."""
    out: List[Optional[int]] = []
    for i in range(len(dims)):
        out.append(None if i == batch else i - (batch is not None and i > batch))
    return tuple(out)


def grid(rank: int) -> Axes:
    """(N, C, spatial...) as spatial... x C: aten's conv layout."""
    return (None, rank - 2, *range(rank - 2))


def find_batch(dims: Sequence[int], cc: Sequence[int]) -> Optional[int]:
    """Which aten axis of ``dims`` is the batch when the sample is ``cc`` in the same order
    (-1: ``cc`` is not ``dims`` less one axis of 1)."""
    dims, cc = tuple(dims), tuple(cc)
    if dims == cc:
        return None
    return next((a for a in range(len(dims)) if dims[a] == 1 and dims[:a] + dims[a + 1:] == cc), -1)


CREATORS = frozenset(("new_zeros", "new_ones", "new_empty", "new_full", "zeros_like", "ones_like", "empty_like",
                      "full_like", "sym_size", "sym_numel", "size", "dim", "numel"))
"""Operators that read an activation only for its size, dtype or device: their result is a
constant (Swin's attention mask starts as ``x.new_zeros``), not an activation."""


def reads_activation(node: Any, acts: Container[str]) -> bool:
    return short_op(node.target) not in CREATORS and any(
        hasattr(a, "name") and a.name in acts for a in flat((node.args, node.kwargs)))


class Mismatch(Exception):
    """convcalc's rule does not give the shape the program recorded: the operator is unknown."""


def short_op(target: Any) -> str:
    """'aten.relu_.default' -> 'relu', operator.getitem -> 'getitem'."""
    name = getattr(target, "__name__", "") if not hasattr(target, "_opname") else target._opname
    return (name or str(target).split(".")[-1]).rstrip("_") or "op"


_INDEX = re.compile(r"\[(\d+)\]")


def module_path(node: Any) -> str:
    """The module that ran ``node``, as ``print(model)`` names it: 'layer1.0.conv1' ('' for the
    top module). Older exporters write "L['self'].layer1[0]"; both are read."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = str(list(stack.values())[-1][0])
    path = path.replace("L['self']", "").replace("L__self__", "")
    path = re.sub(r"\._modules\['([^']*)'\]", r".\1", path)
    path = _INDEX.sub(r".\1", path)
    return path.strip(".")


class ProgramState:
    """One exported program walked node by node: what it holds, how convcalc holds each
    activation, and the spec being built."""

    def __init__(self, program: Any, origin: str, trainable: Dict[str, bool],
                 aliases: Dict[str, Tuple[str, ...]]) -> None:
        self.origin = origin
        self.graph = program.graph
        self.by_name: Dict[str, Any] = {n.name: n for n in self.graph.nodes}
        self.trainable = trainable
        self.aliases = aliases
        self.params: Dict[str, str] = {}  # placeholder -> parameter's name
        self.param_dims: Dict[str, Tuple[int, ...]] = {}
        self.user: List[str] = []
        sig = program.graph_signature
        self.params.update(sig.inputs_to_parameters)
        self.user = [str(u) for u in sig.user_inputs]
        self.held: Dict[str, Held] = {}
        self.derived: Dict[str, Set[str]] = {}  # a constant -> the parameters it is made of
        self.parts: Dict[str, Tuple[Any, int, List[Tuple[int, int]], bool]] = {}  # split/chunk/unbind results
        self.out: List[Node] = []
        self.names: Set[str] = {"input"}
        self.last = "input"
        self.used: Dict[str, List[str]] = {}  # parameter -> the layers that read it
        self.holder: Dict[Tuple[str, ...], str] = {}  # a parameter tensor (tensor_of) -> the first layer that read it
        self.counted: Dict[Tuple[str, ...], int] = {}  # a parameter tensor -> how many rows count it
        self.notes: List[str] = []
        self.node: Any = None
        self.bases = self.base_names()

    # --- names ------------------------------------------------------------------------------

    def base_names(self) -> Dict[str, str]:
        """Each node's row name: its module's path when the module is a leaf that runs one kind of
        operator ('layer1.0.conv1'; 'layer1.0.relu' run twice is that and '_2'), else the path and
        the operator ('layer1.0.add', 'encoder.layers.encoder_layer_0.self_attention.linear')."""
        acts: Set[str] = set(self.user)
        paths: Dict[str, Set[str]] = {}
        nodes = []
        for n in self.graph.nodes:
            if n.op != "call_function" or not reads_activation(n, acts):
                continue
            acts.add(n.name)
            nodes.append(n)
            op = short_op(n.target)
            if op not in ("getitem", "alias", "contiguous", "clone", "detach"):
                paths.setdefault(module_path(n), set()).add(op)
        every = set(paths)
        leaves = {p for p in every if p and not any(q.startswith(p + ".") for q in every)}
        out = {}
        for n in nodes:
            p, op = module_path(n), short_op(n.target)
            out[n.name] = op if not p else p if p in leaves and len(paths.get(p, ())) == 1 else f"{p}.{op}"
        return out

    def fresh(self, suffix: str = "") -> str:
        return unique_name(safe_name(self.bases.get(self.node.name, short_op(self.node.target)) + suffix), self.names)

    # --- shapes and layouts -----------------------------------------------------------------

    def dims_of(self, node: Any, index: int = 0) -> Tuple[int, ...]:
        val = node.meta.get("val")
        if isinstance(val, (list, tuple)):
            val = val[index] if len(val) > index else None
        shape = getattr(val, "shape", None)
        if shape is None:
            raise Mismatch(f"'{node.name}' records no shape")
        try:
            return tuple(int(d) for d in shape)
        except Exception:
            raise SpecError(f"{self.origin}: node '{node.name}' has a symbolic shape {list(shape)}: convcalc needs "
                            "every size fixed", hint="export without dynamic_shapes") from None

    def want(self, node: Any, layout: str) -> Held:
        """``node``'s activation in the order an operator needs: 'aten' (aten's order, the batch
        where it is) or 'grid' (N, C, spatial...); a ``permute`` row when it is held otherwise."""
        h = self.held[node.name]
        if layout == "grid":
            if h.batch != 0 or len(h.dims) < 2:
                raise Mismatch("a grid needs the batch first")
            target = grid(len(h.dims))
        else:
            target = in_order(h.dims, h.batch)
        if target == h.axes:
            return h
        order = [0] * len(h.cc)
        for cur, tgt in zip(h.axes, target):
            if cur is not None and tgt is not None:
                order[tgt] = cur
        moved = Held(self.permute(h.ref, order), h.dims, target)
        self.held[node.name] = moved  # every later reader takes the permuted tensor
        return moved

    def permute(self, ref: str, order: Sequence[int], suffix: str = ".permute") -> str:
        return self.add_layer(make_layer("permute", [RawOption("order", list(order))], None), ref, suffix)

    def settle(self, node: Any, cc: Sequence[int], like: Optional[Held] = None, index: int = 0) -> Axes:
        """The layout of ``node``'s result, which convcalc's rule made ``cc``: ``like``'s when it
        keeps its input's layout, else aten's order with the batch where an axis of 1 is left.
        A rule whose shape is not the program's raises Mismatch."""
        dims = self.dims_of(node, index)
        if like is not None and len(like.dims) == len(dims):
            if Held("", dims, like.axes).cc == tuple(cc):
                return like.axes
        batch = find_batch(dims, cc)
        if batch == -1:
            raise Mismatch(f"convcalc makes {list(cc)}, the program {list(dims)}")
        return in_order(dims, batch)

    # --- building the spec ------------------------------------------------------------------

    def add_layer(self, layer: Layer, source: str, suffix: str = "", frozen: bool = False,
                  shares: Tuple[Shares, ...] = ()) -> str:
        name = self.fresh(suffix)
        if source != self.last:
            self.out.append(FromSpec(source))
        self.out.append(LayerSpec(layer, name, frozen=frozen, shares=shares))
        self.last = name
        return name

    def layer(self, node: Any, kind: str, options: Dict[str, Any], x: Held, same: bool = True,
              suffix: str = "", params: Iterable[Any] = (), axes: Optional[Axes] = None) -> Held:
        """One row of ``kind`` reading ``x``; its result is ``node``'s (unless ``suffix`` names a
        step inside it), laid out as ``x`` (``same``), as ``axes`` says, or in aten's order.
        ``params``: the parameters (placeholders) it reads, checked against the rule's count."""
        options = {k: (v[0] if isinstance(v, list) and v and len(set(v)) == 1 else v) for k, v in options.items()}
        try:
            rule = make_layer(kind, [RawOption(k, v) for k, v in options.items()], None)
        except SpecError as e:
            raise Mismatch(e.message) from None
        xs = dims_shape(x.cc) if x.cc else Shape((), 1)
        y = rule.out_shape(xs)
        if suffix:
            axes = in_order(y.dims, None)
        elif axes is not None:
            if Held("", self.dims_of(node), axes).cc != y.dims:
                raise Mismatch(f"convcalc makes {list(y.dims)}, the program {list(self.dims_of(node))}")
        else:
            axes = self.settle(node, y.dims, x if same else None)
        reads = [(p.name, self.params[p.name]) for p in params
                 if p is not None and hasattr(p, "name") and p.name in self.params]
        readers = [fqn for _, fqn in reads]
        frozen = bool(readers) and not any(self.trainable.get(r, True) for r in readers)
        held = sum(math.prod(self.param_dims.get(p.name, ())) for p in params if p is not None and hasattr(p, "name")
                   and p.name in self.params)
        # a shared tensor is counted once only where both rows count exactly the elements they read
        exact = rule.params(xs) == held
        shares = self.shares(reads) if exact else ()
        ref = self.add_layer(rule, x.ref, suffix, frozen, shares)
        for r in readers:
            self.used.setdefault(r, []).append(ref)
            tensor = self.tensor_of(r)
            if tensor not in self.holder or not exact:  # not shared: this row counts it
                self.counted[tensor] = self.counted.get(tensor, 0) + 1
            if exact:
                self.holder.setdefault(tensor, ref)
        if readers and not exact:
            self.notes.append(f"{ref}: convcalc's {kind} counts {rule.params(xs):,} params, the module's "
                              f"parameters hold {held:,}")
        out = Held(ref, self.dims_of(node) if not suffix else y.dims, axes)
        if not suffix:
            self.held[node.name] = out
        return out

    def tensor_of(self, fqn: str) -> Tuple[str, ...]:
        """The parameter tensor ``fqn`` names, as all its names (a tied weight has two)."""
        return self.aliases.get(fqn, (fqn,))

    def shares(self, reads: Sequence[Tuple[str, str]]) -> Tuple[Shares, ...]:
        """The parameters among ``reads`` (placeholder, name) that a layer made before holds (a
        module applied twice, a tied weight): one ``Shares`` per holder, so the engine counts them
        there only, as ``model.parameters()`` does. A parameter named ``bias`` is a bias term."""
        by: Dict[str, Tuple[int, int, List[str]]] = {}
        for p, fqn in reads:
            tensor = self.tensor_of(fqn)
            holder = self.holder.get(tensor)
            if holder is None:
                continue
            n = math.prod(self.param_dims.get(p, ()))
            params, biases, names = by.get(holder, (0, 0, []))
            by[holder] = (params + n, biases + (n if fqn.rsplit(".", 1)[-1] == "bias" else 0), [*names, f"'{tensor[0]}'"])
        return tuple(Shares(h, params, biases, " and ".join(names)) for h, (params, biases, names) in by.items())

    def merge(self, node: Any, rule: Merge, xs: Sequence[Held]) -> Held:
        """A block whose branches are ``xs`` (each already in the first's layout) meeting in ``rule``."""
        y = rule.merge(tuple(dims_shape(x.cc) for x in xs))
        axes = self.settle(node, y.dims, xs[0])
        name = self.fresh()
        self.out.append(BlockSpec(tuple((FromSpec(x.ref),) for x in xs), rule, name))
        self.last = name
        self.held[node.name] = Held(name, self.dims_of(node), axes)
        return self.held[node.name]

    def alias(self, node: Any, x: Held, axes: Optional[Axes] = None) -> None:
        """``node`` is ``x`` again (a contiguous, a dropout's copy, a view that changes no dim)."""
        self.held[node.name] = Held(x.ref, self.dims_of(node), x.axes if axes is None else axes)

    def unknown(self, node: Any, x: Held) -> None:
        """An operator convcalc has no rule for (or whose shape its rule does not give): a row
        with the shape the program recorded, its cost not counted, and said so."""
        try:
            dims = self.dims_of(node)
        except Mismatch:
            raise SpecError(f"{self.origin}: node '{node.name}' ({short_op(node.target)}) has no rule in convcalc "
                            "and no recorded shape, so shapes cannot continue") from None
        axes = x.axes if len(dims) == len(x.dims) else in_order(dims, dims.index(1) if 1 in dims else None)
        cc = Held("", dims, axes).cc or (1,)
        op = safe_name(str(node.target))[:100]
        layer = make_layer("unknown", [RawOption("op", op), RawOption("out", list(cc))], None)
        ref = self.add_layer(layer, x.ref)
        self.held[node.name] = Held(ref, dims, axes)


def flat(items: Any) -> Iterable[Any]:
    """Every leaf of nested tuples, lists and dicts (an operator's args and kwargs)."""
    if isinstance(items, dict):
        items = tuple(items.values())
    if isinstance(items, (list, tuple)):
        for i in items:
            yield from flat(i)
    else:
        yield items
