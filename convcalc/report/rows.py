"""What every format for people shows: the table's rows, the footer, the outputs and warnings.

The text table, Markdown, HTML and the table SVG are each formatted from these, so they never
disagree; the figures come from the analysis' Report as they are.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..analysis.result import Field, LayerReport, Report
from ..layers import Note
from ..shape import Shape
from ..values import value
from .numbers import human_bytes

MEMORY_UNITS = ("elements", "bytes")  # the table's and Markdown's activation column (--memory)
# What that column is called: it counts activations, not every byte a layer needs (no weights).
MEMORY_HEADERS = {"table": {"elements": "act. elems", "bytes": "act. bytes"},  # short: 80 columns are tight
                  "markdown": {"elements": "activations", "bytes": "activation bytes"}}


def count_label(report: Report) -> str:
    return "FLOPs" if report.conventions.count == "flops" else "MACs"


def activation_figure(report: Report, elements: int, unit: str) -> int:
    """The activation column's figure: the elements, or their bytes at the report's dtype and batch."""
    return report.activation_bytes(elements) if unit == "bytes" else elements


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
        f"training step peak ({c.optimizer}) {'' if mem.training_complete else '≥ '}"
        f"{human_bytes(mem.training_bytes)} (convcalc plan)\n"
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
