"""Report -> the table of the lecture notes' case studies, on a terminal (Rich colours it) or as SVG.

One row per layer, blocks nested and opened to a depth, totals, the footer with the conventions
and the memory, then the warnings; ``convcalc list``'s lines too.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Dict, List, Optional

from ..analysis.result import Report
from . import grid
from .numbers import human, human_bytes
from .rows import (
    MEMORY_HEADERS,
    activation_figure,
    count_label,
    footer,
    outputs_line,
    table_rows,
    warning_lines,
)


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
