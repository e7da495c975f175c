"""Report -> text: a table in the style of the lecture notes' case studies, JSON, CSV, Markdown.

Rounding happens here and only here: tables show human units (``61.1M``), JSON and CSV the exact
integers. Each format imports what it needs when it is asked for (json, csv; Rich only to colour
a table on a terminal or draw it as SVG, in grid.py), so every command starts fast. The HTML
report is formatted in html_report.py from the same rows and helpers.
"""

from __future__ import annotations

import io
import sys
from fractions import Fraction
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple

from .. import __version__
from ..analysis.result import CONVENTIONS, FROZEN, Field, LayerReport, Report
from ..errors import location_dict
from ..layers import Note
from ..shape import Shape
from ..values import fields, value
from . import grid

SCHEMA_VERSION = 1
FORMATS = ("table", "json", "csv", "markdown", "html", "svg")
MEMORY_UNITS = ("elements", "bytes")  # the table's and Markdown's activation column (--memory)
# What that column is called: it counts activations, not every byte a layer needs (no weights).
MEMORY_HEADERS = {"table": {"elements": "act. elems", "bytes": "act. bytes"},  # short: 80 columns are tight
                  "markdown": {"elements": "activations", "bytes": "activation bytes"}}


def human(n: int) -> str:
    """Three significant digits with a decimal prefix: 34944 -> 34.9K, 138357544 -> 138M."""
    if abs(n) < 1000:
        return str(n)
    for prefix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale * 0.9995:
            value = n / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f}{prefix}"
    return str(n)  # pragma: no cover - unreachable


