"""Text tables: column widths, alignment, and what gives way when the terminal is too narrow.

convcalc lays its tables out itself instead of with ``rich.table``: Rich measured, wrapped and
re-padded every cell on every draw, about 20 ms for VGG-16's forty rows — more than the rest of
``convcalc table`` put together (issue 7's start-up budget). The cells are short strings
convcalc formatted itself, so the layout is a little arithmetic. Rich is still what writes
colour to a terminal (it knows about NO_COLOR, FORCE_COLOR, dumb and Windows terminals); output
to a pipe or a file is plain text and never imports it.

When the table is wider than the width it is given, what carries least gives way first:

1. the notes column wraps, down to ``MIN_WRAP`` characters;
2. then the notes leave the row: they go on lines of their own under it, indented to the second
   column, as wide as the table;
3. then an ``indent`` column (names nested two spaces a level) nests one space a level;
4. then the columns that allow it are cut with an ellipsis, lowest ``shrink_order`` first, each
   down to its ``shrink`` width (the table's layer column gives way first but only down to its
   widest layer description, so only block labels are cut; names after it).

The others (the numbers) are never cut: past that point the lines are simply longer than the
terminal.

Text is shown with its control characters escaped (``errors.shown``), so a title that says
``\\x1b]0;...`` cannot retitle or clear the terminal and the SVG export is valid XML: each row
and paragraph as it enters the layout (``shown_rows``), so the widths are those of what is
written, and every span again at the edge (``write``, ``svg``), for lines a caller built itself
(showing shown text changes nothing).
"""

from __future__ import annotations

import os
from typing import IO, Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import shown
from ..values import value

Span = Tuple[str, str]  # text and a style name ("", "bold", "dim", "italic", "yellow", "bold dim" ...)
Cell = Union[str, Tuple[Span, ...]]
Line = List[Span]

GAP = "  "  # between columns
ELLIPSIS = "…"
MIN_WRAP = 10
SVG_LINES_A_PRINT = 64  # lines handed to Rich's SVG exporter at once (see ``svg``)


@value
class Column:
    header: str
    align: str = "right"  # "left" or "right"
    style: str = ""  # for every cell of the column
    shrink: int = 0  # may be cut with an ellipsis down to this width when too wide; 0: never
    shrink_order: int = 0  # which shrinkable column gives way first (lowest first)
    wrap: bool = False  # wraps onto continuation lines instead (the notes: the last column)
    indent: bool = False  # leading spaces are nesting, two a level: halved before any text is cut


@value
class Row:
    cells: Tuple[Cell, ...]
    style: str = ""  # for the whole row (blocks, totals)


SECTION = None  # a blank line between groups of rows


