"""Report + Training + Step -> ``convcalc plan --format html``: one self-contained page with the
step's memory timeline (timeline_svg.py), the peak's breakdown and where it binds, the largest
batch when a memory size or device is given, the roofline's bound with a device, the per-layer
table (saved bytes by role, forward and backward MACs; sortable) and every convention.

The page is the table's page's kind (html_report.py): its style and its script are used as they
are, not copied (the layer table is ``#layers``, its headers sort buttons with ``aria-sort``, the
timeline a ``.diagram`` box with its "full size" button), so it keeps the same phone and keyboard
behaviour. The figures and texts are plan_table.py's and roofline_table.py's; nothing is computed
here but shares of the peak, rounded for the eye.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..analysis.plan_result import (
    ROOFLINE_CONVENTIONS,
    SAVED_ROLES,
    STEP_CATEGORIES,
    Checkpoint,
    Fit,
    Roofline,
    Step,
    Training,
)
from ..analysis.result import Report
from ..version import __version__
from .html_report import SCRIPT, STYLE, escape, num, page_start, sort_header
from .numbers import duration, human, human_bytes
from .plan_table import (
    BACKEND_NAMES,
    ROLE_HEADERS,
    checkpoint_paragraphs,
    counted,
    fit_text,
    plan_conventions,
    summary,
    where,
    work_label,
)
from .roofline_table import (
    intensity,
    precision_name,
    roofline_conventions,
    roofline_summary,
)
from .timeline_svg import css_fill, style_of, timeline_svg

# What the plan's page adds to the table's style: the peak's breakdown, its colour keys
PLAN_STYLE = """
table.breakdown { width: auto; margin: 6px 0; }
table.breakdown th { position: static; }
table.breakdown td.n { padding-left: 18px; }
.key { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px;
       border: 1px solid var(--dim); }
