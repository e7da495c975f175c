"""Report -> SVG: the network as a top-to-bottom flow (the ``graph`` style), for branching networks.

Each drawn layer (or each block collapsed at ``depth``, as ``table --depth`` collapses it) is a
rounded box with its name, what it is (the engine's ``describe()``) and its output shape; a
merge is a circle (⊕ add, ⊗ mul, ‖ concat, @ matmul). Arrows run from the tensors a layer reads
(``LayerReport.sources``) to it.

Layout follows the block tree, so series-parallel parts never cross: a sequence stacks
top to bottom on one axis; a merge block puts its branches side by side in columns above its
merge node, a residual block's identity shortcut runs in a lane at the block's right, curving
into the ⊕. What the tree does not hold (U-Net's skips, FPN's laterals: a layer reading a
tensor that is not the one drawn above it) runs in lanes at the sides (the right, or the left
where the right would cross), shorter references inside longer ones so nested ones never cross.
Branches (b1, b2 ...) are no blocks, so they never count as a ``depth`` level. Long networks grow tall (no
wrapping into columns); the work is linear in layers, plus the far references' lanes.

Formatting only: every figure is the engine's; nothing is recomputed here. Colours by kind,
text, the footer and the counting sentence are the blocks style's (``draw``).
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

from ..analysis.result import BlockReport, LayerReport, Report
from ..layers import Merge
from .blocks import (  # escape and quoteattr: XML text with its control characters shown
    COSTS,
    FOLDED,
    FONT,
    MARGIN,
    TEXT,
    Caption,
    Item,
    block_item,
    escape,
    footer,
    heading,
    kind_legend,
    layer_item,
    mix,
    palette,
    quoteattr,
    text,
    text_width,
)

SYMBOLS = {"add": "⊕", "mul": "⊗", "concat": "‖", "seqcat": "‖", "matmul": "@"}
VGAP = 26  # between a node and the next one down
HGAP = 28  # between branch columns
PAD = 10  # inside a box, left and right of the widest line
LINE = 15  # text line height in a box
RADIUS = 14  # a merge node's circle
LANE = 14  # between side lanes, and a shortcut lane's distance from its block
TAG_GAP = 8  # between a box and its 'output' tag


class Node:
    """One drawn thing: a layer (with the shape-keeping layers folded into it), a collapsed block,
    or the input. Covers the layers ``first``..``last`` (0: the input). Layout fills x (centre),
    y (top), w, h. Mutable while the layout is built; nothing outside this module sees it."""

    def __init__(self, item: Item, path: Tuple[str, ...], first: int, merge: str = "",
                 block: Optional[BlockReport] = None) -> None:
        self.item, self.path, self.first, self.last = item, path, first, first
        self.merge, self.block = merge, block
        self.folded: List[LayerReport] = []
        self.outputs: List[str] = []
        self.x = self.y = self.w = self.h = 0.0
        self.slot = 0.0  # the width it takes in its column (the box, its side text, its output tag)

    @property
    def lines(self) -> List[Tuple[str, str, float]]:
        """(class, text, size) of each line in the box."""
        it = self.item
        short = it.name if self.block is not None or self.first == 0 else it.name.rsplit(".", 1)[-1]
        out: List[Tuple[str, str, float]] = [("name", short, TEXT - 1), ("label", it.label, TEXT),
                                             ("shape", str(it.output), TEXT - 1)]
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


def graph_nodes(report: Report, depth: Optional[int], fold: bool = True) -> Tuple[List[Node], Dict[int, Node]]:
    """The nodes in layer order, and the node drawing each tensor (0: the input)."""
    blocks = {(*b.path, b.name): b for b in report.blocks}
    readers = Counter(s for r in report.layers for s in r.sources)
    spec = report.spec
    nodes = [Node(Item("input", "input", "INPUT", spec.input, 0, 0, spec.input.elements, spec.input), (), 0)]
    node_of: Dict[int, Node] = {0: nodes[0]}
    for r in report.layers:
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
                last = Node(block_item(b), b.path, r.index, block=b)
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
    for o in report.outputs:
        node_of[o.tensor].outputs.append(o.name)
    return nodes, node_of


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
        frame = Par(seqs, merge, shortcut)
        self.direct[merge] = ends if seqs else ({prev} if prev is not None else set())
        if shortcut:
            assert prev is not None
            self.shortcut[merge] = (prev, frame)
        if seqs:
            self.column_bottom[merge] = frame
        return frame, merge


# --- drawing ---------------------------------------------------------------------------


def curve(x1: float, y1: float, x2: float, y2: float) -> str:
    """Down from (x1, y1) to (x2, y2): straight when on one axis, else an S-curve."""
    if abs(x1 - x2) < 0.05:
        return f"M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}"
    k = (y2 - y1) / 2
    return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + k:.1f} {x2:.1f},{y2 - k:.1f} {x2:.1f},{y2:.1f}"


def edge_svg(s: Node, t: Node, d: str, end: Tuple[float, float, float, float], cls: str = "edge") -> str:
    x1, y1, x2, y2 = end
    return (f'<path class="{cls}" data-from={quoteattr(s.item.name)} data-to={quoteattr(t.item.name)} '
            f'data-ends="{x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}" d="{d}" fill="none" stroke="#555555" '
            f'stroke-width="1.2" marker-end="url(#arrow)"/>')


def node_svg(nd: Node, fill: str) -> str:
    it = nd.item
    edge = mix(fill, "#000000", 0.55)
    x0, y0 = nd.x - nd.w / 2, nd.y
    tip = [f"{it.name}: {it.label}", f"output {it.output}", f"params {it.params:,}", f"MACs {it.macs:,}",
           f"activations {it.activations:,}"]
    if nd.folded:
        tip.append("with " + ", ".join(r.full_name for r in nd.folded))
    if nd.outputs:
        tip.append(nd.tag)
    parts = [f'<g class="node" data-name={quoteattr(it.name)} data-kind={quoteattr(it.kind)} '
             f'data-label={quoteattr(it.label)} data-shape="{it.output}" data-layers="{nd.first} {nd.last}" '
             f'data-params="{it.params}" data-macs="{it.macs}" '
             f'data-bbox="{x0:.1f} {y0:.1f} {nd.w:.1f} {nd.h:.1f}">',
             f"<title>{escape(chr(10).join(tip))}</title>"]
    stroke = ' stroke-width="2.4"' if nd.outputs else ' stroke-width="1"'
    if nd.merge:
        parts.append(f'<circle cx="{nd.x:.1f}" cy="{nd.mid:.1f}" r="{RADIUS}" fill="{fill}" stroke="{edge}"{stroke}/>')
        parts.append(text(nd.x, nd.mid + 6, SYMBOLS.get(nd.merge, "+"), 18, extra=' class="symbol"'))
        left = x0 - 6
        parts.append(text(left, nd.mid - 2, it.label, TEXT - 1, "end", ' class="label"'))
        parts.append(text(left, nd.mid + LINE - 3, str(it.output), TEXT - 1, "end", ' class="shape" fill="#444444"'))
    else:
        parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{nd.w:.1f}" height="{nd.h:.1f}" rx="7" ry="7" '
                     f'fill="{fill}" stroke="{edge}"{stroke}/>')
        y = y0 + 6
        for cls, s, size in nd.lines:
            y += LINE
            colour = {"name": ' fill="#333333"', "folded": ' fill="#444444"'}.get(cls, "")
            weight = ' font-weight="bold"' if cls == "label" else ""
            parts.append(text(nd.x, y - 3, s, size, extra=f' class="{cls}"{colour}{weight}'))
    if nd.outputs:
        # an arrow out of the box's left side, to the tag naming the output
        side = max(text_width(it.label, TEXT - 1), text_width(str(it.output), TEXT - 1)) + 6 if nd.merge else 0
        ax = x0 - TAG_GAP - side
        parts.append(f'<path class="output-mark" d="M{ax:.1f},{nd.mid:.1f} L{ax - 20:.1f},{nd.mid:.1f}" '
                     f'stroke="#cc0000" stroke-width="2" marker-end="url(#out)"/>')
        parts.append(text(ax - 24, nd.mid + 4, nd.tag, TEXT - 1, "end", ' class="output" fill="#cc0000"'))
    parts.append("</g>")
    return "".join(parts)


def graph_svg(report: Report, depth: Optional[int] = None, scale: str = "log", color: str = "kind",
              labels: str = "shape", width: int = 1400, every_layer: bool = False,
              caption: Caption = Caption()) -> str:
    """The ``graph`` picture of ``report`` as SVG text. ``depth`` None: every layer (activations,
    norms and dropout drawn in the box before them unless ``every_layer``). ``scale``, ``labels``
    and ``width`` are the blocks style's options, taken for one signature; a flow has no sizes to
    scale and grows tall rather than wide."""
    from ..report.numbers import human

    nodes, node_of = graph_nodes(report, depth, fold=not every_layer)
    sources: Dict[Node, Set[Node]] = {}
    pairs: List[Tuple[Node, Node]] = []
    seen: Set[Tuple[int, int]] = set()
    for r in report.layers:
        t = node_of[r.index]
        for s_index in r.sources:
            s = node_of[s_index]
            if s is t or (id(s), id(t)) in seen:
                continue
            seen.add((id(s), id(t)))
            pairs.append((s, t))
            sources.setdefault(t, set()).add(s)
    for nd in nodes:
        nd.measure()
    layout = Layout(report, sources)
    root, _ = layout.seq(nodes, (), None)

    at = f" · blocks collapsed at depth {depth}" if depth is not None else " · every layer"
    folded = "" if every_layer else "; activation, norm and dropout drawn in the box before"
    head, heading_w, top = heading(report, f"{at}{folded}", caption, width - 2 * MARGIN)
    top += 24
    x0 = MARGIN + max(root.w, heading_w) / 2
    drawn, left, right = route(root, nodes, pairs, layout, x0, top)
    if left < MARGIN:  # lanes at the left ran out of the picture: shift everything right
        drawn, left, right = route(root, nodes, pairs, layout, x0 + MARGIN - left, top)
    right = max(right, MARGIN + heading_w)
    full = right + MARGIN + LANE
    items = [nd.item for nd in nodes]
    fill_of, colors, metric_top = palette(items, color)
    body = [node_svg(nd, fill_of(nd.item)) for nd in nodes]
    y = top + root.h + 34

    legend: List[str] = []
    if color == "kind":
        swatches, y = kind_legend(colors, full, y, corner=3)
        legend += swatches
    else:
        top_text = f"{human(metric_top)} ({metric_top:,})"
        legend.append(text(MARGIN, y, f"colour: {color} per box, from pale (0) to dark red ({top_text}); "
                                      f"grey: none", TEXT, "start"))
    y += 22
    used = sorted({nd.merge for nd in nodes if nd.merge})
    keys = [f"{SYMBOLS.get(m, '+')} {m}" for m in used] + ["bold outline, red arrow: an output"]
    legend.append(text(MARGIN, y, " · ".join(keys), TEXT, "start", ' class="symbols"'))  # SVG collapses runs of spaces
    y += 24
    conventions = ("Top to bottom, each box a layer (or a block collapsed as `table --depth` collapses it): its "
                   "name, what it is and its output shape (H×W×C, or length × channels); arrows run from each "
                   "tensor a layer reads to it; a residual shortcut runs at its block's right into the merge, and "
                   "references from further back in lanes at the sides. " + COSTS + ". Drawn by convcalc.")
    foot, height = footer(conventions, full, y, caption)
    defs = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,1 L9,5 L0,9 z" fill="#555555"/></marker>'
            '<marker id="out" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
            'orient="auto-start-reverse"><path d="M0,1 L9,5 L0,9 z" fill="#cc0000"/></marker></defs>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{full:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {full:.0f} {height:.0f}" font-family="{FONT}">\n{defs}\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            + "\n".join(head) + "\n" + "\n".join(drawn) + "\n" + "\n".join(body) + "\n" + "\n".join(legend)
            + "\n" + "\n".join(foot) + "\n</svg>\n")


def route(root: Seq, nodes: Sequence[Node], pairs: Sequence[Tuple[Node, Node]], layout: Layout, x: float,
          top: float) -> Tuple[List[str], float, float]:
    """Place the frame tree with its axis at ``x`` and draw the edges; returns them and the
    picture's leftmost and rightmost x.

    Far references go in lanes at a side, each beyond every box and lane its span passes, the
    shorter ones first, so nested references never cross. Each goes right unless it would cross
    a reference already there (overlapping it without nesting) and the left is free of that."""
    root.place(x, top)
    right_obstacles = [(nd.top, nd.bottom, nd.right) for nd in nodes]
    for merge, (_, frame) in layout.shortcut.items():
        right_obstacles.append((frame.bottom - frame.top_h - VGAP, merge.mid, frame.lane))
    left_obstacles = [(nd.top, nd.bottom, nd.x - nd.slot / 2) for nd in nodes]
    drawn: List[str] = []
    far: List[Tuple[Node, Node]] = []
    for s, t in pairs:
        if s in layout.direct.get(t, ()):
            column = layout.column_bottom.get(t)
            if column is not None and abs(s.x - t.x) > 0.05 and s.bottom < column.bottom:
                # down its own column to the columns' bottom, then into the merge: never across a column
                d = f"M{s.x:.1f},{s.bottom:.1f} L" + curve(s.x, column.bottom, t.x, t.top)[1:]
            else:
                d = curve(s.x, s.bottom, t.x, t.top)
            drawn.append(edge_svg(s, t, d, (s.x, s.bottom, t.x, t.top)))
        elif t in layout.shortcut and layout.shortcut[t][0] is s:
            lane = layout.shortcut[t][1].lane
            k = VGAP * 0.8
            end_x = t.x + RADIUS
            d = (f"M{s.x:.1f},{s.bottom:.1f} C{s.x:.1f},{s.bottom + k:.1f} {lane:.1f},{s.bottom:.1f} "
                 f"{lane:.1f},{s.bottom + k:.1f} L{lane:.1f},{t.mid - 10:.1f} "
                 f"Q{lane:.1f},{t.mid:.1f} {end_x:.1f},{t.mid:.1f}")
            drawn.append(edge_svg(s, t, d, (s.x, s.bottom, end_x, t.mid), "edge shortcut"))
        else:
            far.append((s, t))

    def crosses(lanes: List[Tuple[float, float, float]], lo: float, hi: float) -> bool:
        return any(y1 >= lo and y0 <= hi and not (lo <= y0 and y1 <= hi) for y0, y1, _ in lanes)

    rights: List[Tuple[float, float, float]] = []
    lefts: List[Tuple[float, float, float]] = []
    for s, t in sorted(far, key=lambda e: (abs(e[1].mid - e[0].mid), e[0].mid)):
        lo, hi = min(s.mid, t.mid), max(s.mid, t.mid)
        free_left = not (s.merge or t.merge or s.outputs or t.outputs)  # their left holds text
        r = min(8.0, (hi - lo) / 2)
        if crosses(rights, lo, hi) and free_left and not crosses(lefts, lo, hi):
            lx = min([o - 2 * LANE for y0, y1, o in left_obstacles if y1 >= lo and y0 <= hi]
                     + [px - LANE for y0, y1, px in lefts if y1 >= lo and y0 <= hi])
            lefts.append((lo, hi, lx))
            x1, x2, sign = s.x - s.w / 2, t.x - t.w / 2, -1
            lane = lx
        else:
            lane = max([o + 2 * LANE for y0, y1, o in right_obstacles if y1 >= lo and y0 <= hi]
                       + [px + LANE for y0, y1, px in rights if y1 >= lo and y0 <= hi])
            rights.append((lo, hi, lane))
            x1, x2, sign = s.x + s.w / 2, t.x + t.w / 2, 1
        down = 1 if t.mid >= s.mid else -1
        d = (f"M{x1:.1f},{s.mid:.1f} L{lane - sign * r:.1f},{s.mid:.1f} Q{lane:.1f},{s.mid:.1f} "
             f"{lane:.1f},{s.mid + down * r:.1f} L{lane:.1f},{t.mid - down * r:.1f} Q{lane:.1f},{t.mid:.1f} "
             f"{lane - sign * r:.1f},{t.mid:.1f} L{x2:.1f},{t.mid:.1f}")
        drawn.append(edge_svg(s, t, d, (x1, s.mid, x2, t.mid), "edge far"))
    left = min([o for _, _, o in left_obstacles] + [x for _, _, x in lefts])
    right = max([nd.x + nd.slot / 2 for nd in nodes] + [o for _, _, o in right_obstacles]
                + [x for _, _, x in rights])
    return drawn, left, right
