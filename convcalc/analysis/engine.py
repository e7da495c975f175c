"""Fold the layer rules over a spec: shapes, parameters, MACs and memory, as exact integers.

No I/O and no rounding here; ``render`` does both. Conventions (stated in the README, in
``--help`` and in every JSON report):

- params: weights + biases; batchnorm's running mean/variance are *buffers*, counted apart
  (PyTorch's ``num_batches_tracked``, one counter per batchnorm, is left out). A frozen layer
  (``frozen: true``, Keras' ``trainable=False``) trains nothing: its weights and biases are
  buffers too (``FROZEN``, stated only for a network that has one).
- MACs: multiply-accumulates of conv, fc (per position too) and attention layers (its Q·Kᵀ and
  A·V products included) for one sample; bias additions, pooling,
  normalisation and activations are not counted. FLOPs = 2 · MACs. (The lecture notes' "FLOPs"
  formula ``H2·W2·F²·D1·D2`` counts MACs.)
- activations: output elements of each layer (the "memory" column of the cs231n VGG table);
  the total adds them up with the input, for one forward pass, nothing freed.
- bytes: elements × bytes per element of ``dtype`` × ``batch`` (activations only; params once).
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import LayerError, Location, ShapeError, SpecError, did_you_mean
from ..layers import Concat, Layer, MatMul, Merge, Note
from ..limits import MAX_RANK, MAX_SIZE
from ..shape import Shape
from ..spec.model import BlockSpec, FromSpec, LayerSpec, NetworkSpec, Node
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
    ``optimizer``: state kept per parameter in the training estimate (sgd 0, momentum 1, adam 2).
    ``inplace``: activations and dropout run in place (PyTorch's inplace=True), so their outputs
    add no activation memory.
    """

    count: str = "macs"
    bias: bool = True
    ops: Tuple[str, ...] = ()
    optimizer: str = "sgd"
    inplace: bool = False  # activations and dropout overwrite their input: no new tensor to count


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
    """The analysis of one network for one dtype and batch size."""

    spec: NetworkSpec
    layers: Tuple[LayerReport, ...]
    dtype: str = "float32"
    batch: int = 1
    blocks: Tuple[BlockReport, ...] = ()  # innermost first within each block, in the order they end
    conventions: Conventions = Conventions()
    outputs: Tuple[OutputReport, ...] = ()  # as declared ('outputs:'), else the last tensor

    @property
    def output(self) -> Shape:
        """The network's output; with several, the last one declared."""
        if self.outputs:
            return self.outputs[-1].shape
        return self.layers[-1].output if self.layers else self.spec.input

    def shape_of(self, tensor: int) -> Shape:
        return self.layers[tensor - 1].output if tensor else self.spec.input

    def counted_params(self, r: LayerReport) -> int:
        return r.params if self.conventions.bias else r.params - r.biases

    def counted_activations(self, r: LayerReport) -> int:
        return 0 if self.conventions.inplace and r.layer.inplace else r.activations

    def work(self, r: LayerReport) -> int:
        """The layer's MACs or FLOPs under the conventions, extra element-wise ops included."""
        extra = r.ops if r.layer.op_kind and r.layer.op_kind in self.conventions.ops else 0
        if self.conventions.count == "flops":
            return 2 * r.macs + extra * (2 if r.layer.op_kind == "norm" else 1)
        return r.macs + extra

    @property
    def totals(self) -> Totals:
        return Totals(
            params=sum(r.params for r in self.layers),
            buffers=sum(r.buffers for r in self.layers),
            macs=sum(r.macs for r in self.layers),
            activations=self.spec.input.elements + sum(self.counted_activations(r) for r in self.layers),
            layers=len(self.layers),
            biases=sum(r.biases for r in self.layers),
            counted_params=sum(self.counted_params(r) for r in self.layers),
            work=sum(self.work(r) for r in self.layers),
        )

    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def activation_bytes(self, elements: int) -> int:
        return elements * self.bytes_per_element * self.batch

    def param_bytes(self, params: int) -> int:
        return params * self.bytes_per_element

    @property
    def unknown_ops(self) -> Dict[str, int]:
        """Each operator convcalc could not count (``unknown`` layers), with how often it occurs:
        when there is any, the totals leave its cost out and are incomplete."""
        counts: Dict[str, int] = {}
        for r in self.layers:
            op = getattr(r.layer, "op", None)
            if r.layer.kind == "unknown" and isinstance(op, str):
                counts[op] = counts.get(op, 0) + 1
        return counts

    @property
    def frozen(self) -> int:
        """How many layers are frozen (their weights counted as buffers)."""
        return sum(r.frozen for r in self.layers)

    @property
    def warnings(self) -> Tuple[Tuple[LayerReport, Note], ...]:
        return tuple((r, n) for r in self.layers for n in r.notes if n.level == "warning")


