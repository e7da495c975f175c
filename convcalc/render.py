"""Report -> text: a Rich table in the style of the lecture notes' case studies, JSON, CSV, Markdown.

Rounding happens here and only here: tables show human units (``61.1M``), JSON and CSV the exact
integers. Rich is imported only when a table is drawn, so the other formats start fast.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import IO, Any, Dict, List, Optional, Tuple

from . import __version__
from .engine import CONVENTIONS, LayerReport, Report
from .layers import Note
from .errors import location_dict
from .shape import Shape

SCHEMA_VERSION = 1
FORMATS = ("table", "json", "csv", "markdown")


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


def count_label(count: str) -> str:
    return "FLOPs" if count == "flops" else "MACs"


def counted(r: LayerReport, count: str) -> int:
    return r.flops if count == "flops" else r.macs


# --- JSON -------------------------------------------------------------------------------


def shape_dict(s: Shape) -> Dict[str, Any]:
    return {"shape": list(s.dims), "text": str(s), "elements": s.elements}


def options_dict(r: LayerReport) -> Dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(r.layer).items()}  # type: ignore[call-overload]


def report_dict(report: Report) -> Dict[str, Any]:
    """The documented, stable JSON shape (``schema_version`` changes when it does)."""
    spec = report.spec
    totals = report.totals
    return {
        "schema_version": SCHEMA_VERSION,
        "convcalc_version": __version__,
        "network": {"name": spec.name, "title": spec.title, "reference": spec.reference, "origin": spec.origin},
        "input": shape_dict(spec.input),
        "output": shape_dict(report.output),
        "conventions": {
            **CONVENTIONS,
            "dtype": report.dtype,
            "bytes_per_element": report.bytes_per_element,
            "batch": report.batch,
        },
        "layers": [
            {
                "index": r.index,
                "name": r.name,
                "path": list(r.path),
                "full_name": r.full_name,
                "kind": r.layer.kind,
                "description": r.layer.describe(),
                "options": options_dict(r),
                "input": shape_dict(r.input),
                "output": shape_dict(r.output),
                "params": r.params,
                "buffers": r.buffers,
                "macs": r.macs,
                "flops": r.flops,
                "activations": r.activations,
                "activation_bytes": report.activation_bytes(r.activations),
                "param_bytes": report.param_bytes(r.params),
                "notes": [{"level": n.level, "code": n.code, "text": n.text} for n in r.notes],
                "location": location_dict(r.loc),
            }
            for r in report.layers
        ],
        "blocks": [
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
        ],
        "totals": {
            "layers": totals.layers,
            "params": totals.params,
            "buffers": totals.buffers,
            "macs": totals.macs,
            "flops": totals.flops,
            "activations": totals.activations,
            "activation_bytes": report.activation_bytes(totals.activations),
            "param_bytes": report.param_bytes(totals.params),
        },
        "warnings": [
            {"layer": r.index, "name": r.full_name, "code": n.code, "message": n.text, "location": location_dict(r.loc)}
            for r, n in report.warnings
        ],
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


# --- CSV and Markdown -------------------------------------------------------------------

CSV_COLUMNS = ("index", "name", "kind", "description", "output", "params", "buffers", "macs", "flops",
               "activations", "activation_bytes", "notes")


def to_csv(report: Report) -> str:
    """One row per layer, exact integers; no totals row, so the columns sum cleanly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.layers:
        writer.writerow([r.index, r.full_name, r.layer.kind, r.layer.describe(), str(r.output), r.params, r.buffers,
                         r.macs, r.flops, r.activations, report.activation_bytes(r.activations),
                         "; ".join(n.text for n in r.notes)])
    return out.getvalue()


def to_markdown(report: Report, count: str = "macs") -> str:
    """A pipe table for docs, with exact figures (thousands separated)."""
    label = count_label(count)
    rows = [f"| # | name | layer | output | params | {label} | activations | notes |",
            "|--:|---|---|---|--:|--:|--:|---|",
            f"| 0 | input | INPUT | {report.spec.input} | 0 | 0 | {report.spec.input.elements:,} | |"]
    for r in report.layers:
        notes = "; ".join(n.brief or n.text for n in r.notes).replace("|", "\\|")
        rows.append(f"| {r.index} | {r.full_name} | {r.layer.describe()} | {r.output} | {r.params:,} | "
                    f"{counted(r, count):,} | {r.activations:,} | {notes} |")
    t = report.totals
    total_count = t.flops if count == "flops" else t.macs
    rows.append(f"| | **total** | | | **{t.params:,}** | **{total_count:,}** | **{t.activations:,}** | |")
    title = report.spec.title or report.spec.name or "network"
    lines = [f"### {title}", "", *rows, "", footer(report, count)]
    lines += [f"- warning: layer {r.index} '{r.name}': {n.text}" for r, n in report.warnings]
    return "\n".join(lines) + "\n"


def footer(report: Report, count: str) -> str:
    t = report.totals
    label = count_label(count)
    conv = "FLOPs = 2 × multiply-accumulates" if count == "flops" else "MACs = multiply-accumulates"
    buffers = f" + {t.buffers:,} buffers" if t.buffers else ""
    return (
        f"{t.params:,} params{buffers} ({human_bytes(report.param_bytes(t.params))}) · "
        f"{counted_total(report, count):,} {label} · "
        f"{t.activations:,} activations ({human_bytes(report.activation_bytes(t.activations))} forward "
        f"at {report.dtype}, batch {report.batch})\n"
        f"params: weights + biases · {conv} of conv and fc layers, bias not counted · "
        f"activations: output elements, input included"
    )


