"""Report -> text: a table in the style of the lecture notes' case studies, JSON, CSV, Markdown,
HTML and the table as SVG. Formatting only: every figure comes from the analysis' ``Report``.

Each format lives in a module of its own and is imported when it is asked for (json, csv; Rich
only to colour a table on a terminal or draw it as SVG, in grid.py), so every command starts
fast. Numbers are rounded for people in numbers.py, the only place anything is rounded.
"""

from __future__ import annotations

import sys
from typing import IO, Optional

from ..analysis.result import Report

FORMATS = ("table", "json", "csv", "markdown", "html", "svg")


def render(report: Report, fmt: str, file: Optional[IO[str]] = None, width: Optional[int] = None,
           color: Optional[bool] = None, depth: Optional[int] = None, rf: bool = False,
           memory_unit: str = "elements", diagram: str = "") -> None:
    """``memory_unit`` chooses the activation column of the table, Markdown, HTML and SVG; JSON and
    CSV carry both. HTML always has the receptive fields, opens blocks deeper than ``depth``
    folded, and shows ``diagram`` (an SVG picture of the network, drawn by the caller) inline."""
    if fmt == "table":
        from .table import print_table

        print_table(report, file, width, color, depth, rf, memory_unit)
        return
    out = file if file is not None else sys.stdout
    if fmt == "json":
        from .json_report import write_json

        write_json(report, out)
    elif fmt == "html":
        from .html_report import to_html

        out.write(to_html(report, depth, memory_unit, diagram))
    elif fmt == "svg":
        from .table import to_svg

        out.write(to_svg(report, width, depth, rf, memory_unit))
    elif fmt == "csv":
        from .csv_report import to_csv

        out.write(to_csv(report))
    else:
        from .markdown_report import to_markdown

        out.write(to_markdown(report, memory_unit))
