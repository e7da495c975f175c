"""Step -> the memory timeline of one training step as an SVG picture (``convcalc plan --format
svg``, and inside ``plan --format html``): the bytes alive by category, stacked, event by event
through the step's phases (start, forward, loss, backward, optimizer, zero_grad, and any other
phase the step carries), the peak marked with its value and where it falls, and with a memory
budget (``--memory``/``--device``) the memory and what is usable after the headroom.

Drawn to stay small at any depth: each category is one path, and a step of more events than
``MAX_COLUMNS`` is drawn in columns, each the event of most memory among the ones it holds (the
peak is always one of them), so the outline is the step's true envelope. Each column carries the
exact bytes of the event it shows (``data-event``: its index in the step's events, as in plan's
JSON timeline; ``data-bytes``: its bytes by category) and a hover title naming them.

Colours: adjacent categories alternate dark, light and mid, and the categories of one grey are
told apart by white hatching, so the stack stays readable printed in grey. Sizes in binary units
(MiB, GiB), as memory is sized. Every name is escaped (markup, and control characters shown as ``\\xNN``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..analysis.plan_result import STEP_CATEGORIES, Fit, Step
from ..analysis.result import Report
from .html_report import escape
from .numbers import human_bytes
from .plan_table import where

OFF_SCALE = 8  # a memory budget more than this many times the peak is named above the plot, not drawn
MAX_COLUMNS = 400  # a step with more events is drawn in this many columns (the envelope kept)

# (readable name, colour, hatched): dark, light and mid greys in turn bottom to top, so neighbours
# differ printed in grey; those of one grey apart from another by white hatching
CATEGORY_STYLE: Dict[str, Tuple[str, str, bool]] = {
    "parameters": ("parameters", "#26456e", False),
    "buffers": ("buffers (running statistics, frozen weights)", "#9cbde0", True),
    "gradients": ("weight gradients", "#8c2d19", True),
    "optimizer_state": ("optimizer state", "#f0b45a", False),
    "activations": ("activations saved for backward", "#3f7f4f", False),
    "temporaries": ("temporaries (gradients flowing back)", "#cfe6b0", False),
    "input": ("input batch and labels", "#6d4f8f", True),
}


def style_of(category: str) -> Tuple[str, str, bool]:
    """A category's readable name, colour and hatching; one not listed (a phase's own) in grey."""
    return CATEGORY_STYLE.get(category, (category.replace("_", " "), "#999999", False))


def fill(category: str) -> str:
    """Its fill in the picture: the colour, or the hatching pattern ``hatch_defs`` defines."""
    _, colour, hatched = style_of(category)
    return f"url(#hatch-{category})" if hatched else colour


def css_fill(category: str) -> str:
    """The same as a CSS background, for a page's colour keys."""
    _, colour, hatched = style_of(category)
    return (f"repeating-linear-gradient(45deg, {colour} 0 3px, color-mix(in srgb, {colour} 45%, #fff) 3px 5px)"
            if hatched else colour)


def hatch_defs(categories: List[str]) -> str:
    """The hatching patterns: the colour crossed by white stripes at 45°."""
    out = []
    for category in categories:
        _, colour, hatched = style_of(category)
        if hatched:
            out.append(f'<pattern id="hatch-{category}" width="5" height="5" patternUnits="userSpaceOnUse" '
                       f'patternTransform="rotate(45)"><rect width="5" height="5" fill="{colour}"/>'
                       '<rect width="2" height="5" fill="#fff" fill-opacity="0.55"/></pattern>')
    return f"<defs>{''.join(out)}</defs>" if out else ""


WIDTH = 960  # the height is the legend's
LEFT, RIGHT, TOP = 78, 16, 44  # the plot's margins (a line more for each note above it);
# below it the phases, then the legend
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = 250
HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"'  # a label readable over the areas
PHASE_ROWS = 2  # a phase too narrow for its name is named a row further down


