"""What a boxes-in-a-row picture must show: the drawn items, which tensors each holds, the reads
between them, and whether the network is an encoder–decoder to be drawn U-shaped.

The blocks and lenet styles draw a network as a sequence of items (a layer's output with the
shape-keeping layers after it, a block collapsed at ``depth``, or a run of identical ones). An
item holds the tensors of the layers ``first``..``last``; a read (``LayerReport.sources``) whose
tensor is held by another item than its reader's is a ``Read`` between two items, and each one
is drawn (a kernel window, an arrow, a skip), carrying ``data-from``/``data-to`` with the names
the JSON report gives the tensors (a layer's ``full_name``; ``input`` for the network's input).
Reads inside one item are what folding it means, and its caption says so.

The U layout (U-Net's Fig. 1, FPN's Fig. 3) is chosen from the graph, never from a name: each
item gets a ``level``, how many halvings its map is from the input's (counted from what it reads,
so U-Net's valid convolutions, 572 → 568, stay on their level), and a network is an
encoder–decoder when a read skips from an item to a later one on the same level over items
deeper down: the encoder went down and the decoder came back up to meet it.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple
from xml.sax import saxutils

from ..analysis.result import BlockReport, LayerReport, Report
from ..errors import shown
from ..shape import Shape
from ..values import replace, value


def escape(text: str) -> str:
    """XML character data: markup escaped, control characters shown (a tooltip's lines kept)."""
    return saxutils.escape(shown(text, keep="\n"))


def quoteattr(text: str) -> str:
    """A quoted XML attribute value: markup escaped, control characters shown."""
    return saxutils.quoteattr(shown(text))


# Layers that keep their input's shape and carry (almost) no cost are drawn with the box before
# them, as every lecture figure does: a box per ReLU would double VGG's length and say nothing.
FOLDED = frozenset({"act", "bn", "dropout", "softmax", "norm", "ln", "gn", "scale"})
REPEAT_MIN = 5  # this many identical boxes in a row become one box marked ×N (VGG-19's four stay)
SYMBOLS = {"add": "⊕", "mul": "⊗", "concat": "‖", "seqcat": "‖", "matmul": "@"}


@value
class Item:
    """One box: a layer's output, a collapsed block, or a run of identical ones."""

    name: str  # the full name, as the table and JSON give it
    kind: str  # what colours it: the layer's family, or the block's kind
    label: str  # what it is, as the table's layer column says
    output: Shape
    params: int  # the engine's figures for one of them
    macs: int
    activations: int
    input: Shape
    count: int = 1  # identical boxes in a row it stands for
    last_name: str = ""  # the last of them, when count > 1
    folded: Tuple[str, ...] = ()  # shape-keeping layers drawn with it (relu, batchnorm ...)
    first: int = 0  # the layers whose outputs it holds, first..last (0: the network's input)
    last: int = 0
    inside: str = ""  # a collapsed block's merges, said in words: "residual ⊕, identity shortcut"


def layer_item(r: LayerReport) -> Item:
    return Item(r.full_name, r.layer.family, r.layer.describe(), r.output, r.params, r.macs, r.activations,
                r.input, first=r.index, last=r.index)


def merge_said(b: BlockReport, report: Report) -> str:
    """A merge block in words: ``residual ⊕, identity shortcut`` where both branches read the
    block's one input (ResNet's), else ``concat ‖, 4 branches`` (an inception module, FPN's add)."""
    outside = {s for r in report.layers[b.first - 1:b.last] for s in r.sources if s < b.first}
    if b.merge == "add" and b.branches == 2 and len(outside) == 1:
        return f"residual ⊕, {'identity' if b.identities else 'projection'} shortcut"
    how = "identity shortcut" if b.identities == 1 and b.branches == 2 else f"{b.branches} branches"
    return f"{b.merge} {SYMBOLS.get(b.merge, '+')}, {how}"


def merges_inside(b: BlockReport, report: Report) -> str:
    """What a collapsed block folds away, so its one box says it is no chain: its own merge, the
    one merge it holds, or how many residual (or other merging) blocks it holds."""
    if b.merge:
        return merge_said(b, report)
    prefix = (*b.path, b.name)
    held = [c for c in report.blocks if c.path[:len(prefix)] == prefix and c.merge]
    if len(held) == 1:
        return merge_said(held[0], report)
    n_residual = sum(1 for c in held if merge_said(c, report).startswith("residual"))
    if n_residual == len(held) and held:
        return f"{n_residual} residual blocks ⊕"
    return f"{len(held)} merging blocks inside" if held else ""


def block_item(b: BlockReport, report: Optional[Report] = None) -> Item:
    return Item(b.full_name, b.kind, b.label, b.output, b.params, b.macs, b.activations, b.input,
                first=b.first, last=b.last, inside=merges_inside(b, report) if report is not None else "")


def default_depth(report: Report) -> Optional[int]:
    """Chains are drawn layer by layer; a network with branches, each branching block as one box
    (its reads from far back drawn as arrows between the boxes)."""
    blocks = {b.full_name: b for b in report.blocks}
    levels = []
    for b in report.blocks:
        if not (b.merge or b.branches > 1):
            continue
        # a merge inside a block of a named kind (a 'basic' block holding its 'add') is drawn
        # as that block: climb while the enclosing block has a kind of its own
        level = b.depth
        while level > 0:
            parent = blocks.get(".".join(b.path[:level]))
            if parent is None or parent.kind == "block":
                break
            level -= 1
        levels.append(level)
    return min(levels) if levels else None


def drawn_items(report: Report, depth: Optional[int] = None, every_layer: bool = False) -> List[Item]:
    """The boxes, in order: the input, then each layer (or each block at ``depth``). A
    shape-keeping layer is drawn with the box before only when it reads that box's last tensor."""
    by_path = {(*b.path, b.name): b for b in report.blocks}
    items = [Item("input", "input", "INPUT", report.spec.input, 0, 0, report.spec.input.elements,
                  report.spec.input)]
    drawn_to = 0  # the last layer of the collapsed block drawn last: its own merge is in that box too
    for r in report.layers:
        if r.index <= drawn_to:
            continue
        if depth is not None and len(r.path) > depth:
            block = by_path.get(r.path[:depth + 1])
            if block is None:  # a branch (b1, b2 ...) has no block of its own: draw its enclosing block
                block = by_path[r.path[:depth]]
            drawn_to = block.last
            items.append(block_item(block, report))
            continue
        item = layer_item(r)
        last = items[-1]
        if (not every_layer and item.kind in FOLDED and r.output == r.input and len(items) > 1
                and r.sources == (r.index - 1,) and last.last == r.index - 1):
            items[-1] = replace(last, folded=(*last.folded, r.full_name), last=r.index)
            continue
        items.append(item)
    return collapse_repeats(items, report)


def collapse_repeats(items: Sequence[Item], report: Report) -> List[Item]:
    """Runs of at least REPEAT_MIN identical boxes (same kind, label, shapes and figures) that
    form a chain (each reads only the one before; nothing outside reads any but the last) become one.
    Each but the last has as many layers drawn with it as the first; the last may have more (ViT's
    final LayerNorm, drawn with the twelfth encoder layer, left it alone beside "encoder_layer_0 ×11")."""
    holder = holders(items)
    reads_from: List[Set[int]] = [set() for _ in items]
    read_by: List[Set[int]] = [set() for _ in items]
    for r in report.layers:
        for s in r.sources:
            a, b = holder[s], holder[r.index]
            if a != b:
                reads_from[b].add(a)
                read_by[a].add(b)
    out: List[Item] = []
    i = 0
    while i < len(items):
        j = i + 1
        key = same(items[i])
        while (j < len(items) and same(items[j]) == key and reads_from[j] <= {j - 1}
               and read_by[j - 1] <= {j} and len(items[j - 1].folded) == len(items[i].folded)):
            j += 1
        if j - i >= REPEAT_MIN:
            folded = tuple(n for it in items[i:j] for n in it.folded)
            out.append(replace(items[i], count=j - i, last_name=items[j - 1].name, folded=folded,
                               last=items[j - 1].last))
            i = j
        else:  # the next box may start a run (one with more drawn with it ends one, never starts it)
            out.append(items[i])
            i += 1
    return out


def same(it: Item) -> Tuple[Any, ...]:
    return (it.kind, it.label, it.input, it.output, it.params, it.macs, it.activations)


def holders(items: Sequence[Item]) -> Dict[int, int]:
    """Which item holds each tensor (0: the input; k: layer k's output)."""
    return {k: i for i, it in enumerate(items) for k in range(it.first, it.last + 1)}


def tensor_name(report: Report, tensor: int) -> str:
    """A tensor as the JSON report names it: the full name of the layer that makes it, or ``input``."""
    return report.layers[tensor - 1].full_name if tensor else "input"


@value
class Read:
    """A layer reading a tensor another drawn item holds: from item ``src`` to item ``dst``."""

    tensor: int  # 0: the input; k: layer k's output
    reader: int  # the layer's index
    src: int
    dst: int
    source: str  # the names data-from / data-to carry
    target: str


def crossing_reads(report: Report, items: Sequence[Item]) -> List[Read]:
    """Every read between two drawn items, in the order of the readers: one per tensor and item
    reading it, ``target`` naming each layer in that item that reads it (space-separated: the
    bottleneck and its projection shortcut both read the block's input)."""
    holder = holders(items)
    found: Dict[Tuple[int, int], Read] = {}
    for r in report.layers:
        for s in r.sources:
            a, b = holder[s], holder[r.index]
            if a == b:
                continue
            rd = found.get((s, b))
            if rd is None:
                found[(s, b)] = Read(s, r.index, a, b, tensor_name(report, s), r.full_name)
            elif r.full_name not in rd.target.split(" "):
                found[(s, b)] = replace(rd, target=f"{rd.target} {r.full_name}")
    return list(found.values())


# --- the U layout --------------------------------------------------------------------------


def height_of(shape: Shape) -> Optional[int]:
    return shape.spatial[0] if shape.spatial else None


def levels(report: Report, items: Sequence[Item], reads: Sequence[Read]) -> List[int]:
    """Each item's level: its first read's item's, plus the halvings from that tensor to the
    item's output (a ratio of at least 2^0.7, about 1.62, counts as one: 2x down is one level, U-Net's
    crop 568 → 392 none); an item without a map stays
    on the level of what it reads."""
    first_read: Dict[int, Read] = {}
    for rd in reads:
        first_read.setdefault(rd.dst, rd)
    level = [0] * len(items)
    for i, it in enumerate(items):
        first = first_read.get(i)
        if first is None:
            continue
        level[i] = level[first.src]
        before, after = height_of(report.shape_of(first.tensor)), height_of(it.output)
        if before and after:  # a halving is a level; U-Net's valid convolutions and crops (568 → 392) are not
            halvings = math.log2(before / after)
            level[i] += int(math.copysign(math.floor(abs(halvings) + 0.3), halvings))
    return level


def is_encoder_decoder(items: Sequence[Item], reads: Sequence[Read], level: Sequence[int]) -> bool:
    """Whether a read joins two maps on one level over items deeper down (U-Net's skips, FPN's
    laterals) and a read from those deeper items comes back up to that level: the encoder went
    down between them and the decoder came back up to meet it."""
    for rd in reads:
        a, b = rd.src, rd.dst
        if (b > a + 1 and level[a] == level[b] and items[a].output.spatial and items[b].output.spatial
                and any(level[k] > level[a] for k in range(a + 1, b))
                and any(a < up.src < b and level[up.src] > level[a] and level[up.dst] == level[a] for up in reads)):
            return True
    return False


def skips_first(report: Report, items: Sequence[Item]) -> List[Item]:
    """The items in an order that lets a skip run straight: an item that reads only maps of its
    own level from far back (U-Net's crop of the encoder's map) moves before the items of its
    level that come up from below it (the up-convolution), as in U-Net's Fig. 1, where the copied
    map sits left of the up-convolved one. Still an order in which every read comes from before."""
    reads = crossing_reads(report, items)
    level = levels(report, items, reads)
    sources: Dict[int, Set[int]] = {}
    for rd in reads:
        sources.setdefault(rd.dst, set()).add(rd.src)
    order = list(range(len(items)))
    for j in range(len(items)):
        srcs = sources.get(j, set())
        if not srcs or any(level[s] != level[j] for s in srcs):
            continue
        p = order.index(j)
        while p > 1 and level[order[p - 1]] == level[j] and order[p - 1] not in srcs:
            order[p - 1], order[p] = order[p], order[p - 1]
            p -= 1
    return [items[i] for i in order]
