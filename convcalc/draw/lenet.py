"""Report -> SVG in the look of LeNet-5's Fig. 2 (LeCun et al. 1998): the ``lenet`` style.

Each drawn layer's output is a stack of square feature-map planes offset diagonally, a few of
them drawn and the count written as ``6@28x28``; a plane's sides follow H and W on a stated
scale (square root or log, so 32x32 and 5x5 both show). A flat vector (an fc output) is a column
of units with its length written. Between two stacks the operation is named ("Convolutions 5x5",
"Subsampling 2x2", "Full connection"), and where the layer has a kernel a small square on the
front plane it reads shows the window, with lines to the one unit it makes on the next stack.

Meant for chains. A network with branches is drawn as the blocks style draws it by default: one
stack per branching block (``--style graph`` draws the branches), every read between two stacks
drawn (a window only on the stack just before, else an arrow), an encoder–decoder U-shaped.
Token sequences are no feature maps: a network that makes them is refused.

Formatting only: shapes and figures are the engine's (a LayerReport's or a BlockReport's); the
kernel and stride are read from the layer's rule, for display only. The picture's shared parts
(which layers fold into the stack before them, colours, text, the conventions footer) are
``draw``'s.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..analysis.result import LayerReport, Report
from ..errors import ConvcalcError
from ..layers import AvgPool, MaxPool, axes_text, window_text
from ..values import value
from .blocks import (
    COSTS,
    FONT,
    GAP,
    MARGIN,
    TEXT,
    U_LAYOUT,
    U_SAID,
    Caption,
    balanced_rows,
    footer,
    heading,
    hover_lines,
    mix,
    palette,
    scaled,
    text,
    text_width,
    wrap_words,
)
from .flow import (  # escape and quoteattr: XML text with its control characters shown
    Item,
    crossing_reads,
    default_depth,
    drawn_items,
    escape,
    is_encoder_decoder,
    levels,
    quoteattr,
    skips_first,
)
from .names import kind_name
from .wiring import SIDE, WIRE, Plan, Slot, arrow_heads, connector, wires_said

PLANE = (10.0, 84.0)  # a plane's side in px, smallest and largest
FLAT = (40.0, 150.0)  # a column of units' height in px
MAX_PLANES = 8  # planes drawn for the widest stack; the count is written beside
UNITS = 12  # most units drawn in a column; longer vectors leave out the middle ones
UNIT_R = 4.0  # a unit's radius
GAP_MIN = 34.0  # between two stacks, widened to fit the operation's name
LINE_H = TEXT + 3

# The operation that makes a layer's output, in the paper's words where it has them.
OPERATIONS: Dict[str, str] = {
    "conv": "Convolutions", "dwconv": "Depthwise convolutions", "sepconv": "Separable convolutions",
    "convt": "Transposed convolutions", "fc": "Full connection", "linear": "Full connection",
    "flatten": "Flatten", "up": "Upsampling",
}


def operation(it: Item, layer: Optional[LayerReport]) -> Tuple[str, str]:
    """The operation's name and its window (``5x5``, ``11x11 stride 4``) written under the gap."""
    if layer is None:  # a block: its own label says what it is, as the legends name it (DOUBLE_CONV: "Double conv")
        kind, paren, rest = it.label.partition(" (")
        word = kind_name(kind)
        return word[:1].upper() + word[1:] + paren + rest, ""  # MBConv, ConvNeXt block keep their capitals
    rule = layer.layer
    name = OPERATIONS.get(it.kind, it.label.capitalize())
    if isinstance(rule, AvgPool):
        name = "Subsampling"
    elif isinstance(rule, MaxPool):
        name = "Max pooling"
    kernel = getattr(rule, "kernel", None)
    if not kernel:
        return name, ""
    stride = getattr(rule, "stride", None) or kernel  # a pool's stride defaults to its kernel
    detail = window_text(kernel, layer.input.rank or None)
    if tuple(stride) != tuple(kernel) and set(stride) != {1}:
        detail += f" stride {axes_text(stride)}"
    return name, detail