def human_bytes(n: int) -> str:
    """Binary prefixes, as memory is sized: 100663296 -> 96.0 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - unreachable


def count_label(report: Report) -> str:
    return "FLOPs" if report.conventions.count == "flops" else "MACs"


# --- JSON -------------------------------------------------------------------------------


def shape_dict(s: Shape) -> Dict[str, Any]:
    return {"shape": list(s.dims), "text": str(s), "elements": s.elements}


def options_dict(r: LayerReport) -> Dict[str, Any]:
    settings = ((f.name, getattr(r.layer, f.name)) for f in fields(r.layer))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings}


def layer_basics(r: LayerReport) -> Dict[str, Any]:
    """What a layer is and what it maps: shared by every JSON that describes one layer."""
    return {"kind": r.layer.kind, "description": r.layer.describe(), "options": options_dict(r),
            "input": shape_dict(r.input), "output": shape_dict(r.output)}


def number(f: "int | Fraction") -> Any:
    """An exact JSON number: an int, or a fraction as the string "p/q"."""
    return f.numerator if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def field_dict(f: Field, input_spatial: Tuple[int, ...]) -> Dict[str, Any]:
    return {
        "status": f.status,
        "size": [number(a.size) for a in f.axes],
        "jump": [number(a.jump) for a in f.axes],
        "start": [number(a.start) for a in f.axes],
        "exact": f.exact,
        "covers_input": f.covers(input_spatial),
        "why": f.why or None,
    }


def conventions_dict(report: Report) -> Dict[str, Any]:
    c = report.conventions
    return {
        **CONVENTIONS,
        **({"frozen": FROZEN} if report.frozen else {}),
        "count": c.count,
        "bias": c.bias,
        "ops": list(c.ops),
        "inplace": c.inplace,
        "optimizer": c.optimizer,
        "dtype": report.dtype,
        "bytes_per_element": report.bytes_per_element,
        "batch": report.batch,
    }


def report_dict(report: Report) -> Dict[str, Any]:
    """The documented, stable JSON shape (``schema_version`` changes when it does).

    Raw figures (``params``, ``macs``, ``activations``) never depend on the conventions; the
    ``counted`` figures are what the conventions in ``conventions`` make of them.
    """
    return {key: list(value) if isinstance(value, Iterator) else value for key, value in _parts(report).items()}


def _parts(report: Report) -> Dict[str, Any]:
    """The report's JSON parts, with the per-layer lists as generators (to stream large specs)."""
    spec = report.spec
    totals = report.totals
    mem = report.memory
    return {
        "schema_version": SCHEMA_VERSION,
        "convcalc_version": __version__,
        "network": {"name": spec.name, "title": spec.title, "reference": spec.reference, "origin": spec.origin},
        "input": shape_dict(spec.input),
        "output": shape_dict(report.output),
        # every output the network gives (one unless the spec declares 'outputs:'); "tensor" is
        # the index of the layer that computes it (0: the input), as in each layer's "sources"
        "outputs": [{"name": o.name, "tensor": o.tensor, **shape_dict(o.shape)} for o in report.outputs],
        "conventions": conventions_dict(report),
        "layers": (
            {
                "index": r.index,
                "name": r.name,
                "path": list(r.path),
                "full_name": r.full_name,
                **layer_basics(r),
                # every tensor the layer reads: a merge's branch outputs in branch order (its
                # "input" is the first of them, the one a residual's sum starts from); else [input]
                "inputs": [shape_dict(s) for s in (r.inputs or (r.input,))],
                "sources": list(r.sources),  # the layers that computed them (0: the network input)
                "params": r.params,
                "biases": r.biases,
                "buffers": r.buffers,
                "macs": r.macs,
                "flops": r.flops,
                "ops": r.ops,
                "activations": r.activations,
                "counted": {"params": report.counted_params(r), "work": report.work(r),
                            "activations": report.counted_activations(r)},
                "activation_bytes": report.activation_bytes(report.counted_activations(r)),
                "param_bytes": report.param_bytes(r.params),
                "receptive_field": field_dict(f, spec.input.spatial),
                "notes": [{"level": n.level, "code": n.code, "text": n.text} for n in r.notes],
                "location": location_dict(r.loc),
            }
            for r, f in zip(report.layers, report.fields)
        ),
        "blocks": (
            {
                "name": b.name,
                "path": list(b.path),
                "full_name": b.full_name,
                "kind": b.kind,
                "input": shape_dict(b.input),
                "output": shape_dict(b.output),
                "merge": b.merge or None,
                "branches": b.branches,
                "identity_branches": b.identities,
                "first_layer": b.first,
                "last_layer": b.last,
                "params": b.params,
                "buffers": b.buffers,
                "macs": b.macs,
                "activations": b.activations,
                "location": location_dict(b.loc),
            }
            for b in report.blocks
        ),
        "totals": {
            "layers": totals.layers,
            "params": totals.params,
            "biases": totals.biases,
            "buffers": totals.buffers,
            "macs": totals.macs,
            "flops": totals.flops,
            "counted": {"params": totals.counted_params, "work": totals.work, "activations": totals.activations},
            "activations": totals.activations,
            "activation_bytes": report.activation_bytes(totals.activations),
            "param_bytes": report.param_bytes(totals.params),
        },
        "memory": {
            "forward_bytes": mem.forward_bytes,
            "inference_peak_activations": mem.peak,
            "inference_bytes": mem.inference_bytes,
            "weight_bytes": mem.weight_bytes,
            "gradient_bytes": mem.gradient_bytes,
            "optimizer_bytes": mem.optimizer_bytes,
            "training_bytes": mem.training_bytes,
        },
        # operators convcalc could not count, with their counts: the totals leave them out ({} when complete)
        "incomplete": {"unknown_ops": report.unknown_ops} if report.unknown_ops else None,
        "warnings": (
            {"layer": r.index, "name": r.full_name, "code": n.code, "message": n.text, "location": location_dict(r.loc)}
            for r, n in report.warnings
        ),
    }


def to_json(report: Report) -> str:
    out = io.StringIO()
    write_json(report, out)
    return out.getvalue()


