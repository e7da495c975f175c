"""Report -> one self-contained HTML page: the table (foldable blocks, sortable columns, exact
figures on hover), a bar chart of the work and one of the activations per layer, the receptive
fields, the outputs, the conventions, the notes and the warnings.

Formatting only: the rows, subtotals, totals and footer are rows.py's (``table_rows``,
``footer``), the rounding numbers.py's, the figures the Report's; the diagram is drawn by the
caller (``convcalc draw``'s blocks picture) and placed here as it is. Bar lengths are the one
arithmetic done here (a figure over the largest one). The page asks nothing of the network: the
style and the script are inline, and every text is escaped (``escape``: markup, and control
characters shown as ``\\xNN``, which HTML and XML do not allow).
"""

from __future__ import annotations

import html
from typing import Dict, List, Optional, Tuple

from ..analysis.result import CONVENTIONS, FROZEN, Field, LayerReport, Report
from ..errors import shown as shown_text
from ..version import __version__
from .numbers import human, human_bytes
from .rows import (
    MEMORY_HEADERS,
    Row,
    activation_figure,
    count_label,
    footer,
    table_rows,
    warning_lines,
)


def escape(text: str) -> str:
    """Text for the page: markup escaped, control characters shown (line breaks kept)."""
    return html.escape(shown_text(text, keep="\n"))


# The page is never wider than the screen: the table and the diagram scroll inside boxes of
# their own (focusable, so a keyboard scrolls them too), long words break, and a narrow screen
# gets one chart a row and narrower margins.
STYLE = """
.diagram { overflow: auto; border: 1px solid #e5e5e5; }
.diagram svg { display: block; max-width: 100%; height: auto; }
.diagram.full svg { max-width: none; }
:root { color-scheme: light; --ink: #1f2328; --dim: #656d76; --rule: #d0d7de; --band: #f6f8fa;
        --work: #3b6fb6; --acts: #d17a22; --warn: #9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #fff; margin: 24px auto; max-width: 1400px; padding: 0 24px;
       overflow-wrap: anywhere; }
table { overflow-wrap: normal; }
:focus-visible { outline: 2px solid var(--work); outline-offset: 1px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 small { font-size: 12.5px; font-weight: normal; margin-left: 8px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
.meta { color: var(--dim); margin: 2px 0; }
code, .mono, td.n, td.shape, td.rf { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       font-size: 12.5px; }
.summary { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 14px 0 4px; }
.summary div b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.summary div span { color: var(--dim); font-size: 12px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
figcaption small { font-weight: normal; color: var(--dim); }
svg.bars { display: block; width: 100%; height: 130px; background: var(--band);
           border-bottom: 1px solid var(--dim); }
svg.bars rect.w { fill: var(--work); } svg.bars rect.a { fill: var(--acts); }
svg.bars rect.band { fill: #e8ecf1; }
svg.bars rect:hover { fill: var(--ink); }
.stages { position: relative; height: 15px; overflow: hidden; font-size: 10.5px; color: var(--dim); }
.stages span { position: absolute; top: 0; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
               text-align: center; border-left: 1px solid var(--rule); }
.axis { display: flex; justify-content: space-between; color: var(--dim); font-size: 11.5px; }
.top { color: var(--dim); font-size: 12.5px; margin: 4px 0 0; }
.controls { margin: 6px 0; } .controls button { margin-right: 6px; }
h2 button { margin-left: 8px; vertical-align: 2px; }
.scroll { overflow: auto; max-height: 85vh; border-top: 1px solid var(--rule); }
button { font: inherit; font-size: 12.5px; border: 1px solid var(--rule); background: #fff; border-radius: 4px;
         padding: 1px 8px; cursor: pointer; }
body:not(.js) button:not(.sort) { display: none; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 2px 8px; text-align: left; vertical-align: top; border-bottom: 1px solid #eaeef2; }
th { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 2px solid var(--rule);
     white-space: nowrap; user-select: none; }
th button.sort { font: inherit; font-weight: inherit; color: inherit; text-align: inherit; border: none;
                 background: none; padding: 0; border-radius: 2px; }
body:not(.js) th button.sort { cursor: text; }
th[aria-sort=ascending] button::after { content: " \\25B4"; }
th[aria-sort=descending] button::after { content: " \\25BE"; }
td.n, th.n, td.shape { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.rf { white-space: nowrap; text-align: right; }
td.idx { color: var(--dim); text-align: right; }
td.name { white-space: nowrap; }
td.name, th:nth-child(2) { position: sticky; left: 0; background: #fff; }  /* in view when the table scrolls */
th:nth-child(2) { z-index: 2; }
td.notes { color: var(--dim); font-size: 12.5px; min-width: 14em; }
#layers td:nth-child(3) { white-space: nowrap; }
td.notes .warning { color: var(--warn); }
tr.block td, tr.branch td { background: var(--band); }
tr.block td.name { font-weight: 600; } tr.branch td.name { font-style: italic; }
tr.input td { color: var(--dim); }
tbody tr:hover td { background: #eef3fb; }
tfoot td { font-weight: 600; border-top: 2px solid var(--rule); border-bottom: none; }
td.n.bar { background-image: linear-gradient(to left, var(--c) var(--w), transparent var(--w));
           background-size: 100% 3px; background-repeat: no-repeat; background-position: bottom; }
td.n.bar.w { --c: var(--work); } td.n.bar.a { --c: var(--acts); }
button.fold { border: none; background: none; padding: 0 4px 0 0; width: 1.2em; color: var(--dim); }
tbody.sorted tr.block, tbody.sorted tr.branch { display: none; }
tbody.sorted td.name { padding-left: 8px !important; }
td.name .path { display: none; color: var(--dim); }
tbody.sorted td.name .path { display: inline; }
ul.warnings li { color: var(--warn); }
dl.conv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.conv dt { font-weight: 600; } dl.conv dd { margin: 0; }
p.foot { margin: 2px 0; }
footer { color: var(--dim); font-size: 12px; margin-top: 28px; }
@media (max-width: 640px) {
  body { margin: 12px auto; padding: 0 12px; }
  h1 { font-size: 19px; }
  .charts { grid-template-columns: 1fr; }
}
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .controls, button:not(.sort) { display: none !important; }
  .scroll, .diagram { overflow: visible; max-height: none; border: none; }
  .diagram svg { max-width: 100%; }
  th { position: static; }
  tr { break-inside: avoid; }
  .charts { grid-template-columns: 1fr 1fr; }
  svg.bars { height: 90px; }
  h2 { break-after: avoid; }
}
"""