def counted_total(report: Report, count: str) -> int:
    t = report.totals
    return t.flops if count == "flops" else t.macs


# --- the Rich table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the table: a layer, a block's subtotals, or a branch heading inside a block."""

    kind: str  # "layer", "block" or "branch"
    depth: int
    index: str
    name: str
    label: str
    output: Optional[Shape]
    params: int
    macs: int
    activations: int
    notes: Tuple[Note, ...] = ()
    collapsed: bool = False  # a block or branch shown in place of its hidden layers

    @property
    def counted(self) -> bool:
        """Whether the row is part of the column sums: layers, and collapsed blocks."""
        return self.kind == "layer" or self.collapsed


def table_rows(report: Report, depth: Optional[int] = None) -> List[Row]:
    """The rows of the table, blocks opened up to ``depth`` (all when None), as torchinfo's depth.

    A block at ``depth`` is shown as one row carrying its subtotals; anything deeper is hidden.
    """
    sums: Dict[Tuple[str, ...], List[int]] = {}
    last_output: Dict[Tuple[str, ...], Shape] = {}
    for r in report.layers:
        for level in range(1, len(r.path) + 1):
            totals = sums.setdefault(r.path[:level], [0, 0, 0])
            totals[0] += r.params
            totals[1] += r.macs
            totals[2] += r.activations
            last_output[r.path[:level]] = r.output
    blocks = {(*b.path, b.name): b for b in report.blocks}
    rows: List[Row] = []
    open_path: Tuple[str, ...] = ()
    for r in report.layers:
        same = next((i for i, (a, b) in enumerate(zip(open_path, r.path)) if a != b), min(len(open_path), len(r.path)))
        for level in range(same, len(r.path)):
            if depth is not None and level > depth:
                break
            prefix = r.path[: level + 1]
            params, macs, activations = sums[prefix]
            block = blocks.get(prefix)
            if block is not None:
                rows.append(Row("block", level, "", prefix[-1], block.label, block.output,
                                params, macs, activations, collapsed=depth == level))
            else:
                rows.append(Row("branch", level, "", f"branch {prefix[-1][1:]}", "", last_output[prefix],
                                params, macs, activations, collapsed=depth == level))
        open_path = r.path
        if depth is None or len(r.path) <= depth:
            rows.append(Row("layer", len(r.path), str(r.index), r.name, r.layer.describe(), r.output, r.params,
                            counted(r, "macs"), r.activations, r.notes))
    return rows


def print_table(report: Report, file: Optional[IO[str]] = None, width: Optional[int] = None,
                count: str = "macs", color: Optional[bool] = None, depth: Optional[int] = None) -> None:
    """Draw the table like the cs231n case studies: one row per layer, blocks nested, then totals."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, width=width, no_color=color is False, highlight=False,
                      color_system=None if color is False else "auto")
    spec = report.spec
    title = spec.title or spec.name or "network"
    table = Table(title=f"{title} — input {spec.input}", box=box.SIMPLE_HEAD, show_footer=False,
                  title_justify="left", pad_edge=False, padding=(0, 1), collapse_padding=True)
    for header in ("#", "name", "layer", "output", "params", count_label(count), "memory"):
        table.add_column(header, justify="left" if header in ("name", "layer") else "right", no_wrap=True,
                         style="dim" if header == "#" else None)
    table.add_column("notes", min_width=10)
    table.add_row("0", "input", "INPUT", str(spec.input), "0", "0", human(spec.input.elements), "")
    scale = 2 if count == "flops" else 1
    for row in table_rows(report, depth):
        notes = Text()
        for i, n in enumerate(row.notes):
            if i:
                notes.append("; ")
            notes.append(("⚠ " if n.level == "warning" else "") + (n.brief or n.text),
                         style="yellow" if n.level == "warning" else "dim")
        style = {"block": "bold", "branch": "italic"}.get(row.kind) if not row.collapsed else None
        name = "  " * row.depth + row.name + (" …" if row.collapsed else "")
        table.add_row(row.index, name, row.label, str(row.output) if row.output else "", human(row.params),
                      human(row.macs * scale), human(row.activations), notes, style=style)
    t = report.totals
    table.add_section()
    table.add_row("", "total", f"{t.layers} layer{'s' if t.layers != 1 else ''}", str(report.output), human(t.params),
                  human(counted_total(report, count)), human(t.activations), "", style="bold")
    console.print(table)
    console.print(footer(report, count), style="dim", soft_wrap=False)
    for r, n in report.warnings:
        where = f" ({r.loc})" if r.loc else ""
        console.print(f"warning: layer {r.index} '{r.full_name}'{where}: {n.text}", style="yellow")


def render(report: Report, fmt: str, file: Optional[IO[str]] = None, width: Optional[int] = None,
           count: str = "macs", color: Optional[bool] = None, depth: Optional[int] = None) -> None:
    if fmt == "table":
        print_table(report, file, width, count, color, depth)
        return
    text = {"json": lambda: to_json(report), "csv": lambda: to_csv(report),
            "markdown": lambda: to_markdown(report, count)}[fmt]()
    out = file if file is not None else __import__("sys").stdout
    out.write(text)


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