def bounded(y: Shape) -> Shape:
    """Every shape a layer or merge computes, checked in this one place: no zero size, and no
    size above ``MAX_SIZE`` (the bound every size read from a spec has), so a chain of
    upsamplings cannot build numbers that nothing downstream can handle."""
    if 0 in y.dims:
        raise LayerError(f"output {y} has a zero size")
    if len(y.dims) > MAX_RANK:
        raise LayerError(f"output has {len(y.dims):,} dims; convcalc takes at most {MAX_RANK}",
                         hint="see the README's limits")
    if max(y.dims, default=0) > MAX_SIZE:
        big = max(y.dims)
        raise LayerError(f"output size {big:,} exceeds the largest size convcalc handles, {MAX_SIZE:,}",
                         hint="see the README's limits")
    return y


def default_names(nodes: Sequence[Node]) -> Tuple[str, ...]:
    """Unnamed layers are numbered like the lecture notes: conv1, pool1, norm1 ... fc6, fc7, fc8.

    Numbering restarts inside each block, so a block's layers read as torchvision names them:
    ``layer1.2.conv1``. Unnamed blocks are named after their kind: bottleneck1, add1.
    """
    counters: Dict[str, int] = {}
    names = []
    for node in nodes:
        if isinstance(node, FromSpec):
            names.append("")
            continue
        if isinstance(node, LayerSpec):
            family = node.layer.family_name()
            key = type(node.layer).counter or family
        else:
            family = key = node.kind or (node.merge.family if node.merge else "block")
        counters[key] = counters.get(key, 0) + 1
        joint = "_" if family[-1:].isdigit() else ""  # relu6_1, not relu61
        names.append(node.name or f"{family}{joint}{counters[key]}")
    return tuple(names)


def analyse(spec: NetworkSpec, dtype: str = "float32", batch: int = 1,
            conventions: Conventions = Conventions()) -> Report:
    """Run every layer's rule on the tensor it reads (the one before it, or one named by
    ``from``), through every block; then find the declared outputs."""
    if dtype not in DTYPE_BYTES:
        raise ShapeError(f"unknown dtype '{dtype}'; expected one of {', '.join(DTYPE_BYTES)}")
    walk = _Walk(spec)
    last = walk.chain(spec.layers, 0, ())
    if spec.outputs:
        outputs = tuple(OutputReport(o.ref, t, walk.shapes[t]) for o in spec.outputs
                        for t in (walk.resolve(o, (), "an output"),))
    else:
        name = walk.layers[last - 1].full_name if last else "input"
        outputs = (OutputReport(name, last, walk.shapes[last]),)
    return Report(spec, tuple(walk.layers), dtype, batch, tuple(walk.blocks), conventions, outputs)