# Folding hides the rows inside a folded block; sorting lists the layers alone, flat (the
# blocks' subtotals would repeat their layers' figures), and "#" brings the nesting back.
SCRIPT = """
(function () {
  var body = document.querySelector('#layers tbody');
  var rows = Array.prototype.slice.call(body.rows);
  function refold() {
    var folded = {};
    rows.forEach(function (tr) { if (tr.classList.contains('folded')) folded[tr.dataset.id] = true; });
    rows.forEach(function (tr) {
      var inside = (tr.dataset.in || '').split(' ');
      tr.hidden = !body.classList.contains('sorted') && inside.some(function (id) { return folded[id]; });
    });
  }
  function fold(tr, on) {
    tr.classList.toggle('folded', on);
    var b = tr.querySelector('button.fold');
    b.textContent = on ? '\\u25B8' : '\\u25BE';
    b.setAttribute('aria-expanded', on ? 'false' : 'true');
  }
  body.addEventListener('click', function (e) {
    var b = e.target.closest('button.fold');
    if (!b) return;
    var tr = b.closest('tr');
    fold(tr, !tr.classList.contains('folded'));
    refold();
  });
  [['fold-all', true], ['open-all', false]].forEach(function (which) {
    var button = document.getElementById(which[0]);  /* absent when the network has no blocks */
    if (button) button.addEventListener('click', function () {
      rows.forEach(function (tr) { if (tr.dataset.id) fold(tr, which[1]); }); refold();
    });
  });
  /* each header holds a button: Tab reaches it, Enter or Space sorts; aria-sort says how */
  var heads = Array.prototype.slice.call(document.querySelectorAll('#layers thead th'));
  heads.forEach(function (th, col) {
    th.querySelector('button.sort').addEventListener('click', function () {
      var dir = col === 0 || th.getAttribute('aria-sort') === 'descending' ? 'ascending' : 'descending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir);
      var order = rows.slice();
      if (col === 0) {
        body.classList.remove('sorted');
      } else {
        body.classList.add('sorted');
        var sign = dir === 'ascending' ? 1 : -1;
        var numeric = th.classList.contains('n');
        var key = function (tr) {
          var td = tr.cells[col];
          return numeric ? Number(td.dataset.value) : td.textContent.trim().toLowerCase();
        };
        order.sort(function (a, b) {
          var x = key(a), y = key(b);
          var c = x < y ? -1 : x > y ? 1 : 0;
          if (numeric && isNaN(x) !== isNaN(y)) c = isNaN(x) ? 1 : -1;  /* no figure: last */
          else c *= sign;
          return c || Number(a.dataset.order) - Number(b.dataset.order);
        });
      }
      order.forEach(function (tr) { body.appendChild(tr); });
      refold();
    });
  });
  /* a link may ask for a sorted table: page.html#sort=5 sorts by the 6th column, largest first */
  var asked = /sort=(\\d+)/.exec(location.hash);
  if (asked && heads[Number(asked[1])]) heads[Number(asked[1])].querySelector('button.sort').click();
  var size = document.getElementById('diagram-size');  /* the picture at its own size, to scroll */
  if (size) size.addEventListener('click', function () {
    var full = document.querySelector('.diagram').classList.toggle('full');
    size.setAttribute('aria-pressed', full ? 'true' : 'false');
  });
  document.body.classList.add('js');
})();
"""


