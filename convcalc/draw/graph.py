"""Report -> SVG: the network as a top-to-bottom flow (the ``graph`` style), for branching networks.

Each drawn layer (or each block collapsed at ``depth``, as ``table --depth`` collapses it) is a
rounded box with its name, what it is (the engine's ``describe()``) and its output shape; a
merge is a circle (⊕ add, ⊗ mul, ‖ concat, @ matmul), a pill when more than two references from
far back reach it (a port each). Arrows run from the tensors a layer reads
(``LayerReport.sources``) to it. Where the boxes go is ``graph_layout``'s (the block tree: sequences
stacked, branches side by side, a residual shortcut in a lane at its block's right); the
connectors are ``lanes``' (references from far back in lanes at the sides, none sharing a
stretch with another, nested ones never crossing). Branches (b1, b2 ...) are no blocks, so they
never count as a ``depth`` level. Long networks grow tall (no wrapping into columns); the work
is linear in layers, plus the far references' lanes.

Formatting only: every figure is the engine's; nothing is recomputed here. Colours by kind,
text, the footer and the counting sentence are the blocks style's (``draw``).
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..analysis.result import Report
from .blocks import (  # escape and quoteattr: XML text with its control characters shown
    COSTS,
    FONT,
    MARGIN,
    TEXT,
    Caption,
    escape,
    footer,
    heading,
    kind_legend,
    mix,
    palette,
    quoteattr,
    text,
    text_width,
)
from .flow import SYMBOLS
from .graph_layout import (
    LANE,
    LINE,
    RADIUS,
    TAG_GAP,
    Layout,
    Node,
    Run,
    graph_nodes,
    sink_laterals,
)
from .lanes import PORT_GAP, route


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
        if nd.h > 2 * RADIUS:  # a pill, tall enough for a port per reference
            parts.append(f'<rect x="{nd.x - RADIUS:.1f}" y="{y0:.1f}" width="{2 * RADIUS}" height="{nd.h:.1f}" '
                         f'rx="{RADIUS}" fill="{fill}" stroke="{edge}"{stroke}/>')
        else:
            parts.append(f'<circle cx="{nd.x:.1f}" cy="{nd.mid:.1f}" r="{RADIUS}" fill="{fill}" stroke="{edge}"{stroke}/>')
        parts.append(text(nd.x, nd.mid + 6, SYMBOLS.get(nd.merge, "+"), 18, extra=' class="symbol"'))
        at, anchor = (x0 + nd.w + 6, "start") if nd.text_right else (x0 - 6, "end")
        parts.append(text(at, nd.mid - 2, it.label, TEXT - 1, anchor, ' class="label"'))
        parts.append(text(at, nd.mid + LINE - 3, str(it.output), TEXT - 1, anchor, ' class="shape" fill="#444444"'))
    else:
        parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{nd.w:.1f}" height="{nd.h:.1f}" rx="7" ry="7" '
                     f'fill="{fill}" stroke="{edge}"{stroke}/>')
        y = y0 + 6
        for cls, s, size in nd.lines:
            y += LINE
            colour = {"name": ' fill="#333333"', "folded": ' fill="#444444"', "inside": ' fill="#444444"'}.get(cls, "")
            weight = ' font-weight="bold"' if cls == "label" else ""
            parts.append(text(nd.x, y - 3, s, size, extra=f' class="{cls}"{colour}{weight}'))
    if nd.outputs:
        # an arrow out of the box's left side (beyond a merge's text), to the tag naming the output;
        # a merge whose left its references take has its text and its tag at its right
        side = max(text_width(it.label, TEXT - 1), text_width(str(it.output), TEXT - 1)) + 6 if nd.merge else 0
        way = 1 if nd.text_right else -1
        ax = nd.x + way * (nd.w / 2 + TAG_GAP + side)
        parts.append(f'<path class="output-mark" d="M{ax:.1f},{nd.mid:.1f} L{ax + way * 20:.1f},{nd.mid:.1f}" '
                     f'stroke="#cc0000" stroke-width="2" marker-end="url(#out)"/>')
        parts.append(text(ax + way * 24, nd.mid + 4, nd.tag, TEXT - 1, "start" if nd.text_right else "end",
                          ' class="output" fill="#cc0000"'))
    parts.append("</g>")
    return "".join(parts)


def run_frame(run: Run, nodes: Sequence[Node], layout: Layout) -> str:
    """A dashed frame round the first of a run of identical blocks, the one drawn; its boxes'
    names say ``first…last ×N``. ``data-hidden``: the layers of the copies not drawn."""
    inside = [nd for nd in nodes if run.first <= nd.first and nd.last <= run.drawn_last]
    lanes = [frame.lane for merge, (_, frame) in layout.shortcut.items() if merge in inside]
    x0 = min(nd.x - nd.slot / 2 for nd in inside) - 8
    x1 = max([nd.x + nd.slot / 2 if nd.text_right else nd.right for nd in inside] + lanes) + 8
    y0, y1 = min(nd.top for nd in inside) - 7, max(nd.bottom for nd in inside) + 7
    names = " ".join(b.full_name for b in run.blocks)
    return (f'<rect class="fold" data-copies={quoteattr(names)} '
            f'data-hidden="{run.hidden.start} {run.hidden.stop - 1}" x="{x0:.1f}" y="{y0:.1f}" '
            f'width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" rx="9" fill="none" stroke="#888888" '
            f'stroke-width="1" stroke-dasharray="5 3"><title>{len(run.groups)} identical '
            f'{"blocks" if len(run.groups[0]) == 1 else "groups of blocks"} ({escape(names)}), drawn once'
            f'</title></rect>')


def graph_svg(report: Report, depth: Optional[int] = None, scale: str = "log", color: str = "kind",
              labels: str = "shape", width: int = 1400, every_layer: bool = False,
              caption: Caption = Caption()) -> str:
    """The ``graph`` picture of ``report`` as SVG text. ``depth`` None: every layer (activations,
    norms and dropout drawn in the box before them unless ``every_layer``). ``scale``, ``labels``
    and ``width`` are the blocks style's options, taken for one signature; a flow has no sizes to
    scale and grows tall rather than wide."""
    from ..report.numbers import human

    nodes, node_of, runs = graph_nodes(report, depth, fold=not every_layer)
    sources: Dict[Node, Set[Node]] = {}
    reads: Dict[Tuple[Node, Node], List[Tuple[str, str]]] = {}  # (tensor, reader) drawn by each connector
    names = ["input"] + [r.full_name for r in report.layers]
    hidden = {i for run in runs for i in run.hidden}
    for r in report.layers:
        if r.index in hidden:  # in a later copy of a run drawn once: its reads are the first copy's
            continue
        t = node_of[r.index]
        for s_index in r.sources:
            s = node_of[s_index]
            if s is t:
                continue
            reads.setdefault((s, t), []).append((names[s_index], r.full_name))
            sources.setdefault(t, set()).add(s)
    pairs = list(reads)
    nodes = sink_laterals(nodes, sources)
    for nd in nodes:
        nd.measure()
    layout = Layout(report, sources)
    root, _ = layout.seq(nodes, (), None)
    # a merge that more than two references from far back reach grows into a pill, a port each
    far = Counter(nd for s, t in pairs if s not in layout.direct.get(t, ())
                  and not (t in layout.shortcut and layout.shortcut[t][0] is s) for nd in (s, t))
    crowded = [nd for nd in nodes if nd.merge and far[nd] > 2]
    for nd in crowded:
        nd.h = PORT_GAP * (far[nd] + 3)
    if crowded:
        layout = Layout(report, sources)
        root, _ = layout.seq(nodes, (), None)

    at = f" · blocks collapsed at depth {depth}" if depth is not None else " · every layer"
    folded = "" if every_layer else "; activation, norm and dropout drawn in the box before"
    head, heading_w, top = heading(report, f"{at}{folded}", caption, width - 2 * MARGIN)
    top += 24
    x0 = MARGIN + max(root.w, heading_w) / 2
    drawn, left, right = route(root, nodes, pairs, layout, x0, top, reads)
    if left < MARGIN:  # lanes at the left ran out of the picture: shift everything right
        drawn, left, right = route(root, nodes, pairs, layout, x0 + MARGIN - left, top, reads)
    right = max(right, MARGIN + heading_w)
    full = right + MARGIN + LANE
    items = [nd.item for nd in nodes]
    fill_of, colors, metric_top = palette(items, color)
    body = [node_svg(nd, fill_of(nd.item)) for nd in nodes]
    frames = [run_frame(run, nodes, layout) for run in runs]
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
                   "references from further back in lanes at the sides. Identical blocks in a row are drawn "
                   "once, in a dashed frame, named first…last ×N" + ("" if runs else " (none here)") + ". " + COSTS + ". Drawn by convcalc.")
    foot, height = footer(conventions, full, y, caption)
    defs = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,1 L9,5 L0,9 z" fill="#555555"/></marker>'
            '<marker id="out" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
            'orient="auto-start-reverse"><path d="M0,1 L9,5 L0,9 z" fill="#cc0000"/></marker></defs>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{full:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {full:.0f} {height:.0f}" font-family="{FONT}">\n{defs}\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            + "\n".join(head) + "\n" + "".join(f + "\n" for f in frames) + "\n".join(drawn) + "\n" + "\n".join(body) + "\n" + "\n".join(legend)
            + "\n" + "\n".join(foot) + "\n</svg>\n")