class Follower:
    """The engine run on a spec while a reader is still building it (Caffe's Reshape says 0 for
    "as before" and -1 for "what is left", so it needs the size of what it reads): each question
    walks only the nodes appended since the last one, so a file costs one walk, not one per
    question. ``nodes`` is the reader's growing list; errors are the engine's, located."""

    def __init__(self, input: Shape) -> None:
        self.walk = _Walk(NetworkSpec(input=input, layers=()))
        self.tensor = 0  # what the next node reads when no 'from' says otherwise
        self.walked = 0  # how many of the nodes are walked

    def shape_of(self, nodes: Sequence[Node], name: str) -> Shape:
        self.tensor = self.walk.chain(nodes[self.walked:], self.tensor, ())
        self.walked = len(nodes)
        return self.walk.shapes[self.walk.resolve(FromSpec(name), ())]


class _Walk:
    """Folds rules over nodes, collecting one LayerReport per layer or merge, in execution order.

    Tensors are numbered as ``LayerReport.sources`` counts them (0 the input, k layer k's
    output); ``names`` maps the full name of every layer and block seen so far to its tensor, so
    a ``from`` reads only what is already computed.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        self.layers: List[LayerReport] = []
        self.blocks: List[BlockReport] = []
        self.shapes: List[Shape] = [spec.input]
        self.names: Dict[str, int] = {}
        self.twice: Dict[str, Optional[Location]] = {}
        self.spec = spec

    def chain(self, nodes: Sequence[Node], t: int, path: Tuple[str, ...], frozen: bool = False) -> int:
        """Walk ``nodes`` from tensor ``t``; the tensor they end with. ``frozen``: inside a frozen block."""
        names = default_names(nodes)
        reading = ""  # the name a 'from' just read: the next layer says it reads that
        for i, (node, name) in enumerate(zip(nodes, names)):
            if isinstance(node, FromSpec):
                after = names[i + 1] if i + 1 < len(nodes) else ""
                if after and after == node.ref.rsplit(".", 1)[-1] and node.ref not in self.names:
                    raise SpecError(f"'{after}' reads itself: a layer can read only what is computed before it",
                                    node.loc, hint="name the tensor it should read instead")
                t = self.resolve(node, path)
                reading = node.ref
                continue
            if isinstance(node, LayerSpec):
                t = self.layer(node, name, t, path, reading, frozen)
            else:
                t = self.block(node, name, t, path, frozen)
            reading = ""
        return t

    def register(self, full_name: str, tensor: int, loc: Optional[Location]) -> None:
        if full_name in self.names and self.names[full_name] != tensor:
            self.twice[full_name] = loc
        self.names[full_name] = tensor

    def resolve(self, ref: FromSpec, path: Tuple[str, ...], what: str = "'from'") -> int:
        """The tensor ``ref`` names, seen from inside ``path``: the innermost block's names first,
        then the enclosing blocks', then any unique full name that ends with it (``layer3`` or
        ``layer3.5.relu``); ``input`` is the network's input."""
        name = ref.ref
        for k in range(len(path), -1, -1):
            full = ".".join((*path[:k], name))
            if full in self.names:
                if full in self.twice:
                    raise SpecError(f"{what} '{name}' is ambiguous: two tensors are named '{full}'", ref.loc,
                                    hint="give one of them another name")
                return self.names[full]
        if name == "input":
            return 0
        ends = sorted(n for n in self.names if n.endswith("." + name))
        if len(ends) == 1:
            return self.names[ends[0]]
        if ends:
            shown = ", ".join(ends[:5]) + (" ..." if len(ends) > 5 else "")
            raise SpecError(f"{what} '{name}' is ambiguous here: it could be {shown}", ref.loc,
                            hint="write the full name")
        later = dict(written_names(self.spec.layers))  # only now, to tell a forward reference from a typo
        if name in later:
            at = later[name]
            raise SpecError(f"{what} '{name}' refers forward: '{name}' is computed later"
                            f"{f' (at {at})' if at else ''}, and a layer reads only what is computed before it",
                            ref.loc)
        known = ["input", *self.names, *{n.rsplit(".", 1)[-1] for n in self.names}]
        raise SpecError(f"{what} '{name}': no layer or block of that name{did_you_mean(name, known)}", ref.loc,
                        hint="name a layer with 'name:' (YAML) or ':name' after its token, then read it with "
                             "'from:' or '@name'")

    def layer(self, ls: LayerSpec, name: str, t: int, path: Tuple[str, ...], reading: str = "",
              frozen: bool = False) -> int:
        x = self.shapes[t]
        rule = ls.layer.bind(x)  # a rank-generic rule learns the input's rank: its label says what runs
        index = len(self.layers) + 1
        like = getattr(rule, "like", None)
        if like:  # 'to the size of that tensor': the rule gets that size, and says where it came from
            rule = rule.sized_like(self.shapes[self.resolve(FromSpec(like, ls.loc), path, "'like'")])
        try:
            y = bounded(rule.out_shape(x))
            params, buffers, biases = rule.params(x), rule.buffers(x), rule.biases(x)
            frozen = frozen or ls.frozen
            if frozen:  # nothing trained: every weight and bias is state kept, as a running mean is
                params, buffers, biases = 0, buffers + params, 0
            report = LayerReport(index, name, rule, x, y, params, buffers, rule.macs(x),
                                 rule.notes(x), ls.loc, path, biases=biases, ops=rule.ops(x), sources=(t,),
                                 reads=(reading,) if reading else (), frozen=frozen)
        except LayerError as e:
            where = ".".join((*path, name))
            raise ShapeError(f"layer {index} '{where}' ({rule.describe()}) on input {x}: {e.message}",
                             ls.loc, e.hint) from None
        self.layers.append(report)
        self.shapes.append(y)
        self.register(report.full_name, index, ls.loc)
        return index

    def block(self, block: BlockSpec, name: str, t: int, path: Tuple[str, ...], frozen: bool = False) -> int:
        first = len(self.layers)
        x = self.shapes[t]
        inner = (*path, name)
        ends, spans = [], []
        paths = [b for b in block.branches if any(not isinstance(n, FromSpec) for n in b)]
        for i, branch in enumerate(block.branches, start=1):
            start = len(self.layers)
            ends.append(self.chain(branch, t, (*inner, f"b{i}") if len(block.branches) > 1 and len(paths) > 1
                                   else inner, frozen or block.frozen))
            spans.append(self.layers[start:])
        outputs = [self.shapes[e] for e in ends]
        if block.merge is None:
            out = ends[0]
        else:
            try:
                y = bounded(block.merge.merge(tuple(outputs)))
            except LayerError as e:
                # a branch that starts with '@name' reads that tensor, not the block's input
                starts = [self.producer(span[0].sources[0] if span else end)
                          if branch and isinstance(branch[0], FromSpec) else None
                          for branch, end, span in zip(block.branches, ends, spans)]
                raise ShapeError(f"block '{'.'.join(inner)}'{f' ({block.kind})' if block.kind else ''}: "
                                 f"{e.message}; {divergence(x, outputs, spans, starts)}", block.loc,
                                 e.hint or merge_hint(block.merge, x, outputs, spans, starts)) from None
            out = len(self.layers) + 1
            reads = tuple(b[-1].ref for b in block.branches  # type: ignore[union-attr]  # all FromSpec, checked
                          if b and all(isinstance(n, FromSpec) for n in b))
            macs = block.merge.merge_macs(tuple(outputs))
            merge = LayerReport(out, block.merge.family, block.merge, outputs[0], y, 0, 0, macs, (), block.loc, inner,
                                tuple(outputs), sources=tuple(ends), reads=reads)
            self.layers.append(merge)
            self.shapes.append(y)
            self.register(merge.full_name, out, block.loc)
        inside = self.layers[first:]
        self.blocks.append(BlockReport(
            name=name, kind=block.kind or (block.merge.family if block.merge else "block"), path=path,
            input=x, output=self.shapes[out], first=first + 1, last=len(self.layers),
            merge=block.merge.family if block.merge else "", branches=len(block.branches),
            identities=sum(1 for b in block.branches if not b),  # '@name' alone is a reference, not the identity
            params=sum(r.params for r in inside), buffers=sum(r.buffers for r in inside),
            macs=sum(r.macs for r in inside), activations=sum(r.activations for r in inside), loc=block.loc))
        self.register(".".join(inner), out, block.loc)
        return out

    def producer(self, t: int) -> str:
        """Tensor ``t`` as an error names it: 'lat3' (at file:line:col), or 'input'."""
        if t == 0:
            return "'input'"
        r = self.layers[t - 1]
        name = r.full_name if not isinstance(r.layer, Merge) else ".".join(r.path)
        return f"'{name}'{f' (at {r.loc})' if r.loc else ''}"


