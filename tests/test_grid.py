"""The text-table layout (grid.py): widths, alignment, wrapping, what gives way, and colour."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from convcalc import grid
from convcalc.engine import analyse
from convcalc.grid import Column, Row, cell_width, clip, layout, text_lines, wrap
from convcalc.load import load
from convcalc.render import print_table

ANSI = re.compile(r"\x1b\[[0-9;]*m")

COLUMNS = [Column("#", style="dim"), Column("name", "left", shrink=6, shrink_order=2),
           Column("layer", "left", shrink=8, shrink_order=1), Column("params"), Column("notes", "left", wrap=True)]
ROWS = [Row(("1", "conv1_1", "CONV 64 3x3 s1 p1", "1,792", (("⚠ 2.33: does not fit", "yellow"),))),
        grid.SECTION,
        Row(("", "total", "1 layer", "1,792", ""), "bold")]


def table(width=None):
    return text_lines(layout(COLUMNS, ROWS, width))


def test_natural_layout():
    assert table() == [
        "#  name     layer              params  notes",
        "─" * 59,  # the rule spans the widest notes too
        "1  conv1_1  CONV 64 3x3 s1 p1   1,792  ⚠ 2.33: does not fit",
        "",
        "   total    1 layer             1,792",
    ]


def test_notes_wrap_first_then_layer_then_name_and_numbers_never():
    assert table(width=52) == [
        "#  name     layer              params  notes",
        "─" * 52,
        "1  conv1_1  CONV 64 3x3 s1 p1   1,792  ⚠ 2.33: does",
        "                                       not fit",
        "",
        "   total    1 layer             1,792",
    ]
    narrow = table(width=30)
    assert narrow[2] == "1  conv1…  CONV 64…   1,792  ⚠ 2.33:"  # shrunk to their floors
    assert all("1,792" in line for line in narrow if "1," in line)  # numbers whole, lines overflow


def test_rows_never_exceed_the_width_when_they_can_fit():
    for width in range(45, 70):
        assert max(cell_width(line) for line in table(width)) <= width


def test_wide_characters_count_two_columns():
    assert cell_width("卷积层") == 6 and cell_width("é") == 1 and cell_width("e\u0301") == 1
    lines = text_lines(layout([Column("name", "left"), Column("params")],
                              [Row(("卷积层", "10")), Row(("conv", "200"))]))
    assert [cell_width(line) for line in lines] == [14, 14, 14, 14]
    assert clip("卷积层卷积层", 5) == "卷积…" and clip("conv", 4) == "conv"


@given(st.lists(st.text(alphabet="ab卷 ", max_size=12), max_size=6), st.integers(1, 20))
def test_wrap_keeps_every_word_and_the_width(texts, width):
    parts = [(t, "dim" if i % 2 else "") for i, t in enumerate(texts)]
    lines = wrap(parts, width)
    assert all(cell_width("".join(t for t, _ in line)) <= max(width, 2) for line in lines)
    assert "".join("".join(t for t, _ in line) for line in lines).replace(" ", "") == \
        "".join(texts).replace(" ", "")


def test_styles_reach_the_terminal_and_only_the_terminal():
    report = analyse(load("7x7x1 conv1k3s3 conv1k2"))
    plain, coloured = io.StringIO(), io.StringIO()
    print_table(report, file=plain, width=80, color=False)
    print_table(report, file=coloured, width=80, color=True)
    assert not ANSI.search(plain.getvalue())
    assert "\x1b[33m" in coloured.getvalue()  # the warning, yellow
    assert ANSI.sub("", coloured.getvalue()) == plain.getvalue()


def run_table(env):
    code = ("import sys; from convcalc.cli import main; sys.argv = ['convcalc', 'table', 'vgg16']\n"
            "try: main()\nexcept SystemExit: pass\n"
            "print('RICH' if 'rich' in sys.modules else 'NO RICH', file=sys.stderr)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**{k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}, **env})


def test_a_pipe_gets_plain_text_without_importing_rich():
    done = run_table({})
    assert done.stderr.strip() == "NO RICH" and not ANSI.search(done.stdout)
    assert max(cell_width(line) for line in done.stdout.splitlines()) > 80  # not cut to a guessed width


def test_force_color_draws_through_rich():
    done = run_table({"FORCE_COLOR": "1"})
    assert done.stderr.strip() == "RICH" and ANSI.search(done.stdout)