def columns(step: Step, most: int = MAX_COLUMNS) -> List[int]:
    """The events drawn, one a column, in order: all of them, or when there are more than ``most``,
    from each run of up to ⌈events / most⌉ consecutive events of one phase the one of most memory
    (the first of equals). A run never spans two phases, so a phase of one event (the loss, the
    optimizer's step) keeps its column: at most ``most`` + the number of phases columns."""
    n = len(step.events)
    if n <= most:
        return list(range(n))
    size = -(-n // most)
    chosen: List[int] = []
    run: List[int] = []
    for i, e in enumerate(step.events):
        if run and (len(run) == size or step.events[run[0]].phase != e.phase):
            chosen.append(max(run, key=lambda j: (step.events[j].total, -j)))
            run = []
        run.append(i)
    chosen.append(max(run, key=lambda j: (step.events[j].total, -j)))
    return chosen


def axis_step(top: int) -> Tuple[int, str, float]:
    """Ticks for an axis up to ``top`` bytes: (bytes a tick, the unit's name, bytes a unit),
    1, 2, 2.5 or 5 × a power of ten of B, KiB, MiB, GiB or TiB (the unit human_bytes names
    ``top`` in), about five ticks."""
    unit, size = "B", 1.0
    for name, bytes_ in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
        if top >= bytes_:  # as human_bytes names sizes
            unit, size = name, float(bytes_)
    rough = top / size / 5
    if rough < 1:  # a fraction of the unit, one a whole number of bytes: 1/8, 1/4, 1/2
        tick = next((f for f in (0.125, 0.25, 0.5) if f >= rough), 1.0) if size > 1 else 1.0
    else:
        tick = 1.0
        while tick * 10 <= rough:
            tick *= 10
        tick *= next(m for m in (1, 2, 2.5, 5, 10) if tick * m >= rough)
    return max(1, round(tick * size)), unit, size


def tick_label(n: int, unit: str, size: float) -> str:
    return "0" if n == 0 else f"{n / size:g} {unit}"


def timeline_svg(report: Report, step: Step, fit: Optional[Fit] = None, standalone: bool = True) -> str:
    """The picture. With ``fit``, its memory and usable memory (less the headroom) are drawn as
    lines; ``standalone`` adds the XML declaration and namespace a file on its own needs."""
    events = step.events
    shown = columns(step)
    n = len(shown)
    peak_at = step.peak_index
    highest = max([e.total for e in events] + [1])
    # the budget on the axis, unless it would flatten the step to a sliver: then named off the scale
    on_scale = fit is not None and fit.memory_bytes <= OFF_SCALE * highest
    top = max(highest, fit.memory_bytes) if fit is not None and on_scale else highest
    tick, unit, size = axis_step(top)
    ceiling = -(-top // tick) * tick  # the axis ends at a tick

    def y(b: int) -> float:
        return plot_top + PLOT_H - PLOT_H * b / ceiling

    def x(c: int) -> float:
        return LEFT + PLOT_W * c / n

    notes = (len(shown) < len(events)) + (fit is not None and not on_scale)  # lines under the title
    plot_top = TOP + 14 * notes
    # the legend: the categories ever alive, in two columns under the phases; the picture as tall as it needs
    present = [k for k in STEP_CATEGORIES if any(e.breakdown()[k] for e in events)]
    per_column = -(-len(present) // 2)
    ly = plot_top + PLOT_H + 16 + 14 * PHASE_ROWS + 12
    height = ly + 18 * per_column - 4

    title = report.spec.name or report.spec.title or "network"  # the short name: the picture's width is fixed
    what = f"{title}: memory through one training step ({step.optimizer}, batch {step.batch})"
    out: List[str] = [
        '<svg xmlns="http://www.w3.org/2000/svg"' if standalone else "<svg",
        f' class="timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img"'
        f' font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif" font-size="12"'
        f' data-peak-bytes="{step.peak_bytes}" data-peak-event="{peak_at}" data-events="{len(events)}"'
        f' data-categories="{" ".join(STEP_CATEGORIES)}">',
        f"<title>{escape(what)}</title>",
        hatch_defs(present),
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>',
        f'<text x="8" y="18" font-size="14" font-weight="600" fill="#1f2328">{escape(what)}</text>',
    ]
    if len(shown) < len(events):
        out.append(f'<text x="8" y="34" fill="#656d76">{len(events):,} events in {n} columns, each the '
                   f"moment of most memory among its events</text>")
    # the axis: ticks in binary units, a faint line at each
    for b in range(0, ceiling + 1, tick):
        out.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y(b):.1f}" y2="{y(b):.1f}" stroke="#e5e8eb"/>'
                   f'<text x="{LEFT - 6}" y="{y(b) + 4:.1f}" text-anchor="end" fill="#656d76">'
                   f"{tick_label(b, unit, size)}</text>")
    # the stack: one path per category, a step outline along the columns' tops and back along the bottoms
    below = [0] * n
    for k, category in enumerate(STEP_CATEGORIES):
        name = style_of(category)[0]
        above = [below[c] + events[i].bytes[k] for c, i in enumerate(shown)]
        if any(a != b for a, b in zip(above, below)):
            d = [f"M{x(0):.1f},{y(above[0]):.1f}"]
            for c in range(n):
                d.append(f"H{x(c + 1):.1f}" + (f"V{y(above[c + 1]):.1f}" if c + 1 < n else ""))
            d.append(f"V{y(below[n - 1]):.1f}")
            for c in range(n - 1, -1, -1):
                d.append(f"H{x(c):.1f}" + (f"V{y(below[c - 1]):.1f}" if c > 0 else ""))
            out.append(f'<path class="cat" data-category="{category}" d="{"".join(d)}Z" fill="{fill(category)}">'
                       f'<title>{escape(name)}</title></path>')
        below = above
    # the phases: a rule where each begins, its name under the plot (a narrow one's a row lower)
    runs: List[Tuple[str, int, int]] = []  # phase, first and last column
    for c, i in enumerate(shown):
        if runs and runs[-1][0] == events[i].phase:
            runs[-1] = (runs[-1][0], runs[-1][1], c)
        else:
            runs.append((events[i].phase, c, c))
    base = plot_top + PLOT_H
    row_end = [float(LEFT - 8)] * PHASE_ROWS  # where each row's last name ends
    for phase, first, last in runs:
        x0, x1 = x(first), x(last + 1)
        if first:
            out.append(f'<line x1="{x0:.1f}" x2="{x0:.1f}" y1="{plot_top}" y2="{base + 4}" stroke="#656d76" '
                       f'stroke-dasharray="3 3"/>')
        width = 6.5 * len(phase) + 6  # about the name's width in 12 px type
        mid = min(max((x0 + x1) / 2, LEFT + width / 2), WIDTH - RIGHT - width / 2)
        row = next((r for r in range(PHASE_ROWS) if row_end[r] <= mid - width / 2), PHASE_ROWS - 1)
        row_end[row] = mid + width / 2
        ty = base + 16 + 14 * row
        if row:
            out.append(f'<line x1="{(x0 + x1) / 2:.1f}" x2="{mid:.1f}" y1="{base + 2}" y2="{ty - 10}" '
                       f'stroke="#656d76" stroke-width="0.6"/>')
        out.append(f'<text class="phase" x="{mid:.1f}" y="{ty}" text-anchor="middle" fill="#1f2328">'
                   f"{escape(phase)}</text>")
    out.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{base}" y2="{base}" stroke="#1f2328"/>')
    # the budget: the memory, and what is left of it after the headroom
    if fit is not None and not on_scale:
        device = f" of {fit.device}" if fit.device else ""
        out.append(f'<text class="budget" x="{LEFT + PLOT_W}" y="{34 + 14 * (len(shown) < len(events))}" '
                   f'text-anchor="end" fill="#b3261e" '
                   f'data-bytes="{fit.usable_bytes}">↑ usable {human_bytes(fit.usable_bytes)}{escape(device)} '
                   f"({human_bytes(fit.memory_bytes)} less {human_bytes(fit.headroom_bytes)} headroom), "
                   f"{fit.usable_bytes / highest:.0f}× this peak: off the scale</text>")
    elif fit is not None:
        device = f"{fit.device} " if fit.device else ""
        lines = [(fit.memory_bytes, f"{device}memory {human_bytes(fit.memory_bytes)}"
                  + (" (no headroom)" if not fit.headroom_bytes else ""), "", -4)]
        if fit.headroom_bytes:  # the usable line's name under it when the two lines are close
            close = y(fit.usable_bytes) - y(fit.memory_bytes) < 16
            lines.append((fit.usable_bytes, f"usable {human_bytes(fit.usable_bytes)} (less "
                                            f"{human_bytes(fit.headroom_bytes)} headroom)", "6 4", 13 if close else -4))
        for b, label, dash, dy in lines:
            style = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line class="budget" x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y(b):.1f}" y2="{y(b):.1f}" '
                       f'stroke="#b3261e" stroke-width="1.5"{style} data-bytes="{b}"/>'
                       f'<text x="{LEFT + 4}" y="{y(b) + dy:.1f}" fill="#b3261e" {HALO}>{escape(label)}</text>')
    # hover: a transparent column per event drawn, with its exact bytes
    for c, i in enumerate(shown):
        e = events[i]
        parts = "; ".join(f"{style_of(k)[0].split(' (')[0]} {human_bytes(v)}"
                          for k, v in e.breakdown().items() if v)
        tip = f"{where(report, e, brief=True)}: {human_bytes(e.total)} ({e.total:,} B) — {parts}"
        out.append(f'<rect class="event" x="{x(c):.1f}" y="{plot_top}" width="{x(c + 1) - x(c):.2f}" height="{PLOT_H}" '
                   f'fill="transparent" data-event="{i}" data-bytes="{",".join(map(str, e.bytes))}">'
                   f"<title>{escape(tip)}</title></rect>")
    # the peak: a mark on its column's top, its value and where it falls
    c = shown.index(peak_at)
    px, py = (x(c) + x(c + 1)) / 2, y(step.peak_bytes)
    label = f"peak {human_bytes(step.peak_bytes)} at {where(report, step.peak, brief=True)}"
    anchor = "end" if px > LEFT + PLOT_W / 2 else "start"
    lx = px - 8 if anchor == "end" else px + 8
    room = int((lx - 8 if anchor == "end" else WIDTH - 8 - lx) / 7.2)  # characters of 12 px bold type
    if len(label) > room:  # a long name loses its middle, never the picture's edge (its hover title has it whole)
        label = label[: room // 2 - 1] + "…" + label[len(label) - room // 2 + 1:]
    out.append(f'<g class="peak" data-bytes="{step.peak_bytes}" data-event="{peak_at}">'
               f"<title>peak {step.peak_bytes:,} B at {escape(where(report, step.peak))}</title>"
               f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#fff" stroke="#1f2328" stroke-width="2"/>'
               f'<text x="{lx:.1f}" y="{max(py - 8, plot_top - 4):.1f}" text-anchor="{anchor}" font-weight="600" '
               f'fill="#1f2328" {HALO}>{escape(label)}</text></g>')
    # the legend, top of the stack first, each with its bytes at the peak
    peak = step.peak.breakdown()
    for j, category in enumerate(reversed(present)):
        name = style_of(category)[0]
        col, row = divmod(j, per_column)
        lx, yy = LEFT + col * PLOT_W / 2, ly + 18 * row
        out.append(f'<rect x="{lx:.1f}" y="{yy - 10}" width="14" height="12" fill="{fill(category)}" stroke="#1f2328" '
                   f'stroke-width="0.5"/><text x="{lx + 20:.1f}" y="{yy}" fill="#1f2328">{escape(name)}: '
                   f"{human_bytes(peak[category])} at the peak</text>")
    out.append("</svg>")
    svg = "".join(out)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n") if standalone else svg