def write_json(report: Report, out: IO[str]) -> None:
    """Indented at the top, one line per layer and block: readable, and fast to write, because
    each line goes through the json module's C encoder (an indented dump does not), and streamed,
    so a spec of 100,000 layers never holds all its dicts at once."""
    import json  # formats load what they use: a table needs neither json nor csv

    out.write("{\n")
    for i, (key, part) in enumerate(_parts(report).items()):
        out.write(",\n" if i else "")
        if isinstance(part, Iterator):
            out.write(f"  {json.dumps(key)}: [")
            wrote = False
            for item in part:
                out.write(f"{',' if wrote else ''}\n    {json.dumps(item, ensure_ascii=False)}")
                wrote = True
            out.write("\n  ]" if wrote else "]")
        else:
            out.write(f"  {json.dumps(key)}: {json.dumps(part, ensure_ascii=False)}")
    out.write("\n}\n")


# --- CSV and Markdown -------------------------------------------------------------------

CSV_COLUMNS = ("index", "name", "kind", "description", "output", "params", "buffers", "macs", "flops",
               "activations", "activation_bytes", "receptive_field", "notes")


def to_csv(report: Report) -> str:
    """One row per layer, exact integers; no totals row, so the columns sum cleanly.

    params, macs, flops and activations are counted under the report's conventions.
    """
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r, f in zip(report.layers, report.fields):
        acts = report.counted_activations(r)
        writer.writerow([r.index, r.full_name, r.layer.kind, r.layer.describe(), str(r.output),
                         report.counted_params(r), r.buffers, report.work(r, "macs"), report.work(r, "flops"), acts,
                         report.activation_bytes(acts), f.text(), "; ".join(n.text for n in r.notes)])
    return out.getvalue()


def activation_figure(report: Report, elements: int, unit: str) -> int:
    """The activation column's figure: the elements, or their bytes at the report's dtype and batch."""
    return report.activation_bytes(elements) if unit == "bytes" else elements


def to_markdown(report: Report, memory_unit: str = "elements") -> str:
    """A pipe table for docs, with exact figures (thousands separated)."""
    label = count_label(report)
    acts = MEMORY_HEADERS["markdown"][memory_unit]

    def figure(elements: int) -> str:
        return f"{activation_figure(report, elements, memory_unit):,}"

    rows = [f"| # | name | layer | output | params | {label} | {acts} | RF | notes |",
            "|--:|---|---|---|--:|--:|--:|--:|---|",
            f"| 0 | input | INPUT | {report.spec.input} | 0 | 0 | {figure(report.spec.input.elements)} | 1 | |"]
    for r, f in zip(report.layers, report.fields):
        notes = "; ".join(n.brief or n.text for n in r.notes).replace("|", "\\|")
        rows.append(f"| {r.index} | {r.full_name} | {r.layer.describe()} | {r.output} | {report.counted_params(r):,} | "
                    f"{report.work(r):,} | {figure(report.counted_activations(r))} | {f.text()} | {notes} |")
    t = report.totals
    rows.append(f"| | **total** | | | **{t.counted_params:,}** | **{t.work:,}** | **{figure(t.activations)}** | | |")
    title = report.spec.title or report.spec.name or "network"
    outs = outputs_line(report)
    lines = [f"### {title}", "", *rows, "", *([f"{outs}  "] if outs else []),
             *(f"{line}  " for line in footer(report, MEMORY_HEADERS["markdown"][memory_unit]).split("\n"))]
    lines += [f"- {line}" for line in warning_lines(report, located=False)]
    return "\n".join(lines) + "\n"


GROUPED = 3  # a warning said of more layers than this is said once, with the layers listed


def warning_lines(report: Report, located: bool = True) -> List[str]:
    """The warnings, one line each; the same warning on more than GROUPED layers (an imported
    model's unknown operator, once per use) is one line that lists the layers' numbers."""
    groups: Dict[Tuple[str, str], List[LayerReport]] = {}
    for r, n in report.warnings:
        groups.setdefault((n.code, n.text), []).append(r)
    lines = []
    for (_, text), layers in groups.items():
        if len(layers) <= GROUPED:
            lines += [f"warning: layer {r.index} '{r.full_name}'{f' ({r.loc})' if located and r.loc else ''}: {text}"
                      for r in layers]
        else:
            shown = ", ".join(str(r.index) for r in layers[:10]) + (" …" if len(layers) > 10 else "")
            lines.append(f"warning: {len(layers)} layers ({shown}): {text}")
    return lines


