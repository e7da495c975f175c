"""The graph style's layout: which box draws each layer, in which order, and where each box goes.

A drawn box (``Node``) is a layer, with the shape-keeping layers after it folded in, or a block
collapsed at ``depth``, or the input. Boxes are placed along the block tree, so series-parallel
parts never cross: a sequence (``Seq``) stacks top to bottom on one axis; a merge block (``Par``)
puts its branches side by side in columns above its merge node, with a residual block's identity
shortcut in a lane at its right. ``Layout`` remembers which edges that tree draws straight (the
box above; a merge's branch ends) and each shortcut; every other read is a far reference, for
``lanes``. Mutable while built; nothing outside the graph style sees it.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import AbstractSet, Dict, List, Optional, Sequence, Set, Tuple, Union

from ..analysis.result import BlockReport, LayerReport, Report
from ..layers import Merge
from .blocks import TEXT, text_width
from .flow import FOLDED, Item, block_item, layer_item

VGAP = 26  # between a node and the next one down
HGAP = 28  # between branch columns
PAD = 10  # inside a box, left and right of the widest line
LINE = 15  # text line height in a box
RADIUS = 14  # a merge node's circle
LANE = 14  # between side lanes, and a shortcut lane's distance from its block
TAG_GAP = 8  # between a box and its 'output' tag
TAG_BAND = 22  # the height about an output's middle its tag takes, kept free of connectors


class Node:
    """One drawn thing: a layer (with the shape-keeping layers folded into it), a collapsed block,
    or the input. Covers the layers ``first``..``last`` (0: the input). Layout fills x (centre),
    y (top), w, h. Mutable while the layout is built; nothing outside this module sees it."""

    def __init__(self, item: Item, path: Tuple[str, ...], first: int, merge: str = "",
                 block: Optional[BlockReport] = None) -> None:
        self.item, self.path, self.first, self.last = item, path, first, first
        self.merge, self.block = merge, block
        self.folded: List[LayerReport] = []
        self.shown = ""  # its name as drawn: its block path, then its own name (``shown_name``)
        self.outputs: List[str] = []
        self.x = self.y = self.w = self.h = 0.0
        self.slot = 0.0  # the width it takes in its column (the box, its side text, its output tag)
        self.text_right = False  # a merge's text at its right, its left taken by references

    @property
    def lines(self) -> List[Tuple[str, str, float]]:
        """(class, text, size) of each line in the box."""
        it = self.item
        out: List[Tuple[str, str, float]] = [("name", self.shown or it.name, TEXT - 1), ("label", it.label, TEXT),
                                             ("shape", str(it.output), TEXT - 1)]
        if it.inside:  # a collapsed block says what it folds away: "3 residual blocks ⊕"
            out.append(("inside", it.inside, TEXT - 2))
        if self.folded:
            out.append(("folded", "+ " + ", ".join(r.layer.describe() for r in self.folded), TEXT - 2))
        return out

    def measure(self) -> None:
        if self.merge:
            side = max(text_width(self.item.label, TEXT - 1), text_width(str(self.item.output), TEXT - 1)) + 6
            self.w = self.h = 2 * RADIUS
            self.slot = 2 * (RADIUS + side)
        else:
            self.w = max(max(text_width(s, size) for _, s, size in self.lines) + 2 * PAD, 90)
            self.h = 8 + LINE * len(self.lines) + 2
            self.slot = self.w
        if self.outputs:
            self.slot += 2 * (TAG_GAP + 22 + text_width(self.tag, TEXT - 1))

    @property
    def tag(self) -> str:
        return "output " + ", ".join(self.outputs)

    @property
    def top(self) -> float:
        return self.y

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def mid(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2


# the names the engine gives what a spec leaves unnamed: a merge block (add1) and a branch (b2)
GIVEN = re.compile(r"^(?:b|add|mul|concat|cat|seqcat|matmul)[0-9]+$")
BRANCH = re.compile(r"^b[0-9]+$")


def shown_name(path: Tuple[str, ...], own: str, runs: Dict[Tuple[str, ...], Tuple[str, int]],
               branches_of: AbstractSet[Tuple[str, ...]] = frozenset()) -> str:
    """A box's name as drawn: its block path, the engine's own names for merge blocks and
    branches left out, then its own name: ``layer1.0 / conv1``, ``conv1 / conv1`` (GoogLeNet's
    stem); a block standing for a run of identical ones as ``first…last``, the count after the
    path: ``encoder.layers.encoder_layer_0…11 ×12 / ln_1``, ``features.5.0…4.mlp ×3 / 0``. The
    branches of a merge block in ``branches_of`` keep their names (``inception3a.b2 / conv1``)."""
    parts, counts = [], []
    for k in range(1, len(path) + 1):
        if path[:k] in runs:
            text, count = runs[path[:k]]
            parts.append(text)
            counts.append(f" ×{count}")
        elif not GIVEN.match(path[k - 1]) or (BRANCH.match(path[k - 1]) and path[:k - 1] in branches_of):
            parts.append(path[k - 1])
    return " / ".join(p for p in (".".join(parts) + "".join(counts), own) if p.strip())


class Run:
    """Identical groups of blocks in a row (same kinds, layers, shapes, figures and wiring), drawn
    once: a group is one block (ResNet's bottlenecks), or two or three when blocks alternate
    (Swin's plain and shifted windows; MaxViT's MBConv, window and grid attention). The first
    group is drawn, each of its blocks named ``first…last ×N``; the later groups' layers are
    ``hidden``, but for the run's output (``last``), drawn by the first group's (``drawn_last``)."""

    def __init__(self, groups: Sequence[Sequence[BlockReport]]) -> None:
        self.groups = [list(g) for g in groups]
        self.blocks = [b for g in groups for b in g]
        self.first, self.drawn_last = groups[0][0].first, groups[0][-1].last
        self.last = groups[-1][-1].last
        self.hidden = range(groups[1][0].first, self.last + 1)
        self.texts: Dict[Tuple[str, ...], Tuple[str, int]] = {}  # first group's block -> its name as drawn, N
        for b, z in zip(groups[0], groups[-1]):
            common = len(os.path.commonprefix([b.name, z.name]))
            self.texts[(*b.path, b.name)] = (f"{b.name}…{z.name[common:] or z.name}", len(groups))


def drawing_key(report: Report, group: Sequence[BlockReport]) -> Optional[Tuple[object, ...]]:
    """What makes two groups of blocks the same drawing: each block's kind, shapes and figures,
    each layer's place, name, description and output, and what it reads (a layer of the group,
    by offset, or the group's input); None when the blocks are not back to back, or a layer reads
    from outside the group (it could not be drawn once for all)."""
    first = group[0].first
    out: List[object] = []
    for k, b in enumerate(group):
        if k and b.first != group[k - 1].last + 1:
            return None
        out.append((b.kind, b.input, b.output, b.params, b.macs, b.activations, b.last - b.first))
        start = len(b.path) + 1
        for r in report.layers[b.first - 1:b.last]:
            reads = []
            for s in r.sources:
                if s >= first:
                    reads.append(s - first)
                elif s == first - 1:
                    reads.append(-1)
                else:
                    return None
            out.append((r.path[start:], r.name, r.layer.describe(), r.output, tuple(reads)))
    return tuple(out)


PERIODS = (1, 2, 3)  # blocks in a repeated group: one, or two or three alternating


def repeated_blocks(report: Report, depth: Optional[int]) -> List[Run]:
    """The runs of at least two identical groups in a row, among the blocks drawn (expanded, or
    as a box at ``depth``), where nothing outside a run reads a later group's tensor, or the first
    group's output, but the run's own output."""
    siblings: Dict[Tuple[str, ...], List[BlockReport]] = {}
    for b in report.blocks:
        if depth is None or b.depth <= depth:
            siblings.setdefault(b.path, []).append(b)
    outputs = {o.tensor for o in report.outputs}
    runs: List[Run] = []
    for row in siblings.values():
        row.sort(key=lambda b: b.first)
        i = 0
        while i < len(row):
            found = None
            for p in PERIODS:
                key = drawing_key(report, row[i:i + p]) if i + p <= len(row) else None
                j = i + p
                while (key is not None and j + p <= len(row) and row[j].first == row[j - 1].last + 1
                       and drawing_key(report, row[j:j + p]) == key):
                    j += p
                if j - i >= 2 * p:
                    run = Run([row[k:k + p] for k in range(i, j, p)])
                    unseen = (set(run.hidden) | {run.drawn_last}) - {run.last}  # no box of their own
                    outside = (r for r in report.layers if r.index not in run.hidden)
                    if not (outputs & unseen) and not any(s in unseen for r in outside for s in r.sources):
                        found = run
                        break
            if found is not None:
                runs.append(found)
                i += len(found.blocks)
            else:
                i += 1
    runs.sort(key=lambda run: len(run.blocks[0].path))  # the outermost first; none inside a copy not drawn
    kept: List[Run] = []
    for run in runs:
        if not any(run.first in other.hidden for other in kept):
            kept.append(run)
    return kept


def graph_nodes(report: Report, depth: Optional[int], fold: bool = True
                ) -> Tuple[List[Node], Dict[int, Node], List[Run]]:
    """The nodes in layer order, the node drawing each tensor (0: the input) and the runs of
    identical blocks drawn once (none when ``fold`` is off: ``--every-layer``). A tensor of a run's
    later copies has no node, but for the last copy's output, drawn by the first copy's."""
    blocks = {(*b.path, b.name): b for b in report.blocks}
    readers = Counter(s for r in report.layers for s in r.sources)
    spec = report.spec
    runs = repeated_blocks(report, depth) if fold else []
    named = {key: text for run in runs for key, text in run.texts.items()}
    hidden = {i for run in runs for i in run.hidden}
    nodes = [Node(Item("input", "input", "INPUT", spec.input, 0, 0, spec.input.elements, spec.input), (), 0)]
    node_of: Dict[int, Node] = {0: nodes[0]}
    for r in report.layers:
        if r.index in hidden:
            continue
        last = nodes[-1]
        inside = last.block is not None and r.path[:last.block.depth + 1] == (*last.block.path, last.block.name)
        # the outermost block enclosing it at ``depth`` or deeper; a branch (b1, b2 ...) is no block,
        # so a projection shortcut's branches show at the depth an identity shortcut's branch does
        key = next((r.path[:k] for k in range(depth + 1, len(r.path) + 1) if r.path[:k] in blocks), None) \
            if depth is not None else None
        if key is not None or inside:
            b = last.block if inside else blocks[key]  # type: ignore[index]  # a merge joins the block its branches are in
            assert b is not None
            if b.first == b.last and not inside:  # a merge block of only the merge (FPN's inner4): a merge node
                last = Node(layer_item(r), r.path, r.index, r.layer.family if isinstance(r.layer, Merge) else "")
                nodes.append(last)
            elif last.block is not b:
                last = Node(block_item(b, report), b.path, r.index, block=b)
                nodes.append(last)
        elif (fold and r.layer.family in FOLDED and r.output == r.input and r.sources == (r.index - 1,)
              and last.block is None and not last.merge and last.first > 0 and last.path == r.path
              and last.last == r.index - 1 and readers[r.index - 1] == 1):
            # drawn in the box before it, as the blocks style does, when nothing else reads that box
            last.folded.append(r)
        else:
            merge = r.layer.family if isinstance(r.layer, Merge) else ""
            last = Node(layer_item(r), r.path, r.index, merge)
            nodes.append(last)
        last.last = r.index
        node_of[r.index] = last
    for run in runs:
        node_of[run.last] = node_of[run.drawn_last]
    for o in report.outputs:
        node_of[o.tensor].outputs.append(o.name)
    name_boxes(nodes, report, named)
    return nodes, node_of, runs


def name_boxes(nodes: Sequence[Node], report: Report, runs: Dict[Tuple[str, ...], Tuple[str, int]]) -> None:
    """Each box's name as drawn (``shown_name``). Where leaving the branches out names two boxes
    alike (an inception module's four ``conv1``; a bottleneck's ``conv1`` beside its projection
    shortcut's), that merge block's branches are named on all its boxes: ``inception3a.b2 / conv1``."""
    def path_and_own(nd: Node) -> Tuple[Tuple[str, ...], str]:
        if nd.block is not None:
            return (*nd.block.path, nd.block.name), ""
        r = report.layers[nd.first - 1]
        return r.path, r.name

    boxes = nodes[1:]
    first = [shown_name(*path_and_own(nd), runs) for nd in boxes]
    twice = {n for n, c in Counter(first).items() if c > 1}
    branches_of = {path[:k] for nd, n in zip(boxes, first) if n in twice
                   for path in (path_and_own(nd)[0],) for k in range(len(path)) if BRANCH.match(path[k])}
    for nd, n in zip(boxes, first):
        nd.shown = shown_name(*path_and_own(nd), runs, branches_of) if branches_of else n


def sink_laterals(nodes: List[Node], sources: Dict[Node, Set[Node]]) -> List[Node]:
    """The drawing order: the layers' order, but a node that reads nothing from the node drawn
    above it (an FPN's lateral 1x1, reading a stage from far back) drawn just above its first
    reader instead, within its own sequence. Its reference from far back then ends where it is
    used, and the reference it would have cut short runs free: in FPN's order (lat3, up3, ⊕)
    the top-down path's reference add4 -> up3 and the lateral's lat3 -> ⊕ interleave, so one of
    them crosses the other's lane; drawn up3, lat3, ⊕ they do not."""
    readers: Dict[Node, Set[Node]] = {}
    for t, ss in sources.items():
        for s in ss:
            readers.setdefault(s, set()).add(t)
    order = list(nodes)
    sunk: Set[Node] = set()  # each moves once, and nothing passes one (FPN's up4 reads from far back too)
    i = 1
    while i < len(order):
        nd, above = order[i], order[i - 1]
        reads, read_by = sources.get(nd, set()), readers.get(nd, set())
        if nd in sunk or not reads or above in reads or not read_by:
            i += 1
            continue
        pos = {id(n): k for k, n in enumerate(order)}
        j = min(pos[id(r)] for r in read_by)
        d = len(nd.path)
        between = order[i + 1:j + 1]
        if any(n.path[:d] != nd.path or n in sunk for n in between):  # its reader is outside its sequence
            i += 1
            continue
        if len(order[j].path) <= d:  # the reader is in its sequence: just above it
            k = j
        else:  # the reader is in a block of its sequence: just above that block's first box
            group = order[j].path[:d + 1]
            k = next(k for k in range(i + 1, j + 1) if order[k].path[:d + 1] == group)
        if k > i + 1:
            order.insert(k - 1, order.pop(i))  # everything it passes reads nothing of it
            sunk.add(nd)
            continue  # the node now at i has not been looked at
        i += 1
    return order


# --- layout: the block tree, recursively -------------------------------------------------


class Seq:
    """Things stacked top to bottom on one axis."""

    def __init__(self, children: List["Frame"]) -> None:
        self.children = children
        self.w: float = max((c.w for c in children), default=0.0)
        self.h: float = sum(c.h for c in children) + VGAP * max(len(children) - 1, 0)

    def place(self, x: float, y: float) -> None:
        for c in self.children:
            c.place(x, y)
            y += c.h + VGAP


class Leaf:
    def __init__(self, node: Node) -> None:
        self.node, self.w, self.h = node, node.slot, node.h

    def place(self, x: float, y: float) -> None:
        self.node.x, self.node.y = x, y


class Par:
    """A merge block: its branches in columns side by side, then the merge node below them; an
    identity shortcut in a lane at the right."""

    def __init__(self, columns: List[Seq], merge: Node, shortcut: bool) -> None:
        self.columns, self.merge, self.shortcut = columns, merge, shortcut
        inner = sum(c.w for c in columns) + HGAP * max(len(columns) - 1, 0)
        self.pad = 2 * LANE if shortcut else 0.0  # both sides, so the block stays on its axis
        self.w = max(inner + 2 * self.pad, merge.slot)
        self.inner = inner
        self.top_h = max((c.h for c in columns), default=0.0)
        self.h = self.top_h + (VGAP if columns else 0) + merge.h
        self.lane = 0.0
        self.bottom = 0.0  # of the columns, where fan-in edges leave them

    def place(self, x: float, y: float) -> None:
        cx = x - self.inner / 2
        for c in self.columns:
            c.place(cx + c.w / 2, y)
            cx += c.w + HGAP
        self.bottom = y + self.top_h
        self.lane = x + self.inner / 2 + LANE
        self.merge.x = x
        self.merge.y = y + self.h - self.merge.h


Frame = Union[Seq, Leaf, Par]


class Layout:
    """Builds the frame tree and remembers, for each node, the nodes whose edges into it are
    drawn straight (the one above it in its sequence; a merge's branch ends) and each residual
    block whose shortcut runs in its lane."""

    def __init__(self, report: Report, sources: Dict[Node, Set[Node]]) -> None:
        self.blocks = {(*b.path, b.name): b for b in report.blocks}
        self.sources = sources
        self.direct: Dict[Node, Set[Node]] = {}
        self.shortcut: Dict[Node, Tuple[Node, Par]] = {}  # merge node -> (block input, its block)
        self.column_bottom: Dict[Node, Par] = {}  # merge node -> its block, for the fan-in
        # node -> the sides its references may leave by: a column's outer side only (the others
        # hold the next column, or a residual block's shortcut lane); none in a middle column
        self.free: Dict[Node, Set[int]] = {}

    def seq(self, nodes: Sequence[Node], prefix: Tuple[str, ...], prev: Optional[Node]) -> Tuple[Seq, Optional[Node]]:
        children: List[Frame] = []
        i, n, depth = 0, len(nodes), len(prefix)
        while i < n:
            nd = nodes[i]
            if len(nd.path) <= depth:
                self.direct[nd] = {prev} if prev is not None else set()
                children.append(Leaf(nd))
                prev = nd
                i += 1
                continue
            key = nd.path[:depth + 1]
            j = i
            while j < n and nodes[j].path[:depth + 1] == key:
                j += 1
            group = nodes[i:j]
            b = self.blocks.get(key)
            end = group[-1]
            if b is not None and b.merge and end.merge and end.path == key and end.last == b.last:
                frame, prev = self.par(group, key, prev)
                children.append(frame)
            else:  # a plain block, or a branch outside its merge: drawn inline
                sub, prev = self.seq(group, key, prev)
                children.extend(sub.children)
            i = j
        return Seq(children), prev

    def par(self, group: Sequence[Node], key: Tuple[str, ...], prev: Optional[Node]) -> Tuple[Par, Node]:
        merge, rest = group[-1], group[:-1]
        columns: Dict[Tuple[str, ...], List[Node]] = {}
        for nd in rest:
            sub = nd.path[:len(key) + 1]
            # a branch (b1, b2 ...) has no block of its own; a named block inside is part of the one branch
            columns.setdefault(sub if len(nd.path) > len(key) and sub not in self.blocks else key, []).append(nd)
        seqs, ends = [], set()
        for prefix, col in columns.items():
            s, end = self.seq(col, prefix, prev)
            seqs.append(s)
            if end is not None:
                ends.add(end)
        shortcut = bool(seqs) and prev is not None and prev in self.sources.get(merge, set())
        for k, col in enumerate(columns.values()):
            free = {-1, 1}
            if k > 0:
                free.discard(-1)
            if k < len(columns) - 1 or shortcut:
                free.discard(1)
            for nd in col:
                self.free[nd] = self.free.get(nd, {-1, 1}) & free
        if shortcut:
            self.free[merge] = {1}  # its shortcut enters at its right; its text is at its left
        frame = Par(seqs, merge, shortcut)
        self.direct[merge] = ends if seqs else ({prev} if prev is not None else set())
        if shortcut:
            assert prev is not None
            self.shortcut[merge] = (prev, frame)
        if seqs:
            self.column_bottom[merge] = frame
        return frame, merge