def num(value: int, shown: str, extra: str = "") -> str:
    """A figure cell: rounded as the text table shows it, exact on hover and for sorting."""
    return f'<td class="n{extra}" data-value="{value}" title="{value:,}">{escape(shown)}</td>'


def rf_cell(field: Optional[Field]) -> str:
    """The receptive field as the text table writes it; sorted by its size (one side; 'all' last)."""
    if field is None:
        return '<td class="rf n" data-value="NaN"></td>'
    if field.status == "global":
        key = "Infinity"
    elif field.status == "local" and field.axes:
        key = repr(float(field.axes[0].size))
    else:
        key = "NaN"
    return f'<td class="rf n" data-value="{key}">{escape(field.text())}</td>'


def notes_cell(row: Row) -> str:
    parts = []
    for n in row.notes:
        text = escape(n.brief or n.text)
        if n.level == "warning":
            parts.append(f'<span class="warning" title="{escape(n.text)}">\u26a0 {text}</span>')
        else:
            parts.append(f'<span title="{escape(n.text)}">{text}</span>')
    return f'<td class="notes">{"; ".join(parts)}</td>'


Band = Tuple[str, int, int]  # a stage's name, its first and last layer's position (0-based)


def stages(report: Report) -> List[Band]:
    """The blocks the charts name under their bars: the outermost ones, except that a block
    holding more than half the layers (ResNet-FPN's 'body', ViT's 'encoder') gives way to the
    blocks inside it. Layers outside any such block (a stem, a head) get no band."""
    n = len(report.layers)
    sizes: Dict[Tuple[str, ...], int] = {}
    for r in report.layers:
        for level in range(1, len(r.path) + 1):
            sizes[r.path[:level]] = sizes.get(r.path[:level], 0) + 1
    bands: List[Band] = []
    last: Optional[Tuple[str, ...]] = None
    for i, r in enumerate(report.layers):
        key = next((r.path[:level] for level in range(1, len(r.path) + 1) if 2 * sizes[r.path[:level]] <= n), None)
        if key is not None and key == last:
            bands[-1] = (bands[-1][0], bands[-1][1], i)
        elif key is not None:
            bands.append((key[-1], i, i))
        last = key
    return bands


def bar_chart(values: List[Tuple[str, int, str]], css: str, bands: List[Band]) -> str:
    """One bar per layer in order, as tall as its figure over the largest, every other stage
    shaded and the stages named under the bars. Each bar's title names the layer and its exact
    figure."""
    n = max(1, len(values))
    top = max([v for _, v, _ in values] + [1])
    out = [f'<svg class="bars" viewBox="0 0 {n} 100" preserveAspectRatio="none" role="img">']
    for _, first, last in bands[::2]:
        out.append(f'<rect class="band" x="{first}" y="0" width="{last - first + 1}" height="100"/>')
    for i, (name, v, shown) in enumerate(values):
        if v:
            h = max(100 * v / top, 0.6)  # a figure that is not zero stays visible
            out.append(f'<rect class="{css}" x="{i + 0.1:g}" y="{100 - h:.3f}" width="0.8" height="{h:.3f}">'
                       f'<title>{escape(name)}: {v:,} ({escape(shown)})</title></rect>')
    out.append('</svg><div class="stages">')
    for name, first, last in bands:
        width = 100 * (last - first + 1) / n
        shown = escape(name) if width >= 3 else ""  # a sliver gets its name on hover only
        out.append(f'<span style="left:{100 * first / n:.3f}%;width:{width:.3f}%"'
                   f' title="{escape(name)}: layers {first + 1}-{last + 1}">{shown}</span>')
    out.append("</div>")
    return "".join(out)