def outputs_line(report: Report) -> str:
    """``outputs: p2 200x200x256 (layer 31) · p3 ...``, when the spec declares its outputs."""
    if not report.spec.outputs:
        return ""
    parts = [f"{o.name} {o.shape} ({f'layer {o.tensor}' if o.tensor else 'the input'})" for o in report.outputs]
    return f"{len(parts)} output{'s' if len(parts) > 1 else ''}: " + " · ".join(parts)


def footer(report: Report, column: str = "") -> str:
    """The totals in exact figures, the memory model, and the conventions that produced them;
    ``column`` names the table's activation column, whose convention the last line states."""
    t = report.totals
    c = report.conventions
    mem = report.memory
    label = count_label(report)
    buffers = f" + {t.buffers:,} buffers" if t.buffers else ""
    params = "weights + biases" if c.bias else "weights only (biases left out)"
    if report.frozen:
        params += f"; a frozen layer's as buffers ({report.frozen:,} frozen)"
    work = "2 × multiply-accumulates" if c.count == "flops" else "multiply-accumulates"
    ops = f" + {', '.join(c.ops)} ops" if c.ops else ""
    acts = "output elements per sample, input included" + (", in-place activations left out" if c.inplace else "")
    named = f"activations ({column})" if column not in ("", "activations") and not column.endswith("bytes") \
        else "activations"
    if column.endswith("bytes"):
        acts += f" · {column}: elements × {report.bytes_per_element} B ({report.dtype}) × batch {report.batch}"
    unknown = report.unknown_ops
    missing = ("incomplete: not counted: " + ", ".join(f"{op} ×{n}" for op, n in unknown.items()) + "\n"
               if unknown else "")
    return missing + (
        f"{t.counted_params:,} params{buffers} · {t.work:,} {label} · {t.activations:,} activations\n"
        f"memory at {report.dtype}, batch {report.batch}: forward {human_bytes(mem.forward_bytes)} · "
        f"inference peak {human_bytes(mem.inference_bytes)} with weights · "
        f"training ({c.optimizer}) {human_bytes(mem.training_bytes)}\n"
        f"params: {params} · {label}: {work} of conv, fc, attention and matmul layers{ops}, bias adds not counted · "
        f"{named}: {acts}"
    )


# --- the table --------------------------------------------------------------------------


@value
class Row:
    """One row of the table: a layer, a block's subtotals, or a branch heading inside a block."""

    kind: str  # "layer", "block" or "branch"
    depth: int
    index: str
    name: str
    label: str
    output: Optional[Shape]
    params: int
    macs: int  # the work column: MACs or FLOPs as the report's conventions say
    activations: int
    notes: Tuple[Note, ...] = ()
    collapsed: bool = False  # a block or branch shown in place of its hidden layers
    field: Optional[Field] = None

    @property
    def counted(self) -> bool:
        """Whether the row is part of the column sums: layers, and collapsed blocks."""
        return self.kind == "layer" or self.collapsed