def count_label(it: Item) -> str:
    """``6@28x28``: the output's channels, then its spatial sizes; a flat vector its length."""
    s = it.output.spatial
    if not s:
        return str(it.output.channels)
    return f"{it.output.channels}@" + "x".join(map(str, s))


@value
class Stack:
    """A stack's size in px: ``planes`` planes ``pw`` × ``ph``, each ``off`` up and right of the
    one before; or (``flat``) a column of units ``ph`` tall."""

    pw: float
    ph: float
    planes: int
    off: float
    flat: bool = False

    @property
    def w(self) -> float:
        return self.pw + (self.planes - 1) * self.off

    @property
    def h(self) -> float:
        return self.ph + (self.planes - 1) * self.off


def stack_sizes(items: Sequence[Item], scale: str) -> List[Stack]:
    spatial = [s for it in items for s in it.output.spatial[:2]]
    top_s = max(spatial, default=1)
    top_c = max((it.output.channels for it in items if it.output.spatial), default=1)
    top_v = max((it.output.channels for it in items if not it.output.spatial), default=1)
    stacks = []
    for it in items:
        s, c = it.output.spatial, it.output.channels
        if not s:
            stacks.append(Stack(2 * UNIT_R + 2, scaled(c, top_v, *FLAT, scale), 1, 0.0, flat=True))
            continue
        # planes drawn grow with the log of the count: 1 for one map, MAX_PLANES for the most
        planes = 1 if c <= 1 or top_c <= 1 else min(c, max(2, round(1 + (MAX_PLANES - 1) * math.log(c) /
                                                                        math.log(top_c))))
        ph = scaled(s[0], top_s, *PLANE, scale)
        pw = scaled(s[1], top_s, *PLANE, scale) if len(s) > 1 else ph
        stacks.append(Stack(pw, ph, planes, min(max(0.07 * max(pw, ph), 3.0), 6.0)))
    return stacks


def planes_svg(x: float, y: float, st: Stack, fill: str) -> str:
    """The planes back to front, the front one at the lower left of the stack's box (x, y)."""
    edge = mix(fill, "#000000", 0.6)
    out = []
    for k in reversed(range(st.planes)):
        px, py = x + k * st.off, y + (st.planes - 1 - k) * st.off
        shade = fill if k == 0 else mix(fill, "#ffffff", 0.25)
        out.append(f'<rect x="{px:.1f}" y="{py:.1f}" width="{st.pw:.1f}" height="{st.ph:.1f}" fill="{shade}" '
                   f'stroke="{edge}" stroke-width="0.9"/>')
    return "".join(out)


def units_svg(x: float, y: float, st: Stack, n: int, fill: str) -> str:
    """A column of units; a vector longer than UNITS leaves out its middle ones, marked by dots."""
    edge = mix(fill, "#000000", 0.6)
    shown = min(n, UNITS)
    step = st.ph / shown
    r = min(UNIT_R, step * 0.42)
    cx = x + st.pw / 2
    out = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{st.pw:.1f}" height="{st.ph:.1f}" rx="{st.pw / 2:.1f}" '
           f'fill="none" stroke="{edge}" stroke-width="0.6" stroke-dasharray="2,2"/>']
    for k in range(shown):
        cy = y + step * (k + 0.5)
        if n > UNITS and k == shown // 2:  # the left-out middle
            out.extend(f'<circle cx="{cx:.1f}" cy="{cy + d:.1f}" r="0.9" fill="{edge}"/>' for d in (-r, 0, r))
            continue
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}" stroke="{edge}" '
                   f'stroke-width="0.8"/>')
    return "".join(out)


def front(x: float, y: float, st: Stack) -> Tuple[float, float]:
    """The front plane's top-left corner, for a stack whose box is at (x, y)."""
    return x, y + (st.planes - 1) * st.off