def largest(values: List[Tuple[str, int, str]], k: int = 3) -> str:
    ranked = sorted((v for v in values if v[1]), key=lambda v: -v[1])[:k]
    return " · ".join(f"{escape(name)} {escape(shown)}" for name, _, shown in ranked)


FOLD_ABOVE = 60  # rows: a longer table starts with its blocks folded (``start_depth``)


def path_of(r: LayerReport) -> str:
    """The blocks a layer sits in, before its name: shown once the table is sorted, where its
    rows leave their blocks (twelve rows called ``self_attention`` say which is which)."""
    return f'<span class="path">{escape(".".join(r.path))}.</span>' if r.path else ""


def start_depth(rows: List[Row]) -> Optional[int]:
    """The depth a table of ``rows`` opens at when none is asked for: every row (None) up to
    ``FOLD_ABOVE`` of them. Past that, of the depths that show at most ``FOLD_ABOVE`` rows, the one
    with the most folded blocks to open, the shallowest of equals: ResNet-50 opens on its sixteen
    bottlenecks (depth 1; depth 2 shows the same sixteen, each with one block inside), ViT on its
    twelve encoder layers, each open on its attention and MLP residual blocks (depth 3; at depth 1
    the layers are one folded block), GoogLeNet on its inception modules (depth 0, where even that
    shows more rows)."""
    if len(rows) <= FOLD_ABOVE:
        return None
    fits = [d for d in range(max(row.depth for row in rows) + 1)
            if sum(1 for row in rows if row.depth <= d) <= FOLD_ABOVE]
    return max(fits, key=lambda d: (sum(1 for row in rows if row.depth == d and row.kind != "layer"), -d),
               default=0)


def sort_header(text: str, css: str = "", title: str = "", sort: str = "") -> str:
    """A column's header: a button that sorts by it, so a keyboard reaches and works it;
    ``aria-sort`` on the one the rows are in the order of ("#", the layers' own, at first)."""
    cls = f' class="{css}"' if css else ""
    tip = f' title="{escape(title)}"' if title else ""
    state = f' aria-sort="{sort}"' if sort else ""
    return f'<th{cls}{tip}{state}><button class="sort" type="button">{escape(text)}</button></th>'


def page_start(tab: str, heading: str, style: str, meta: List[str], summary: List[Tuple[str, str, str]]) -> str:
    """A page's head and header: ``tab`` its window's title, ``heading`` its own, ``meta`` lines
    of markup under it, ``summary`` the big figures (shown, exact on hover, what it is)."""
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="convcalc {escape(__version__)}">',
        f"<title>{escape(tab)}</title><style>{style}</style></head>\n<body>\n",
        f"<header><h1>{escape(heading)}</h1>",
        "".join(f'<p class="meta">{m}</p>' for m in meta),
        '<div class="summary">',
        "".join(f'<div title="{escape(exact)}"><b>{escape(big)}</b><span>{escape(what)}</span></div>'
                for big, exact, what in summary),
        "</div></header>\n"])