def table_rows(report: Report, depth: Optional[int] = None) -> List[Row]:
    """The rows of the table, blocks opened up to ``depth`` (all when None), as torchinfo's depth.

    A block at ``depth`` is shown as one row carrying its subtotals; anything deeper is hidden.
    Figures are counted under the report's conventions.
    """
    fields = report.fields
    covering = report.covering
    sums: Dict[Tuple[str, ...], List[int]] = {}
    last: Dict[Tuple[str, ...], Tuple[Shape, Field]] = {}
    for r, f in zip(report.layers, fields):
        for level in range(1, len(r.path) + 1):
            totals = sums.setdefault(r.path[:level], [0, 0, 0])
            totals[0] += report.counted_params(r)
            totals[1] += report.work(r)
            totals[2] += report.counted_activations(r)
            last[r.path[:level]] = (r.output, f)
    blocks = {(*b.path, b.name): b for b in report.blocks}
    rows: List[Row] = []
    open_path: Tuple[str, ...] = ()
    for r, f in zip(report.layers, fields):
        same = next((i for i, (a, b) in enumerate(zip(open_path, r.path)) if a != b), min(len(open_path), len(r.path)))
        for level in range(same, len(r.path)):
            if depth is not None and level > depth:
                break
            prefix = r.path[: level + 1]
            params, work, activations = sums[prefix]
            block = blocks.get(prefix)
            output, end_field = last[prefix]
            label = block.label if block is not None else ""
            name = prefix[-1] if block is not None else f"branch {prefix[-1][1:]}"
            rows.append(Row("block" if block is not None else "branch", level, "", name, label, output,
                            params, work, activations, collapsed=depth == level, field=end_field))
        open_path = r.path
        if depth is None or len(r.path) <= depth:
            notes = r.notes
            if r.reads:  # a layer that reads a named tensor, not the row above: say which
                reads = ", ".join(r.reads)
                notes = (Note("info", "reads", f"reads {reads}", f"← {reads}"), *notes)
            if r.index == covering:
                whole = "x".join(map(str, report.spec.input.spatial))
                notes += (Note("info", "sees-whole-input", f"sees the whole {whole} input from here",
                               f"sees the whole {whole} input"),)
            if f.status == "unaligned" and f.why and r.layer.family in ("add", "concat", "mul"):
                notes += (Note("info", "not-aligned", f"receptive field not aligned: {f.why}", "RF not aligned"),)
            rows.append(Row("layer", len(r.path), str(r.index), r.name, r.layer.describe(), r.output,
                            report.counted_params(r), report.work(r), report.counted_activations(r), notes, field=f))
    return rows


def print_table(report: Report, file: Optional[IO[str]] = None, width: Optional[int] = None,
                color: Optional[bool] = None, depth: Optional[int] = None, rf: bool = False,
                memory_unit: str = "elements") -> None:
    """Draw the table like the cs231n case studies: one row per layer, blocks nested, then totals.

    ``width`` defaults to the terminal's (no limit for a pipe or a file); ``color`` to whether
    the output is a terminal. ``memory_unit`` is 'elements' (the activations, as the lecture
    notes count "memory") or 'bytes' (at the report's dtype and batch).
    """
    out = file if file is not None else sys.stdout
    if width is None:
        width = grid.terminal_width(out)
    grid.write(table_lines(report, width, depth, rf, memory_unit), out, color)