p.bold { font-weight: 600; }
p.warn { color: var(--warn); }
.diagram svg.timeline { width: 100%; }
.diagram.full svg.timeline { width: auto; }
"""


def to_plan_html(report: Report, training: Training, step: Step, fit: Optional[Fit] = None,
                 bound: Optional[Roofline] = None, checkpoint: Optional[Checkpoint] = None) -> str:
    """The page: timeline, peak, fit, checkpointing, roofline, layers, conventions."""
    spec = report.spec
    label = work_label(report)
    title = spec.title or spec.name or "network"
    precision = f"autocast {training.amp} over float32" if training.amp else report.dtype
    roof = bound if bound is not None and not bound.missing else None  # the bound, when there is one

    # the layers: one row each, saved bytes by role (weight copies only under autocast), MACs, roofline
    shown = len(SAVED_ROLES) if training.amp else SAVED_ROLES.index("weight copies")
    heads = [sort_header("#", "n", sort="ascending"), sort_header("name"), sort_header("layer"),
             sort_header("output", "n"),
             sort_header("saved", "n", "bytes autograd keeps for backward, first saved by this layer"),
             *(sort_header(h, "n", f"saved: {role}") for h, role in zip(ROLE_HEADERS[:shown], SAVED_ROLES)),
             sort_header(f"fwd {label}", "n", "per sample"), sort_header(f"bwd {label}", "n", "per sample")]
    if roof is not None:
        heads += [sort_header("FLOP/B", "n", "arithmetic intensity, forward and backward together"),
                  sort_header("bound", "", "compute- or memory-bound"),
                  sort_header("time ≥", "n", "lower bound on the layer's time, forward and backward")]
    heads.append(sort_header("notes"))
    rows: List[str] = []
    for order, (r, t) in enumerate(zip(report.layers, training.layers), start=1):
        cells = [f'<td class="idx n" data-value="{r.index}">{r.index}</td>',
                 f'<td class="name" title="{escape(r.full_name)}">{escape(r.full_name)}</td>',
                 f"<td>{escape(r.layer.describe())}</td>",
                 f'<td class="shape n" data-value="{r.output.elements}">{escape(str(r.output))}</td>',
                 num(t.saved_bytes, human_bytes(t.saved_bytes)) if t.supported
                 else '<td class="n" data-value="NaN">?</td>',
                 *(num(b, human_bytes(b) if b else "") for b in t.saved[:shown]),
                 num(counted(report, t.forward_macs), human(counted(report, t.forward_macs))),
                 num(counted(report, t.backward_macs), human(counted(report, t.backward_macs)))]
        if roof is not None:
            b = roof.layers[order - 1]
            x = b.intensity
            cells += [f'<td class="n" data-value="{float(x) if x is not None else "NaN"}">{escape(intensity(x))}</td>',
                      f"<td>{escape(b.bound)}</td>",
                      f'<td class="n" data-value="{float(b.seconds)}">{escape(duration(b.seconds) if b.seconds else "")}'
                      "</td>"]
        note = "" if t.supported else '<span class="warning">⚠ no saved-tensor rule: not counted</span>'
        cells.append(f'<td class="notes">{note}</td>')
        rows.append(f'<tr class="layer" data-order="{order}" data-in="" data-index="{r.index}">{"".join(cells)}</tr>')
    by_role = training.saved_by_role()
    foot = [f'<td></td><td class="name">total</td><td>{len(report.layers)} layers</td><td></td>',
            num(training.saved_bytes, human_bytes(training.saved_bytes)),
            *(num(by_role[role], human_bytes(by_role[role]) if by_role[role] else "") for role in SAVED_ROLES[:shown]),
            num(counted(report, training.forward_macs), human(counted(report, training.forward_macs))),
            num(counted(report, training.backward_macs), human(counted(report, training.backward_macs)))]
    if roof is not None:
        foot += ["<td></td><td></td>",
                 f'<td class="n" title="with the optimizer step">{escape(duration(roof.step_seconds))}</td>']
    foot.append("<td></td>")

    # the summary: the figures a reader came for
    big: List[Tuple[str, str, str]] = [
        (human_bytes(step.peak_bytes), f"{step.peak_bytes:,} B", f"peak of the step ({step.optimizer})"),
        (human_bytes(training.saved_bytes), f"{training.saved_bytes:,} B", "saved for backward"),
        (human(counted(report, training.forward_macs)), f"{counted(report, training.forward_macs):,}",
         f"forward {label} / sample"),
        (human(counted(report, training.backward_macs)), f"{counted(report, training.backward_macs):,}",
         f"backward {label} / sample")]
    if fit is not None:
        big.append((str(fit.batch), f"of {human_bytes(fit.usable_bytes)} usable", "largest batch that fits"))
    if roof is not None:
        big.append((duration(roof.step_seconds), "a lower bound, not a prediction", f"step time ≥ on {roof.device}"))

    # the peak: where it falls, its breakdown, what is missing; the fit
    peak = step.peak
    breakdown = "".join(
        f'<tr><td><span class="key" style="background:{css_fill(k)}"></span>{escape(style_of(k)[0])}</td>'
        f'{num(v, human_bytes(v))}<td class="n">{100 * v / max(1, peak.total):.1f}%</td></tr>'
        for k, v in peak.breakdown().items())
    notes: List[str] = []
    if not step.complete or not training.complete:
        missing = ", ".join(f"{kind} ×{n}" for kind, n in training.unsupported)
        notes.append(f'<p class="warn">incomplete: no saved-tensor rule yet for {escape(missing)}; their bytes are '
                     "not in the totals or the peak</p>")
    if not step.trains:
        notes.append('<p class="warn">nothing is trained (no parameters): no backward and no optimizer step, only '
                     "the forward pass and the loss</p>")
    if fit is not None:
        notes.append(f'<p class="bold">{escape(fit_text(report, fit))}</p>')

    if checkpoint is not None:  # the section the table shows, a paragraph each
        style = {"bold": ' class="bold"', "dim": ' class="meta"', "": ""}
        notes.append("<h2>Activation checkpointing</h2>" + "".join(
            f"<p{style[s]}>{escape(text)}</p>" for text, s in checkpoint_paragraphs(report, checkpoint)))

    roofline = ""
    if bound is not None:
        if bound.missing:
            roofline = f'<h2>Roofline</h2><p class="warn">no bound — {escape(bound.missing)}</p>\n'
        else:
            roofline = (f"<h2>Roofline <small class=\"meta\">on {escape(bound.device)}, "
                        f"{escape(precision_name(bound.precision))}: a lower bound on time, not a prediction; "
                        f"per layer in the table's last columns</small></h2>"
                        f"<p>{escape(roofline_summary(bound))}</p>"
                        f'<p class="meta">{escape(roofline_conventions(bound))}</p>\n')

    conventions = plan_conventions(training, step)
    if roof is not None:
        conventions.update({f"roofline {k}": v for k, v in ROOFLINE_CONVENTIONS.items()})
    meta = [f"training, batch {report.batch}, {escape(precision)}, {escape(BACKEND_NAMES[training.backend])}, "
            f"optimizer {escape(step.optimizer)} · {len(report.layers)} layers · input "
            f"<code>{escape(str(spec.input))}</code>"]
    if spec.origin:
        meta.append(f"spec: <code>{escape(spec.origin)}</code>")
    timeline = timeline_svg(report, step, fit, standalone=False)
    return "".join([
        page_start(f"{title} · training plan · convcalc", f"{title} — one training step", STYLE + PLAN_STYLE, meta,
                   big),
        '<h2>Memory through the step <small class="meta">the bytes alive by category at each event (a layer\'s '
        "forward or backward, the loss, the optimizer's step), stacked; hover a column for its exact figures"
        '</small><button type="button" id="diagram-size" aria-pressed="false" title="the picture at its own '
        'size, to scroll, or fitted to the page">full size</button></h2>',
        f'<div class="diagram" tabindex="0" role="region" aria-label="memory timeline">{timeline}</div>\n',
        f'<h2>Peak</h2><p class="bold">{escape(human_bytes(peak.total))} ({peak.total:,} B) at '
        f"{escape(where(report, peak))}</p>",
        '<table class="breakdown"><thead><tr><th>category</th><th class="n">bytes</th><th class="n">share</th>'
        f'</tr></thead><tbody>{breakdown}</tbody></table>',
        "".join(notes), "\n", roofline,
        '<h2>Layers</h2><div class="controls"><span class="meta">a column\'s header sorts by it; "#" restores the '
        "order; hover a figure for its exact value</span></div>",
        '<div class="scroll" tabindex="0" role="region" aria-label="layers"><table id="layers"><thead><tr>',
        "".join(heads), "</tr></thead>\n<tbody>\n", "\n".join(rows),
        f"\n</tbody><tfoot><tr>{''.join(foot)}</tr></tfoot></table></div>\n",
        f'<p class="foot">{escape(summary(report, training))}</p>',
        "<h2>Conventions</h2>",
        f'<dl class="conv">{"".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in conventions.items())}'
        "<dt>categories</dt><dd>"
        + escape(", ".join(f"{k}: {style_of(k)[0]}" for k in STEP_CATEGORIES))
        + "</dd></dl>\n",
        f"<footer>made by convcalc {escape(__version__)} (convcalc plan --format html)</footer>\n",
        f"<script>{SCRIPT}</script>\n</body></html>\n",
    ])