def window_svg(prev: Tuple[float, float, Stack, Item], this: Tuple[float, float, Stack, Item],
               kernel: Sequence[int], names: str = "") -> str:
    """The kernel's window on the front plane it reads, and lines to the unit it makes;
    ``names`` the data-from/data-to attributes of the read it draws."""
    (px, py, ps, pit), (tx, ty, ts, tit) = prev, this
    fx, fy = front(px, py, ps)
    gx, gy = front(tx, ty, ts)
    src, dst = pit.output.spatial, tit.output.spatial
    kh = kernel[0]
    kw = kernel[1] if len(kernel) > 1 else kh
    ww = min(ps.pw, max(3.0, ps.pw * kw / (src[1] if len(src) > 1 else 1)))
    wh = min(ps.ph, max(3.0, ps.ph * kh / src[0]))
    uw = min(ts.pw, max(2.5, ts.pw / (dst[1] if len(dst) > 1 else 1)))
    uh = min(ts.ph, max(2.5, ts.ph / dst[0]))
    wx, wy = fx + (ps.pw - ww) * 0.7, fy + (ps.ph - wh) * 0.3
    ux, uy = gx + (ts.pw - uw) * 0.7, gy + (ts.ph - uh) * 0.3
    line = 'stroke="#333333" stroke-width="0.7"'
    return (f'<g class="window"{names}><rect x="{wx:.1f}" y="{wy:.1f}" width="{ww:.1f}" height="{wh:.1f}" '
            f'fill="#ffffff" fill-opacity="0.6" {line}/>'
            f'<rect x="{ux:.1f}" y="{uy:.1f}" width="{uw:.1f}" height="{uh:.1f}" fill="#333333"/>'
            f'<path d="M{wx + ww:.1f},{wy:.1f} L{ux:.1f},{uy:.1f} M{wx + ww:.1f},{wy + wh:.1f} '
            f'L{ux:.1f},{uy + uh:.1f}" {line} fill="none"/></g>')


def refuse_sequences(report: Report) -> None:
    """Token sequences are no feature maps: drawn as stacks they would read ``768@196``."""
    for r in report.layers:
        if r.layer.family == "tokens":
            length = "x".join(map(str, r.output.spatial)) or "1"
            raise ConvcalcError(
                f"layer {r.index} '{r.full_name}' turns the {r.input} map into a sequence of "
                f"{length} tokens of {r.output.channels}: the lenet style draws feature maps (C@HxW) and would "
                f"draw that sequence as {r.output.channels}@{length}, {r.output.channels} maps of {length}",
                r.loc, hint="draw it with --style blocks (boxes sized by shape) or --style graph (the flow)")


