"""The text-table layout (grid.py): widths, alignment, wrapping, what gives way, and colour."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.load import load
from convcalc.report import grid
from convcalc.report.grid import Column, Row, cell_width, clip, layout, text_lines, wrap
from convcalc.report.table import print_table

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


def test_notes_wrap_then_go_under_the_row_then_text_is_cut_and_numbers_never():
    assert table(width=52) == [
        "#  name     layer              params  notes",
        "─" * 52,
        "1  conv1_1  CONV 64 3x3 s1 p1   1,792  ⚠ 2.33: does",
        "                                       not fit",
        "",
        "   total    1 layer             1,792",
    ]
    assert table(width=40) == [  # the notes leave the row before any text is cut
        "#  name     layer              params",
        "─" * 37,
        "1  conv1_1  CONV 64 3x3 s1 p1   1,792",
        "   ⚠ 2.33: does not fit",
        "",
        "   total    1 layer             1,792",
    ]
    narrow = table(width=30)
    assert narrow[2:4] == ["1  conv1_1  CONV 64 3…   1,792", "   ⚠ 2.33: does not fit"]  # lowest shrink_order first
    assert table(width=20)[2] == "1  conv1…  CONV 64…   1,792"  # shrunk to their floors
    assert all("1,792" in line for line in table(width=20) if "1," in line)  # numbers whole, lines overflow


def test_nesting_halves_before_a_name_is_cut():
    columns = [Column("#"), Column("name", "left", shrink=4, shrink_order=1, indent=True), Column("params")]
    rows = [Row(("", "block", "10")), Row(("1", "      conv1", "10"))]
    assert text_lines(layout(columns, rows, 30))[3] == "1        conv1      10"  # two spaces a level
    assert text_lines(layout(columns, rows, 20))[3] == "1     conv1       10"  # one space a level
    assert text_lines(layout(columns, rows, 16))[3] == "1  conv1      10"  # none, before the name is cut
    assert text_lines(layout(columns, rows, 12))[3] == "1  con…      10"  # then cut, down to its floor


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


# --- the table at 80 columns (issue 11): names give way before descriptions, numbers never -------


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "googlenet", "mobilenet_v2"])
def test_an_80_column_table_keeps_every_description_and_number(name):
    from convcalc.report.numbers import human

    report = analyse(load(name))
    out = io.StringIO()
    print_table(report, file=out, width=80, color=False)
    lines = out.getvalue().splitlines()
    assert max(cell_width(line) for line in lines) <= 80
    wide = len(str(len(report.layers)))  # the '#' column: block rows leave it empty
    body = lines[:next(i for i, line in enumerate(lines) if line.split()[:1] == ["total"])]
    rows = {line[:wide].strip(): line for line in body if line[:wide].strip().isdigit()}
    flowing = " ".join(out.getvalue().split())
    for r in report.layers:
        row = rows[str(r.index)]
        assert f" {r.name} " in f" {row} "  # whole names (nesting halves first)
        assert f"  {r.layer.describe()}  " in row  # the stride and padding are still there
        assert f" {human(r.params)} " in row and f" {human(r.macs)} " in row
        for n in r.notes:
            assert " ".join((n.brief or n.text).split()) in flowing  # notes wrap under the row, whole


def test_the_activation_column_is_named_for_what_it_counts_and_offers_bytes():
    from convcalc.report.markdown_report import to_markdown

    def table(*options):
        out = io.StringIO()
        from convcalc.analysis.engine import analyse as run

        report = run(load("32x32x3 conv10k5p2"), **dict(options))
        print_table(report, file=out, width=120, color=False, memory_unit="bytes" if options else "elements")
        return out.getvalue(), report

    text, report = table()
    header = text.splitlines()[2].split()
    assert "memory" not in header and header[-3:] == ["act.", "elems", "notes"]
    assert "activations (act. elems): output elements per sample, input included" in " ".join(text.split())
    text, report = table(("dtype", "float16"), ("batch", 2))
    lines = text.splitlines()
    assert lines[2].rstrip().endswith("act. bytes  notes")
    assert lines[4].endswith("12.0 KiB")  # the input: 3,072 elements × 2 B × 2
    assert next(line for line in lines if "total" in line).endswith("52.0 KiB")  # 13,312 × 2 × 2 = 53,248 B
    assert "act. bytes: elements × 2 B (float16) × batch 2" in " ".join(text.split())
    markdown = to_markdown(report, "bytes")
    assert "| activation bytes |" in markdown and "| **53,248** |" in markdown
    assert "| activations |" in to_markdown(report)