def table_lines(report: Report, width: Optional[int] = None, depth: Optional[int] = None, rf: bool = False,
                memory_unit: str = "elements") -> List[grid.Line]:
    """The table's styled lines (title, rows, totals, footer, warnings): written as text by
    ``print_table`` and drawn as an image by ``to_svg``, so both show the same table."""
    spec = report.spec
    acts = MEMORY_HEADERS["table"][memory_unit]

    def figure(elements: int) -> str:
        n = activation_figure(report, elements, memory_unit)
        return human_bytes(n) if memory_unit == "bytes" else human(n)

    table = table_rows(report, depth)
    # Too narrow: names lose their nesting and are cut before a layer's description is, whose
    # strides and paddings are figures too; only block labels ("ADD, identity shortcut") are cut.
    described = max([grid.cell_width("INPUT")] + [grid.cell_width(row.label) for row in table if row.kind == "layer"])
    columns = [grid.Column("#", style="dim"), grid.Column("name", "left", shrink=8, shrink_order=2, indent=True),
               grid.Column("layer", "left", shrink=described, shrink_order=1), grid.Column("output"),
               grid.Column("params"), grid.Column(count_label(report)), grid.Column(acts),
               *([grid.Column("RF")] if rf else []), grid.Column("notes", "left", wrap=True)]
    rows: List[Optional[grid.Row]] = [
        grid.Row(("0", "input", "INPUT", str(spec.input), "0", "0", figure(spec.input.elements),
                  *(["1 j1"] if rf else []), ""))]
    for row in table:
        notes: List[grid.Span] = []
        for i, n in enumerate(row.notes):
            if i:
                notes.append(("; ", "dim"))
            warning = n.level == "warning"
            notes.append((("⚠ " if warning else "") + (n.brief or n.text), "yellow" if warning else "dim"))
        style = {"block": "bold", "branch": "italic"}.get(row.kind, "") if not row.collapsed else ""
        name = "  " * row.depth + row.name + (" …" if row.collapsed else "")
        field = [row.field.text() if row.field else ""] if rf else []
        rows.append(grid.Row((row.index, name, row.label, str(row.output) if row.output else "", human(row.params),
                              human(row.macs), figure(row.activations), *field, tuple(notes)), style))
    t = report.totals
    shown = str(report.output) if len(report.outputs) == 1 else f"{len(report.outputs)} outputs"
    rows += [grid.SECTION, grid.Row(("", "total", f"{t.layers} layer{'s' if t.layers != 1 else ''}",
                                     shown, human(t.counted_params), human(t.work),
                                     figure(t.activations), *([""] if rf else []), ""), "bold")]
    title = spec.title or spec.name or "network"
    lines = grid.paragraph(f"{title} — input {spec.input}", "", width) + [[]]
    lines += grid.layout(columns, rows, width) + [[]]
    outs = outputs_line(report)
    lines += grid.paragraph(outs, "", width) if outs else []
    lines += grid.paragraph(footer(report, acts), "dim", width)
    for line in warning_lines(report):
        lines += grid.paragraph(line, "yellow", width)
    return lines


def to_svg(report: Report, width: Optional[int] = None, depth: Optional[int] = None, rf: bool = False,
           memory_unit: str = "elements") -> str:
    """The text table as an SVG image (for slides and READMEs), drawn by Rich's own exporter."""
    title = report.spec.title or report.spec.name or "network"
    lines = table_lines(report, width, depth, rf, memory_unit)
    if width is None:  # an image as wide as the table: the prose under it wraps at the table's edge
        rule = max(len(text) for text in grid.text_lines(lines) if text and set(text) == {"─"})
        lines = table_lines(report, max(rule, 60), depth, rf, memory_unit)
    return grid.svg(lines, f"convcalc table: {title}")


def render(report: Report, fmt: str, file: Optional[IO[str]] = None, width: Optional[int] = None,
           color: Optional[bool] = None, depth: Optional[int] = None, rf: bool = False,
           memory_unit: str = "elements") -> None:
    """``memory_unit`` chooses the activation column of the table, Markdown, HTML and SVG; JSON and
    CSV carry both. HTML always has the receptive fields, and opens blocks deeper than ``depth``
    folded."""
    if fmt == "table":
        print_table(report, file, width, color, depth, rf, memory_unit)
        return
    out = file if file is not None else sys.stdout
    if fmt == "json":
        write_json(report, out)
        return
    if fmt == "html":
        from .html import to_html

        out.write(to_html(report, depth, memory_unit))
        return
    if fmt == "svg":
        out.write(to_svg(report, width, depth, rf, memory_unit))
        return
    out.write(to_csv(report) if fmt == "csv" else to_markdown(report, memory_unit))


def list_lines(rows: List[Dict[str, Any]]) -> str:
    """``convcalc list``: one aligned line per bundled architecture."""
    header = ("name", "aliases", "input", "params", "MACs", "title")
    cells = [header] + [(r["name"], ",".join(r["aliases"]) or "-", r["input"], human(r["params"]),
                         human(r["macs"]), r["title"]) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    lines = []
    for c in cells:
        lead = "  ".join(c[i].ljust(widths[i]) if i < 2 else c[i].rjust(widths[i]) for i in range(len(widths)))
        lines.append(f"{lead}  {c[-1]}".rstrip())
    return "\n".join(lines) + "\n"
