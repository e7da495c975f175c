"""Report -> Markdown: a pipe table for docs, exact figures with thousands separated."""

from __future__ import annotations

from ..analysis.result import Report
from ..errors import shown
from .rows import (
    MEMORY_HEADERS,
    activation_figure,
    count_label,
    footer,
    outputs_line,
    warning_lines,
)


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
    return "\n".join(shown(line) for line in lines) + "\n"  # a name's control characters as \xNN
