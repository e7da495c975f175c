"""Fold the layer rules over a spec: shapes, parameters, MACs, receptive fields and memory.

``analyse`` walks the spec once, running each layer's rule on the tensor it reads, then derives
what depends on the whole graph (receptive fields, liveness and memory, totals) and returns one
``Report`` (result.py), which every renderer only formats. No I/O and no rounding here; the
conventions every figure follows are stated in result.py.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import LayerError, Location, ShapeError, SpecError, did_you_mean
from ..layers import Concat, Layer, MatMul, Merge, Note
from ..layers.options import BLOCK_INPUT
from ..limits import MAX_RANK, MAX_SIZE
from ..shape import Shape
from ..spec.model import BlockSpec, FromSpec, LayerSpec, NetworkSpec, Node, Shares
from ..values import replace
from .memory import memory
from .receptive import first_covering, receptive_fields
from .result import (
    DTYPE_BYTES,
    BlockReport,
    Conventions,
    LayerReport,
    OutputReport,
    Report,
    Totals,
    counted_activations,
    counted_params,
    work,
)
from .step import step
from .training import training


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
    ``from``), through every block; find the declared outputs; then everything that depends on
    the whole graph: receptive fields, memory and liveness, totals. One pass, one Report."""
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
    layers = tuple(walk.layers)
    totals = totals_of(spec.input, layers, conventions)
    fields = receptive_fields(spec.input, layers)
    unknown: Dict[str, int] = {}
    for r in layers:
        op = getattr(r.layer, "op", None)
        if r.layer.kind == "unknown" and isinstance(op, str):
            unknown[op] = unknown.get(op, 0) + 1
    report = Report(
        spec, layers, totals, memory(spec.input, layers, outputs, totals, dtype, batch, conventions.optimizer),
        fields, dtype, batch, tuple(walk.blocks), conventions, outputs,
        covering=first_covering(spec.input, layers, fields), unknown=tuple(unknown.items()),
        frozen=sum(r.frozen for r in layers),
        warnings=tuple((r, n) for r in layers for n in r.notes if n.level == "warning"))
    # the training figure every format shows is the peak of a step, the one `convcalc plan` gives
    the_step = step(report, training(report), conventions.optimizer)
    return replace(report, memory=replace(report.memory, training_peak=the_step.peak_bytes,
                                          training_complete=the_step.complete))