def written_names(nodes: Sequence[Node]) -> Iterator[Tuple[str, Optional[Location]]]:
    """Every name written in the spec, with where: to tell a reference forward from a misspelling."""
    for node in nodes:
        if isinstance(node, FromSpec):
            continue
        if node.name:
            yield node.name, node.loc
        if isinstance(node, BlockSpec):
            for branch in node.branches:
                yield from written_names(branch)


def merge_hint(merge: Layer, x: Shape, outputs: List[Shape], spans: List[List[LayerReport]],
               reads: Sequence[Optional[str]] = ()) -> str:
    """What to change when branches do not meet. A concat stacks channels, so only H×W must agree:
    name the branch whose size is the odd one out and the layer that made it so. A sum or product
    needs the whole shape: the shortcut needs the change its partner branch made, or, where a
    branch reads a named tensor (a lateral, a skip), one of them the other's size."""
    if isinstance(merge, MatMul):
        return ("matmul multiplies …xMxK by …xKxN: a 'permute' that swaps the second's last two dims "
                "(attention's Kᵀ) or a 'reshape' usually makes them meet")
    if not isinstance(merge, Concat) and any(reads):
        return ("a branch that reads a named tensor has that tensor's shape: bring one branch to the other's "
                "size, e.g. 'upsample: {like: NAME}' or 'crop: {like: NAME}'")
    if not isinstance(merge, Concat):
        return ("a shortcut around a layer that changes the shape needs the same change, "
                "e.g. a 1x1 conv with the same stride and filters")
    sizes = [out.spatial for out in outputs]
    common = x.spatial if x.spatial in sizes else max(sizes, key=sizes.count)  # the size most branches keep
    odd = []
    for i, (out, span) in enumerate(zip(outputs, spans), start=1):
        if out.spatial == common:
            continue
        size = "x".join(map(str, out.spatial)) or "a vector"
        culprits = [r for r in span if r.input.spatial != r.output.spatial]
        by = f" at '{culprits[-1].name}' ({culprits[-1].input} → {culprits[-1].output})" if culprits else ""
        odd.append(f"branch {i} ends {size}{by}")
    keep = "x".join(map(str, common)) or "a vector"
    return (f"concat stacks channels, so every branch must end at the same H×W ({keep} here; channels may differ): "
            f"{'; '.join(odd)}. Pad and stride the branches alike, e.g. padding 'same' at stride 1")


def divergence(x: Shape, outputs: List[Shape], spans: List[List[LayerReport]],
               reads: Sequence[Optional[str]] = ()) -> str:
    """Where branches that should agree went apart: the layers that changed each branch's shape,
    and for a branch that reads a named tensor (``reads``: the producer, or None), that tensor."""
    parts = []
    for i, (out, span) in enumerate(zip(outputs, spans), start=1):
        read = reads[i - 1] if i <= len(reads) else None
        changes = [r for r in span if r.input != r.output and len(r.path) == len(span[0].path)] if span else []
        if not changes:
            parts.append(f"branch {i} is {read}, {out}" if read else f"branch {i} keeps the input {x}")
            continue
        described = ", ".join(f"'{r.name}' ({r.input} → {r.output}{f' at {r.loc}' if r.loc else ''})" for r in changes)
        parts.append(f"branch {i}{f' reads {read} and' if read else ''} ends {out}, changed by {described}")
    return "; ".join(parts)
