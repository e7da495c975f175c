"""Text tables: column widths, alignment, and what gives way when the terminal is too narrow.

convcalc lays its tables out itself instead of with ``rich.table``: Rich measured, wrapped and
re-padded every cell on every draw, about 20 ms for VGG-16's forty rows — more than the rest of
``convcalc table`` put together (issue 7's start-up budget). The cells are short strings
convcalc formatted itself, so the layout is a little arithmetic. Rich is still what writes
colour to a terminal (it knows about NO_COLOR, FORCE_COLOR, dumb and Windows terminals); output
to a pipe or a file is plain text and never imports it.

When the table is wider than the width it is given, the notes column wraps first (down to
``MIN_WRAP`` characters), then the columns that allow it are cut with an ellipsis, lowest
``shrink_order`` first, each down to its ``shrink`` width. The others (the numbers) are never
cut: past that point the lines are simply longer than the terminal.
"""

from __future__ import annotations

import os
from typing import IO, Iterable, List, Optional, Sequence, Tuple, Union

from .values import value

Span = Tuple[str, str]  # text and a style name ("", "bold", "dim", "italic", "yellow", "bold dim" ...)
Cell = Union[str, Tuple[Span, ...]]
Line = List[Span]

GAP = "  "  # between columns
ELLIPSIS = "…"
MIN_WRAP = 10


@value
class Column:
    header: str
    align: str = "right"  # "left" or "right"
    style: str = ""  # for every cell of the column
    shrink: int = 0  # may be cut with an ellipsis down to this width when too wide; 0: never
    shrink_order: int = 0  # which shrinkable column gives way first (lowest first)
    wrap: bool = False  # wraps onto continuation lines instead (the notes: the last column)


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
            for c in text:
                if used and used + cell_width(c) > width:
                    lines.append([])
                    used = 0
                lines[-1].append((c, style))
                used += cell_width(c)
    return lines


def widths(columns: Sequence[Column], rows: Iterable[Optional[Row]], width: Optional[int]) -> List[int]:
    """Each column's width: its widest cell, then narrowed to fit ``width`` as the module says."""
    result = [cell_width(c.header) for c in columns]
    for row in rows:
        if row is not None:
            for i, cell in enumerate(row.cells):
                result[i] = max(result[i], cell_width(plain(cell)))
    if width is None:
        return result
    excess = sum(result) + len(GAP) * (len(columns) - 1) - width
    order = [i for i, c in enumerate(columns) if c.wrap]
    order += sorted((i for i, c in enumerate(columns) if c.shrink and not c.wrap), key=lambda i: columns[i].shrink_order)
    for i in order:
        if excess <= 0:
            break
        floor = max(MIN_WRAP if columns[i].wrap else columns[i].shrink, cell_width(columns[i].header))
        cut = min(excess, max(0, result[i] - floor))
        result[i] -= cut
        excess -= cut
    return result


def layout(columns: Sequence[Column], rows: Sequence[Optional[Row]], width: Optional[int] = None) -> List[Line]:
    """The header, a rule, and the rows (``SECTION`` as a blank line), as styled lines."""
    sizes = widths(columns, rows, width)

    def place(text: str, i: int) -> str:
        text = clip(text, sizes[i])
        pad = " " * (sizes[i] - cell_width(text))
        return text + pad if columns[i].align == "left" else pad + text

    def line(cells: Sequence[Cell], row_style: str) -> List[Line]:
        out: Line = []
        extra: List[Line] = []
        for i, (column, cell) in enumerate(zip(columns, cells)):
            if i:
                out.append((GAP, ""))
            style = " ".join(s for s in (row_style, column.style) if s)
            if column.wrap:
                wrapped = wrap([(t, " ".join(x for x in (style, s) if x)) for t, s in spans(cell)], sizes[i])
                out += wrapped[0]
                indent = sum(sizes[:i]) + len(GAP) * i
                extra = [[(" " * indent, "")] + more for more in wrapped[1:]]
            else:
                out.append((place(plain(cell), i), style))
        return [out] + extra

    lines = line([c.header for c in columns], "bold")
    lines.append([("─" * (sum(sizes) + len(GAP) * (len(sizes) - 1)), "")])
    for row in rows:
        lines += [[]] if row is None else line(row.cells, row.style)
    return lines


def text_lines(lines: Iterable[Line]) -> List[str]:
    return ["".join(text for text, _ in line).rstrip() for line in lines]


def paragraph(text: str, style: str, width: Optional[int]) -> List[Line]:
    """Lines of prose: each source line wrapped at ``width`` when there is one."""
    if width is None:
        return [[(line, style)] for line in text.split("\n")]
    return [wrapped for line in text.split("\n") for wrapped in wrap([(line, style)], width)]


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
        text = Text.assemble(*line)
        text.rstrip()
        texts.append(text)
    console = Console(file=file, highlight=False, soft_wrap=True, force_terminal=color or None)
    console.print(Text("\n").join(texts))  # one print: Rich's per-call overhead is most of the cost
