"""Report -> SVG: the network drawn as the lecture figures draw it (the ``blocks`` style).

Each drawn layer's output (or each block, collapsed at ``depth`` as the table collapses it) is a
see-through 3-D box, as in NN-SVG's AlexNet and PlotNeuralNet: height follows H, the receding
side W and the thickness C, on a stated scale (log by default, so VGG's 224x224x64 and 7x7x512
both show). Flat vectors (fc outputs) are thin tall bars. Boxes run left to right and wrap
into rows; runs of identical boxes collapse into one marked ``×N``, so a 1,000-layer chain is
one picture, drawn in time linear in layers. Every read between two boxes is drawn from the box
holding the tensor read to the box of the layer reading it (``flow.py`` finds them, ``wiring.py``
routes them): a kernel cube where that box is the one just before, else an arrow; an
encoder–decoder is laid out U-shaped, a row per level, its skips straight across.

Formatting only: every figure on the picture is the engine's (a LayerReport's or a
BlockReport's params, MACs and activations, the Report's totals); nothing is recomputed here.
Pure string building; text is real ``<text>`` (selectable, searchable), escaped by ``escape``
and ``quoteattr`` here, which every style uses: saxutils' markup escaping after ``errors.shown``
writes control characters as ``\\xNN``, which XML 1.0 forbids even as character references,
so a name from a model file cannot make a picture that is not XML.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..analysis.result import Report
from ..errors import shown
from ..values import value
from .flow import (
    FOLDED,
    REPEAT_MIN,
    Item,
    block_item,
    crossing_reads,
    default_depth,
    drawn_items,
    escape,
    is_encoder_decoder,
    layer_item,
    levels,
    quoteattr,
    skips_first,
)
from .names import kind_name
from .wiring import SIDE, WIRE, Plan, Slot, arrow_heads, connector, wires_said

# what the other styles take from here, though this module does not use it itself
__all__ = ["FOLDED", "REPEAT_MIN", "Item", "block_item", "layer_item", "default_depth", "drawn_items", "escape",
           "quoteattr"]


SCALES = ("log", "sqrt", "linear")
COLORS = ("kind", "macs", "params", "memory")
LABELS = ("shape", "full")

FONT = "Helvetica, Arial, sans-serif"
TEXT = 12  # label size, px
CHAR = 0.6  # a character's width in ems, for layout (Helvetica's digits are 0.556)
GAP = 22  # between slots
MARGIN = 24
DEPTH = (0.55, 0.42)  # the oblique projection of the receding (W) side, per px of depth

KIND_COLORS: Dict[str, str] = {
    "input": "#cfcfcf", "conv": "#f6b26b", "dwconv": "#ffd966", "sepconv": "#ffe599", "convt": "#93c47d",
    "up": "#b6d7a8", "pool": "#e06666", "fc": "#8e7cc3", "linear": "#8e7cc3", "flatten": "#d9d2e9",
    "bn": "#76a5af", "norm": "#76a5af", "ln": "#76a5af", "gn": "#76a5af", "act": "#d9ead3",
    "dropout": "#eeeeee", "softmax": "#d5a6bd", "add": "#6fa8dc", "mul": "#6fa8dc", "concat": "#9fc5e8",
    "attn": "#c27ba0", "tokens": "#a2c4c9", "grid": "#a2c4c9", "cls": "#a2c4c9", "pos": "#a2c4c9",
}
# Blocks (and kinds without a colour above) take these in order of appearance.
EXTRA_COLORS = ("#6fa8dc", "#93c47d", "#c27ba0", "#e69138", "#45818e", "#a64d79", "#6aa84f", "#3d85c6",
                "#bf9000", "#cc4125", "#674ea7", "#999999")
HEAT = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")  # ColorBrewer YlOrRd
NONE_COLOR = "#f2f2f2"  # a zero figure on the heat map
METRICS = {"macs": "MACs", "params": "params", "memory": "activations (output elements)"}


# --- geometry ---------------------------------------------------------------------------


def scaled(x: int, top: int, lo: float, hi: float, scale: str) -> float:
    """``x`` of at most ``top`` as a length from ``lo`` to ``hi`` px on the named scale."""
    if top <= 1:
        return hi
    if scale == "log":
        return lo + (hi - lo) * math.log(max(x, 1)) / math.log(top)
    share = math.sqrt(x / top) if scale == "sqrt" else x / top
    return max(lo, hi * share)


@value
class Box:
    """A box's size in px: ``w`` thickness (C), ``h`` height (H), ``d`` receding side (W)."""

    w: float
    h: float
    d: float

    @property
    def dx(self) -> float:
        return self.d * DEPTH[0]

    @property
    def dy(self) -> float:
        return self.d * DEPTH[1]