def cell_width(text: str) -> int:
    """Terminal columns taken by ``text``: wide East Asian characters count two, combining marks none."""
    if text.isascii():
        return len(text)
    from unicodedata import combining, east_asian_width

    return sum(0 if combining(c) else 2 if east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, the cut marked with an ellipsis."""
    if cell_width(text) <= width:
        return text
    out = ""
    for c in text:
        if cell_width(out + c) > width - 1:
            break
        out += c
    return out + ELLIPSIS


def spans(cell: Cell) -> Tuple[Span, ...]:
    return ((cell, ""),) if isinstance(cell, str) else cell


def plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else "".join(text for text, _ in cell)


def shown_rows(rows: Sequence[Optional[Row]]) -> List[Optional[Row]]:
    """The rows with every cell's control characters shown, once, before anything is measured."""
    def showing(row: Row) -> Row:
        if "".join(map(plain, row.cells)).isprintable():  # the common case: the row as it is
            return row
        return Row(tuple(shown(c) if isinstance(c, str) else tuple((shown(t), s) for t, s in c) for c in row.cells),
                   row.style)

    return [None if row is None else showing(row) for row in rows]


def wrap(parts: Sequence[Span], width: int) -> List[Line]:
    """Greedy word wrap of styled text into lines of at most ``width`` columns."""
    words: List[Line] = []  # a word is styled pieces: the style may change inside it ("⚠ 2.33;")
    joined = False  # whether the next piece continues the last word
    for text, style in parts:
        for i, piece in enumerate(text.split(" ")):
            joined = joined and not i
            if piece:
                if joined:
                    words[-1].append((piece, style))
                else:
                    words.append([(piece, style)])
                joined = True
    lines: List[Line] = [[]]
    used = 0
    for word in words:
        size = sum(cell_width(t) for t, _ in word)
        if used and used + 1 + size <= width:
            lines[-1] += [(" ", ""), *word]
            used += 1 + size
            continue
        if used:
            lines.append([])
            used = 0
        if size <= width:
            lines[-1] += word
            used = size
            continue
        for text, style in word:  # longer than a line: split it wherever the line ends
            run: List[str] = []  # one span per line, not one per character
            for c in text:
                size = cell_width(c)
                if used and used + size > width:
                    if run:
                        lines[-1].append(("".join(run), style))
                        run = []
                    lines.append([])
                    used = 0
                run.append(c)
                used += size
            if run:
                lines[-1].append(("".join(run), style))
    return lines


@value
class Fit:
    """How a table fits its width: each column's width, whether the wrapping column moved under
    the rows (its width is then the table's, less the first column), and whether nesting is halved."""

    sizes: Tuple[int, ...]
    below: bool = False
    halved: bool = False


def halve_indent(text: str) -> str:
    """Nesting of two spaces a level as one space a level."""
    body = text.lstrip(" ")
    return " " * ((len(text) - len(body)) // 2) + body


def fit(columns: Sequence[Column], rows: Sequence[Optional[Row]], width: Optional[int]) -> Fit:
    """Each column's width: its widest cell, then narrowed to fit ``width`` as the module says."""
    natural = [cell_width(c.header) for c in columns]
    for row in rows:
        if row is not None:
            for i, cell in enumerate(row.cells):
                natural[i] = max(natural[i], cell_width(plain(cell)))
    if width is None:
        return Fit(tuple(natural))
    sizes = list(natural)
    shown = set(range(len(columns)))

    def excess() -> int:
        return sum(sizes[i] for i in shown) + len(GAP) * (len(shown) - 1) - width

    wrapping = [i for i, c in enumerate(columns) if c.wrap]
    for i in wrapping:  # 1. the notes wrap
        floor = max(MIN_WRAP, cell_width(columns[i].header))
        sizes[i] -= min(max(0, excess()), max(0, sizes[i] - floor))
    below = excess() > 0 and bool(wrapping)
    if below:  # 2. the notes go under the rows
        shown -= set(wrapping)
    halved = False
    for i in (i for i, c in enumerate(columns) if c.indent and i in shown):  # 3. nesting halves
        if excess() <= 0:
            break
        compact = max([cell_width(columns[i].header)] + [cell_width(halve_indent(plain(row.cells[i])))
                                                         for row in rows if row is not None])
        if compact < sizes[i]:
            halved = True
            sizes[i] = max(compact, sizes[i] - excess())
    for i in sorted((i for i, c in enumerate(columns) if c.shrink and i in shown),
                    key=lambda i: columns[i].shrink_order):  # 4. text is cut
        if excess() <= 0:
            break
        floor = max(columns[i].shrink, cell_width(columns[i].header))
        sizes[i] -= min(excess(), max(0, sizes[i] - floor))
    if below:
        for i in wrapping:
            sizes[i] = max(MIN_WRAP, width - sizes[0] - len(GAP))
    return Fit(tuple(sizes), below, halved)


def widths(columns: Sequence[Column], rows: Sequence[Optional[Row]], width: Optional[int]) -> List[int]:
    return list(fit(columns, shown_rows(rows), width).sizes)


def layout(columns: Sequence[Column], rows: Sequence[Optional[Row]], width: Optional[int] = None) -> List[Line]:
    """The header, a rule, and the rows (``SECTION`` as a blank line), as styled lines."""
    rows = shown_rows(rows)
    shape = fit(columns, rows, width)
    sizes = shape.sizes
    inline = [i for i, c in enumerate(columns) if not (shape.below and c.wrap)]
    under = len(GAP) + sizes[0] if len(columns) > 1 else 0  # where notes under a row start

    def place(text: str, i: int) -> str:
        if shape.halved and columns[i].indent:
            text = halve_indent(text)
        over = cell_width(text) - sizes[i]
        if over > 0 and columns[i].indent:  # the nesting goes before any of the name
            body = text.lstrip(" ")
            text = " " * max(0, len(text) - len(body) - over) + body
        text = clip(text, sizes[i])
        pad = " " * (sizes[i] - cell_width(text))
        return text + pad if columns[i].align == "left" else pad + text

    def line(cells: Sequence[Cell], row_style: str, header: bool = False) -> List[Line]:
        out: Line = []
        extra: List[Line] = []
        for n, i in enumerate(inline):
            column, cell = columns[i], cells[i]
            if n:
                out.append((GAP, ""))
            style = " ".join(s for s in (row_style, column.style) if s)
            if column.wrap:
                wrapped = wrap([(t, " ".join(x for x in (style, s) if x)) for t, s in spans(cell)], sizes[i])
                out += wrapped[0]
                indent = sum(sizes[:i]) + len(GAP) * i
                extra = [[(" " * indent, "")] + more for more in wrapped[1:]]
            else:
                out.append((place(plain(cell), i), style))
        if shape.below and not header:
            for i in (i for i, c in enumerate(columns) if c.wrap and plain(cells[i]).strip()):
                style = " ".join(s for s in (row_style, columns[i].style) if s)
                wrapped = wrap([(t, " ".join(x for x in (style, s) if x)) for t, s in spans(cells[i])], sizes[i])
                extra += [[(" " * under, "")] + more for more in wrapped]
        return [out] + extra

    lines = line([c.header for c in columns], "bold", header=True)
    rule = sum(sizes[i] for i in inline) + len(GAP) * (len(inline) - 1)
    lines.append([("─" * rule, "")])
    for row in rows:
        lines += [[]] if row is None else line(row.cells, row.style)
    return lines


def text_lines(lines: Iterable[Line]) -> List[str]:
    return [shown("".join(text for text, _ in line)).rstrip() for line in lines]


def paragraph(text: str, style: str, width: Optional[int]) -> List[Line]:
    """Lines of prose: each source line wrapped at ``width`` when there is one."""
    if width is None:
        return [[(shown(line), style)] for line in text.split("\n")]
    return [wrapped for line in text.split("\n") for wrapped in wrap([(shown(line), style)], width)]


def terminal_width(file: IO[str]) -> Optional[int]:
    """The width to lay out for: the terminal's, or None (no limit) for a pipe or a file."""
    try:
        if not file.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    import shutil

    return shutil.get_terminal_size().columns


def wants_color(file: IO[str], color: Optional[bool]) -> bool:
    if color is not None:
        return color
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


def write(lines: Iterable[Line], file: IO[str], color: Optional[bool] = None) -> None:
    """Write styled lines: plain text unless the output is a terminal (or ``color`` says so)."""
    if not wants_color(file, color):
        file.write("".join(line + "\n" for line in text_lines(lines)))
        return
    from rich.console import Console
    from rich.text import Text

    texts = []
    for line in lines:
        text = Text.assemble(*((shown(t), s) for t, s in line))
        text.rstrip()
        texts.append(text)
    console = Console(file=file, highlight=False, soft_wrap=True, force_terminal=color or None)
    console.print(Text("\n").join(texts))  # one print: Rich's per-call overhead is most of the cost


def svg(lines: Iterable[Line], title: str) -> str:
    """The styled lines as an SVG image, by Rich's own exporter (what Rich renders, it can draw).

    The image is as wide as the widest line, so nothing wraps. Rich's template asks a CDN for its
    font; those ``@font-face`` rules are left out so the file never reaches for the network (it
    uses Fira Code when installed, else the viewer's monospace).
    """
    import io
    import re

    from rich.console import Console
    from rich.text import Text

    texts = []
    for line in lines:
        text = Text.assemble(*((shown(t), s) for t, s in line))
        text.rstrip()
        texts.append(text)
    # As wide as the widest line, and no wider: Rich pads every line to the console's width as it
    # exports, so a window as wide as a 200,000-character title made the work lines x title
    # (quadratic in the title, which wraps into more lines as it grows). The window's title is
    # cut to fit instead; the table's own first line shows the whole title, wrapped.
    width = max([cell_width(t.plain) for t in texts] + [40]) + 1  # a margin at the right
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", highlight=False, soft_wrap=True, legacy_windows=False)
    # A few lines a print: Rich's exporter splits each recorded segment at its line breaks by
    # copying what is left of it after each one, and lines of one style make one segment, so
    # one print of a long wrapped title cost the square of its length.
    for start in range(0, len(texts), SVG_LINES_A_PRINT):
        console.print(Text("\n").join(texts[start:start + SVG_LINES_A_PRINT]))
    return re.sub(r"@font-face\s*\{[^}]*\}\s*", "", console.export_svg(title=clip(shown(title), width - 8)))