def totals_of(input: Shape, layers: Sequence[LayerReport], conventions: Conventions) -> Totals:
    """The network's sums: raw figures, and as ``conventions`` count them."""
    return Totals(
        params=sum(r.params for r in layers),
        buffers=sum(r.buffers for r in layers),
        macs=sum(r.macs for r in layers),
        activations=input.elements + sum(counted_activations(r, conventions) for r in layers),
        layers=len(layers),
        biases=sum(r.biases for r in layers),
        counted_params=sum(counted_params(r, conventions) for r in layers),
        work=sum(work(r, conventions) for r in layers),
    )


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
        self.entries: Dict[Tuple[str, ...], int] = {(): 0}  # each block's input, by its path: what '<in>' reads
        self.twice: Dict[str, Optional[Location]] = {}
        self.spec = spec
        # (rule as written, input) -> (rule as run, output, params, buffers, biases, MACs, notes, ops):
        # a large spec repeats a few layers on a few shapes, and a rule's figures depend on nothing else
        self.figures: Dict[Tuple[Layer, Shape], Tuple[Layer, Shape, int, int, int, int, Tuple[Note, ...], int]] = {}

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
                reading = self.read_as(node.ref, t)
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
        ``layer3.5.relu``); ``input`` is the network's input, ``<in>`` the input of the block it
        is read in (at the top, the network's)."""
        name = ref.ref
        if name == BLOCK_INPUT:  # the innermost block's input (a branch's path extends its block's)
            return next(self.entries[path[:k]] for k in range(len(path), -1, -1) if path[:k] in self.entries)
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
        index = len(self.layers) + 1
        known = self.figures.get((ls.layer, x))
        if known is None:
            known = self.run(ls, x, index, name, path)
        rule, y, params, buffers, biases, macs, notes, ops = known
        frozen = frozen or ls.frozen
        shared = 0
        for share in ls.shares:  # weights an earlier layer holds: one tensor, counted there only
            held, held_biases, note = self.shared(share, rule, x, params, params - shared, biases, index, name,
                                                  path)
            shared, biases, notes = shared + held, biases - held_biases, (*notes, note)
        params -= shared
        if frozen:  # nothing trained: every weight and bias is state kept, as a running mean is
            params, buffers, biases, shared = 0, buffers + params, 0, 0
        report = LayerReport(index, name, rule, x, y, params, buffers, macs, notes, ls.loc, path, (), biases, ops,
                             (t,), (reading,) if reading else (), frozen, shared)
        self.layers.append(report)
        self.shapes.append(y)
        self.register(report.full_name, index, ls.loc)
        return index

    def shared(self, share: Shares, rule: Layer, x: Shape, params: int, left: int, biases: int, index: int,
               name: str, path: Tuple[str, ...]) -> Tuple[int, int, Note]:
        """How many of this layer's params (and of its biases) are ``share.layer``'s, checked,
        and the row's note saying where they are counted. ``left``: its params no share before
        this one took; ``biases``: its biases no share before took."""
        t = self.resolve(FromSpec(share.layer, share.loc), path, "'shares'")
        holder = self.layers[t - 1] if t else None
        where = ".".join((*path, name))
        if holder is None or not (holder.full_name == share.layer or holder.full_name.endswith("." + share.layer)):
            raise SpecError(f"layer {index} '{where}' shares '{share.layer}', which is not a layer", share.loc,
                            hint="shares names the layer that holds the weights (not a block, not the input)")
        held = holder.layer.params(holder.input)
        count, of_biases = (left, biases) if share.params is None else (share.params, share.biases)
        if (share.params is None and held != params) or not 0 <= of_biases <= min(count, biases) \
                or not 0 < count <= min(left, held):
            raise SpecError(f"layer {index} '{where}' ({rule.describe()}) on input {x} holds {params:,} params and "
                            f"'{holder.full_name}' {held:,}: they cannot be the same weights", share.loc,
                            hint="shares joins a layer to one with the same weights (a module applied twice)")
        what = share.what or "its weights"
        return count, of_biases, Note("info", "shared", f"shares {what} with layer '{holder.full_name}': "
                                      f"counted there ({count:,} params)", f"weights of {holder.full_name}")

    def run(self, ls: LayerSpec, x: Shape, index: int, name: str, path: Tuple[str, ...],
            ) -> Tuple[Layer, Shape, int, int, int, int, Tuple[Note, ...], int]:
        """The layer's rule on ``x``: its figures, remembered for the next layer like it (not when
        its size comes from another tensor, 'like', which differs from place to place)."""
        rule = ls.layer.bind(x)  # a rank-generic rule learns the input's rank: its label says what runs
        like = getattr(rule, "like", None)
        if like:  # 'to the size of that tensor': the rule gets that size, and says where it came from
            rule = rule.sized_like(self.shapes[self.resolve(FromSpec(like, ls.loc), path, "'like'")])
        try:
            figures = (rule, bounded(rule.out_shape(x)), rule.params(x), rule.buffers(x), rule.biases(x),
                       rule.macs(x), rule.notes(x), rule.ops(x))
        except LayerError as e:
            where = ".".join((*path, name))
            raise ShapeError(f"layer {index} '{where}' ({rule.describe()}) on input {x}: {e.message}",
                             ls.loc, e.hint) from None
        if not like:
            self.figures[ls.layer, x] = figures
        return figures

    def block(self, block: BlockSpec, name: str, t: int, path: Tuple[str, ...], frozen: bool = False) -> int:
        first = len(self.layers)
        x = self.shapes[t]
        inner = (*path, name)
        self.entries[inner] = t
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
            reads = tuple(self.read_as(b[-1].ref, end)  # type: ignore[union-attr]  # all FromSpec, checked
                          for b, end in zip(block.branches, ends) if b and all(isinstance(n, FromSpec) for n in b))
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

    def read_as(self, ref: str, t: int) -> str:
        """A read as the table says it: the name written, and for ``<in>`` which tensor that was
        (``<in> = conv1``)."""
        if ref != BLOCK_INPUT:
            return ref
        named = [n for n, tensor in self.names.items() if tensor == t]  # a block's output: the block's name
        return f"{BLOCK_INPUT} = {min(named, key=lambda n: (n.count('.'), len(n))) if named else 'input'}"

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