def box_sizes(items: Sequence[Item], scale: str) -> List[Box]:
    spatial = [s for it in items if it.output.spatial for s in it.output.spatial[:2]]
    top_s = max(spatial, default=1)
    top_c = max((it.output.channels for it in items if it.output.spatial), default=1)
    top_v = max((it.output.channels for it in items if not it.output.spatial), default=1)
    boxes = []
    for it in items:
        s = it.output.spatial
        if not s:  # a flat vector: a thin tall bar, its height the length
            boxes.append(Box(8, scaled(it.output.channels, top_v, 30, 130, scale), 8))
            continue
        w = s[1] if len(s) > 1 else 1
        boxes.append(Box(scaled(it.output.channels, top_c, 4, 56, scale), scaled(s[0], top_s, 6, 130, scale),
                         scaled(w, top_s, 5, 100, scale)))
    return boxes


def text_width(text: str, size: float = TEXT) -> float:
    return len(shown(text)) * size * CHAR  # as written: a control character takes four (\\xNN)


# --- colours ----------------------------------------------------------------------------


def mix(a: str, b: str, t: float) -> str:
    ra, ga, ba = (int(a[i:i + 2], 16) for i in (1, 3, 5))
    rb, gb, bb = (int(b[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % (round(ra + (rb - ra) * t), round(ga + (gb - ga) * t), round(ba + (bb - ba) * t))


def heat(share: float) -> str:
    """A share in [0, 1] on the YlOrRd ramp."""
    pos = min(max(share, 0.0), 1.0) * (len(HEAT) - 1)
    i = min(int(pos), len(HEAT) - 2)
    return mix(HEAT[i], HEAT[i + 1], pos - i)


def kind_colors(items: Sequence[Item]) -> Dict[str, str]:
    """Each kind's fill, in order of appearance (the legend's order). A block takes the next extra
    colour that no kind of this picture has already (resnet50_fpn's 'block' took add's blue, and
    the legend showed two kinds in one colour); past a dozen they repeat."""
    taken = {KIND_COLORS[it.kind] for it in items if it.kind in KIND_COLORS}
    extras = [c for c in EXTRA_COLORS if c not in taken] or list(EXTRA_COLORS)
    colors: Dict[str, str] = {}
    named: Dict[str, str] = {}  # kinds one legend name stands for share its colour
    extra = 0
    for it in items:
        if it.kind in colors:
            continue
        if kind_name(it.kind) in named:
            colors[it.kind] = named[kind_name(it.kind)]
        elif it.kind in KIND_COLORS:
            colors[it.kind] = KIND_COLORS[it.kind]
        else:
            colors[it.kind] = extras[extra % len(extras)]
            extra += 1
        named[kind_name(it.kind)] = colors[it.kind]
    return colors


def figure(it: Item, metric: str) -> int:
    return {"macs": it.macs, "params": it.params, "memory": it.activations}[metric]


# --- SVG --------------------------------------------------------------------------------


def text(x: float, y: float, s: str, size: float = TEXT, anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}"{extra}>'
            f"{escape(s)}</text>")


def box_svg(x: float, y: float, b: Box, fill: str) -> str:
    """A see-through box: front face at (x, y) w×h, the receding side up and to the right;
    the hidden edges show through, dashed."""
    edge = mix(fill, "#000000", 0.55)
    dx, dy = b.dx, b.dy
    x2, y2 = x + b.w, y + b.h
    def pts(*p: Tuple[float, float]) -> str:
        return " ".join(f"{px:.1f},{py:.1f}" for px, py in p)
    hidden = (f'<path d="M{x + dx:.1f},{y2 - dy:.1f} L{x:.1f},{y2:.1f} M{x + dx:.1f},{y2 - dy:.1f} '
              f'L{x + dx:.1f},{y - dy:.1f} M{x + dx:.1f},{y2 - dy:.1f} L{x2 + dx:.1f},{y2 - dy:.1f}" '
              f'stroke="{edge}" stroke-width="0.6" stroke-dasharray="2,2" fill="none"/>')
    return "".join((
        hidden,
        f'<polygon points="{pts((x, y), (x + dx, y - dy), (x2 + dx, y - dy), (x2, y))}" '
        f'fill="{mix(fill, "#ffffff", 0.35)}" fill-opacity="0.7" stroke="{edge}" stroke-width="0.8"/>',
        f'<polygon points="{pts((x2, y), (x2 + dx, y - dy), (x2 + dx, y2 - dy), (x2, y2))}" '
        f'fill="{mix(fill, "#000000", 0.15)}" fill-opacity="0.7" stroke="{edge}" stroke-width="0.8"/>',
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" fill="{fill}" fill-opacity="0.75" '
        f'stroke="{edge}" stroke-width="0.8"/>',
    ))


U_SAID = ("Laid out as an encoder–decoder (U-Net's Fig. 1, FPN's Fig. 3), found from the reads: a row per "
          "level, a level being how many halvings a map is from the input's; the encoder runs down, the "
          "decoder up, and skips join maps of one level straight across. ")
U_LAYOUT = ' data-layout="u"'  # on a U-shaped picture's root: draw/fit.py redraws it in rows where it cannot fit
KERNELS_UP_TO = 25  # drawn boxes; beyond this the cubes and their lines crowd the picture
KERNEL_SHARE = 0.45  # at most this share of the face a kernel cube sits on, so the map still shows round it


def kernel_svg(read: Tuple[float, float, Box], kernel: Sequence[int], scale: str, top_s: int,
               to: Optional[Tuple[float, float, Box]], names: str = "") -> str:
    """The kernel as NN-SVG's AlexNet draws it: a small cube on the front face of the box it reads
    (``read``: that box's front-face corner and size), F×F on the boxes' own scale and as thick as
    the box (it spans every input channel), with thin lines from its far face to the one position
    it makes on the next box's front face (``to``; None: no lines). The kernel is the rule's own,
    for display only; ``names`` the data-from/data-to attributes of the read it draws."""
    rx, ry, rb = read
    kh = kernel[0]
    kw = kernel[1] if len(kernel) > 1 else kh
    # sized as box_sizes sizes H and W, then kept inside the face it sits on
    h = min(scaled(kh, top_s, 6, 130, scale), max(3.0, rb.h * KERNEL_SHARE))
    d = min(scaled(kw, top_s, 5, 100, scale), rb.d * KERNEL_SHARE)
    cube = Box(rb.w, h, d)
    x, y = rx, ry + (rb.h - h) * 0.3
    edge = "#333333"
    parts = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{cube.w:.1f}" height="{h:.1f}" fill="#ffffff" '
             f'fill-opacity="0.55" stroke="{edge}" stroke-width="0.7"/>',
             f'<polygon points="{x:.1f},{y:.1f} {x + cube.dx:.1f},{y - cube.dy:.1f} '
             f'{x + cube.w + cube.dx:.1f},{y - cube.dy:.1f} {x + cube.w:.1f},{y:.1f}" fill="#ffffff" '
             f'fill-opacity="0.4" stroke="{edge}" stroke-width="0.7"/>',
             f'<polygon points="{x + cube.w:.1f},{y:.1f} {x + cube.w + cube.dx:.1f},{y - cube.dy:.1f} '
             f'{x + cube.w + cube.dx:.1f},{y + h - cube.dy:.1f} {x + cube.w:.1f},{y + h:.1f}" fill="#dddddd" '
             f'fill-opacity="0.5" stroke="{edge}" stroke-width="0.7"/>']
    if to is not None:
        tx, ty, tb = to
        px, py = tx + 0.5, ty + tb.h * 0.35  # the output position, on the next box's front face
        far = ((x + cube.w, y), (x + cube.w, y + h), (x + cube.w + cube.dx, y - cube.dy),
               (x + cube.w + cube.dx, y + h - cube.dy))
        parts.append('<path d="' + " ".join(f"M{fx:.1f},{fy:.1f} L{px:.1f},{py:.1f}" for fx, fy in far)
                     + f'" stroke="{edge}" stroke-width="0.5" fill="none"/>')
    bbox = f"{x:.1f} {y - cube.dy:.1f} {cube.w + cube.dx:.1f} {h + cube.dy:.1f}"
    return (f'<g class="kernel"{names} data-kernel="{kh}x{kw}" data-bbox="{bbox}">' + "".join(parts) + "</g>")


def balanced_rows(widths: Sequence[float], inner: float) -> List[List[int]]:
    """Slots into rows no wider than ``inner``, the rows about equally long (no last row holding
    one lone box): greedy at ``inner`` to learn how many rows, then greedy again at the total
    divided by that many, widened until the count holds. Linear in slots per pass."""

    def greedy(limit: float) -> List[List[int]]:
        rows: List[List[int]] = [[]]
        x = 0.0
        for i, w in enumerate(widths):
            if rows[-1] and x + w > limit:
                rows.append([])
                x = 0.0
            rows[-1].append(i)
            x += w + GAP
        return rows

    rows = greedy(inner)
    if len(rows) == 1:
        return rows
    limit = sum(w + GAP for w in widths) / len(rows)
    while limit < inner:
        tried = greedy(limit)
        if len(tried) <= len(rows):
            return tried
        limit = min(inner, limit * 1.05)
    return rows


def wrap_words(line: str, width: float, size: float) -> List[str]:
    words, lines, cur = line.split(" "), [], ""
    for w in words:
        if cur and text_width(cur + " " + w, size) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    return lines + ([cur] if cur else [])


# What the figures on every picture mean; each style adds what its shapes mean before it.
COSTS = ("params: weights + biases; MACs: multiply-accumulates of conv, fc, attention and matmul layers for "
         "one sample (FLOPs = 2 × MACs); figures are the engine's, as `convcalc table` gives them")


@value
class Caption:
    """What every style writes around its drawing, as ``draw --title`` and ``--no-caption`` ask.
    ``title``: the line at the top (None: the network's title and input; "": no title line).
    ``caption``: the totals line under the title and the conventions paragraph at the bottom;
    a report's own figure caption says those, so a picture for one can leave them out. The
    legend stays: it is what the colours mean."""

    title: Optional[str] = None
    caption: bool = True


def footer(conventions: str, full: float, y: float, caption: Caption = Caption()) -> Tuple[List[str], float]:
    """The conventions line(s) at the bottom, wrapped to the picture's width from baseline ``y``;
    and the picture's height below them (none without the caption: the margin below the legend)."""
    line_h = TEXT + 3
    if not caption.caption:
        return [], y - line_h - 6 + MARGIN
    foot = []
    for line in wrap_words(conventions, full - 2 * MARGIN, TEXT - 1):
        foot.append(text(MARGIN, y, line, TEXT - 1, "start", ' class="conventions" fill="#555555"'))
        y += line_h
    return foot, y + MARGIN - line_h + 6


def palette(items: Sequence[Item], color: str,
            lighten: float = 0.0) -> Tuple[Callable[[Item], str], Dict[str, str], int]:
    """How every style fills a drawn item: its kind's colour (``lighten`` mixes in white), or with
    ``color`` macs/params/memory the heat of that figure against the largest one. Returns the fill,
    the kinds' colours (for the legend) and that largest figure (0 when colouring by kind)."""
    colors = kind_colors(items)
    top = max((figure(it, color) for it in items), default=0) if color != "kind" else 0

    def fill(it: Item) -> str:
        if color == "kind":
            return mix(colors[it.kind], "#ffffff", lighten) if lighten else colors[it.kind]
        v = figure(it, color)
        return heat(v / top) if v and top else NONE_COLOR

    return fill, colors, top


def hover_lines(it: Item, names: str) -> List[str]:
    """What hovering over a drawn item says: its exact figures (a browser shows ``<title>``)."""
    tip = [f"{names}: {it.label}", f"output {it.output}", f"params {it.params:,}", f"MACs {it.macs:,}",
           f"activations {it.activations:,}"]
    if it.count > 1:
        tip.append(f"{it.count} identical, figures for each")
    if it.folded:
        tip.append("with " + ", ".join(it.folded[:8]) + (" …" if len(it.folded) > 8 else ""))
    return tip


def heading(report: Report, detail: str, caption: Caption = Caption(),
            fit: float = math.inf) -> Tuple[List[str], float, float]:
    """The title (the network and its input, or ``caption.title``) and the totals line under it,
    at the top left of every style's picture, each wrapped at ``fit`` px; ``detail`` follows the
    MACs. Returns the texts, their width and how far down they reach: ``MARGIN + 38``, the totals
    line's baseline, with one line of each, and less without (a style starts its drawing a gap
    below it, so nothing is left blank)."""
    title = (f"{report.spec.title or report.spec.name or 'network'} — input {report.spec.input}"
             if caption.title is None else caption.title)
    t = report.totals
    sub = f"{t.params:,} params · {t.macs:,} MACs{detail}" if caption.caption else ""
    titles = wrap_words(title, fit, 18) if title else []
    subs = wrap_words(sub, fit, TEXT) if sub else []
    lines: List[str] = []
    y = float(MARGIN - 14)  # with neither, the drawing's first text is a margin from the top
    for k, line in enumerate(titles):
        y += 32 if k == 0 else 22
        lines.append(text(MARGIN, y, line, 18, "start", ' font-weight="bold"'))
    for k, line in enumerate(subs):
        y += (20 if titles else 28) if k == 0 else TEXT + 4
        lines.append(text(MARGIN, y, line, TEXT, "start", ' fill="#444444"'))
    widths = [text_width(s, 18) for s in titles] + [text_width(s) for s in subs]
    return lines, max(widths, default=0.0), y


def kind_legend(colors: Dict[str, str], full: float, y: float, corner: float = 0) -> Tuple[List[str], float]:
    """A swatch and the name of each kind, wrapped to the picture's width from baseline ``y``;
    the lines and the baseline of the last row. ``corner`` rounds the swatches (graph style).
    One swatch per colour, naming every kind drawn in it (``fc, linear``; ``tokens, cls, pos``):
    kinds of one family share a colour, and two swatches alike would read as two colours."""
    lines: List[str] = []
    x = float(MARGIN)
    rounded = f' rx="{corner:g}"' if corner else ""
    named: Dict[str, List[str]] = {}  # colour -> the readable names of its kinds, each once
    for k, c in colors.items():
        names = named.setdefault(c, [])
        if kind_name(k) not in names:
            names.append(kind_name(k))
    for c, kinds in named.items():
        kind = ", ".join(kinds)
        w = 14 + 6 + text_width(kind) + 18
        if x + w > full - MARGIN and x > MARGIN:
            x = float(MARGIN)
            y += 20
        lines.append(f'<rect class="swatch" x="{x:.1f}" y="{y - 11:.1f}" width="14" height="14"{rounded} '
                     f'fill="{c}" stroke="{mix(c, "#000000", 0.55)}" stroke-width="0.8"/>')
        lines.append(text(x + 20, y, kind, TEXT, "start"))
        x += w
    return lines, y


def blocks_svg(report: Report, depth: Optional[int] = None, scale: str = "log", color: str = "kind",
               labels: str = "shape", width: int = 1400, every_layer: bool = False,
               kernels: Optional[bool] = None, layout: str = "auto", caption: Caption = Caption()) -> str:
    """The ``blocks`` picture of ``report`` as SVG text. ``depth`` None: the default (each
    branching block as one box; every layer of a chain). ``kernels`` None: a kernel cube on each
    conv and pool where it helps, a chain of at most KERNELS_UP_TO boxes. ``layout`` 'auto': an
    encoder–decoder U-shaped (``flow.is_encoder_decoder``), anything else in rows; 'rows': in rows."""
    from ..report.numbers import human

    if depth is None:
        depth = default_depth(report)
    items = drawn_items(report, depth, every_layer)
    boxes = box_sizes(items, scale)
    fill_of, colors, metric_top = palette(items, color)
    reads = crossing_reads(report, items)
    level = levels(report, items, reads)
    u_shaped = layout == "auto" and is_encoder_decoder(items, reads, level)
    if u_shaped:
        items = skips_first(report, items)
        boxes = box_sizes(items, scale)
        reads = crossing_reads(report, items)
        level = levels(report, items, reads)
    if kernels is None:
        kernels = len(items) <= KERNELS_UP_TO
    layers = {r.index: r for r in report.layers} if kernels else {}
    top_s = max((s for it in items if it.output.spatial for s in it.output.spatial[:2]), default=1)
    line_h = TEXT + 3
    inner = max(width - 2 * MARGIN, 200)

    def under(it: Item) -> List[str]:
        lines = [str(it.output) + (f"  ×{it.count}" if it.count > 1 else "")]
        if it.inside:
            lines.append(it.inside)
        if labels == "full":
            each = " each" if it.count > 1 else ""
            lines += [it.label, f"{human(it.params)} params{each}", f"{human(it.macs)} MACs{each}"]
        return lines

    slots: List[Slot] = []
    for it, b in zip(items, boxes):
        lines = under(it)
        core = max([b.w + b.dx, text_width(it.name)] + [text_width(s) for s in lines])
        left = (core - b.w - b.dx) / 2
        slots.append(Slot(core, left, left + b.w, b.h, line_h + 5 + b.dy, line_h * len(lines) + 6))
    rows: Optional[List[List[int]]] = None
    if not u_shaped:  # rows wrapped to the width, each slot with room for its wires from far back
        far = [0] * len(items)
        for rd in reads:
            if rd.dst != rd.src + 1:
                far[rd.src] += 1
                far[rd.dst] += 1
        rows = balanced_rows([s.core + 2 * SIDE + WIRE * f for s, f in zip(slots, far)], inner)
    drawn = "every layer a box" if every_layer else "activation, norm and dropout drawn with the box before"
    at = f" · blocks collapsed at depth {depth}" if depth is not None else ""
    head, head_w, top = heading(report, f"{at} · {drawn}", caption, inner)
    plan = Plan(slots, reads, [GAP] * len(items), MARGIN, top + 22, rows, None if rows else level)

    # the reads to the next box that a kernel cube draws, in the box of the layer reading
    cubes: Dict[int, str] = {}
    wires: List[str] = []
    drawn_kinds: Set[str] = set()
    for k, rd in enumerate(reads):
        kind, d, ends = plan.route(k)
        layer = layers.get(rd.reader)
        kernel = getattr(layer.layer, "kernel", None) if layer is not None else None
        if (kind == "next" and kernel and rd.dst not in cubes and items[rd.src].output.spatial
                and items[rd.dst].output.spatial and items[rd.dst].name == rd.target):  # a layer's, not a block's
            s, t = rd.src, rd.dst
            names = f" data-from={quoteattr(rd.source)} data-to={quoteattr(rd.target)}"
            cubes[t] = kernel_svg((plan.x[s] + slots[s].left, plan.top[s], boxes[s]), kernel, scale, top_s,
                                  (plan.x[t] + slots[t].left, plan.top[t], boxes[t]), names)
            continue
        wires.append(connector(rd, kind, d, ends))
        drawn_kinds.add(kind)

    widest_row = max(head_w, min(400.0, inner), plan.right - MARGIN)
    body: List[str] = []
    for i, (it, b) in enumerate(zip(items, boxes)):
        lines = under(it)
        centre = plan.x[i] + slots[i].core / 2
        bx, by = plan.x[i] + slots[i].left, plan.top[i]
        tip = hover_lines(it, it.name if it.count == 1 else f"{it.name} … {it.last_name}")
        cls = "box input" if it.kind == "input" and i == 0 else "box"
        body.append(
            f'<g class="{cls}" data-name={quoteattr(it.name)} data-kind={quoteattr(it.kind)} '
            f'data-shape="{it.output}" data-params="{it.params}" data-macs="{it.macs}" '
            f'data-activations="{it.activations}" data-count="{it.count}" data-layers="{it.first} {it.last}" '
            f'data-level="{level[i]}" '
            f'data-bbox="{bx:.1f} {by - b.dy:.1f} {b.w + b.dx:.1f} {b.h + b.dy:.1f}">'
            f"<title>{escape(chr(10).join(tip))}</title>"
            + box_svg(bx, by, b, fill_of(it)) + cubes.get(i, "")
            + text(centre, by - b.dy - 5, it.name, TEXT, extra=' class="name"')
            + "".join(text(centre, by + b.h + line_h * (k + 1), s, TEXT if k == 0 else TEXT - 1,
                           extra=f' class="{"shape" if k == 0 else "figure"}"'
                           + ("" if k == 0 else ' fill="#555555"'))
                      for k, s in enumerate(lines))
            + "</g>")
    body.append(arrow_heads())
    body.extend(wires)
    y = plan.height
    # the legend: kinds with swatches, or the heat map's scale
    full = widest_row + 2 * MARGIN
    legend: List[str] = []
    y += 4
    if color == "kind":
        swatches, y = kind_legend(colors, full, y)
        legend += swatches
    else:
        legend.append('<defs><linearGradient id="heat" x1="0" x2="1" y1="0" y2="0">'
                      + "".join(f'<stop offset="{k / (len(HEAT) - 1):g}" stop-color="{c}"/>'
                                for k, c in enumerate(HEAT))
                      + "</linearGradient></defs>")
        label = f"{METRICS[color]} per box, linear scale:"
        lx = MARGIN + text_width(label) + 10
        legend.append(text(MARGIN, y, label, TEXT, "start"))
        legend.append(text(lx, y, "0", TEXT, "start"))
        legend.append(f'<rect class="scale" x="{lx + 14:.1f}" y="{y - 11:.1f}" width="200" height="14" '
                      f'fill="url(#heat)" stroke="#888888" stroke-width="0.6"/>')
        legend.append(text(lx + 220, y, f"{human(metric_top)} ({metric_top:,})", TEXT, "start"))
        legend.append(f'<rect x="{lx + 230 + text_width(f"{human(metric_top)} ({metric_top:,})"):.1f}" '
                      f'y="{y - 11:.1f}" width="14" height="14" fill="{NONE_COLOR}" stroke="#888888" '
                      f'stroke-width="0.6"/>')
        legend.append(text(lx + 250 + text_width(f"{human(metric_top)} ({metric_top:,})"), y, "none", TEXT,
                           "start"))
        widest_row = max(widest_row, lx + 290 + text_width(f"{human(metric_top)} ({metric_top:,})") - MARGIN)
        full = widest_row + 2 * MARGIN
    y += 24

    scale_text = {"log": "log", "sqrt": "square-root", "linear": "linear"}[scale]
    conventions = (f"Sizes on a {scale_text} scale: box height follows H, the receding side W, the thickness C; "
                   "a flat vector is a thin bar whose height follows its length. "
                   + ("The small see-through cube is a conv's or pool's F×F kernel on the box it reads, on the "
                      "same scale (at most half that face) and through all its channels; its lines lead to the "
                      "one position it makes. " if cubes else "")
                   + wires_said(drawn_kinds)
                   + (U_SAID if u_shaped else "")
                   + COSTS
                   + ("; ×N marks N identical boxes in a row, figures for each" if any(it.count > 1 for it in items)
                      else "") + ". Drawn by convcalc.")
    # wrapped to the width asked for: a U-shaped picture may be wider, and its lines stay readable
    foot, height = footer(conventions, min(full, max(width, 400)), y, caption)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{full:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {full:.0f} {height:.0f}" font-family="{FONT}"{U_LAYOUT if u_shaped else ""}>\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            + "\n".join(head) + "\n" + "\n".join(body) + "\n" + "\n".join(legend) + "\n" + "\n".join(foot)
            + "\n</svg>\n")