def lenet_svg(report: Report, depth: Optional[int] = None, scale: str = "log", color: str = "kind",
              labels: str = "shape", width: int = 1400, every_layer: bool = False, layout: str = "auto",
              caption: Caption = Caption()) -> str:
    """The ``lenet`` picture of ``report`` as SVG text; the arguments are ``blocks_svg``'s. A network
    that makes token sequences (ViT) is refused (``ConvcalcError``, exit 2), pointing to the
    blocks and graph styles."""
    from ..report.numbers import human

    refuse_sequences(report)
    if depth is None:
        depth = default_depth(report)
    items = drawn_items(report, depth, every_layer)
    reads = crossing_reads(report, items)
    level = levels(report, items, reads)
    u_shaped = layout == "auto" and is_encoder_decoder(items, reads, level)
    if u_shaped:
        items = skips_first(report, items)
        reads = crossing_reads(report, items)
        level = levels(report, items, reads)
    stacks = stack_sizes(items, scale)
    layers = {r.full_name: r for r in report.layers}
    fill_of, colors, metric_top = palette(items, color, lighten=0.45)
    inner = max(width - 2 * MARGIN, 200)

    def above(it: Item) -> List[str]:
        lines = ["INPUT" if it.kind == "input" and it is items[0] else it.name,
                 count_label(it) + (f" ×{it.count}" if it.count > 1 else "")]
        if labels == "full":
            each = " each" if it.count > 1 else ""
            lines += [f"{human(it.params)} params{each}", f"{human(it.macs)} MACs{each}"]
        return lines

    ops = [operation(it, layers.get(it.name)) if i else ("", "") for i, it in enumerate(items)]
    # an operation on a map other than the one before it says which, under its name: the gap
    # between two stacks must not read as one made from the other
    read_before = {rd.dst for rd in reads if rd.src == rd.dst - 1}
    first_read: Dict[int, str] = {}
    for rd in reads:
        first_read.setdefault(rd.dst, rd.source)
    on = [f"on {first_read[i]}" if i and i not in read_before and i in first_read else "" for i in range(len(items))]
    gaps = [max(GAP_MIN, text_width(a, TEXT - 1) + 10, text_width(b, TEXT - 1) + 10, text_width(on[i], TEXT - 1) + 10)
            if i else 0.0 for i, (a, b) in enumerate(ops)]
    n_above = max(len(above(it)) for it in items)
    # below each stack: in rows, the caption of a collapsed block (the operation is under the gap
    # before it); U-shaped, where the gap is a level's step, the operation too, wrapped to the stack
    below: List[List[str]] = []
    slots = []
    # what a collapsed block folds, unless the operation's name (its label) says its merge already
    captions = [it.inside if it.inside and "," not in it.label else "" for it in items]
    for i, (it, st) in enumerate(zip(items, stacks)):
        lines = above(it)
        core = max([st.w] + [text_width(s) for s in lines])
        under = [captions[i]] if captions[i] else []
        if u_shaped:
            name, detail = ops[i]
            under = wrap_words(name, max(core, 90.0), TEXT - 1) + ([detail] if detail else []) + \
                ([on[i]] if on[i] else []) + under
            gaps[i] = GAP_MIN if i else 0.0
        below.append(under)
        core = max([core] + [text_width(s, TEXT - 1) for s in under])
        left = (core - st.w) / 2
        slots.append(Slot(core, left, left + st.w, st.h, LINE_H * n_above + 10,
                          10 + LINE_H * max(len(under), 0 if u_shaped else 3 if any(on) else 2) + 4))
    rows: Optional[List[List[int]]] = None
    if not u_shaped:  # balanced_rows puts its GAP between slots; here the gap before a stack is the operation's
        far = [0] * len(items)
        for rd in reads:
            if rd.dst != rd.src + 1:
                far[rd.src] += 1
                far[rd.dst] += 1
        rows = balanced_rows([g + s.core + 2 * SIDE + WIRE * f - (GAP if i else 0)
                              for i, (g, s, f) in enumerate(zip(gaps, slots, far))], inner)
    at = f" · blocks collapsed at depth {depth}, one stack each" if depth is not None else ""
    head, head_w, top = heading(report, at, caption, inner)
    plan = Plan(slots, reads, gaps, MARGIN, top + 16, rows, None if rows else level, lead_first=True)

    windows: Dict[int, str] = {}
    wires: List[str] = []
    drawn_kinds: Set[str] = set()
    placed = [(plan.x[i] + slots[i].left, plan.top[i], stacks[i], items[i]) for i in range(len(items))]
    for k, rd in enumerate(reads):
        kind, d, ends = plan.route(k)
        layer = layers.get(rd.target)
        kernel = getattr(layer.layer, "kernel", None) if layer is not None and items[rd.dst].name == rd.target else None
        if kind == "next" and kernel and rd.dst not in windows and not stacks[rd.src].flat and not stacks[rd.dst].flat:
            names = f" data-from={quoteattr(rd.source)} data-to={quoteattr(rd.target)}"
            windows[rd.dst] = window_svg(placed[rd.src], placed[rd.dst], kernel, names)
            continue
        wires.append(connector(rd, kind, d, ends))
        drawn_kinds.add(kind)

    widest = max(head_w, min(400.0, inner), plan.right - MARGIN)
    body: List[str] = []
    halves: Dict[int, float] = {}  # each row's tallest stack, half of it
    for i, st in enumerate(stacks):
        halves[plan.row[i]] = max(halves.get(plan.row[i], 0.0), st.h / 2)
    for i, (it, st) in enumerate(zip(items, stacks)):
        half = halves[plan.row[i]]
        mid = plan.top[i] + st.h / 2
        top = mid - half  # the row's stacks region, its labels above it and the operations below
        label_top = top - LINE_H * n_above - 10
        cx = plan.x[i] + slots[i].core / 2
        if i and not u_shaped:  # the operation that made it, under the gap before it
            name, detail = ops[i]
            gx = plan.x[i] - plan.left_lanes[i] - gaps[i] / 2
            body.append(f'<g class="op" data-name={quoteattr(it.name)} data-op={quoteattr(name)}>'
                        + text(gx, mid + half + 10 + LINE_H, name, TEXT - 1, extra=' class="op-name"')
                        + "".join(text(gx, mid + half + 10 + (k + 2) * LINE_H, line, TEXT - 1,
                                       extra=' fill="#555555"')
                                  for k, line in enumerate(part for part in (detail, on[i]) if part))
                        + "</g>")
        elif i:  # U-shaped: under the stack
            body.append(f'<g class="op" data-name={quoteattr(it.name)} data-op={quoteattr(ops[i][0])}>'
                        + "".join(text(cx, mid + half + 10 + LINE_H * (k + 1), line, TEXT - 1,
                                       extra=' class="op-name"' if k == 0 else ' fill="#555555"')
                                  for k, line in enumerate(below[i][:len(below[i]) - (1 if captions[i] else 0)]))
                        + "</g>")
        bx, by = placed[i][0], placed[i][1]
        tip = hover_lines(it, it.name)
        shape = (units_svg(bx, by, st, it.output.channels, fill_of(it)) if st.flat
                 else planes_svg(bx, by, st, fill_of(it)))
        inside = (text(cx, mid + half + 10 + LINE_H * len(below[i]), captions[i], TEXT - 1,
                       extra=' class="inside" fill="#555555"') if captions[i] else "")
        body.append(
            f'<g class="stack" data-name={quoteattr(it.name)} data-kind={quoteattr(it.kind)} '
            f'data-shape="{it.output}" data-params="{it.params}" data-macs="{it.macs}" '
            f'data-activations="{it.activations}" data-count="{it.count}" data-layers="{it.first} {it.last}" '
            f'data-level="{level[i]}" data-bbox="{bx:.1f} {by:.1f} {st.w:.1f} {st.h:.1f}">'
            f"<title>{escape(chr(10).join(tip))}</title>" + shape + windows.get(i, "")
            + "".join(text(cx, label_top + LINE_H * (k + 1), s, TEXT if k < 2 else TEXT - 1,
                           extra=(' class="name" font-weight="bold"', ' class="count"')[k] if k < 2
                           else ' class="figure" fill="#555555"')
                      for k, s in enumerate(above(it)))
            + inside + "</g>")
    body.append(arrow_heads())
    body.extend(wires)
    y = plan.height

    full = widest + 2 * MARGIN
    scale_text = {"log": "log", "sqrt": "square-root", "linear": "linear"}[scale]
    conventions = (f"Feature maps as in LeNet-5's Fig. 2: each output a stack of planes, C@HxW; a plane's sides "
                   f"follow H and W on a {scale_text} scale, and the planes drawn grow with the log of C. A flat "
                   f"vector is a column of units, its length written above. The small square is the kernel's "
                   f"window on the map it reads, its lines lead to the unit it makes; activation, norm and "
                   f"dropout are drawn with the stack before. "
                   + wires_said(drawn_kinds) + (U_SAID if u_shaped else "") + COSTS
                   + ("; ×N marks N identical stacks in a row, figures for each" if any(it.count > 1 for it in items)
                      else "") + ". Drawn by convcalc.")
    foot, height = footer(conventions, min(full, max(width, 400)), y + 4, caption)  # as the blocks style
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{full:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {full:.0f} {height:.0f}" font-family="{FONT}"{U_LAYOUT if u_shaped else ""}>\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            + "\n".join(head) + "\n" + "\n".join(body) + "\n" + "\n".join(foot) + "\n</svg>\n")