def to_html(report: Report, depth: Optional[int] = None, memory_unit: str = "elements", diagram: str = "") -> str:
    """The page. Blocks nested deeper than ``depth`` start folded (None: all open, unless the
    table is long: ``start_depth``); ``diagram``, an SVG picture of the network, is shown inline,
    scaled to the page, with a button to see it at its own size (no section without one)."""
    spec = report.spec
    label = count_label(report)
    acts_header = MEMORY_HEADERS["markdown"][memory_unit]
    t = report.totals

    def acts_shown(elements: int) -> Tuple[int, str]:
        n = activation_figure(report, elements, memory_unit)
        return n, human_bytes(n) if memory_unit == "bytes" else human(n)

    layers: Dict[int, LayerReport] = {r.index: r for r in report.layers}
    rows = table_rows(report)
    asked = depth
    if depth is None:
        depth = start_depth(rows)
    work_top = max([report.work(r) for r in report.layers] + [1])
    acts_top = max([acts_shown(report.counted_activations(r))[0] for r in report.layers] + [1])

    body: List[str] = []
    n0, s0 = acts_shown(spec.input.elements)
    body.append(f'<tr class="input" data-order="0" data-in="">'
                f'<td class="idx n" data-value="0">0</td><td class="name">input</td><td>INPUT</td>'
                f'<td class="shape n" data-value="{spec.input.elements}">{escape(str(spec.input))}</td>'
                f'{num(0, "0")}{num(0, "0")}{num(n0, s0)}<td class="rf n" data-value="1">1 j1</td>'
                f'<td class="notes"></td></tr>')
    groups: List[str] = []  # the open blocks and branches, outermost first: their row ids
    for order, row in enumerate(rows, start=1):
        inside = groups[: row.depth]
        hidden = depth is not None and row.depth > depth
        pad = f' style="padding-left:{8 + 16 * row.depth}px"'
        shape = (f'<td class="shape n" data-value="{row.output.elements}">{escape(str(row.output))}</td>'
                 if row.output else '<td class="shape n" data-value="NaN"></td>')
        an, ashown = acts_shown(row.activations)
        if row.kind == "layer":
            r = layers[int(row.index)]
            wbar = f' bar w" style="--w:{100 * row.macs / work_top:.2f}%' if row.macs else ""
            abar = f' bar a" style="--w:{100 * an / acts_top:.2f}%' if an else ""
            body.append(
                f'<tr class="layer" data-order="{order}" data-in="{" ".join(inside)}"'
                f' data-index="{r.index}" data-kind="{escape(r.layer.kind)}"{" hidden" if hidden else ""}>'
                f'<td class="idx n" data-value="{r.index}">{r.index}</td>'
                f'<td class="name"{pad} title="{escape(r.full_name)}">{path_of(r)}{escape(row.name)}</td>'
                f'<td>{escape(row.label)}</td>{shape}'
                f'{num(row.params, human(row.params))}{num(row.macs, human(row.macs), wbar)}'
                f'{num(an, ashown, abar)}{rf_cell(row.field)}{notes_cell(row)}</tr>')
        else:
            gid = f"g{order}"
            groups[row.depth:] = [gid]
            folded = depth is not None and row.depth >= depth
            body.append(
                f'<tr class="{row.kind}{" folded" if folded else ""}" data-order="{order}" data-id="{gid}"'
                f' data-in="{" ".join(inside)}"{" hidden" if hidden else ""}>'
                f'<td class="idx n" data-value="NaN"></td>'
                f'<td class="name"{pad}><button class="fold" type="button" aria-expanded="{"false" if folded else "true"}"'
                f' title="fold or open this {row.kind}">{"▸" if folded else "▾"}</button>{escape(row.name)}</td>'
                f'<td>{escape(row.label)}</td>{shape}'
                f'{num(row.params, human(row.params))}{num(row.macs, human(row.macs))}'
                f'{num(an, ashown)}{rf_cell(row.field)}<td class="notes"></td></tr>')

    shown_out = str(report.output) if len(report.outputs) == 1 else f"{len(report.outputs)} outputs"
    tn, ts = acts_shown(t.activations)
    total_row = (f'<tr><td></td><td class="name">total</td><td>{t.layers} layer{"s" if t.layers != 1 else ""}</td>'
                 f'<td class="shape">{escape(shown_out)}</td>{num(t.counted_params, human(t.counted_params))}'
                 f'{num(t.work, human(t.work))}{num(tn, ts)}<td></td><td></td></tr>')

    # The charts: one bar per layer, the figures the table's, over bands naming the stages.
    bands = stages(report)
    work_values = [(f"{r.index} {r.full_name}", report.work(r), human(report.work(r))) for r in report.layers]
    acts_values = [(f"{r.index} {r.full_name}", *acts_shown(report.counted_activations(r))) for r in report.layers]
    n = len(report.layers)

    def chart(title: str, values: List[Tuple[str, int, str]], css: str, total: str) -> str:
        return (f'<figure><figcaption>{escape(title)} per layer <small>(total {escape(total)})</small></figcaption>'
                f'{bar_chart(values, css, bands)}<div class="axis"><span>layer 1</span><span>layer {n}</span></div>'
                f'<p class="top">largest: {largest(values)}</p></figure>')

    outputs = "".join(
        f'<li><code>{escape(o.name)}</code> {escape(str(o.shape))} '
        f'<span class="meta">({escape(f"layer {o.tensor} " + repr(layers[o.tensor].full_name) if o.tensor in layers else "the input")})</span></li>'
        for o in report.outputs)
    foot = footer(report, acts_header).split("\n")
    # the table's lines: a warning said of many layers (an imported model's unknown operator) once
    warnings = "".join(f"<li>{escape(line.removeprefix('warning: '))}</li>" for line in warning_lines(report))
    conv = report.conventions
    rules = {**CONVENTIONS, **({"frozen": FROZEN} if report.frozen else {})}
    title = spec.title or spec.name or "network"
    folded_note = (f"; {len(rows)} rows, so blocks nested {depth} deep start folded: \u25B8 opens one"
                   if asked is None and depth is not None and report.blocks else "")
    meta = [f"input <code>{escape(str(spec.input))}</code> · {t.layers} layers · "
            f"counted as {escape(label)} at {escape(report.dtype)}, batch {report.batch}"]
    if spec.reference:
        meta.append(escape(spec.reference))
    if spec.origin:
        meta.append(f"spec: <code>{escape(spec.origin)}</code>")
    summary = [(human(t.counted_params), f"{t.counted_params:,}", "params"),
               (human(t.work), f"{t.work:,}", label),
               (ts, f"{tn:,}", acts_header),
               (shown_out, "", "output" if len(report.outputs) == 1 else "outputs")]
    return "".join([
        page_start(f"{title} · convcalc", title, STYLE, meta, summary),
        '<h2>Diagram <small class="meta">each box a layer\'s or block\'s output, sized by H, W and C on a log '
        'scale (<code>convcalc draw</code>); hover a box for its exact figures</small>'
        '<button type="button" id="diagram-size" aria-pressed="false" title="the picture at its own size, '
        'to scroll, or fitted to the page">full size</button></h2>' if diagram else "",
        f'<div class="diagram" tabindex="0" role="region" aria-label="diagram">{diagram}</div>\n' if diagram else "",
        '<h2>Where the cost is <small class="meta">one bar per layer, in order: hover a bar for the layer and '
        'its exact figure</small></h2><div class="charts">',
        chart(label, work_values, "w", f"{t.work:,}"),
        chart(acts_header, acts_values, "a", f"{tn:,}"),
        "</div>\n",
        '<h2>Layers</h2><div class="controls">',
        '<button type="button" id="fold-all">fold all blocks</button>'
        '<button type="button" id="open-all">open all blocks</button>' if report.blocks else "",
        '<span class="meta">a column\'s header sorts by it (the layers alone, each with its blocks\' path); '
        '"#" restores the order; hover a figure for its exact value'
        f'{folded_note}</span></div>',
        '<div class="scroll" tabindex="0" role="region" aria-label="layers">'
        '<table id="layers"><thead><tr>',
        sort_header("#", "n", sort="ascending"), sort_header("name"), sort_header("layer"), sort_header("output", "n"),
        sort_header("params", "n"), sort_header(label, "n"), sort_header(acts_header, "n"),
        sort_header("RF", "n", "receptive field size and jump"), sort_header("notes"),
        "</tr></thead>\n<tbody>\n",
        "\n".join(body),
        f"\n</tbody><tfoot>{total_row}</tfoot></table></div>\n",
        f'<h2>Output{"s" if len(report.outputs) > 1 else ""}</h2><ul>{outputs}</ul>\n',
        "<h2>Totals and conventions</h2>",
        "".join(f'<p class="foot">{escape(line)}</p>' for line in foot),
        '<dl class="conv" style="margin-top:10px">',
        "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rules.items()),
        f"<dt>counted</dt><dd>{escape(label)}{', biases left out' if not conv.bias else ''}"
        f"{escape(', ops: ' + ', '.join(conv.ops)) if conv.ops else ''}"
        f"{', in-place activations left out' if conv.inplace else ''}; optimizer {escape(conv.optimizer)}</dd>",
        "</dl>\n",
        f'<h2>Warnings</h2><ul class="warnings">{warnings}</ul>\n' if warnings else "",
        f"<footer>made by convcalc {escape(__version__)} (convcalc table --format html)</footer>\n",
        f"<script>{SCRIPT}</script>\n</body></html>\n",
    ])
